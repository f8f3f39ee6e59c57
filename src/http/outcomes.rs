//! `POST /outcomes`: who actually left, as JSON (one outcome or a list), checked whole and
//! stored in one transaction, as `turnover outcomes --csv` does for a file.

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde_json::Value;
use time::OffsetDateTime;

use super::errors::ApiError;
use super::openapi::{ErrorBody, OutcomesRequest, ValidationErrors};
use crate::outcomes;
use crate::record::DecodeError;
use crate::storage::{self, OutcomeCounts};

/// The `source` of an outcome that does not name one.
pub const DEFAULT_SOURCE: &str = "http";

/// Records outcomes: one per employee, replacing what was stored for them.
#[utoipa::path(post, path = "/outcomes", tag = "outcomes",
    request_body(content = OutcomesRequest, description = "One outcome, or a list of them (one per employee)"),
    responses(
        (status = 200, description = "Stored: how many employees were new, changed or already so", body = OutcomeCounts),
        (status = 400, description = "The body is not JSON, or neither an object nor a list", body = ValidationErrors),
        (status = 401, description = "Missing or wrong X-API-Key", body = ErrorBody),
        (status = 403, description = "The key lacks the outcomes scope", body = ErrorBody),
        (status = 404, description = "No such route", body = ErrorBody),
        (status = 405, description = "Method not allowed (POST only)", body = ErrorBody),
        (status = 413, description = "The body is larger than http.max_upload_bytes", body = ErrorBody),
        (status = 422, description = "Outcomes break rules; every error is listed with its index and field, and nothing is stored", body = ValidationErrors),
        (status = 429, description = "Over the rate limit; see Retry-After", body = ErrorBody),
        (status = 503, description = "Postgres unreachable", body = ErrorBody),
    ),
    security((), ("api_key" = [])))]
pub async fn record(
    State(state): State<super::State>,
    body: Bytes,
) -> Result<Json<OutcomeCounts>, ApiError> {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::malformed(DecodeError::NotJson(e.to_string()).errors()))?;
    let outcomes = outcomes::from_json(&value, DEFAULT_SOURCE, OffsetDateTime::now_utc()).map_err(
        |errors| {
            // As /predict: a body of the wrong shape is a 400, broken rules a 422.
            if errors.len() == 1 && errors[0].field == "body" {
                ApiError::malformed(errors)
            } else {
                ApiError::invalid(errors)
            }
        },
    )?;
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
