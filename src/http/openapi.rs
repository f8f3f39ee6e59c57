//! `GET /openapi.json`: the OpenAPI document, generated from the handlers' annotations and
//! the schemas below, so it cannot drift from the code (a test compares it with the router).
//!
//! The employee record's schema is built from [`crate::record::schema::FIELDS`], the single
//! source of the record's rules, rather than written out a second time.

use axum::Json;
use serde::Serialize;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::record::schema::{Kind, FIELDS};

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
    components(schemas(EmployeeRecord, PredictEnvelope, FieldErrorDoc, ContributionDoc, SummaryDoc)),
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
    pub detail: Vec<FieldErrorDoc>,
}

/// One broken rule (contract section 1).
#[derive(Serialize, ToSchema)]
#[schema(as = FieldError)]
pub struct FieldErrorDoc {
    /// The record's field, a comma-joined pair for a cross-field rule, or `body`.
    pub field: String,
    pub message: String,
    /// The offending value.
    pub value: serde_json::Value,
}

/// A field's contribution to the score (SHAP, log-odds).
#[derive(Serialize, ToSchema)]
#[schema(as = Contribution)]
pub struct ContributionDoc {
    pub field: String,
    pub contribution: f64,
}

/// A score (contract section 2).
#[derive(Serialize, ToSchema)]
pub struct PredictResponse {
    pub request_id: String,
    /// 1: predicted to leave.
    pub prediction: u8,
    pub probability_0: f64,
    pub probability_1: f64,
    #[schema(example = "Low")]
    pub risk_level: String,
    pub model_version: String,
    /// With `explain`: the largest contributions first.
    pub explanation: Option<Vec<ContributionDoc>>,
}

/// An envelope around a record.
#[derive(Serialize, ToSchema)]
pub struct PredictEnvelope {
    /// Becomes the `predictions` row's key; a uuid is made when absent.
    pub request_id: Option<String>,
    pub employee_id: Option<i64>,
    pub employee: EmployeeRecord,
    pub explain: Option<bool>,
}

/// A bare employee record or an envelope.
pub struct PredictRequest;

impl PartialSchema for PredictRequest {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(EmployeeRecord::schema())
            .item(PredictEnvelope::schema())
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

/// Counts over a batch's scores.
#[derive(Serialize, ToSchema)]
#[schema(as = Summary)]
pub struct SummaryDoc {
    pub total_stay: u64,
    pub total_leave: u64,
    pub high_risk_count: u64,
    pub medium_risk_count: u64,
    pub low_risk_count: u64,
}

/// The employee record (contract section 1); unknown fields are rejected.
#[derive(Serialize)]
pub struct EmployeeRecord;

impl PartialSchema for EmployeeRecord {
    fn schema() -> RefOr<Schema> {
        let mut object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
        for field in FIELDS {
            let (schema, required): (Schema, bool) = match field.kind {
                Kind::Int { min, max, default } => (
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(min as f64))
                        .maximum(Some(max as f64))
                        .default(default.map(Into::into))
                        .into(),
                    default.is_none(),
                ),
                Kind::Number { min, max } => (ObjectBuilder::new().schema_type(Type::Number).minimum(Some(min)).maximum(Some(max)).into(), true),
                Kind::Percent => (
                    OneOfBuilder::new()
                        .item(ObjectBuilder::new().schema_type(Type::Number).minimum(Some(0.0)).maximum(Some(100.0)))
                        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^\s*\d+(\.\d+)?\s*%?\s*$")))
                        .description(Some("A percentage, 0 to 100: a number, or a string such as \"15%\" or \"15 %\""))
                        .into(),
                    true,
                ),
                Kind::Choice(values) => (ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values.iter().copied())).into(), true),
            };
            object = object.property(field.name, schema);
            if required {
                object = object.required(field.name);
            }
        }
        object.into()
    }
}
impl ToSchema for EmployeeRecord {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_schema_lists_every_field() {
        let json = serde_json::to_value(EmployeeRecord::schema()).unwrap();
        assert_eq!(json["properties"].as_object().unwrap().len(), 30);
        assert_eq!(
            json["required"].as_array().unwrap().len(),
            28,
            "two fields have defaults"
        );
        assert_eq!(json["properties"]["age"]["minimum"], 18.0);
    }
}
