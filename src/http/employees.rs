//! `DELETE /employees/{employee_id}`: erases every row about one employee (docs/privacy.md),
//! as `turnover forget` does, recording who asked as the first 8 hex digits of their API
//! key's sha256. Mounted behind the API-key layer, which has checked the key before this runs.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;

use super::errors::ApiError;
use super::openapi::ErrorBody;
use crate::digest::sha256_hex;
use crate::storage::{self, ErasedRows};
use crate::wire::API_KEY_HEADER;

/// Who asked: the key's digest prefix, or `anonymous` when the sidecar has no keys. The key
/// itself is never stored or logged.
fn requested_by(headers: &HeaderMap, keys_configured: bool) -> String {
    match headers.get(API_KEY_HEADER) {
        Some(key) if keys_configured => sha256_hex(key.as_bytes())[..8].to_owned(),
        _ => "anonymous".to_owned(),
    }
}

/// Erases the employee's predictions, shadow predictions, outcome and rejected messages in
/// one transaction, and records the erasure.
#[utoipa::path(delete, path = "/employees/{employee_id}", tag = "privacy",
    params(("employee_id" = i64, Path, minimum = 0, description = "The employee to erase (a non-negative integer)")),
    responses(
        (status = 200, description = "Erased: rows removed per table (all zero when nothing was stored)", body = ErasedRows),
        (status = 400, description = "employee_id is not a non-negative integer", body = ErrorBody),
        (status = 401, description = "Missing or wrong X-API-Key", body = ErrorBody),
        (status = 403, description = "The key lacks the admin scope", body = ErrorBody),
        (status = 429, description = "Over the rate limit; see Retry-After", body = ErrorBody),
        (status = 503, description = "Postgres unreachable, or privacy.erasure_salt unset", body = ErrorBody),
    ),
    security((), ("api_key" = [])))]
pub async fn erase(
    State(state): State<super::Shared>,
    Path(employee_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<ErasedRows>, ApiError> {
    let employee_id: i64 = employee_id
        .parse()
        .ok()
        .filter(|id| *id >= 0)
        .ok_or_else(|| ApiError::bad_request("employee_id must be a non-negative integer"))?;
    let settings = &state.ctx.settings;
    let Some(salt) = settings.privacy.erasure_salt.as_deref() else {
        return Err(ApiError::unavailable(
            "erasure is not configured: privacy.erasure_salt is not set",
        ));
    };
    let by = requested_by(&headers, !settings.auth.api_keys.is_empty());
    let mut client = state
        .ctx
        .pool
        .get()
        .await
        .map_err(storage::StorageError::from)?;
    let hash = storage::employee_hash(salt, employee_id);
    let erased = storage::erase_employee(&mut client, employee_id, &hash, &by).await?;
    // Counts only: the id is personal data and stays out of the log.
    tracing::info!(
        erased.predictions = erased.predictions,
        erased.shadow_predictions = erased.shadow_predictions,
        erased.outcomes = erased.outcomes,
        erased.rejected_messages = erased.rejected_messages,
        requested_by = %by,
        "employee erased"
    );
    Ok(Json(erased))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_asked_is_the_keys_digest_prefix_never_the_key() {
        let mut headers = HeaderMap::new();
        headers.insert(API_KEY_HEADER, "secret-key".parse().expect("header"));
        let by = requested_by(&headers, true);
        assert_eq!(by, sha256_hex(b"secret-key")[..8]);
        assert!(!by.contains("secret"));
        assert_eq!(requested_by(&headers, false), "anonymous");
    }
}
