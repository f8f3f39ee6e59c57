//! Logging: JSON lines in production, a readable format on a terminal; always to stderr so
//! that commands which print results (`score`) keep stdout clean.

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

/// Installs the global subscriber with `directives` (a level, or the filter of `log.filter`).
/// `RUST_LOG`, when set, wins over them.
pub fn init(format: LogFormat, directives: &str) {
    // The Postgres driver logs server NOTICEs (e.g. "already exists, skipping") at info.
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{directives},tokio_postgres=warn")))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests spawning several apps) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
