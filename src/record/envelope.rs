//! A request body (contract section 3): a bare record, or an envelope
//! `{"request_id"?, "employee_id"?, "employee": {record}, "explain"?}`.

use serde_json::{Map, Value};

use super::{validate, FieldError, Record};

/// A decoded, validated scoring request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub request_id: Option<String>,
    pub employee_id: Option<i64>,
    pub explain: bool,
    pub record: Record,
}

/// Why a body is not a scoring request. All of these are permanent: the same bytes fail the
/// same way on every delivery.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    #[error("body is JSON but not an object")]
    NotAnObject,
    #[error("record is invalid: {} error(s)", .0.len())]
    Invalid(Vec<FieldError>),
}

impl DecodeError {
    /// The short machine-readable reason stored in `rejected_messages.reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::NotJson(_) => "malformed_json",
            DecodeError::NotAnObject => "not_an_object",
            DecodeError::Invalid(_) => "invalid_record",
        }
    }

    /// The validation list of contract section 1; decoding failures become one entry on the
    /// pseudo-field `body`.
    pub fn errors(&self) -> Vec<FieldError> {
        match self {
            DecodeError::Invalid(errors) => errors.clone(),
            other => vec![FieldError::new("body", other.to_string(), Value::Null)],
        }
    }
}

const ENVELOPE_FIELDS: [&str; 4] = ["request_id", "employee_id", "employee", "explain"];

/// Decodes and validates a request body (UTF-8 JSON).
///
/// # Errors
/// [`DecodeError`] when the bytes are not JSON, not an object, or the record (or envelope)
/// breaks a rule; every error of the record is listed.
pub fn decode_request(body: &[u8]) -> Result<Request, DecodeError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| DecodeError::NotJson(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(DecodeError::NotAnObject);
    };
    from_object(map)
}

/// Validates an already-parsed JSON object as a bare record or an envelope.
///
/// # Errors
/// As [`decode_request`].
pub fn from_object(mut map: Map<String, Value>) -> Result<Request, DecodeError> {
    let Some(employee) = map.remove("employee") else {
        let record = validate(&map).map_err(DecodeError::Invalid)?;
        return Ok(Request {
            request_id: None,
            employee_id: None,
            explain: false,
            record,
        });
    };

    let mut errors = Vec::new();
    for (key, value) in &map {
        if !ENVELOPE_FIELDS.contains(&key.as_str()) {
            errors.push(FieldError::new(
                key,
                "is not a field of the envelope",
                value.clone(),
            ));
        }
    }
    let request_id = match map.remove("request_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 200 => Some(s),
        Some(v) => {
            errors.push(FieldError::new(
                "request_id",
                "must be a non-empty string of at most 200 characters",
                v,
            ));
            None
        }
    };
    let employee_id = match map.remove("employee_id") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(id) if id >= 0 => Some(id),
            _ => {
                errors.push(FieldError::new(
                    "employee_id",
                    "must be a whole number >= 0",
                    v,
                ));
                None
            }
        },
    };
    let explain = match map.remove("explain") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(v) => {
            errors.push(FieldError::new("explain", "must be true or false", v));
            false
        }
    };
    let record = match employee {
        Value::Object(record) => validate(&record).map_err(|e| errors.extend(e)).ok(),
        other => {
            errors.push(FieldError::new(
                "employee",
                "must be an object holding the record",
                other,
            ));
            None
        }
    };
    match record {
        Some(record) if errors.is_empty() => Ok(Request {
            request_id,
            employee_id,
            explain,
            record,
        }),
        _ => Err(DecodeError::Invalid(errors)),
    }
}
