//! The span pipeline: the OpenTelemetry tracer behind the `tracing` layer, its sampler and,
//! when `telemetry.otlp_endpoint` is set, the OTLP/HTTP (protobuf) exporter.
//!
//! Finished spans wait in a bounded queue that the SDK's batch processor drains on its own
//! thread (the blocking reqwest client: the export never runs on the scoring runtime). When
//! the collector is slow or down the queue fills, and a span that finds it full is dropped
//! and counted (`turnover_trace_spans_dropped_total{reason="queue_full"}`), never waited for;
//! a batch the collector refused or never answered is counted `export_failed`. The SDK keeps
//! its own drop count private, so the queue's bound is kept here, in front of it.
//!
//! Both close the [`gate`](super::gate): no span is recorded until the collector takes an
//! export again, so a dead or slow collector costs scoring what no exporter costs.
//!
//! Without an endpoint there is no exporter, but spans still get their ids: trace ids are
//! generated, continued and stored all the same.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, Span, SpanData,
    SpanExporter, SpanProcessor, Tracer,
};
use opentelemetry_sdk::Resource;
use prometheus::IntCounterVec;

use super::gate::{self, Closed};
use crate::config::Telemetry;

/// Finished spans waiting for the exporter, at most: about 2 MB at ~1 KB a span, and at the
/// default batch of 256 jobs (four spans each) several batches' worth.
pub const MAX_QUEUED_SPANS: usize = 4096;
/// How long one export may take before it counts as failed (the HTTP client's timeout).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the exit waits for the last spans to leave.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// `turnover_trace_spans_dropped_total{reason}`: spans that never reached the collector.
/// Process-wide (one exporter per process), registered by every `Metrics`.
pub fn spans_dropped() -> &'static IntCounterVec {
    static COUNTER: OnceLock<IntCounterVec> = OnceLock::new();
    COUNTER.get_or_init(|| {
        let counter = IntCounterVec::new(
            prometheus::Opts::new(
                "turnover_trace_spans_dropped_total",
                "Spans not exported: the export queue was full, or the collector failed the export",
            ),
            &["reason"],
        )
        .expect("a valid metric");
        for reason in ["queue_full", "export_failed"] {
            counter.with_label_values(&[reason]);
        }
        counter
    })
}

/// The tracer of this process, made on first use from `settings` (the first call's settings
/// win: one exporter per process, as one log subscriber).
///
/// # Errors
/// When the exporter cannot be built (an endpoint that is not a URL).
pub fn tracer(settings: &Telemetry) -> anyhow::Result<Tracer> {
    if let Some(provider) = PROVIDER.get() {
        return Ok(provider.tracer("turnover"));
    }
    let ratio = settings.sample_ratio.clamp(0.0, 1.0);
    let mut builder = SdkTracerProvider::builder()
        // Parent-based: a caller's decision (the traceparent's sampled flag) stands, so a trace
        // is kept or dropped whole; only the traces that start here are sampled by ratio.
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            ratio,
        ))))
        .with_resource(
            Resource::builder_empty()
                .with_attributes([
                    KeyValue::new("service.name", "turnover"),
                    KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
                ])
                .build(),
        );
    if let Some(endpoint) = settings.endpoint() {
        let url = traces_url(endpoint);
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()?;
        let batch = BatchSpanProcessor::builder(Counted(exporter))
            .with_batch_config(
                BatchConfigBuilder::default()
                    // Never full before the bound in front of it: drops are counted there.
                    .with_max_queue_size(MAX_QUEUED_SPANS * 2)
                    .with_max_export_batch_size(512)
                    .with_scheduled_delay(Duration::from_millis(1000))
                    .build(),
            )
            .build();
        builder = builder.with_span_processor(Bounded {
            inner: batch,
            queued: Arc::clone(queued()),
        });
        gate::start_probe(url);
    }
    let provider = PROVIDER.get_or_init(|| builder.build());
    Ok(provider.tracer("turnover"))
}

/// Sends the spans still queued and stops the exporter, waiting at most `timeout`. Call once,
/// at exit; without an exporter it returns at once.
pub fn shutdown(timeout: Duration) {
    if let Some(provider) = PROVIDER.get() {
        if let Err(error) = provider.shutdown_with_timeout(timeout) {
            tracing::warn!(error.message = %error, "spans still queued at exit were not exported");
        }
    }
}

/// The OTLP/HTTP traces URL of a collector: `telemetry.otlp_endpoint` is its base
/// (`http://collector:4318`), as `OTEL_EXPORTER_OTLP_ENDPOINT` is; a URL that already names the
/// traces path is taken as it is.
fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    }
}

/// Spans handed to the batch processor and not yet taken by an export.
fn queued() -> &'static Arc<AtomicUsize> {
    static QUEUED: OnceLock<Arc<AtomicUsize>> = OnceLock::new();
    QUEUED.get_or_init(|| Arc::new(AtomicUsize::new(0)))
}

/// The bound in front of the batch processor: a span that finds [`MAX_QUEUED_SPANS`] waiting is
/// dropped and counted, at the cost of one atomic add on the thread that ended it.
#[derive(Debug)]
struct Bounded {
    inner: BatchSpanProcessor,
    queued: Arc<AtomicUsize>,
}

impl SpanProcessor for Bounded {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if self.queued.fetch_add(1, Ordering::Relaxed) >= MAX_QUEUED_SPANS {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            spans_dropped().with_label_values(&["queue_full"]).inc();
            gate::close(Closed::QueueFull);
            return;
        }
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The OTLP exporter, releasing the bound as spans leave the queue and counting failed exports.
#[derive(Debug)]
struct Counted(opentelemetry_otlp::SpanExporter);

impl SpanExporter for Counted {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        queued().fetch_sub(n, Ordering::Relaxed);
        let result = self.0.export(batch).await;
        if result.is_ok() {
            gate::open();
        } else {
            spans_dropped()
                .with_label_values(&["export_failed"])
                .inc_by(n as u64);
            gate::close(Closed::ExportFailed);
        }
        result
    }

    fn shutdown_with_timeout(&mut self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn force_flush(&mut self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn the_endpoint_is_the_collector_base_and_gets_the_traces_path() {
        assert_eq!(
            traces_url("http://jaeger:4318"),
            "http://jaeger:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://jaeger:4318/"),
            "http://jaeger:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://tempo:4318/v1/traces"),
            "http://tempo:4318/v1/traces"
        );
    }
}
