#![allow(clippy::result_large_err)] // figment::Jail fixes the error type of its closures.

use super::*;

#[test]
fn defaults_serve_this_machine() {
    figment::Jail::expect_with(|_jail| {
        let s = Settings::load(None).expect("defaults load");
        assert_eq!(s.amqp.url, "amqp://guest:guest@127.0.0.1:5672/%2f");
        assert_eq!(s.amqp.queue, "turnover.requests");
        assert_eq!(s.amqp.dead_letter_queue, "turnover.dead");
        assert_eq!(s.amqp.quorum_initial_group_size.get(), 3);
        assert_eq!(
            s.postgres.url,
            "postgres://postgres@127.0.0.1:5432/turnover"
        );
        assert_eq!(s.http.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(s.http.predict_timeout_ms.get(), 5000);
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
            s.http.predict_timeout_ms.get(),
            250,
            "environment wins over the file"
        );
        assert_eq!(s.auth.api_keys, ["k1", "k2"]);
        assert_eq!(s.http.rate_limit_per_minute.map(NonZeroU32::get), Some(60));
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
        jail.set_env("TURNOVER_AMQP__QUORUM_INITIAL_GROUP_SIZE", "0");
        let message = Settings::load(None).unwrap_err().to_string();
        assert!(
            message.contains("amqp.quorum_initial_group_size") && message.contains("at least 1"),
            "{message}"
        );
        jail.set_env("TURNOVER_AMQP__QUORUM_INITIAL_GROUP_SIZE", "5");
        let settings = Settings::load(None).expect("5 replicas is a valid size");
        assert_eq!(settings.amqp.quorum_initial_group_size.get(), 5);
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
        api_keys_file: None,
        allow_anonymous: false,
    };
    assert!(!format!("{auth:?}").contains("topsecret"));
}

#[test]
fn the_command_line_variables_are_not_settings() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("TURNOVER_DATA", "target/example-extracts");
        jail.create_file("named.toml", "")?;
        jail.set_env("TURNOVER_CONFIG", "named.toml");
        Settings::load(None).expect("TURNOVER_DATA and TURNOVER_CONFIG are not refused");
        Ok(())
    });
}

#[test]
fn kubernetes_service_links_load_and_other_unknown_keys_are_still_refused() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        // What Kubernetes injects into every pod for a Service named `turnover` (and one
        // named `turnover-metrics`).
        for (name, value) in [
            ("TURNOVER_SERVICE_HOST", "10.96.12.7"),
            ("TURNOVER_SERVICE_PORT", "8080"),
            ("TURNOVER_SERVICE_PORT_HTTP", "8080"),
            ("TURNOVER_PORT", "tcp://10.96.12.7:8080"),
            ("TURNOVER_PORT_8080_TCP", "tcp://10.96.12.7:8080"),
            ("TURNOVER_PORT_8080_TCP_PROTO", "tcp"),
            ("TURNOVER_PORT_8080_TCP_PORT", "8080"),
            ("TURNOVER_PORT_8080_TCP_ADDR", "10.96.12.7"),
            ("TURNOVER_METRICS_SERVICE_HOST", "10.96.12.8"),
            ("TURNOVER_METRICS_PORT_9090_TCP_ADDR", "10.96.12.8"),
        ] {
            jail.set_env(name, value);
        }
        jail.set_env("TURNOVER_AMQP__QUEUE", "still-read");
        let s = Settings::load(None).expect("service links are not configuration");
        assert_eq!(s.amqp.queue, "still-read");
        assert_eq!(s.skipped_variables.len(), 10);
        assert!(s
            .skipped_variables
            .contains(&"TURNOVER_PORT_8080_TCP_ADDR".to_owned()));

        jail.set_env("TURNOVER_PREFETCH", "512");
        let message = Settings::load(None).unwrap_err().to_string();
        assert!(message.contains("prefetch"), "{message}");
        Ok(())
    });
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        // The name of a service link with a value Kubernetes would not give it.
        jail.set_env("TURNOVER_PORT", "8080");
        let message = Settings::load(None).unwrap_err().to_string();
        assert!(message.contains("port"), "{message}");
        Ok(())
    });
}

