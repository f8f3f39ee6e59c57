//! Configuration (docs/contract.md#configuration): defaults, then `turnover.toml`, then `TURNOVER_*`.
//!
//! Every key, its environment variable and its default:
//!
//! | key | default |
//! | --- | --- |
//! | `amqp.url` | `amqp://guest:guest@127.0.0.1:5672/%2f`; several brokers comma-separated, tried in order |
//! | `amqp.tls_ca_file` | unset: `amqps://` trusts the system roots; a PEM CA file adds to them |
//! | `amqp.tls_cert_file` / `amqp.tls_key_file` | unset; both set: client certificate (mutual TLS) |
//! | `amqp.exchange` / `amqp.routing_key` | `turnover` / `predict` |
//! | `amqp.queue` / `amqp.queue_type` / `amqp.delivery_limit` | `turnover.requests` / `quorum` / `5` |
//! | `amqp.quorum_initial_group_size` | `3` (replicas of a new quorum queue, capped by the cluster's size) |
//! | `amqp.dead_letter_exchange` / `amqp.dead_letter_queue` | `turnover.dlx` / `turnover.dead` |
//! | `amqp.rpc_queue` | `turnover.rpc` (the transient queue of `POST /predict`) |
//! | `amqp.prefetch` | `512` (see docs/performance.md) |
//! | `postgres.url` / `postgres.pool_size` | `postgres://postgres@127.0.0.1:5432/turnover` / `8` |
//! | (in `postgres.url`) `sslmode` / `sslrootcert` | `prefer` / unset (libpq's meaning, see `storage::tls`) |
//! | `worker.consumers` / `worker.batch_size` / `worker.batch_wait_ms` | `2` / `256` / `5` |
//! | `worker.scoring_threads` / `worker.shutdown_timeout_ms` | `1` / `10000` |
//! | `http.addr` / `http.predict_timeout_ms` | `0.0.0.0:8080` / `5000` |
//! | `http.rate_limit_per_minute` / `http.max_upload_bytes` | unset / `20971520` |
//! | `http.auth_failures_per_minute` | `10` (per client address; then 429 until the minute is over) |
//! | `auth.api_keys` | empty (comma-separated in `TURNOVER_AUTH__API_KEYS`); a key or `sha256:<hex>` |
//! | `amqp.url_file` / `postgres.url_file` / `auth.api_keys_file` | unset: a file holding the secret |
//! | `model.path` / `model.explain_top_k` / `model.risk_cuts` | `models/turnover` / `5` / the bundle's |
//! | `log.format` / `log.level` | `json` unless stderr is a terminal / `info` |
//! | `metrics.queue_depth_interval_ms` | `5000` |
//! | `metrics.performance_refresh_secs` | `60` (`turnover_model_live_metric` from the view) |
//! | `drift.window` / `drift.min_records` / `drift.refresh_secs` | `1000` / `100` / `60` |
//! | `model.shadow_path` | unset: no shadow bundle |
//! | `model.watch_interval_ms` | unset: bundles reload on SIGHUP only |
//! | `retention.predictions_days` / `shadow_days` / `rejected_days` / `outcomes_days` | unset: kept |
//! | `retention.interval_secs` / `retention.batch_rows` | `3600` / `1000` |
//! | `privacy.erasure_salt` | unset: erasure refused (a secret; never logged) |
//! | `storage.store_inputs` | `true` (`false`: only the explained features are stored) |
//! | `amqp.dead_letter_ttl_ms` | unset: dead letters stay until read (`x-message-ttl`) |
//! | `postgres.migrate_on_start` | `true` (`serve` creates and migrates the database) |
//! | `postgres.migration_lock_timeout_ms` / `migration_statement_timeout_ms` | `2000` / `600000` |
//! | `postgres.migration_retries` | `4` (lock timeouts retried with backoff) |
//!
//! The environment variable of a key is `TURNOVER_` + the key upper-cased with `__` for the
//! dot: `TURNOVER_AMQP__URL`. Secrets, URLs and paths are taken verbatim (`0042` is a key,
//! not 42), and the service-link variables Kubernetes injects for a service named `turnover`
//! are skipped ([`env`]); the `_file` keys are read by [`secrets`]. This module must not open
//! connections or log secrets: URLs with passwords and API keys leave it only through
//! [`redact_url`] or not at all.

