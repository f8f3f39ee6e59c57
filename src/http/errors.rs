//! Error responses: every failure is a JSON body `{"detail": ...}` with the status code the
//! contract gives, never an HTML page or an empty 500.
//!
//! `detail` is the validation list (docs/contract.md#validation-errors) where there is one (400 for a body
//! that is not a JSON object, 422 for a record that breaks rules), a sentence otherwise.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::record::FieldError;

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: Value,
    /// Seconds, for a 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, detail: impl Into<Value>) -> Self {
        ApiError {
            status,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// 400 with a sentence.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message.into())
    }

    /// 400 with a validation list (a body that is not a JSON object).
    pub fn malformed(errors: Vec<FieldError>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, json!(errors))
    }

    /// 422 with the record's validation list.
    pub fn invalid(errors: Vec<FieldError>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, json!(errors))
    }

    /// 422 with a sentence (a bad CSV extract: file, line, column).
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message.into())
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "missing or invalid X-API-Key header",
        )
    }

    /// 403: a valid key without the scope the route needs.
    pub fn forbidden(scope: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            format!("this API key lacks the {scope} scope this route needs"),
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message.into())
    }

    /// 413 naming the key that sets the limit.
    pub fn too_large(key: &str, limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {key} ({limit} bytes)"),
        )
    }

    /// 408: the body did not arrive in time.
    pub fn request_timeout(timeout_ms: u64) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within http.read_timeout_ms ({timeout_ms} ms); \
                 send it faster or in smaller parts"
            ),
        )
    }

    /// 429: every `/predict/batch` slot is taken; `retry_after` seconds is a fair wait.
    pub fn batches_busy(retry_after: u64, limit: usize) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{limit} batch uploads are already in progress (http.max_concurrent_batches); \
                 retry in {retry_after} s"
            ),
        );
        e.retry_after = Some(retry_after);
        e
    }

    pub fn rate_limited(retry_after: u64, limit: u32) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("rate limit of {limit} requests per minute exceeded; retry in {retry_after} s"),
        );
        e.retry_after = Some(retry_after);
        e
    }

    pub fn too_many_failures(retry_after: u64, limit: u32) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "more than {limit} requests with a missing or wrong X-API-Key from this address \
                 in a minute; retry in {retry_after} s"
            ),
        );
        e.retry_after = Some(retry_after);
        e
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message.into())
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GATEWAY_TIMEOUT, message.into())
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({"detail": self.detail}))).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A database failure seen by a handler: logged once here, 503 to the client (it is
/// transient from the client's point of view: retry later).
impl From<crate::storage::StorageError> for ApiError {
    fn from(error: crate::storage::StorageError) -> Self {
        tracing::error!(error.message = %error, error.cause = %std::error::Error::source(&error).map_or_else(|| "none".to_owned(), ToString::to_string), "database request failed");
        ApiError::unavailable("the database is unavailable; retry later")
    }
}

/// Makes every error a JSON body. The responses that the framework builds itself (405 for a
/// method a route does not serve, 413 for a body over its limit, an extractor's rejection)
/// come as plain text or empty; they leave as `{"detail": "..."}` with their status and
/// headers (`Allow` on a 405) unchanged. `allowed` names the methods the route table serves
/// on a path, for the 405's sentence: the framework adds its `Allow` header only after this
/// layer has run.
pub async fn json_errors(request: Request, next: Next, allowed: fn(&str) -> String) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map_or_else(|| allowed(&path), str::to_owned);
            format!("method not allowed on this route; allowed: {allowed}")
        }
        _ if !text.is_empty() => text,
        _ => status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_lowercase(),
    };
    let body = serde_json::to_vec(&json!({ "detail": detail })).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}
