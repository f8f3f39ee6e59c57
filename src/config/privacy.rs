//! The keys of personal data's life (docs/privacy.md): how long rows are kept
//! (`retention.*`), the salt of erasure records (`privacy.*`), and whether full inputs are
//! stored (`storage.*`). Read by the retention task, the erasure paths and the worker's rows.

use serde::{Deserialize, Serialize};

/// `retention.*`: rows older than these many days are deleted; unset keeps them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// `predictions` by `scored_at`.
    pub predictions_days: Option<u32>,
    /// `shadow_predictions` by `scored_at`.
    pub shadow_days: Option<u32>,
    /// `rejected_messages` by `received_at`.
    pub rejected_days: Option<u32>,
    /// `outcomes` by `recorded_at`.
    pub outcomes_days: Option<u32>,
    /// How often one process (an advisory lock decides which) applies the rules.
    pub interval_secs: u64,
    /// Rows per DELETE: small enough that a worker insert never waits long behind one.
    pub batch_rows: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            predictions_days: None,
            shadow_days: None,
            rejected_days: None,
            outcomes_days: None,
            interval_secs: 3_600,
            batch_rows: 1_000,
        }
    }
}

impl Retention {
    /// Whether any table has a retention period.
    pub fn any(&self) -> bool {
        [
            self.predictions_days,
            self.shadow_days,
            self.rejected_days,
            self.outcomes_days,
        ]
        .iter()
        .any(Option::is_some)
    }
}

/// `privacy.*`.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Privacy {
    /// The per-deployment secret that salts `erasures.employee_hash`; erasure is refused
    /// while it is unset, since an unsalted hash of a small integer is the integer.
    pub erasure_salt: Option<String>,
}

impl std::fmt::Debug for Privacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let salt = if self.erasure_salt.is_some() {
            "<redacted>"
        } else {
            "unset"
        };
        write!(f, "Privacy {{ erasure_salt: {salt} }}")
    }
}

/// `storage.*`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// `true`: `predictions.input` holds the whole record. `false`: only the features the
    /// explanation names (the record's hash is always kept, for idempotency).
    pub store_inputs: bool,
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings { store_inputs: true }
    }
}

/// The rules of these keys and of the migration and dead-letter keys added with them, each
/// naming its key.
pub(super) fn check(s: &super::Settings) -> Result<(), super::ConfigError> {
    let invalid = |key, message: &str| {
        Err(super::ConfigError::Invalid {
            key,
            message: message.to_owned(),
        })
    };
    let r = &s.retention;
    for (key, days) in [
        ("retention.predictions_days", r.predictions_days),
        ("retention.shadow_days", r.shadow_days),
        ("retention.rejected_days", r.rejected_days),
        ("retention.outcomes_days", r.outcomes_days),
    ] {
        if days == Some(0) {
            return invalid(key, "must be at least 1 day (leave unset to keep rows)");
        }
    }
    if r.interval_secs == 0 {
        return invalid("retention.interval_secs", "must be at least 1");
    }
    if r.batch_rows == 0 {
        return invalid("retention.batch_rows", "must be at least 1");
    }
    if s.privacy
        .erasure_salt
        .as_ref()
        .is_some_and(|salt| salt.chars().count() < 16)
    {
        return invalid(
            "privacy.erasure_salt",
            "must be at least 16 characters: a short salt can be guessed",
        );
    }
    if s.amqp.dead_letter_ttl_ms == Some(0) {
        return invalid(
            "amqp.dead_letter_ttl_ms",
            "must be at least 1 (leave unset to keep dead letters until read)",
        );
    }
    let pg = &s.postgres;
    if pg.migration_lock_timeout_ms == 0 || pg.migration_statement_timeout_ms == 0 {
        return invalid(
            "postgres.migration_lock_timeout_ms",
            "postgres.migration_lock_timeout_ms and migration_statement_timeout_ms must be at \
             least 1 (0 would mean wait forever)",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Settings;

    /// A change that makes the settings wrong.
    type Spoil = fn(&mut Settings);

    #[test]
    fn each_bad_value_names_its_key() {
        let cases: [(&str, Spoil); 5] = [
            ("retention.shadow_days", |s| {
                s.retention.shadow_days = Some(0)
            }),
            ("retention.batch_rows", |s| s.retention.batch_rows = 0),
            ("privacy.erasure_salt", |s| {
                s.privacy.erasure_salt = Some("short".into());
            }),
            ("amqp.dead_letter_ttl_ms", |s| {
                s.amqp.dead_letter_ttl_ms = Some(0);
            }),
            ("postgres.migration_lock_timeout_ms", |s| {
                s.postgres.migration_lock_timeout_ms = 0;
            }),
        ];
        for (key, spoil) in cases {
            let mut settings = Settings::default();
            spoil(&mut settings);
            let err = settings.check().expect_err(key).to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
        assert!(Settings::default().check().is_ok());
    }

    #[test]
    fn the_salt_never_shows_in_debug_output() {
        let mut settings = Settings::default();
        settings.privacy.erasure_salt = Some("a-very-secret-salt-value".into());
        assert!(!format!("{settings:?}").contains("a-very-secret-salt-value"));
    }
}
