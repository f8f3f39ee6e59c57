//! The route table and the router built from it.
//!
//! One table drives both the router and [`routes`], which a test compares with the OpenAPI
//! document: a route added here without its annotation fails that test.

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{delete, get, post, MethodRouter};
use axum::Router;

use super::errors::{self, ApiError};
use super::{
    admin, auth, batch, deadline, employees, health, log, openapi, outcomes, predict, Shared,
};

/// The largest `/predict` body: a record is about 1 KiB; anything near this is not one.
const PREDICT_BODY_LIMIT: usize = 64 * 1024;

/// Answers 413 to a `/predict` body announced (`Content-Length`) over [`PREDICT_BODY_LIMIT`]
/// before any of it is read: a client that sent `Expect: 100-continue` gets the 413 instead of
/// a `100 Continue`, and none is cut off mid-upload by a connection closed under it. A body
/// without a length is still held to the limit as it is read.
async fn refuse_announced_over_predict_limit(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let announced = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > PREDICT_BODY_LIMIT as u64) {
        return ApiError::too_large("the /predict limit", PREDICT_BODY_LIMIT).into_response();
    }
    next.run(request).await
}

/// Whether a route needs the API key (and counts against the rate limit).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Open,
    Protected,
}

fn table(max_upload_bytes: usize) -> Vec<(Method, &'static str, Access, MethodRouter<Shared>)> {
    use Access::{Open, Protected};
    vec![
        (Method::GET, "/health", Open, get(health::health)),
        (Method::GET, "/ready", Open, get(health::ready)),
        (Method::GET, "/metrics", Open, get(health::metrics)),
        (
            Method::GET,
            "/openapi.json",
            Open,
            get(openapi::openapi_json),
        ),
        (
            Method::POST,
            "/predict",
            Protected,
            post(predict::predict)
                .layer(DefaultBodyLimit::max(PREDICT_BODY_LIMIT))
                .layer(from_fn(refuse_announced_over_predict_limit)),
        ),
        (
            Method::POST,
            "/predict/batch",
            Protected,
            post(batch::submit).layer(DefaultBodyLimit::max(max_upload_bytes)),
        ),
        (
            Method::GET,
            "/batches/{batch_id}",
            Protected,
            get(batch::status),
        ),
        (
            Method::POST,
            "/outcomes",
            Protected,
            // Its own limit, http.max_outcomes_bytes, read by the handler.
            post(outcomes::record),
        ),
        (
            Method::POST,
            "/admin/reload",
            Protected,
            post(admin::reload),
        ),
        // Needs the `admin` scope once keys carry scopes (docs/privacy.md).
        (
            Method::DELETE,
            "/employees/{employee_id}",
            Protected,
            delete(employees::erase),
        ),
    ]
}

/// Every route as (method, path template), as the router serves them.
pub fn routes() -> Vec<(Method, &'static str)> {
    table(0)
        .into_iter()
        .map(|(method, path, _, _)| (method, path))
        .collect()
}

/// The methods the route table serves on `path`, comma-separated (`POST`), for a 405.
fn allowed_methods(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let serves = |template: &str| {
        let parts: Vec<&str> = template.split('/').collect();
        parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(t, s)| t == s || t.starts_with('{'))
    };
    let methods: Vec<String> = routes()
        .into_iter()
        .filter(|(_, template)| serves(template))
        .map(|(method, _)| method.to_string())
        .collect();
    methods.join(", ")
}

/// The application: routes, auth and rate limits on the protected ones, the per-request log
/// and metrics on all.
pub fn router(state: Shared) -> Router {
    let (mut open, mut protected) = (Router::new(), Router::new());
    for (_, path, access, handler) in table(state.ctx.settings.http.max_upload_bytes) {
        match access {
            Access::Open => open = open.route(path, handler),
            Access::Protected => protected = protected.route(path, handler),
        }
    }
    // The last layer added runs first: the key is checked (and failures counted per address)
    // before the request is counted against the rate limit.
    let protected = protected
        .route_layer(from_fn_with_state(state.clone(), auth::rate_limit))
        .route_layer(from_fn_with_state(state.clone(), auth::require_key));
    open.merge(protected)
        .fallback(|uri: Uri| async move { ApiError::not_found(format!("no route {}", uri.path())) })
        .layer(from_fn_with_state(state.clone(), deadline::limit_body_time))
        .layer(from_fn_with_state(state.clone(), log::observe))
        .layer(from_fn(|request, next| {
            errors::json_errors(request, next, allowed_methods)
        }))
        // Outermost: the request's log line and its JSON errors are inside its trace.
        .layer(from_fn(crate::trace::http::continue_trace))
        .with_state(state)
}
