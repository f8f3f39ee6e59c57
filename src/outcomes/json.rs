//! The JSON body of `POST /outcomes`: one outcome object, or a list of them.
//!
//! Every broken rule is reported at once, as a [`FieldError`] whose `field` names the list
//! index and the key (`[3].observed_at`; just `observed_at` for a single object). In JSON the
//! types are strict: `left` is a boolean, `employee_id` an integer, so what the OpenAPI
//! document promises is exactly what is accepted.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::{check_source, parse_observed_at, Outcome, COLUMNS};
use crate::record::FieldError;

/// The outcomes of a request body, or every error in it.
///
/// # Errors
/// The list of broken rules: a body that is neither an object nor a list of objects, unknown
/// or missing keys, values of the wrong type or out of their rules, an employee twice.
pub fn from_json(
    body: &Value,
    default_source: &str,
    now: OffsetDateTime,
) -> Result<Vec<Outcome>, Vec<FieldError>> {
    let items: Vec<(String, &Value)> = match body {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("[{i}]."), v))
            .collect(),
        Value::Object(_) => vec![(String::new(), body)],
        other => {
            return Err(vec![FieldError::new(
                "body",
                "must be an outcome object or a list of them",
                other.clone(),
            )])
        }
    };
    let mut errors = Vec::new();
    let mut outcomes = Vec::with_capacity(items.len());
    let mut seen: HashMap<i64, String> = HashMap::new();
    for (prefix, item) in items {
        let Value::Object(map) = item else {
            errors.push(FieldError::new(
                prefix.trim_end_matches('.').to_owned(),
                "must be an outcome object",
                item.clone(),
            ));
            continue;
        };
        let before = errors.len();
        let outcome = one(&prefix, map, default_source, now, &mut errors);
        if let (Some(outcome), true) = (outcome, errors.len() == before) {
            let here = format!("{prefix}employee_id");
            if let Some(first) = seen.get(&outcome.employee_id) {
                errors.push(FieldError::new(
                    here,
                    format!("employee {} already has an outcome at {first}; give each employee one outcome per request", outcome.employee_id),
                    json!(outcome.employee_id),
                ));
            } else {
                seen.insert(outcome.employee_id, here);
                outcomes.push(outcome);
            }
        }
    }
    if errors.is_empty() {
        Ok(outcomes)
    } else {
        Err(errors)
    }
}

fn one(
    prefix: &str,
    map: &Map<String, Value>,
    default_source: &str,
    now: OffsetDateTime,
    errors: &mut Vec<FieldError>,
) -> Option<Outcome> {
    let mut fail = |key: &str, message: String, value: Value| {
        errors.push(FieldError::new(format!("{prefix}{key}"), message, value));
    };
    for key in map.keys().filter(|k| !COLUMNS.contains(&k.as_str())) {
        fail(
            key,
            "is not a field of an outcome".to_owned(),
            map[key].clone(),
        );
    }
    let get = |key: &str| map.get(key).unwrap_or(&Value::Null);
    let employee_id = match get("employee_id") {
        Value::Number(n) if n.as_i64().is_some_and(|i| i >= 0) => n.as_i64(),
        v => {
            fail(
                "employee_id",
                "must be a whole number ≥ 0".to_owned(),
                v.clone(),
            );
            None
        }
    };
    let left = match get("left") {
        Value::Bool(b) => Some(*b),
        v => {
            fail("left", "must be true or false".to_owned(), v.clone());
            None
        }
    };
    let observed_at = match get("observed_at") {
        Value::String(s) => parse_observed_at(s, now)
            .map_err(|message| fail("observed_at", message, json!(s)))
            .ok(),
        v => {
            fail(
                "observed_at",
                "must be an RFC 3339 time (2026-09-30T17:00:00Z) or a date (2026-09-30)".to_owned(),
                v.clone(),
            );
            None
        }
    };
    let source = match map.get("source") {
        None => Some(default_source.to_owned()),
        Some(Value::String(s)) => check_source(s)
            .map(|()| s.clone())
            .map_err(|message| fail("source", message, json!(s)))
            .ok(),
        Some(v) => {
            fail(
                "source",
                "must be a string of 1 to 200 characters".to_owned(),
                v.clone(),
            );
            None
        }
    };
    Some(Outcome {
        employee_id: employee_id?,
        left: left?,
        observed_at: observed_at?,
        source: source?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        super::super::fixed_now()
    }

    #[test]
    fn one_object_or_a_list() {
        let one = json!({"employee_id": 7, "left": true, "observed_at": "2026-10-01"});
        let got = from_json(&one, "http", now()).expect("valid");
        assert_eq!(
            (got[0].employee_id, got[0].left, got[0].source.as_str()),
            (7, true, "http")
        );
        let list = json!([one, {"employee_id": 8, "left": false, "observed_at": "2026-10-01T09:30:00+02:00", "source": "hr"}]);
        let got = from_json(&list, "http", now()).expect("valid");
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].source, "hr");
        assert!(from_json(&json!([]), "http", now())
            .expect("empty")
            .is_empty());
    }

    #[test]
    fn every_error_names_index_field_and_rule() {
        let body = json!([
            {"employee_id": 1, "left": true, "observed_at": "2026-10-01"},
            {"employee_id": -2, "left": "yes", "observed_at": "yesterday", "extra": 1},
            {"employee_id": 1, "left": false, "observed_at": "2026-10-01"},
            {"left": true, "observed_at": "2026-10-01", "source": ""},
            3
        ]);
        let errors = from_json(&body, "http", now()).expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "[1].extra",
                "[1].employee_id",
                "[1].left",
                "[1].observed_at",
                "[2].employee_id",
                "[3].employee_id",
                "[3].source",
                "[4]"
            ]
        );
        assert!(errors[4]
            .message
            .contains("already has an outcome at [0].employee_id"));
        assert_eq!(errors[2].value, json!("yes"));
        let errors = from_json(&json!("x"), "http", now()).expect_err("not an object");
        assert_eq!(errors[0].field, "body");
    }
}
