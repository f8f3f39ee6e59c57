#![allow(clippy::result_large_err)] // figment::Jail fixes the error type of its closures.

use super::*;

#[test]
fn defaults_serve_this_machine() {
    figment::Jail::expect_with(|_jail| {
        let s = Settings::load(None).expect("defaults load");
        assert_eq!(s.amqp.url, "amqp://guest:guest@127.0.0.1:5672/%2f");
        assert_eq!(s.amqp.queue, "turnover.requests");
        assert_eq!(s.amqp.dead_letter_queue, "turnover.dead");
        assert_eq!(
            s.postgres.url,
            "postgres://postgres@127.0.0.1:5432/turnover"
        );
        assert_eq!(s.http.addr.to_string(), "0.0.0.0:8080");
        assert_eq!(s.http.predict_timeout_ms, 5000);
        assert_eq!(s.http.rate_limit_per_minute, None);
        assert!(s.auth.api_keys.is_empty());
        assert_eq!(s.model.path, PathBuf::from("models/turnover"));
        Ok(())
    });
}

#[test]
fn file_then_environment_override_defaults() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "custom.toml",
            "[amqp]\nqueue = \"from-file\"\nprefetch = 600\n[http]\npredict_timeout_ms = 100\n",
        )?;
        jail.set_env("TURNOVER_CONFIG", "custom.toml");
        jail.set_env("TURNOVER_HTTP__PREDICT_TIMEOUT_MS", "250");
        jail.set_env("TURNOVER_AUTH__API_KEYS", "k1, k2,,");
        jail.set_env("TURNOVER_HTTP__RATE_LIMIT_PER_MINUTE", "60");
        let s = Settings::load(None).expect("loads");
        assert_eq!(s.amqp.queue, "from-file");
        assert_eq!(s.amqp.prefetch, 600);
        assert_eq!(
            s.http.predict_timeout_ms, 250,
            "environment wins over the file"
        );
        assert_eq!(s.auth.api_keys, ["k1", "k2"]);
        assert_eq!(s.http.rate_limit_per_minute, Some(60));
        Ok(())
    });
}

#[test]
fn a_bad_value_names_its_key() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("TURNOVER_HTTP__PREDICT_TIMEOUT_MS", "soon");
        let message = Settings::load(None).unwrap_err().to_string();
        assert!(
            message.to_lowercase().contains("predict_timeout_ms"),
            "{message}"
        );
        Ok(())
    });
    figment::Jail::expect_with(|jail| {
        jail.set_env("TURNOVER_AMQP__PREFETCH", "10");
        let message = Settings::load(None).unwrap_err().to_string();
        assert!(message.contains("amqp.prefetch"), "{message}");
        Ok(())
    });
    figment::Jail::expect_with(|jail| {
        jail.create_file("turnover.toml", "[amqp]\nqueu = \"typo\"\n")?;
        let message = Settings::load(None).unwrap_err().to_string();
        assert!(
            message.contains("queu"),
            "unknown keys are refused: {message}"
        );
        Ok(())
    });
}

#[test]
fn passwords_are_redacted() {
    assert_eq!(
        redact_url("amqp://guest:s3cret@host:5672/%2f"),
        "amqp://guest:***@host:5672/%2f"
    );
    assert_eq!(
        redact_url("postgres://postgres@127.0.0.1:5432/turnover"),
        "postgres://postgres@127.0.0.1:5432/turnover"
    );
    assert_eq!(redact_url("postgres://u:p@h"), "postgres://u:***@h");
    let auth = Auth {
        api_keys: vec!["topsecret".into()],
    };
    assert!(!format!("{auth:?}").contains("topsecret"));
}

#[test]
fn the_command_line_variables_are_not_settings() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("TURNOVER_DATA", "examples/extracts");
        jail.set_env("TURNOVER_CONFIG", "absent.toml");
        Settings::load(None).expect("TURNOVER_DATA and TURNOVER_CONFIG are not refused");
        Ok(())
    });
}
