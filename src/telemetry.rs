//! Logging and tracing: JSON lines in production, a readable format on a terminal, always to
//! stderr so that commands which print results (`score`) keep stdout clean; and the
//! OpenTelemetry layer that gives the service's spans their trace ids (`trace`).

use tracing_subscriber::filter::{self, FilterExt as _, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{fmt, EnvFilter, Layer};

use crate::config::{LogFormat, Telemetry};

/// Installs the global subscriber with `directives` (a level, or the filter of `log.filter`),
/// and no span exporter. `RUST_LOG`, when set, wins over them.
pub fn init(format: LogFormat, directives: &str) {
    init_with_tracing(format, directives, &Telemetry::default());
}

/// As [`init`], with the span exporter `telemetry` asks for. The log filter and the spans are
/// apart: a `warn` log still traces every job. An exporter that cannot be built is logged and
/// left out (the service runs untraced rather than not at all; the keys were checked).
pub fn init_with_tracing(format: LogFormat, directives: &str, telemetry: &Telemetry) {
    // The Postgres driver logs server NOTICEs (e.g. "already exists, skipping") at info.
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{directives},tokio_postgres=warn")))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = fmt::layer().with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
        LogFormat::Pretty => logs.compact().with_filter(filter).boxed(),
    };
    // The OpenTelemetry layer only when spans leave the process: without an exporter it would
    // cost every job its span bookkeeping for nothing (docs/performance.md); trace ids are
    // made and carried without it (`trace::Traced`).
    let exporting = telemetry.endpoint().is_some();
    let (spans, error) = match crate::trace::export::tracer(telemetry) {
        Ok(tracer) if exporting => (
            Some(
                tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    // Busy/idle times and thread names on every span cost clock reads and
                    // attributes per job; the span's own start and end are what a trace needs.
                    .with_tracked_inactivity(false)
                    .with_threads(false)
                    // Only this crate's spans: the drivers' own would multiply the volume. And
                    // none while the collector is down or behind (`trace::gate`): a span built
                    // only to be dropped would cost the job for nothing.
                    .with_filter(
                        Targets::new()
                            .with_target("turnover", LevelFilter::INFO)
                            .and(filter::dynamic_filter_fn(|_, _| {
                                crate::trace::gate::recording()
                            })),
                    ),
            ),
            None,
        ),
        Ok(_) => (None, None),
        Err(error) => (None, Some(error)),
    };
    // A second init (tests spawning several apps) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(spans)
        .try_init();
    if let Some(error) = error {
        tracing::error!(error.message = %error, "cannot build the span exporter; spans are not exported");
    }
}
