//! Secrets from files: `amqp.url_file`, `postgres.url_file` and `auth.api_keys_file` name a
//! file holding the value of `amqp.url`, `postgres.url` and `auth.api_keys`, as Kubernetes and
//! Docker secrets mount them (`TURNOVER_POSTGRES__URL_FILE=/run/secrets/postgres-url`).
//!
//! The file's trailing newline is dropped (what `echo` and most editors add). A key and its
//! `_file` both set is an error naming both: which one should win would be a guess.
//! This module reads files only; it must not log or echo what they hold.

use std::path::Path;

use figment::Figment;

use super::{ConfigError, Settings};

/// Replaces each secret whose `_file` key is set by the file's content.
///
/// `user` is the configuration without the defaults (the file and the environment), to tell
/// a key the operator set from a default.
///
/// # Errors
/// [`ConfigError::Invalid`] naming the `_file` key: both set, unreadable or empty file.
pub(super) fn read_secret_files(
    user: &Figment,
    settings: &mut Settings,
) -> Result<(), ConfigError> {
    if let Some(path) = &settings.amqp.url_file {
        only_one(user, "amqp.url", "amqp.url_file")?;
        settings.amqp.url = read("amqp.url_file", path)?;
    }
    if let Some(path) = &settings.postgres.url_file {
        only_one(user, "postgres.url", "postgres.url_file")?;
        settings.postgres.url = read("postgres.url_file", path)?;
    }
    if let Some(path) = &settings.auth.api_keys_file {
        only_one(user, "auth.api_keys", "auth.api_keys_file")?;
        // One key per line or comma-separated, like TURNOVER_AUTH__API_KEYS.
        settings.auth.api_keys = read("auth.api_keys_file", path)?
            .split([',', '\n'])
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect();
    }
    Ok(())
}

fn only_one(user: &Figment, key: &'static str, file_key: &'static str) -> Result<(), ConfigError> {
    if user.contains(key) {
        return Err(ConfigError::Invalid {
            key: file_key,
            message: format!("{key} is set too; set only one of {key} and {file_key}"),
        });
    }
    Ok(())
}

fn read(key: &'static str, path: &Path) -> Result<String, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid { key, message };
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
    let value = text.trim_end_matches(['\n', '\r']);
    if value.trim().is_empty() {
        return Err(invalid(format!("{} is empty", path.display())));
    }
    Ok(value.to_owned())
}
