//! `POST /outcomes`: who actually left, as JSON (one outcome or a list), checked whole and
//! stored in one transaction, as `turnover outcomes --csv` does for a file.
//!
//! Bounded where it enters: a body over `http.max_outcomes_bytes` is refused (never kept), a
//! list past `http.max_outcomes` items stops parsing there, and an answer lists at most 100
//! errors (issue 17).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use futures_util::StreamExt as _;
use serde_json::json;
use time::OffsetDateTime;

use super::errors::ApiError;
use super::openapi::{ErrorBody, OutcomesRequest, ValidationErrors};
use crate::outcomes::{self, BodyError, MAX_LISTED_ERRORS};
use crate::record::FieldError;
use crate::storage::{self, OutcomeCounts};
use crate::wire::DecodeError;

/// The `source` of an outcome that does not name one.
pub const DEFAULT_SOURCE: &str = "http";

/// Records outcomes: one per employee, replacing what was stored for them.
#[utoipa::path(post, path = "/outcomes", tag = "outcomes",
    request_body(content = OutcomesRequest, description = "One outcome, or a list of them (one per employee)"),
    responses(
        (status = 200, description = "Stored: how many employees were new, changed or already so", body = OutcomeCounts),
        (status = 400, description = "The body is not JSON, or neither an object nor a list", body = ValidationErrors),
        (status = 408, description = "The body did not arrive within http.read_timeout_ms", body = ErrorBody),
        (status = 401, description = "Missing or wrong X-API-Key", body = ErrorBody),
        (status = 403, description = "The key lacks the outcomes scope", body = ErrorBody),
        (status = 404, description = "No such route", body = ErrorBody),
        (status = 405, description = "Method not allowed (POST only)", body = ErrorBody),
        (status = 413, description = "The body is larger than http.max_outcomes_bytes", body = ErrorBody),
        (status = 422, description = "More than http.max_outcomes outcomes, or outcomes break rules: each error names its index and field (at most 100, then one naming how many more); nothing is stored", body = ValidationErrors),
        (status = 429, description = "Over the rate limit; see Retry-After", body = ErrorBody),
        (status = 503, description = "Postgres unreachable", body = ErrorBody),
    ),
    security((), ("api_key" = [])))]
pub async fn record(
    State(state): State<super::Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<OutcomeCounts>, ApiError> {
    let http = &state.ctx.settings.http;
    let body = read_capped(
        headers,
        body,
        http.max_outcomes_bytes.get(),
        http.max_upload_bytes,
    )
    .await?;
    let outcomes = outcomes::from_slice(
        &body,
        http.max_outcomes.get(),
        DEFAULT_SOURCE,
        OffsetDateTime::now_utc(),
    )
    .map_err(|error| rejection(error, http.max_outcomes.get()))?;
    drop(body);
    let mut client = state
        .ctx
        .pool
        .get()
        .await
        .map_err(storage::StorageError::from)?;
    let counts = storage::upsert_outcomes(&mut client, &outcomes).await?;
    tracing::info!(
        outcomes = outcomes.len(),
        inserted = counts.inserted,
        updated = counts.updated,
        "outcomes recorded"
    );
    Ok(Json(counts))
}

/// The answer to a body with no outcome to store. As /predict: a body of the wrong shape is a
/// 400, broken rules (and too many items) a 422.
fn rejection(error: BodyError, max_outcomes: usize) -> ApiError {
    match error {
        BodyError::NotJson(message) => ApiError::malformed(DecodeError::NotJson(message).errors()),
        BodyError::Shape(error) => ApiError::malformed(vec![error]),
        BodyError::TooMany { limit } => ApiError::invalid(vec![FieldError::new(
            "body",
            format!(
                "holds more than {limit} outcomes (http.max_outcomes); send them in several requests"
            ),
            json!(max_outcomes),
        )]),
        BodyError::Invalid { mut errors, more } => {
            if more > 0 {
                errors.push(FieldError::new(
                    "body",
                    format!(
                        "and {more} more errors; an answer lists at most {MAX_LISTED_ERRORS}"
                    ),
                    json!(more),
                ));
            }
            ApiError::invalid(errors)
        }
    }
}

/// The body, at most `limit` bytes of it.
///
/// A body over the limit is refused without being kept; up to `drain` bytes of it are still
/// read and dropped first, so that a client that sends its whole body before reading (most
/// do, unless they send `Expect: 100-continue`) reads the 413 instead of a connection reset
/// mid-upload. A body announced larger than `drain` is refused at once. A body past its
/// deadline is answered 408 by the deadline layer, whatever is returned here.
async fn read_capped(
    headers: HeaderMap,
    body: Body,
    limit: usize,
    drain: usize,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::too_large("http.max_outcomes_bytes", limit);
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if length.is_some_and(|n| n > drain.max(limit)) {
        return Err(too_large());
    }
    let mut kept = Vec::with_capacity(length.unwrap_or(0).min(limit));
    let mut read = 0usize;
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("cannot read the body: {e}")))?;
        read = read.saturating_add(chunk.len());
        if read <= limit {
            kept.extend_from_slice(&chunk);
        } else if read > drain {
            return Err(too_large());
        } else if !kept.is_empty() {
            kept = Vec::new();
        }
    }
    if read > limit {
        return Err(too_large());
    }
    Ok(kept)
}
