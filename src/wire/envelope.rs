//! A request body (docs/contract.md#messages): a bare record, or an envelope
//! `{"request_id"?, "employee_id"?, "employee": {record}, "explain"?}`.
//!
//! [`Envelope`] is the wire format every producer in this crate writes. Consumers decode with
//! [`decode_request`] rather than `Deserialize`: it reports every broken rule of the envelope
//! and of the record at once, where serde would stop at the first.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::record::json::{self, Fields, Parsed};
use crate::record::{ids, validate_fields, EmployeeRecord, FieldError, Record};

/// A scoring request as it travels: the record and what to do with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The idempotency key and the `predictions` row's key; made up when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 200)]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub employee_id: Option<i64>,
    #[schema(value_type = EmployeeRecord)]
    pub employee: Map<String, Value>,
    /// Add the top contributions (SHAP) to the reply.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[schema(value_type = Option<bool>)]
    pub explain: bool,
}

impl Envelope {
    /// An envelope around `employee`, with no id and no explanation.
    pub fn new(employee: Map<String, Value>) -> Self {
        Envelope {
            request_id: None,
            employee_id: None,
            employee,
            explain: false,
        }
    }

    /// The JSON bytes of the message body.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an envelope always serializes")
    }
}

/// A decoded, validated scoring request: an [`Envelope`] whose record obeys every rule.
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

impl Request {
    /// The envelope to publish for this request: the canonical record (defaults filled in,
    /// the raise as a number).
    pub fn to_envelope(&self) -> Envelope {
        let Value::Object(employee) = self.record.to_json() else {
            unreachable!("a record is a JSON object")
        };
        Envelope {
            request_id: self.request_id.clone(),
            employee_id: self.employee_id,
            employee,
            explain: self.explain,
        }
    }
}

impl Request {
    /// The bytes of [`Request::to_envelope`], written straight from the record's canonical
    /// form: the same JSON, without building the record as a map and serializing it again.
    pub fn envelope_bytes(&self) -> Vec<u8> {
        let employee = self.record.canonical_json();
        let mut out = Vec::with_capacity(employee.len() + 300);
        out.push(b'{');
        // Strings through serde_json, for its escaping; writing into a Vec cannot fail.
        if let Some(id) = &self.request_id {
            out.extend_from_slice(b"\"request_id\":");
            let _ = serde_json::to_writer(&mut out, id);
            out.push(b',');
        }
        if let Some(id) = self.employee_id {
            out.extend_from_slice(format!("\"employee_id\":{id},").as_bytes());
        }
        out.extend_from_slice(b"\"employee\":");
        out.extend_from_slice(&employee);
        if self.explain {
            out.extend_from_slice(b",\"explain\":true");
        }
        out.push(b'}');
        out
    }
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

    /// The validation list (docs/contract.md#validation-errors); decoding failures become one entry on the
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
    decode_keyed(body).map_err(|(error, _)| error)
}

/// As [`decode_request`], and on failure also the envelope's `request_id` when it obeys the
/// id rule, from the same parse: a rejection is then found by the id its producer knows. Only
/// an envelope's: a bare record's `request_id` is one of its errors, not its id
/// (docs/contract.md#messages).
///
/// # Errors
/// As [`decode_request`], with that id.
pub fn decode_keyed(body: &[u8]) -> Result<Request, (DecodeError, Option<String>)> {
    // One pass: the record's fields go to their slots as they are read (an envelope's
    // `employee` too), with no map of the whole body built first.
    match json::parse_fields(body, "employee") {
        Ok(Parsed::Object(fields)) => decode_fields(fields),
        Ok(Parsed::Other(_)) => Err((DecodeError::NotAnObject, None)),
        Err(e) => Err((DecodeError::NotJson(e.to_string()), None)),
    }
}

fn decode_fields(mut top: Box<Fields>) -> Result<Request, (DecodeError, Option<String>)> {
    let employee = match (top.nested.take(), top.others.remove("employee")) {
        (Some(record), _) => Ok(record),
        (None, Some(other)) => Err(other),
        (None, None) => {
            let record = validate_fields(&top).map_err(|e| (DecodeError::Invalid(e), None))?;
            return Ok(Request {
                request_id: None,
                employee_id: None,
                explain: false,
                record,
            });
        }
    };

    let mut errors = Vec::new();
    for (key, value) in top.entries() {
        if !ENVELOPE_FIELDS.contains(&key) {
            errors.push(FieldError::new(
                key,
                "is not a field of the envelope",
                value.clone(),
            ));
        }
    }
    let mut map = std::mem::take(&mut top.others);
    let request_id = match map.remove("request_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match ids::check_id("request_id", s.as_bytes()) {
            Ok(_) => Some(s),
            Err(error) => {
                errors.push(error);
                None
            }
        },
        Some(v) => {
            errors.push(FieldError::new("request_id", ids::ID_RULE, v));
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
        Ok(record) => validate_fields(&record).map_err(|e| errors.extend(e)).ok(),
        Err(other) => {
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
        _ => Err((DecodeError::Invalid(errors), request_id)),
    }
}
