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

use crate::model::{Contribution, RiskLevel, Summary};
use crate::record::{EmployeeRecord, FieldError};
use crate::wire::{Envelope, ErrorReply, ScoreReply};

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
        super::outcomes::record,
        super::admin::reload,
        super::employees::erase,
    ),
    components(schemas(EmployeeRecord, Envelope, FieldError, Contribution, Summary, RiskLevel, ScoreReply, ErrorReply, OutcomeSchema, crate::storage::OutcomeCounts, super::admin::Reloaded, super::admin::ReloadRefused, crate::storage::ErasedRows)),
    modifiers(&ApiKeyScheme),
    tags((name = "scoring"), (name = "operations"), (name = "outcomes"), (name = "privacy")),
)]
pub struct ApiDoc;

struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(
                crate::wire::API_KEY_HEADER,
            ))),
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

/// Who actually left, and when (docs/contract.md#outcomes).
pub struct OutcomeSchema;

impl PartialSchema for OutcomeSchema {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::{
            AdditionalProperties, AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type,
        };
        let string = |format: KnownFormat| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(format)))
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
            .property(
                "employee_id",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(0.0))
                    .maximum(Some(i64::MAX as f64))
                    .description(Some("The employee_id of the scoring requests")),
            )
            .required("employee_id")
            .property(
                "left",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .description(Some("Whether the employee left")),
            )
            .required("left")
            .property(
                "observed_at",
                AnyOfBuilder::new()
                    .item(string(KnownFormat::DateTime))
                    .item(string(KnownFormat::Date))
                    .description(Some(
                        "When the outcome was observed: RFC 3339 with its offset, or a date \
                         (midnight UTC); not in the future",
                    )),
            )
            .required("observed_at")
            .property(
                "source",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(crate::outcomes::MAX_SOURCE_CHARS))
                    .pattern(Some(crate::outcomes::SOURCE_PATTERN))
                    .description(Some(
                        "Where the outcome comes from, without control characters; default \"http\"",
                    )),
            )
            .into()
    }
}
impl ToSchema for OutcomeSchema {
    fn name() -> std::borrow::Cow<'static, str> {
        "Outcome".into()
    }
}

/// One outcome, or a list of them.
pub struct OutcomesRequest;

impl PartialSchema for OutcomesRequest {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::ArrayBuilder;
        OneOfBuilder::new()
            .item(OutcomeSchema::schema())
            .item(ArrayBuilder::new().items(OutcomeSchema::schema()))
            .into()
    }
}
impl ToSchema for OutcomesRequest {}
