//! Whether spans are recorded for export at all: only while the collector keeps up.
//!
//! Building a span for export (ids, attributes, links, the queue) costs a queued job about a
//! third of its CPU (docs/performance.md, "Tracing to a dead collector"). While the collector
//! is unreachable, or slower than the spans arrive, every such span would be built only to be
//! dropped; so the OpenTelemetry layer's filter asks [`recording`] before each span, and the
//! gate closes when an export fails or the bounded queue is full. With it closed, a job costs
//! what it costs with no exporter at all: trace ids are still made, continued, replied and
//! stored (`Traced::start`), only no span is built.
//!
//! The gate opens again on the next export the collector takes, or on a probe: every
//! [`PROBE_INTERVAL`] while closed, a thread of its own sends the collector an empty OTLP
//! request (a valid `ExportTraceServiceRequest` with no spans) and opens the gate on a 2xx.
//! A collector that is up but slower than the spans come closes and opens the gate every few
//! seconds; the changes are logged at most once a minute each, the gauge follows every one. `turnover_trace_collector_up` says which state it is in (and exists only
//! where a collector is configured; `TurnoverTraceCollectorDown` fires on its 0).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use prometheus::IntGauge;

/// How often a closed gate asks the collector whether it is back.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(5);
/// How long one probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Open until the first export fails: a collector is presumed up when the process starts.
static RECORDING: AtomicBool = AtomicBool::new(true);

/// Whether this process exports spans (the probe was started with the exporter): the gauge
/// below is registered only then, so an alert on it cannot fire where no collector is meant.
#[must_use]
pub fn exporting() -> bool {
    PROBE.is_completed()
}

static PROBE: std::sync::Once = std::sync::Once::new();

/// `turnover_trace_collector_up`: 1 while spans are recorded and exported, 0 while the
/// collector is unreachable or behind. Exposed only with `telemetry.otlp_endpoint`.
pub fn collector_up() -> &'static IntGauge {
    static GAUGE: OnceLock<IntGauge> = OnceLock::new();
    GAUGE.get_or_init(|| {
        IntGauge::new(
            "turnover_trace_collector_up",
            "1 while spans are recorded and the OTLP collector takes them; 0 while it is \
             unreachable or behind (spans are not recorded, trace ids still are)",
        )
        .expect("a valid metric")
    })
}

/// Whether a span starting now is recorded for export (the OpenTelemetry layer's filter).
#[must_use]
pub fn recording() -> bool {
    RECORDING.load(Ordering::Relaxed)
}

/// Why the gate closed, for the one log line of the change.
#[derive(Debug, Clone, Copy)]
pub enum Closed {
    /// An export failed: the collector refused it or did not answer in time.
    ExportFailed,
    /// The bounded export queue was full: the collector takes spans slower than they come.
    QueueFull,
}

/// At most one log line a minute per kind of change.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// Whether a change logged through `last` (milliseconds since the first call, plus one; 0 for
/// never) may be logged again now.
fn may_log(last: &AtomicU64) -> bool {
    static START: OnceLock<Instant> = OnceLock::new();
    may_log_at(
        last,
        START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1,
    )
}

fn may_log_at(last: &AtomicU64, now_ms: u64) -> bool {
    let before = last.load(Ordering::Relaxed);
    let due = before == 0 || now_ms.saturating_sub(before) >= LOG_EVERY.as_millis() as u64;
    due && last
        .compare_exchange(before, now_ms, Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
}

/// Closes the gate; logs only the change, so a dead collector is one line, not one per export.
pub fn close(why: Closed) {
    static LOGGED: AtomicU64 = AtomicU64::new(0);
    if RECORDING.swap(false, Ordering::Relaxed) {
        collector_up().set(0);
        if !may_log(&LOGGED) {
            return;
        }
        let reason = match why {
            Closed::ExportFailed => "an export to the collector failed",
            Closed::QueueFull => "the span export queue is full",
        };
        tracing::warn!(
            reason,
            "spans are not recorded until the trace collector takes exports again; \
             trace ids are still stored and replied"
        );
    }
}

/// Opens the gate (an export or a probe succeeded); logs only the change.
pub fn open() {
    static LOGGED: AtomicU64 = AtomicU64::new(0);
    if !RECORDING.swap(true, Ordering::Relaxed) {
        collector_up().set(1);
        if may_log(&LOGGED) {
            tracing::info!("the trace collector takes exports again: spans are recorded");
        }
    }
}

/// Starts the probe of `traces_url` (once per process, with the exporter): while the gate is
/// closed, an empty export every [`PROBE_INTERVAL`]. Idle while the gate is open.
pub fn start_probe(traces_url: String) {
    PROBE.call_once(|| spawn_probe(traces_url));
}

fn spawn_probe(traces_url: String) {
    collector_up().set(1);
    let spawned = std::thread::Builder::new()
        .name("trace-probe".into())
        .spawn(move || probe_forever(&traces_url));
    if let Err(error) = spawned {
        // Without the probe a closed gate reopens only on an export, so never after a failure:
        // the service runs on untraced, as with no exporter, which the log says.
        tracing::error!(error.message = %error, "cannot start the trace collector probe");
    }
}

fn probe_forever(traces_url: &str) {
    // The blocking client is built on this thread: it runs its own runtime, which must not be
    // made (or dropped) inside the service's.
    let client = match reqwest::blocking::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error.message = %error, "cannot build the trace collector probe");
            return;
        }
    };
    loop {
        std::thread::sleep(PROBE_INTERVAL);
        if recording() {
            continue;
        }
        let answered = client
            .post(traces_url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
            .body(Vec::new())
            .send();
        if answered.is_ok_and(|r| r.status().is_success()) {
            open();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_logged_once_a_minute_at_most() {
        let last = AtomicU64::new(0);
        assert!(may_log_at(&last, 1), "the first change is logged");
        assert!(
            !may_log_at(&last, 30_001),
            "not the next one within the minute"
        );
        assert!(may_log_at(&last, 60_001), "a minute later, again");
        assert!(!may_log_at(&last, 60_002));
    }
}
