//! `POST /outcomes`: who actually left, as JSON (one outcome or a list), checked whole and
//! stored in one transaction, as `turnover outcomes --csv` does for a file.
//!
//! Bounded where it enters: a body over `http.max_outcomes_bytes` is refused from its
//! `Content-Length` (or as soon as it passes the limit), a list past `http.max_outcomes` items
//! stops parsing there, and an answer lists at most 100 errors (issue 17).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use serde_json::json;
use time::OffsetDateTime;

use super::errors::ApiError;
use super::openapi::{ErrorBody, OutcomesRequest, ValidationErrors};
use crate::outcomes::{self, BodyError, MAX_LISTED_ERRORS};
use crate::record::{DecodeError, FieldError};
use crate::storage::{self, OutcomeCounts};

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
        (status = 404, description = "No such route", body = ErrorBody),
        (status = 405, description = "Method not allowed (POST only)", body = ErrorBody),
        (status = 413, description = "The body is larger than http.max_outcomes_bytes", body = ErrorBody),
        (status = 422, description = "More than http.max_outcomes outcomes, or outcomes break rules: each error names its index and field (at most 100, then one naming how many more); nothing is stored", body = ValidationErrors),
        (status = 429, description = "Over the rate limit; see Retry-After", body = ErrorBody),
        (status = 503, description = "Postgres unreachable", body = ErrorBody),
    ),
    security((), ("api_key" = [])))]
pub async fn record(
    State(state): State<super::State>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<OutcomeCounts>, ApiError> {
    let http = &state.ctx.settings.http;
    let limit = http.max_outcomes_bytes;
    let too_large = || ApiError::too_large("http.max_outcomes_bytes", limit);
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if length.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // A body sent without a length is cut at the limit; a body past its deadline is
    // answered 408 by the deadline layer, whatever is returned here.
    let body = axum::body::to_bytes(body, limit).await.map_err(|error| {
        if is_length_limit(&error) {
            too_large()
        } else {
            ApiError::bad_request(format!("cannot read the body: {error}"))
        }
    })?;
    let outcomes = outcomes::from_slice(
        &body,
        http.max_outcomes,
        DEFAULT_SOURCE,
        OffsetDateTime::now_utc(),
    )
    .map_err(|error| rejection(error, http.max_outcomes))?;
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

/// Whether reading a body failed on its size limit.
fn is_length_limit(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = e.source();
    }
    false
}
