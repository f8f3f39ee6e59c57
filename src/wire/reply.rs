//! The reply to a scoring request, as the worker publishes it to `reply_to` and `POST /predict`
//! answers it: one type for the wire format, used by the worker, the HTTP layer, the OpenAPI
//! document and every client in this crate (docs/contract.md#replies).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::model::{Contribution, RiskLevel};
use crate::record::FieldError;

/// A score (HTTP 200, reply status 200).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScoreReply {
    pub request_id: String,
    /// 1: predicted to leave (`probability_1` at or above the bundle's threshold).
    pub prediction: u8,
    pub probability_0: f64,
    pub probability_1: f64,
    pub risk_level: RiskLevel,
    pub model_version: String,
    /// With `explain`: the largest contributions (SHAP, log-odds) first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Vec<Contribution>>,
}

/// A refusal (reply status 422 or 409): the request's id and every reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorReply {
    #[serde(default)]
    pub request_id: Option<String>,
    pub detail: Vec<FieldError>,
}
