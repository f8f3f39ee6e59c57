//! Distributed tracing (docs/operations.md#tracing): a W3C `traceparent` is accepted on every
//! HTTP route and on every message, continued through publish, consume, batch scoring, the
//! Postgres transaction and the reply, written back on replies, and stored as `trace_id` in
//! the rows it produced.
//!
//! Spans are `tracing` spans; the `tracing-opentelemetry` layer that `telemetry::init`
//! installs gives them OpenTelemetry ids and hands them to [`export`]. The trace of a job is
//! decided once, when its span starts ([`Traced`]), and what is stored and replied is read from
//! it, so the row, the reply and the exported spans cannot disagree.
//!
//! - [`context`]: the `traceparent` / `tracestate` headers, parsed and written;
//! - [`amqp`]: the headers of a message, in and out, and the consumer's spans;
//! - [`http`]: the middleware that continues a caller's trace on every route;
//! - [`export`]: the sampler, the bounded export queue and the OTLP/HTTP exporter;
//! - [`gate`]: spans are recorded only while the collector takes them.

pub mod amqp;
pub mod context;
pub mod export;
pub mod gate;
pub mod http;

use opentelemetry::trace::TraceContextExt as _;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

pub use crate::wire::{TRACEPARENT_HEADER, TRACESTATE_HEADER};
pub use context::TraceParent;

/// A span with the trace it belongs to, as stored (`trace_id`) and as sent on (`traceparent`).
#[derive(Debug, Clone)]
pub struct Traced {
    pub span: Span,
    /// 32 lower-case hex digits: the `trace_id` column.
    pub trace_id: String,
    /// This span's position, for the next hop (a reply, a published request).
    pub traceparent: String,
}

impl Traced {
    /// Starts `span` as a child of `parent` (a caller's position) or, without one, of the
    /// span it was created under (a new trace when that is none). `span` must declare an empty
    /// `trace_id` field, which this fills in so every log line inside it carries the id.
    pub fn start(span: Span, parent: Option<&TraceParent>) -> Self {
        if let Some(parent) = parent {
            let cx = opentelemetry::Context::new().with_remote_span_context(parent.span_context());
            // Fails only when the span is disabled or has no OpenTelemetry layer: the ids
            // below are then made here, continuing the parent's trace all the same.
            let _ = span.set_parent(cx);
        }
        let cx = span.context();
        let context = cx.span().span_context().clone();
        let (trace_id, span_id, sampled) = if context.is_valid() {
            (
                context.trace_id().to_bytes(),
                context.span_id().to_bytes(),
                context.is_sampled(),
            )
        } else {
            // No OpenTelemetry layer (nothing exports, or a library user without
            // `telemetry::init`): the ids are made here. Without a parent of its own, a span
            // continues the HTTP request it runs in (`http::continue_trace`), else starts a trace.
            let fresh = random_bytes();
            let span_id: [u8; 8] = fresh[..8].try_into().unwrap_or([1; 8]);
            match parent.cloned().or_else(http::current) {
                Some(p) => (p.trace_id, span_id, p.sampled),
                None => (random_bytes(), span_id, false),
            }
        };
        let trace_id_hex = crate::digest::hex(&trace_id);
        span.record("trace_id", trace_id_hex.as_str());
        Traced {
            traceparent: context::format(&trace_id, &span_id, sampled),
            trace_id: trace_id_hex,
            span,
        }
    }

    /// Links this span to `other` (a job to its batch): the batch ran for many traces at once,
    /// so it is no job's parent, and the link lets a tracing UI go from one to the other.
    pub fn link_to(&self, other: &Span) {
        let cx = other.context();
        self.span.add_link(cx.span().span_context().clone());
    }
}

/// The current span's `traceparent`, for a request published from inside it (an HTTP
/// handler's `/predict/batch` rows). `None` outside a span of a trace.
#[must_use]
pub fn current_traceparent() -> Option<String> {
    let cx = Span::current().context();
    let context = cx.span().span_context().clone();
    if context.is_valid() {
        return Some(context::format(
            &context.trace_id().to_bytes(),
            &context.span_id().to_bytes(),
            context.is_sampled(),
        ));
    }
    // No OpenTelemetry layer: the HTTP request's own position, when there is one.
    http::current().map(|p| context::format(&p.trace_id, &p.span_id, p.sampled))
}

/// 16 random bytes, never all zero (an all-zero id is invalid).
fn random_bytes() -> [u8; 16] {
    let mut bytes = *uuid::Uuid::new_v4().as_bytes();
    bytes[15] |= 1;
    bytes
}

/// The span of one batch: the score and the transaction are its children; each job links to it.
#[must_use]
pub fn batch_span(size: usize) -> Span {
    tracing::info_span!(parent: None, "batch", batch.size = size)
}

/// The scoring call of a batch.
#[must_use]
pub fn score_span(batch: &Span) -> Span {
    tracing::info_span!(parent: batch, "score")
}

/// The Postgres transaction of a batch.
#[must_use]
pub fn transaction_span(batch: &Span) -> Span {
    tracing::info_span!(parent: batch, "postgres.transaction", db.system = "postgresql")
}

/// One job's share of its batch's transaction: the row written in its trace.
#[must_use]
pub fn write_span(job: &Traced) -> Span {
    tracing::info_span!(
        parent: &job.span,
        "postgres.write",
        db.system = "postgresql",
        db.operation = "INSERT",
        db.sql.table = "predictions"
    )
}
