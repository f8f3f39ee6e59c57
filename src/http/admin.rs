//! `POST /admin/reload`: reloads the bundles as SIGHUP does ([`AppContext::reload`]), for
//! instances that cannot be signalled (a container image with no `kill`, a pod reached only
//! over HTTP). Mounted behind the API keys like the other protected routes; the answer names
//! the versions served after the call, whether the bundles were swapped or refused.
//!
//! [`AppContext::reload`]: crate::app::AppContext::reload

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::serving::Serving;

/// The bundles served after the reload, and the live version they replaced.
#[derive(Serialize, ToSchema)]
pub struct Reloaded {
    /// The live version now serving.
    pub model_version: String,
    /// The shadow version now scoring beside it, when `model.shadow_path` is set.
    pub shadow_version: Option<String>,
    /// The live version served before the reload (the same when the files did not change).
    pub previous_version: String,
}

/// A refused reload: why, and the versions that keep serving.
#[derive(Serialize, ToSchema)]
pub struct ReloadRefused {
    /// The bundle folder and what is wrong with it.
    pub detail: String,
    pub model_version: String,
    pub shadow_version: Option<String>,
}

fn shadow_version(serving: &Serving) -> Option<String> {
    serving.shadow.as_ref().map(|s| s.version.clone())
}

/// Reload the model bundles from `model.path` (and `model.shadow_path`) as SIGHUP does.
#[utoipa::path(post, path = "/admin/reload", tag = "operations",
    responses(
        (status = 200, description = "Loaded, checked and swapped in", body = Reloaded),
        (status = 401, description = "Missing or wrong X-API-Key", body = super::openapi::ErrorBody),
        (status = 403, description = "The key lacks the admin scope", body = super::openapi::ErrorBody),
        (status = 422, description = "Refused (the folder and the reason); the loaded bundles keep serving", body = ReloadRefused),
        (status = 429, description = "Over the rate limit; see Retry-After", body = super::openapi::ErrorBody),
    ),
    security((), ("api_key" = [])))]
pub async fn reload(State(state): State<super::Shared>) -> Response {
    // The version only: holding the bundles would keep the reload waiting for their release.
    let previous_version = state.ctx.models.current().live.version.clone();
    match state.ctx.reload().await {
        Ok(now) => Json(Reloaded {
            model_version: now.live.version.clone(),
            shadow_version: shadow_version(&now),
            previous_version,
        })
        .into_response(),
        Err(error) => {
            let now = state.ctx.models.current();
            let body = ReloadRefused {
                detail: format!("model bundle refused: {error}"),
                model_version: now.live.version.clone(),
                shadow_version: shadow_version(&now),
            };
            (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
        }
    }
}