#[test]
fn secrets_come_from_files_with_their_trailing_newline_dropped() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("amqp-url", "amqps://app:s3cret@rabbit:5671/%2f\n")?;
        jail.create_file(
            "pg-url",
            "postgres://app:pw@db/turnover?sslmode=require\r\n",
        )?;
        jail.create_file(
            "keys",
            "0042\nsha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n\n",
        )?;
        jail.create_file("turnover.toml", "[postgres]\nurl_file = \"pg-url\"\n")?;
        jail.set_env("TURNOVER_AMQP__URL_FILE", "amqp-url");
        jail.set_env("TURNOVER_AUTH__API_KEYS_FILE", "keys");
        let s = Settings::load(None).expect("loads");
        assert_eq!(s.amqp.url, "amqps://app:s3cret@rabbit:5671/%2f");
        assert_eq!(
            s.postgres.url,
            "postgres://app:pw@db/turnover?sslmode=require"
        );
        assert_eq!(s.auth.api_keys.len(), 2);
        assert_eq!(s.auth.api_keys[0], "0042");
        assert!(
            crate::http::auth::key_matches(
                &keys::parse_all(&s.auth.api_keys).expect("valid keys"),
                b"test"
            )
            .is_some(),
            "sha256(test)"
        );
        assert!(!format!("{s:?}").contains("0042"), "keys stay out of Debug");
        Ok(())
    });
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("pg-url", "postgres://db/t\n")?;
        jail.set_env("TURNOVER_POSTGRES__URL_FILE", "pg-url");
        jail.set_env("TURNOVER_POSTGRES__URL", "postgres://other/t");
        let message = Settings::load(None).unwrap_err().to_string();
        assert!(
            message.contains("postgres.url_file") && message.contains("postgres.url is set too"),
            "{message}"
        );
        Ok(())
    });
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("TURNOVER_AMQP__URL_FILE", "/nonexistent/amqp-url");
        let message = Settings::load(None).unwrap_err().to_string();
        assert!(
            message
                .starts_with("configuration key amqp.url_file: cannot read /nonexistent/amqp-url"),
            "{message}"
        );
        Ok(())
    });
}

#[test]
fn api_keys_are_strings_whatever_they_look_like() {
    for (raw, keys) in [
        ("0042", vec!["0042"]),
        ("true", vec!["true"]),
        ("0042,007", vec!["0042", "007"]),
        ("[a, b]", vec!["[a", "b]"]),
    ] {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("TURNOVER_AUTH__API_KEYS", raw);
            let s = Settings::load(None).expect("a key of digits is a key");
            assert_eq!(s.auth.api_keys, keys, "{raw}");
            Ok(())
        });
    }
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("TURNOVER_AUTH__API_KEYS", "sha256:abc");
        let message = Settings::load(None).unwrap_err().to_string();
        assert!(
            message.contains("auth.api_keys") && message.contains("64 hex digits"),
            "{message}"
        );
        assert!(!message.contains("abc"), "the key is not echoed: {message}");
        Ok(())
    });
}

#[test]
fn tls_keys_are_checked_together() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("TURNOVER_AMQP__URL", "amqps://rabbit/%2f");
        jail.set_env("TURNOVER_AMQP__TLS_CERT_FILE", "client.pem");
        let message = Settings::load(None).unwrap_err().to_string();
        assert!(message.contains("amqp.tls_cert_file"), "{message}");
        jail.set_env("TURNOVER_AMQP__TLS_KEY_FILE", "client.key");
        jail.set_env("TURNOVER_AMQP__TLS_CA_FILE", "ca.pem");
        let s = Settings::load(None).expect("a client certificate and a CA");
        assert_eq!(s.amqp.tls_ca_file, Some(PathBuf::from("ca.pem")));
        jail.set_env(
            "TURNOVER_AMQP__URL",
            "amqp://rabbit/%2f, amqp://rabbit-2/%2f",
        );
        let message = Settings::load(None).unwrap_err().to_string();
        assert!(message.contains("no amqp.url is amqps://"), "{message}");
        Ok(())
    });
}

