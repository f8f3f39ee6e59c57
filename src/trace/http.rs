//! The HTTP side: every route continues the caller's `traceparent` (or starts a trace) in a
//! server span, runs inside it (so what the handler publishes carries it on), and answers
//! with `traceparent` naming that span, errors included.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

use super::{TraceParent, Traced, TRACEPARENT_HEADER, TRACESTATE_HEADER};

/// The middleware (outermost, so the request log line and the JSON errors are inside it).
pub async fn continue_trace(request: Request, next: Next) -> Response {
    let traced = server_span(&request);
    // Without an OpenTelemetry layer the span holds no trace context: the handler finds the
    // request's position here instead, so what it publishes still continues this trace.
    let position = TraceParent::parse(&traced.traceparent, None);
    let handled = next.run(request).instrument(traced.span.clone());
    let mut response = match position {
        Some(position) => CURRENT.scope(position, handled).await,
        None => handled.await,
    };
    traced
        .span
        .record("http.response.status_code", response.status().as_u16());
    if let Ok(value) = HeaderValue::from_str(&traced.traceparent) {
        response.headers_mut().insert(TRACEPARENT_HEADER, value);
    }
    response
}

tokio::task_local! {
    /// The position of the HTTP request being handled (its server span), for a span started
    /// inside it when no OpenTelemetry layer carries the context.
    static CURRENT: TraceParent;
}

/// The position of the HTTP request this task is handling, if any.
pub(super) fn current() -> Option<TraceParent> {
    CURRENT.try_with(Clone::clone).ok()
}

/// The server span of `request`, continuing its `traceparent` when it holds a valid one.
fn server_span(request: &Request) -> Traced {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let parent = header(TRACEPARENT_HEADER)
        .and_then(|p| TraceParent::parse(&p, header(TRACESTATE_HEADER).as_deref()));
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let span = tracing::info_span!(
        parent: None,
        "http.request",
        otel.kind = "server",
        otel.name = format!("{} {route}", request.method()),
        http.request.method = %request.method(),
        http.route = route,
        http.response.status_code = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    Traced::start(span, parent.as_ref())
}
