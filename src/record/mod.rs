//! The employee record (docs/contract.md#record): its thirty fields and their rules (the
//! envelope that may wrap it is in [`crate::wire`]).
//!
//! This module owns the wire format of a record and every rule a record must obey. It turns
//! untrusted JSON into a [`Record`] whose fields are typed and in range, or into the complete
//! list of what is wrong ([`FieldError`]s). It must not know about features, the model, the
//! broker or the database: everything downstream trusts a `Record` and never re-checks it.
//!
//! - [`schema`] lists the fields, their types, kinds and ranges: the single table that
//!   [`table`] turns into the [`Record`] struct, its builder and its cells,
//! - [`canonical`] writes a record's canonical JSON (and its hash) from those cells,
//! - [`validate`](mod@validate) checks a JSON object (or its fields as read) against them, all
//!   errors at once,
//! - [`ids`] holds the rule of every identifier that enters (request ids, keys, batch ids),
//! - [`json`](mod@json) reads untrusted JSON, refusing a repeated key, a record's fields straight
//!   into their slots (one pass: no map of the object first).

mod canonical;
pub mod ids;
pub(crate) mod json;
mod openapi;
pub mod sample;
pub(crate) mod schema;
mod table;
mod validate;

use serde::Serialize;

pub use openapi::EmployeeRecord;
pub use schema::{
    Departement, DomaineEtude, FrequenceDeplacement, Genre, Poste, Record, StatutMarital,
};
pub use validate::validate;
pub(crate) use validate::validate_fields;

/// One broken rule of a record: the field (or comma-joined pair of fields for a cross-field
/// rule), what is wrong, and the offending value.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    pub value: serde_json::Value,
}

impl FieldError {
    pub(crate) fn new(
        field: impl Into<String>,
        message: impl Into<String>,
        value: serde_json::Value,
    ) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            value,
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} (got {})", self.field, self.message, self.value)
    }
}