mod check;
mod env;
mod privacy;
mod redact;
mod secrets;

pub use privacy::{Privacy, Retention, StorageSettings};
pub use redact::redact_url;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub amqp: Amqp,
    pub postgres: Postgres,
    pub worker: Worker,
    pub http: Http,
    pub auth: Auth,
    pub model: ModelSettings,
    pub log: Log,
    pub metrics: MetricsSettings,
    pub drift: DriftSettings,
    pub retention: Retention,
    pub privacy: Privacy,
    pub storage: StorageSettings,
    /// The `TURNOVER_*` variables skipped as Kubernetes service links, for a debug log once
    /// telemetry is up ([`Settings::log_skipped_variables`]).
    #[serde(skip)]
    pub skipped_variables: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Amqp {
    pub url: String,
    pub exchange: String,
    pub routing_key: String,
    pub queue: String,
    pub queue_type: QueueType,
    pub delivery_limit: u32,
    /// Replicas of a new quorum request queue (`x-quorum-initial-group-size`); RabbitMQ caps it
    /// at the cluster's size, so 3 also suits a single node.
    pub quorum_initial_group_size: u32,
    pub dead_letter_exchange: String,
    pub dead_letter_queue: String,
    /// The transient, non-durable queue of synchronous `/predict` requests: no dead-lettering.
    pub rpc_queue: String,
    pub prefetch: u16,
    /// A file holding `url` (a mounted secret), instead of `url`.
    pub url_file: Option<PathBuf>,
    /// PEM CA certificate(s) trusted for `amqps://`, on top of the system roots.
    pub tls_ca_file: Option<PathBuf>,
    /// PEM client certificate (chain) and its key, for brokers that require mutual TLS.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// `x-message-ttl` of the dead-letter queue when it is declared: dead letters (bodies with
    /// personal data) older than this are dropped by the broker. Unset: kept until read.
    pub dead_letter_ttl_ms: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    Quorum,
    Classic,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Postgres {
    pub url: String,
    pub pool_size: usize,
    /// A file holding `url` (a mounted secret), instead of `url`.
    pub url_file: Option<PathBuf>,
    /// `serve` creates the database and applies the migrations; `false` leaves both to
    /// `turnover migrate` run by an owner role, so `serve` needs only row privileges.
    pub migrate_on_start: bool,
    /// `lock_timeout` of each migration: a migration waiting on a reader fails fast instead of
    /// queueing every writer behind it.
    pub migration_lock_timeout_ms: u64,
    /// `statement_timeout` of each migration.
    pub migration_statement_timeout_ms: u64,
    /// How many times a migration that hit its lock timeout is tried again, with backoff.
    pub migration_retries: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Worker {
    pub consumers: usize,
    pub batch_size: usize,
    pub batch_wait_ms: u64,
    pub scoring_threads: usize,
    pub shutdown_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    pub addr: SocketAddr,
    pub predict_timeout_ms: u64,
    pub rate_limit_per_minute: Option<u32>,
    pub max_upload_bytes: usize,
    /// Wrong or missing API keys allowed per client address and minute, so keys cannot be
    /// guessed at line rate.
    pub auth_failures_per_minute: u32,
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    #[serde(deserialize_with = "comma_list")]
    pub api_keys: Vec<String>,
    /// A file holding the keys, one per line or comma-separated, instead of `api_keys`.
    pub api_keys_file: Option<PathBuf>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Auth {{ api_keys: <{} redacted> }}", self.api_keys.len())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSettings {
    pub path: PathBuf,
    pub explain_top_k: usize,
    pub risk_cuts: Option<[f64; 2]>,
    /// A second bundle that scores every record beside the live one, into
    /// `shadow_predictions`; it never changes a reply.
    pub shadow_path: Option<PathBuf>,
    /// When set, the bundle files are checked this often and a change reloads them, as SIGHUP
    /// does; unset, only SIGHUP reloads.
    pub watch_interval_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    pub queue_depth_interval_ms: u64,
    /// How often `turnover_model_live_metric` is read again from the `model_performance` view.
    pub performance_refresh_secs: u64,
}

/// The worker's drift watch: a sliding window of the most recent records' features, compared
/// with the bundle's `drift_reference` (`turnover_feature_psi`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftSettings {
    /// Records in the window (the most recent ones scored by this process).
    pub window: usize,
    /// Records the window must hold before any PSI is exported: fewer give noisy figures.
    pub min_records: usize,
    /// How often the PSI gauges are computed again.
    pub refresh_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            amqp: Amqp {
                url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
                exchange: "turnover".into(),
                routing_key: "predict".into(),
                queue: "turnover.requests".into(),
                queue_type: QueueType::Quorum,
                delivery_limit: 5,
                quorum_initial_group_size: 3,
                dead_letter_exchange: "turnover.dlx".into(),
                dead_letter_queue: "turnover.dead".into(),
                rpc_queue: "turnover.rpc".into(),
                prefetch: 512,
                url_file: None,
                tls_ca_file: None,
                tls_cert_file: None,
                tls_key_file: None,
                dead_letter_ttl_ms: None,
            },
            postgres: Postgres {
                url: "postgres://postgres@127.0.0.1:5432/turnover".into(),
                pool_size: 8,
                url_file: None,
                migrate_on_start: true,
                migration_lock_timeout_ms: 2_000,
                migration_statement_timeout_ms: 600_000,
                migration_retries: 4,
            },
            worker: Worker {
                consumers: 2,
                batch_size: 256,
                batch_wait_ms: 5,
                scoring_threads: 1,
                shutdown_timeout_ms: 10_000,
            },
            http: Http {
                addr: SocketAddr::from(([0, 0, 0, 0], 8080)),
                predict_timeout_ms: 5000,
                rate_limit_per_minute: None,
                max_upload_bytes: 20 * 1024 * 1024,
                auth_failures_per_minute: 10,
            },
            auth: Auth::default(),
            model: ModelSettings {
                path: "models/turnover".into(),
                explain_top_k: 5,
                risk_cuts: None,
                shadow_path: None,
                watch_interval_ms: None,
            },
            log: Log {
                format: if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                    LogFormat::Pretty
                } else {
                    LogFormat::Json
                },
                level: "info".into(),
            },
            metrics: MetricsSettings {
                queue_depth_interval_ms: 5000,
                performance_refresh_secs: 60,
            },
            drift: DriftSettings {
                window: 1000,
                min_records: 100,
                refresh_secs: 60,
            },
            retention: Retention::default(),
            privacy: Privacy::default(),
            storage: StorageSettings::default(),
            skipped_variables: Vec::new(),
        }
    }
}

