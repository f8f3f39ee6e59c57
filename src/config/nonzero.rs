//! The keys that cannot be 0. Their fields are `NonZero*` (or `Option<NonZero*>` when unset
//! means "none"), so a 0 is refused while the settings are read and no code past the loader
//! can meet one. serde refuses it as an invalid value ("expected a nonzero usize"), which names
//! no key; [`zero_refused`] turns that into the message naming the key, as
//! [`check`](super::check) does for the rules between keys.

use figment::error::{Actual, Kind};

use super::ConfigError;

/// A `NonZero*` default, `nonzero!(256)`: a 0 would not compile.
macro_rules! nonzero {
    ($n:expr) => {
        const {
            match std::num::NonZero::new($n) {
                Some(n) => n,
                None => panic!("a NonZero default of 0"),
            }
        }
    };
}

const AT_LEAST_ONE: &str = "must be at least 1";
const NOT_FOREVER: &str = "must be at least 1 (0 would mean wait forever)";
const DAYS: &str = "must be at least 1 day (leave unset to keep rows)";

/// Every key whose field is `NonZero*`, with what a 0 there is told.
const KEYS: &[(&str, &str)] = &[
    ("amqp.quorum_initial_group_size", AT_LEAST_ONE),
    (
        "amqp.dead_letter_ttl_ms",
        "must be at least 1 (leave unset to keep dead letters until read)",
    ),
    ("postgres.pool_size", AT_LEAST_ONE),
    ("postgres.migration_lock_timeout_ms", NOT_FOREVER),
    ("postgres.migration_statement_timeout_ms", NOT_FOREVER),
    ("worker.consumers", AT_LEAST_ONE),
    ("worker.batch_size", AT_LEAST_ONE),
    ("worker.scoring_threads", AT_LEAST_ONE),
    ("http.predict_timeout_ms", AT_LEAST_ONE),
    (
        "http.rate_limit_per_minute",
        "must be at least 1 (leave unset for no limit)",
    ),
    ("http.auth_failures_per_minute", AT_LEAST_ONE),
    ("http.max_outcomes_bytes", AT_LEAST_ONE),
    ("http.max_outcomes", AT_LEAST_ONE),
    ("http.max_batch_rows", AT_LEAST_ONE),
    ("http.max_concurrent_batches", AT_LEAST_ONE),
    ("http.read_timeout_ms", AT_LEAST_ONE),
    ("http.max_connections", AT_LEAST_ONE),
    ("http.limiter_max_clients", AT_LEAST_ONE),
    (
        "model.watch_interval_ms",
        "must be at least 1 (leave unset to reload on SIGHUP only)",
    ),
    ("metrics.performance_refresh_secs", AT_LEAST_ONE),
    ("drift.window", AT_LEAST_ONE),
    // The other half of the rule, at most drift.window, is a check.
    (
        "drift.min_records",
        "must be at least 1 and at most drift.window, or no PSI is ever exported",
    ),
    ("drift.refresh_secs", AT_LEAST_ONE),
    ("retention.predictions_days", DAYS),
    ("retention.shadow_days", DAYS),
    ("retention.rejected_days", DAYS),
    ("retention.outcomes_days", DAYS),
    ("retention.interval_secs", AT_LEAST_ONE),
    ("retention.batch_rows", AT_LEAST_ONE),
];

/// The error naming the key when `error` is serde refusing a 0 for one of [`KEYS`]; `None`
/// for any other error. A 0 arrives unsigned from the environment and signed from TOML.
pub(super) fn zero_refused(error: &figment::Error) -> Option<ConfigError> {
    if !matches!(
        error.kind,
        Kind::InvalidValue(Actual::Unsigned(0) | Actual::Signed(0), _)
    ) {
        return None;
    }
    let path = error.path.join(".");
    KEYS.iter()
        .find(|(key, _)| *key == path)
        .map(|&(key, message)| ConfigError::Invalid {
            key,
            message: message.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::result_large_err)] // figment::Jail fixes the error type of its closures.

    use super::super::Settings;
    use super::KEYS;

    fn variable(key: &str) -> String {
        format!("TURNOVER_{}", key.to_uppercase().replace('.', "__"))
    }

    #[test]
    fn a_zero_from_the_environment_names_its_key() {
        for (key, message) in KEYS {
            figment::Jail::expect_with(|jail| {
                jail.clear_env();
                jail.set_env(variable(key), "0");
                let error = Settings::load(None).unwrap_err().to_string();
                assert_eq!(error, format!("configuration key {key}: {message}"));
                Ok(())
            });
        }
    }

    #[test]
    fn a_zero_from_the_file_names_its_key() {
        for (key, message) in KEYS {
            let (section, name) = key.split_once('.').expect("a dotted key");
            figment::Jail::expect_with(|jail| {
                jail.clear_env();
                jail.create_file("turnover.toml", &format!("[{section}]\n{name} = 0\n"))?;
                let error = Settings::load(None).unwrap_err().to_string();
                assert_eq!(error, format!("configuration key {key}: {message}"));
                Ok(())
            });
        }
    }

    /// A `NonZero*` field missing from [`KEYS`] would give serde's message, naming no key.
    #[test]
    fn every_key_that_refuses_a_zero_is_listed() {
        let defaults = serde_json::to_value(Settings::default()).expect("settings serialize");
        let sections = defaults.as_object().expect("a table of sections");
        for (section, keys) in sections {
            for key in keys.as_object().expect("a section").keys() {
                figment::Jail::expect_with(|jail| {
                    jail.clear_env();
                    jail.set_env(variable(&format!("{section}.{key}")), "0");
                    if let Err(error) = Settings::load(None) {
                        let error = error.to_string();
                        assert!(!error.contains("nonzero"), "{section}.{key}: {error}");
                    }
                    Ok(())
                });
            }
        }
    }

    #[test]
    fn one_is_accepted_and_kept() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("TURNOVER_WORKER__BATCH_SIZE", "1");
            jail.set_env("TURNOVER_HTTP__RATE_LIMIT_PER_MINUTE", "1");
            jail.set_env("TURNOVER_DRIFT__MIN_RECORDS", "1");
            let s = Settings::load(None).expect("1 is a valid value");
            assert_eq!(s.worker.batch_size.get(), 1);
            assert_eq!(s.http.rate_limit_per_minute.map(|n| n.get()), Some(1));
            assert_eq!(s.drift.min_records.get(), 1);
            Ok(())
        });
    }
}
