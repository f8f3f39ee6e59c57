//! Configuration (docs/contract.md#configuration): defaults, then a TOML file, then `TURNOVER_*`.
//!
//! The file is the one `--config` or `TURNOVER_CONFIG` names, which must exist (a typo must
//! not start the service on defaults, without its API keys), else `turnover.toml` in the
//! working directory when it is there (never one of a parent folder).
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
//! | `amqp.max_message_bytes` | `65536` (a larger message is rejected `too_large`, its first 4 KiB kept) |
//! | `postgres.url` / `postgres.pool_size` | `postgres://postgres@127.0.0.1:5432/turnover` / `8` |
//! | (in `postgres.url`) `sslmode` / `sslrootcert` | `prefer` / unset (libpq's meaning, see `storage::tls`) |
//! | (in `postgres.url`) several hosts `h1:5432,h2:5432` / `target_session_attrs` | one host / `any` (`read-write` to keep to the primary, see `storage::primary`) |
//! | `worker.consumers` / `worker.batch_size` / `worker.batch_wait_ms` | `2` / `256` / `5` |
//! | `worker.scoring_threads` / `worker.shutdown_timeout_ms` | `1` / `10000` |
//! | `http.addr` / `http.predict_timeout_ms` | `127.0.0.1:8080` / `5000` |
//! | `http.rate_limit_per_minute` / `http.max_upload_bytes` | unset / `20971520` |
//! | `http.auth_failures_per_minute` | `10` (per client address; then 429 until the minute is over) |
//! | `http.max_outcomes_bytes` / `http.max_outcomes` | `2097152` / `10000` (`POST /outcomes`) |
//! | `http.max_batch_rows` / `http.max_concurrent_batches` | `100000` (per extract file) / `4` |
//! | `http.read_timeout_ms` / `http.max_connections` | `10000` (headers, then the whole body) / `1024` |
//! | `auth.api_keys` | empty (comma-separated in `TURNOVER_AUTH__API_KEYS`); `[scopes:]key` or `[scopes:]sha256:<hex>` ([`keys`]) |
//! | `auth.allow_anonymous` | `false`: no key and a non-loopback `http.addr` refuse to serve |
//! | `http.trusted_proxies` | empty (CIDRs, comma-separated): peers whose `X-Forwarded-For` names the client |
//! | `http.limiter_max_clients` | `65536` (client addresses each limiter tracks per minute) |
//! | `amqp.url_file` / `postgres.url_file` / `auth.api_keys_file` | unset: a file holding the secret |
//! | `model.path` / `model.explain_top_k` / `model.risk_cuts` | `models/turnover` / `5` / the bundle's |
//! | `log.format` / `log.level` | `json` unless stderr is a terminal / `info` (one of the five levels) |
//! | `log.filter` | unset: `log.level` for everything; else a tracing filter that replaces it |
//! | `metrics.queue_depth_interval_ms` | `5000` |
//! | `metrics.performance_refresh_secs` | `60` (`turnover_model_live_metric` from the view) |
//! | `drift.window` / `drift.min_records` / `drift.refresh_secs` | `1000` / `100` / `60` |
//! | `model.shadow_path` | unset: no shadow bundle |
//! | `model.watch_interval_ms` | unset: bundles reload on SIGHUP only |
//! | `retention.predictions_days` / `shadow_days` / `rejected_days` / `outcomes_days` | unset: kept |
//! | `retention.interval_secs` / `retention.batch_rows` | `3600` / `1000` |
//! | `privacy.erasure_salt` | unset: erasure refused (a secret; never logged) |
//! | `storage.store_inputs` | `true` (`false`: only the explained features are stored) |
//! | `telemetry.otlp_endpoint` / `telemetry.sample_ratio` | unset: no span exported / `1.0` (parent-based) |
//! | `amqp.dead_letter_ttl_ms` | unset: dead letters stay until read (`x-message-ttl`) |
//! | `postgres.migrate_on_start` | `true` (`serve` creates and migrates the database) |
//! | `postgres.migration_lock_timeout_ms` / `migration_statement_timeout_ms` | `2000` / `600000` |
//! | `postgres.migration_retries` | `4` (lock timeouts retried with backoff) |
//!
//! The environment variable of a key is `TURNOVER_` + the key upper-cased with `__` for the
//! dot: `TURNOVER_AMQP__URL`. Secrets, URLs and paths are taken verbatim (`0042` is a key,
//! not 42), and the service-link variables Kubernetes injects for a service named `turnover`
//! are skipped ([`env`]); the `_file` keys are read by [`secrets`]. A key that must be at
//! least 1 is a `NonZero*` field: a 0 is refused while loading, naming the key ([`nonzero`]);
//! the rules between keys are checked after ([`Settings::check`]). This module must not open
//! connections or log secrets: URLs with passwords and API keys leave it only through
//! [`redact_url`] or not at all.