macro_rules! default_from_settings {
    ($($ty:ident => $field:ident),+) => {
        $(impl Default for $ty {
            fn default() -> Self { Settings::default().$field }
        })+
    };
}
default_from_settings!(Amqp => amqp, Postgres => postgres, Worker => worker, Http => http, ModelSettings => model, Log => log, MetricsSettings => metrics, DriftSettings => drift);

/// `api_keys` as a list, or as one comma-separated string (the environment's form).
fn comma_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
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

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Figment(Box<figment::Error>),
    #[error("configuration key {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

impl Settings {
    /// Loads the settings: defaults, then the file (`path`, else `TURNOVER_CONFIG`, else
    /// `turnover.toml` when it exists), then `TURNOVER_*` variables. Then cross-checks them.
    ///
    /// # Errors
    /// [`ConfigError`] naming the key that is malformed or inconsistent.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let file = path
            .map(Path::to_owned)
            .or_else(|| std::env::var_os("TURNOVER_CONFIG").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("turnover.toml"));
        let environment = env::environment();
        let user = Figment::from(Toml::file(file))
            .merge(environment.parsed)
            .merge(environment.verbatim);
        let mut settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(user.clone())
            .extract()
            .map_err(|e| ConfigError::Figment(Box::new(e)))?;
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

#[cfg(test)]
mod tests;
