//! Where the settings come from and how they are read: defaults, then the file, then the
//! `TURNOVER_*` variables, then the `_file` secrets and the cross-checks; the list-valued keys'
//! two forms (a list, or one comma-separated string as the environment gives it); and the
//! error that names the key or the file at fault (a 0 for a `NonZero*` key: [`nonzero`]).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

use super::{env, nonzero, secrets, Settings};

/// `api_keys` as a list, or as one comma-separated string (the environment's form).
pub(super) fn comma_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Keys {
        One(String),
        Many(Vec<String>),
    }
    let keys = match Keys::deserialize(d)? {
        Keys::One(s) => s.split(',').map(str::to_owned).collect(),
        Keys::Many(v) => v,
    };
    Ok(keys
        .into_iter()
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .collect())
}

/// CIDRs (`10.0.0.0/8`) or addresses (one host), as a list or comma-separated.
pub(super) fn networks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    comma_list(d)?
        .iter()
        .map(|net| {
            net.parse::<IpNet>()
                .or_else(|_| net.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "{net:?} is not a CIDR (10.0.0.0/8, fd00::/8) or an address"
                    ))
                })
        })
        .collect()
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Figment(Box<figment::Error>),
    #[error("configuration key {key}: {message}")]
    Invalid { key: &'static str, message: String },
    #[error("configuration file {path}: does not exist (named by {named_by})", path = .path.display())]
    MissingFile {
        path: PathBuf,
        named_by: &'static str,
    },
}

/// The file read when none is named, in the working directory only.
pub const DEFAULT_FILE: &str = "turnover.toml";

impl Settings {
    /// Loads the settings: defaults, then the file (`path`, else `TURNOVER_CONFIG`, else
    /// `turnover.toml` of the working directory when it exists), then `TURNOVER_*` variables.
    /// Then cross-checks them.
    ///
    /// # Errors
    /// [`ConfigError`] naming the key that is malformed or inconsistent, or the named file
    /// that does not exist.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let named = path.map(|p| (p.to_owned(), "--config")).or_else(|| {
            std::env::var_os("TURNOVER_CONFIG")
                .filter(|v| !v.is_empty())
                .map(|v| (PathBuf::from(v), "TURNOVER_CONFIG"))
        });
        let file = match named {
            Some((path, named_by)) if !path.is_file() => {
                return Err(ConfigError::MissingFile { path, named_by });
            }
            Some((path, _)) => Some(path),
            None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.is_file()),
        };
        let environment = env::environment();
        // `file_exact`: `Toml::file` would look for a relative name in every parent folder
        // too, and load a stranger's `turnover.toml` from there.
        let mut user = Figment::new();
        if let Some(file) = file {
            user = user.merge(Toml::file_exact(file));
        }
        let user = user.merge(environment.parsed).merge(environment.verbatim);
        let mut settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(user.clone())
            .extract()
            .map_err(|e| {
                nonzero::zero_refused(&e).unwrap_or_else(|| ConfigError::Figment(Box::new(e)))
            })?;
        secrets::read_secret_files(&user, &mut settings)?;
        settings.skipped_variables = environment.ignored;
        settings.check()?;
        Ok(settings)
    }

    /// Logs, at debug, the `TURNOVER_*` variables skipped as Kubernetes service links. Call
    /// once telemetry is up: the settings are loaded before it.
    pub fn log_skipped_variables(&self) {
        if !self.skipped_variables.is_empty() {
            tracing::debug!(variables = ?self.skipped_variables, "skipped the Kubernetes service-link variables");
        }
    }
}
