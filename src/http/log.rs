//! One JSON log line and the two HTTP metrics per request, as the outermost layer so that
//! rejections by the auth and rate-limit layers are counted too.
//!
//! The `route` label is the matched route template (`/batches/{batch_id}`), never the raw path:
//! a label per batch id would grow without bound. Record contents are never logged at info.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use crate::wire::REQUEST_ID_HEADER;

/// What a handler adds to the log line, as a response extension.
#[derive(Debug, Clone, Default)]
pub struct LogFields {
    pub request_id: Option<String>,
    pub prediction: Option<u8>,
    pub probability: Option<f64>,
}

/// The middleware.
pub async fn observe(State(state): State<super::Shared>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let sent_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map(str::to_owned);

    let mut response = next.run(request).await;

    let fields = response
        .extensions_mut()
        .remove::<LogFields>()
        .unwrap_or_default();
    let request_id = fields
        .request_id
        .or(sent_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let m = &state.ctx.metrics;
    m.http_requests
        .with_label_values(&[route.as_str(), &status.to_string()])
        .inc();
    m.http_duration
        .with_label_values(&[route.as_str()])
        .observe(elapsed.as_secs_f64());
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    // An absent prediction or probability (every route but a scored /predict) is left out of
    // the line: tracing records `Option` fields only when they hold a value.
    // Probes and scrapes come every few seconds from every kubelet and Prometheus: at debug,
    // so they do not drown the lines about real requests.
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                method,
                path,
                route,
                status,
                duration_ms,
                request_id,
                prediction = fields.prediction,
                probability = fields.probability,
                "request"
            )
        };
    }
    if matches!(route.as_str(), "/health" | "/ready" | "/metrics") && status < 500 {
        line!(debug);
    } else {
        line!(info);
    }
    response
}
