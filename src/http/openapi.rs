//! `GET /openapi.json`: the OpenAPI document, generated from the handlers' annotations and
//! the schemas below, so it cannot drift from the code (a test compares it with the router).
//!
//! The wire types document themselves (`ToSchema` on [`Envelope`], [`ScoreReply`],
//! [`Summary`], ...), so the document shows exactly what the service writes and reads.

use axum::Json;
use serde::Serialize;
use utoipa::openapi::schema::{OneOfBuilder, Schema};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::model::{Contribution, ErrorReply, RiskLevel, ScoreReply, Summary};
use crate::record::{EmployeeRecord, Envelope, FieldError};

#[derive(OpenApi)]
#[openapi(
    info(title = "turnover", description = "Employee-turnover risk scoring: the HTTP sidecar of the RabbitMQ worker."),
    paths(
        super::health::health,
        super::health::ready,
        super::health::metrics,
        openapi_json,
        super::predict::predict,
        super::batch::submit,
        super::batch::status,
    ),
    components(schemas(EmployeeRecord, Envelope, FieldError, Contribution, Summary, RiskLevel, ScoreReply, ErrorReply)),
    modifiers(&ApiKeyScheme),
    tags((name = "scoring"), (name = "operations")),
)]
pub struct ApiDoc;

struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// `{"detail": "..."}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub detail: String,
}

/// `{"detail": [{"field", "message", "value"}, ...]}`: every broken rule.
#[derive(Serialize, ToSchema)]
pub struct ValidationErrors {
    pub detail: Vec<FieldError>,
}

/// A bare employee record or an envelope.
pub struct PredictRequest;

impl PartialSchema for PredictRequest {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(EmployeeRecord::schema())
            .item(Envelope::schema())
            .into()
    }
}
impl ToSchema for PredictRequest {}

/// The three extracts, as uploaded files.
#[derive(ToSchema)]
#[allow(dead_code)] // A schema only: the handler reads the parts itself.
pub struct BatchUpload {
    #[schema(value_type = String, format = Binary)]
    sondage_file: Vec<u8>,
    #[schema(value_type = String, format = Binary)]
    eval_file: Vec<u8>,
    #[schema(value_type = String, format = Binary)]
    sirh_file: Vec<u8>,
}
