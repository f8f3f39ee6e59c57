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
//!
//! The environment variable of a key is `TURNOVER_` + the key upper-cased with `__` for the
//! dot: `TURNOVER_AMQP__URL`. Secrets, URLs and paths are taken verbatim (`0042` is a key,
//! not 42), and the service-link variables Kubernetes injects for a service named `turnover`
//! are skipped ([`env`]); the `_file` keys are read by [`secrets`]. This module must not open
//! connections or log secrets: URLs with passwords and API keys leave it only through
//! [`redact_url`] or not at all.

mod env;
mod secrets;

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
            },
            postgres: Postgres {
                url: "postgres://postgres@127.0.0.1:5432/turnover".into(),
                pool_size: 8,
                url_file: None,
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

    /// The rules between keys, checked before any connection is opened.
    ///
    /// # Errors
    /// The first inconsistent key.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        if self.worker.batch_size == 0 {
            return invalid("worker.batch_size", "must be at least 1");
        }
        if self.worker.consumers == 0 {
            return invalid("worker.consumers", "must be at least 1");
        }
        if self.worker.scoring_threads == 0 {
            return invalid("worker.scoring_threads", "must be at least 1");
        }
        if usize::from(self.amqp.prefetch) < self.worker.batch_size {
            return invalid(
                "amqp.prefetch",
                "must be at least worker.batch_size, or batches can never fill",
            );
        }
        if self.amqp.quorum_initial_group_size == 0 {
            return invalid("amqp.quorum_initial_group_size", "must be at least 1");
        }
        if self.postgres.pool_size == 0 {
            return invalid("postgres.pool_size", "must be at least 1");
        }
        if self.http.predict_timeout_ms == 0 {
            return invalid("http.predict_timeout_ms", "must be at least 1");
        }
        if self.http.auth_failures_per_minute == 0 {
            return invalid("http.auth_failures_per_minute", "must be at least 1");
        }
        let queues = [
            &self.amqp.queue,
            &self.amqp.rpc_queue,
            &self.amqp.dead_letter_queue,
        ];
        if queues[0] == queues[1] || queues[1] == queues[2] || queues[0] == queues[2] {
            return invalid(
                "amqp.rpc_queue",
                "amqp.queue, amqp.rpc_queue and amqp.dead_letter_queue must be three different queues",
            );
        }
        if self.http.rate_limit_per_minute == Some(0) {
            return invalid(
                "http.rate_limit_per_minute",
                "must be at least 1 (leave unset for no limit)",
            );
        }
        if self.model.watch_interval_ms == Some(0) {
            return invalid(
                "model.watch_interval_ms",
                "must be at least 1 (leave unset to reload on SIGHUP only)",
            );
        }
        if let Some([low, high]) = self.model.risk_cuts {
            if !(0.0 <= low && low <= high && high <= 1.0) {
                return invalid(
                    "model.risk_cuts",
                    "must be two increasing probabilities, like [0.3, 0.7]",
                );
            }
        }
        if crate::queue::broker::urls(&self.amqp.url).next().is_none()
            || !crate::queue::broker::urls(&self.amqp.url).all(|u| u.contains("://"))
        {
            return invalid(
                "amqp.url",
                "must be a URL (scheme://host...), or several separated by commas",
            );
        }
        if !self.postgres.url.contains("://") {
            return invalid("postgres.url", "must be a URL (scheme://host...)");
        }
        if self.amqp.tls_cert_file.is_some() != self.amqp.tls_key_file.is_some() {
            return invalid(
                "amqp.tls_cert_file",
                "and amqp.tls_key_file go together: set both for a client certificate, or neither",
            );
        }
        let tls_file = [
            ("amqp.tls_ca_file", &self.amqp.tls_ca_file),
            ("amqp.tls_cert_file", &self.amqp.tls_cert_file),
        ]
        .into_iter()
        .find_map(|(key, file)| file.as_ref().map(|_| key));
        if let Some(key) = tls_file {
            if !crate::queue::broker::urls(&self.amqp.url)
                .any(|u| u.to_ascii_lowercase().starts_with("amqps://"))
            {
                return invalid(
                    key,
                    "is set but no amqp.url is amqps://, so it would not be used",
                );
            }
        }
        for key in &self.auth.api_keys {
            if let Some(hex) = key.strip_prefix("sha256:") {
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return invalid(
                        "auth.api_keys",
                        "a sha256: key must be followed by 64 hex digits (sha256sum of the key)",
                    );
                }
            }
        }
        if self.metrics.performance_refresh_secs == 0 {
            return invalid("metrics.performance_refresh_secs", "must be at least 1");
        }
        if self.drift.window == 0 {
            return invalid("drift.window", "must be at least 1");
        }
        if self.drift.min_records == 0 || self.drift.min_records > self.drift.window {
            return invalid(
                "drift.min_records",
                "must be at least 1 and at most drift.window, or no PSI is ever exported",
            );
        }
        if self.drift.refresh_secs == 0 {
            return invalid("drift.refresh_secs", "must be at least 1");
        }
        if self
            .log
            .level
            .parse::<tracing_subscriber::EnvFilter>()
            .is_err()
        {
            return invalid(
                "log.level",
                "must be a level (error, warn, info, debug, trace) or a filter",
            );
        }
        Ok(())
    }
}

/// The URL with any password replaced by `***`, for logs and errors. A comma-separated list
/// of URLs (`amqp.url`) is redacted URL by URL; a Postgres multi-host URL
/// (`postgres://u:p@h1:5432,h2:5432/db`) and a `password=` parameter are redacted too.
pub fn redact_url(url: &str) -> String {
    // A piece that starts with a scheme starts a new URL; any other piece continues the host
    // list of the URL before it.
    let mut urls: Vec<String> = Vec::new();
    for piece in url.split(',') {
        match urls.last_mut() {
            Some(last) if !piece.contains("://") => {
                last.push(',');
                last.push_str(piece);
            }
            _ => urls.push(piece.to_owned()),
        }
    }
    urls.iter()
        .map(|u| redact_one(u))
        .collect::<Vec<_>>()
        .join(",")
}

fn redact_one(url: &str) -> String {
    let leading = &url[..url.len() - url.trim_start().len()];
    let Some((scheme, rest)) = url.trim_start().split_once("://") else {
        return "<unparsable url>".into();
    };
    let (main, query) = rest
        .split_once('?')
        .map_or((rest, None), |(m, q)| (m, Some(q)));
    let (authority, path) = main
        .split_once('/')
        .map_or((main, None), |(a, p)| (a, Some(p)));
    let mut out = format!("{leading}{scheme}://");
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => out.push_str(&format!("{user}:***@{host}")),
            None => out.push_str(authority),
        },
        None => out.push_str(authority),
    }
    if let Some(path) = path {
        out.push('/');
        out.push_str(path);
    }
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests;