#[macro_use]
mod nonzero;
mod check;
mod env;
pub(crate) mod keys;
mod load;
mod privacy;
mod redact;
mod secrets;
mod telemetry;

pub use load::{ConfigError, DEFAULT_FILE};
pub use privacy::{Privacy, Retention, StorageSettings};
pub use redact::redact_url;
pub(crate) use redact::split_url;
pub use telemetry::Telemetry;

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

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
    pub telemetry: Telemetry,
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
    pub quorum_initial_group_size: NonZeroU32,
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
    /// The largest message body the worker decodes; a larger one is rejected (`too_large`)
    /// with its first 4 KiB, its length and its sha256, never stored whole.
    pub max_message_bytes: usize,
    /// `x-message-ttl` of the dead-letter queue when it is declared: dead letters (bodies with
    /// personal data) older than this are dropped by the broker. Unset: kept until read.
    pub dead_letter_ttl_ms: Option<NonZeroU32>,
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
    pub pool_size: NonZeroUsize,
    /// A file holding `url` (a mounted secret), instead of `url`.
    pub url_file: Option<PathBuf>,
    /// `serve` creates the database and applies the migrations; `false` leaves both to
    /// `turnover migrate` run by an owner role, so `serve` needs only row privileges.
    pub migrate_on_start: bool,
    /// `lock_timeout` of each migration: a migration waiting on a reader fails fast instead of
    /// queueing every writer behind it.
    pub migration_lock_timeout_ms: NonZeroU64,
    /// `statement_timeout` of each migration.
    pub migration_statement_timeout_ms: NonZeroU64,
    /// How many times a migration that hit its lock timeout is tried again, with backoff.
    pub migration_retries: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Worker {
    pub consumers: NonZeroUsize,
    pub batch_size: NonZeroUsize,
    pub batch_wait_ms: u64,
    pub scoring_threads: NonZeroUsize,
    pub shutdown_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    pub addr: SocketAddr,
    pub predict_timeout_ms: NonZeroU64,
    pub rate_limit_per_minute: Option<NonZeroU32>,
    pub max_upload_bytes: usize,
    /// Wrong or missing API keys allowed per client address and minute, so keys cannot be
    /// guessed at line rate.
    pub auth_failures_per_minute: NonZeroU32,
    /// Largest `POST /outcomes` body: a list of outcomes is ~100 bytes an item, so this is far
    /// below `max_upload_bytes`, which is sized for three CSV extracts.
    pub max_outcomes_bytes: NonZeroUsize,
    /// Most outcomes in one `POST /outcomes`.
    pub max_outcomes: NonZeroUsize,
    /// Most rows in one extract file of `POST /predict/batch`.
    pub max_batch_rows: NonZeroUsize,
    /// `POST /predict/batch` uploads read and checked at once; past it, 429.
    pub max_concurrent_batches: NonZeroUsize,
    /// How long a client may take to send a request's headers, and then its whole body.
    pub read_timeout_ms: NonZeroU64,
    /// Open HTTP connections at once; past it, new ones wait in the listen backlog.
    pub max_connections: NonZeroUsize,
    /// Peers (reverse proxies, ingress controllers) whose `X-Forwarded-For` names the client,
    /// for the throttle and the rate limit; from any other peer the header is ignored.
    #[serde(deserialize_with = "load::networks")]
    pub trusted_proxies: Vec<IpNet>,
    /// Client addresses each limiter tracks at once; past it, new clients share one count, so
    /// memory stays bounded whatever the number of addresses.
    pub limiter_max_clients: NonZeroUsize,
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    #[serde(deserialize_with = "load::comma_list")]
    pub api_keys: Vec<String>,
    /// A file holding the keys, one per line or comma-separated, instead of `api_keys`.
    pub api_keys_file: Option<PathBuf>,
    /// Serve without keys on a non-loopback `http.addr`, on purpose.
    pub allow_anonymous: bool,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Auth {{ api_keys: <{} redacted>, allow_anonymous: {} }}",
            self.api_keys.len(),
            self.allow_anonymous
        )
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
    pub watch_interval_ms: Option<NonZeroU64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    pub format: LogFormat,
    /// One of [`LOG_LEVELS`]: a misspelt level must stop start-up, not silence the logs.
    pub level: String,
    /// A tracing filter (`info,turnover::worker=debug`) used instead of `level` when set.
    pub filter: Option<String>,
}