#[test]
fn lists_and_password_parameters_are_redacted() {
    assert_eq!(
        redact_url("amqps://u:p1@a:5671/%2f, amqps://u:p2@b:5671/%2f"),
        "amqps://u:***@a:5671/%2f, amqps://u:***@b:5671/%2f"
    );
    assert_eq!(
        redact_url("postgres://u:pw@h1:5432,h2:5433/db?sslmode=verify-full&password=pw2"),
        "postgres://u:***@h1:5432,h2:5433/db?sslmode=verify-full&password=***"
    );
    assert_eq!(
        redact_url("postgres://h?password=x"),
        "postgres://h?password=***"
    );
    assert_eq!(redact_url("host=db password=x"), "<unparsable url>");
}

#[test]
fn the_model_over_time_keys_load_and_are_checked() {
    figment::Jail::expect_with(|jail| {
        let s = Settings::load(None).expect("defaults load");
        assert_eq!(s.metrics.performance_refresh_secs.get(), 60);
        assert_eq!(
            (
                s.drift.window.get(),
                s.drift.min_records.get(),
                s.drift.refresh_secs.get()
            ),
            (1000, 100, 60)
        );
        jail.set_env("TURNOVER_DRIFT__WINDOW", "50");
        jail.set_env("TURNOVER_METRICS__PERFORMANCE_REFRESH_SECS", "5");
        let message = Settings::load(None).unwrap_err().to_string();
        assert_eq!(
            message,
            "configuration key drift.min_records: must be at least 1 and at most drift.window, \
             or no PSI is ever exported"
        );
        jail.set_env("TURNOVER_DRIFT__MIN_RECORDS", "50");
        let s = Settings::load(None).expect("loads");
        assert_eq!(
            (
                s.drift.window.get(),
                s.metrics.performance_refresh_secs.get()
            ),
            (50, 5)
        );
        jail.set_env("TURNOVER_DRIFT__REFRESH_SECS", "0");
        let message = Settings::load(None).unwrap_err().to_string();
        assert!(message.contains("drift.refresh_secs"), "{message}");
        Ok(())
    });
}

#[test]
fn the_shadow_path_is_taken_verbatim_and_a_zero_watch_interval_is_refused() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        let s = Settings::load(None).expect("defaults");
        assert_eq!(
            (s.model.shadow_path, s.model.watch_interval_ms),
            (None, None)
        );
        // A folder named like a number stays a path.
        jail.set_env("TURNOVER_MODEL__SHADOW_PATH", "2026");
        jail.set_env("TURNOVER_MODEL__WATCH_INTERVAL_MS", "10000");
        let s = Settings::load(None).expect("a shadow bundle and a watch");
        assert_eq!(s.model.shadow_path, Some(PathBuf::from("2026")));
        assert_eq!(s.model.watch_interval_ms.map(NonZeroU64::get), Some(10_000));
        jail.set_env("TURNOVER_MODEL__WATCH_INTERVAL_MS", "0");
        let message = Settings::load(None).unwrap_err().to_string();
        assert!(
            message.starts_with("configuration key model.watch_interval_ms: must be at least 1"),
            "{message}"
        );
        Ok(())
    });
}

#[test]
fn the_http_bounds_default_as_documented_and_zero_is_refused() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        let h = Settings::load(None).expect("defaults").http;
        assert_eq!(
            (
                h.max_outcomes_bytes.get(),
                h.max_outcomes.get(),
                h.max_batch_rows.get()
            ),
            (2 * 1024 * 1024, 10_000, 100_000)
        );
        assert_eq!(
            (
                h.max_concurrent_batches.get(),
                h.read_timeout_ms.get(),
                h.max_connections.get()
            ),
            (4, 10_000, 1024)
        );
        for key in [
            "MAX_OUTCOMES_BYTES",
            "MAX_OUTCOMES",
            "MAX_BATCH_ROWS",
            "MAX_CONCURRENT_BATCHES",
            "READ_TIMEOUT_MS",
            "MAX_CONNECTIONS",
        ] {
            jail.set_env(format!("TURNOVER_HTTP__{key}"), "0");
            let message = Settings::load(None).unwrap_err().to_string();
            let name = format!("http.{}", key.to_lowercase());
            assert_eq!(
                message,
                format!("configuration key {name}: must be at least 1")
            );
            jail.set_env(format!("TURNOVER_HTTP__{key}"), "7");
        }
        Ok(())
    });
}
