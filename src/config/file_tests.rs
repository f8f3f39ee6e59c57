//! Which file is read, and what the loader refuses rather than guess: a named file that is
//! not there, a `turnover.toml` of a parent folder, a log level that is not one.

#![allow(clippy::result_large_err)] // figment::Jail fixes the error type of its closures.

use std::path::Path;

use super::*;

#[test]
fn a_named_file_that_does_not_exist_is_refused_naming_it() {
    figment::Jail::expect_with(|_jail| {
        let message = Settings::load(Some(Path::new("/tmp/typo-turnover.toml")))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("/tmp/typo-turnover.toml") && message.contains("--config"),
            "{message}"
        );
        Ok(())
    });
    figment::Jail::expect_with(|jail| {
        jail.set_env("TURNOVER_CONFIG", "typo.toml");
        let error = Settings::load(None).unwrap_err();
        assert!(
            matches!(
                &error,
                ConfigError::MissingFile {
                    named_by: "TURNOVER_CONFIG",
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("typo.toml"), "{error}");
        Ok(())
    });
}

#[test]
fn a_named_file_is_read_and_wins_over_turnover_toml() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("turnover.toml", "[amqp]\nqueue = \"default-file\"\n")?;
        jail.create_file("named.toml", "[amqp]\nqueue = \"named-file\"\n")?;
        let s = Settings::load(Some(Path::new("named.toml"))).expect("loads");
        assert_eq!(s.amqp.queue, "named-file");
        let s = Settings::load(None).expect("loads");
        assert_eq!(
            s.amqp.queue, "default-file",
            "turnover.toml when none is named"
        );
        Ok(())
    });
}

#[test]
fn turnover_toml_is_looked_up_in_the_working_directory_only() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("turnover.toml", "[amqp]\nqueue = \"parent-folder\"\n")?;
        jail.create_dir("service")?;
        jail.change_dir("service")?;
        let s = Settings::load(None).expect("no file in the working directory: defaults");
        assert_eq!(s.amqp.queue, "turnover.requests");
        Ok(())
    });
}

#[test]
fn log_level_is_one_of_five_and_a_filter_has_its_own_key() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("TURNOVER_LOG__LEVEL", "verbose");
        let message = Settings::load(None).unwrap_err().to_string();
        assert!(
            message.contains("log.level") && message.contains("log.filter"),
            "{message}"
        );
        jail.set_env("TURNOVER_LOG__LEVEL", "info,turnover=debug");
        assert!(
            Settings::load(None).is_err(),
            "a filter in log.level is refused"
        );
        jail.set_env("TURNOVER_LOG__LEVEL", "debug");
        jail.set_env("TURNOVER_LOG__FILTER", "warn,turnover::worker=debug");
        let s = Settings::load(None).expect("a level and a filter");
        assert_eq!(s.log.level, "debug");
        assert_eq!(s.log.directives(), "warn,turnover::worker=debug");
        jail.set_env("TURNOVER_LOG__FILTER", "turnover=loud");
        let message = Settings::load(None).unwrap_err().to_string();
        assert!(message.contains("log.filter"), "{message}");
        Ok(())
    });
    let defaults = Settings::default();
    assert_eq!(defaults.log.directives(), "info");
}