/// The values `log.level` accepts.
pub const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

impl Log {
    /// What the log subscriber filters with: `log.filter` when set, else `log.level`.
    pub fn directives(&self) -> &str {
        self.filter.as_deref().unwrap_or(&self.level)
    }
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
    pub performance_refresh_secs: NonZeroU64,
}

/// The worker's drift watch: a sliding window of the most recent records' features, compared
/// with the bundle's `drift_reference` (`turnover_feature_psi`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftSettings {
    /// Records in the window (the most recent ones scored by this process).
    pub window: NonZeroUsize,
    /// Records the window must hold before any PSI is exported: fewer give noisy figures.
    pub min_records: NonZeroUsize,
    /// How often the PSI gauges are computed again.
    pub refresh_secs: NonZeroU64,
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
                quorum_initial_group_size: nonzero!(3),
                dead_letter_exchange: "turnover.dlx".into(),
                dead_letter_queue: "turnover.dead".into(),
                rpc_queue: "turnover.rpc".into(),
                prefetch: 512,
                url_file: None,
                tls_ca_file: None,
                tls_cert_file: None,
                tls_key_file: None,
                max_message_bytes: 65_536,
                dead_letter_ttl_ms: None,
            },
            postgres: Postgres {
                url: "postgres://postgres@127.0.0.1:5432/turnover".into(),
                pool_size: nonzero!(8),
                url_file: None,
                migrate_on_start: true,
                migration_lock_timeout_ms: nonzero!(2_000),
                migration_statement_timeout_ms: nonzero!(600_000),
                migration_retries: 4,
            },
            worker: Worker {
                consumers: nonzero!(2),
                batch_size: nonzero!(256),
                batch_wait_ms: 5,
                scoring_threads: nonzero!(1),
                shutdown_timeout_ms: 10_000,
            },
            http: Http {
                // Loopback: with no key configured, only this machine can call the routes.
                addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
                predict_timeout_ms: nonzero!(5000),
                rate_limit_per_minute: None,
                max_upload_bytes: 20 * 1024 * 1024,
                auth_failures_per_minute: nonzero!(10),
                max_outcomes_bytes: nonzero!(2 * 1024 * 1024),
                max_outcomes: nonzero!(10_000),
                max_batch_rows: nonzero!(100_000),
                max_concurrent_batches: nonzero!(4),
                read_timeout_ms: nonzero!(10_000),
                max_connections: nonzero!(1024),
                trusted_proxies: Vec::new(),
                limiter_max_clients: nonzero!(65_536),
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
                filter: None,
            },
            metrics: MetricsSettings {
                queue_depth_interval_ms: 5000,
                performance_refresh_secs: nonzero!(60),
            },
            drift: DriftSettings {
                window: nonzero!(1000),
                min_records: nonzero!(100),
                refresh_secs: nonzero!(60),
            },
            retention: Retention::default(),
            privacy: Privacy::default(),
            storage: StorageSettings::default(),
            telemetry: Telemetry::default(),
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

#[cfg(test)]
mod contract_table;
#[cfg(test)]
mod file_tests;
#[cfg(test)]
mod tests;
