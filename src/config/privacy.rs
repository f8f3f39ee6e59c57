//! The keys of personal data's life (docs/privacy.md): how long rows are kept
//! (`retention.*`), the salt of erasure records (`privacy.*`), and whether full inputs are
//! stored (`storage.*`). Read by the retention task, the erasure paths and the worker's rows.

use std::num::{NonZeroU32, NonZeroU64};

use serde::{Deserialize, Serialize};

/// `retention.*`: rows older than these many days are deleted; unset keeps them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// `predictions` by `scored_at`.
    pub predictions_days: Option<NonZeroU32>,
    /// `shadow_predictions` by `scored_at`.
    pub shadow_days: Option<NonZeroU32>,
    /// `rejected_messages` by `received_at`.
    pub rejected_days: Option<NonZeroU32>,
    /// `outcomes` by `recorded_at`.
    pub outcomes_days: Option<NonZeroU32>,
    /// How often one process (an advisory lock decides which) applies the rules.
    pub interval_secs: NonZeroU64,
    /// Rows per DELETE: small enough that a worker insert never waits long behind one.
    pub batch_rows: NonZeroU32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            predictions_days: None,
            shadow_days: None,
            rejected_days: None,
            outcomes_days: None,
            interval_secs: nonzero!(3_600),
            batch_rows: nonzero!(1_000),
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

/// The rule of these keys that is not a type (the `retention.*` numbers, the dead-letter TTL
/// and the migration timeouts are `NonZero*`: [`nonzero`](super::nonzero)), naming its key.
pub(super) fn check(s: &super::Settings) -> Result<(), super::ConfigError> {
    if s.privacy
        .erasure_salt
        .as_ref()
        .is_some_and(|salt| salt.chars().count() < 16)
    {
        return Err(super::ConfigError::Invalid {
            key: "privacy.erasure_salt",
            message: "must be at least 16 characters: a short salt can be guessed".to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Settings;

    /// A 0 in the `retention.*` numbers, the dead-letter TTL or a migration timeout cannot be
    /// written here: the loader refuses it, naming the key (`nonzero::tests`).
    #[test]
    fn a_short_salt_is_refused_naming_its_key() {
        let mut settings = Settings::default();
        settings.privacy.erasure_salt = Some("short".into());
        let err = settings.check().expect_err("a short salt").to_string();
        assert!(err.contains("privacy.erasure_salt"), "{err}");
        settings.privacy.erasure_salt = Some("sixteen-chars-ok".into());
        assert!(settings.check().is_ok());
        assert!(Settings::default().check().is_ok());
    }

    #[test]
    fn the_salt_never_shows_in_debug_output() {
        let mut settings = Settings::default();
        settings.privacy.erasure_salt = Some("a-very-secret-salt-value".into());
        assert!(!format!("{settings:?}").contains("a-very-secret-salt-value"));
    }
}
