//! The JSON body of `POST /outcomes`: one outcome object, or a list of them.
//!
//! Every broken rule is reported at once, as a [`FieldError`] whose `field` names the list
//! index and the key (`[3].observed_at`; just `observed_at` for a single object). In JSON the
//! types are strict: `left` is a boolean, `employee_id` an integer, so what the OpenAPI
//! document promises is exactly what is accepted.
//!
//! The body is read as a stream of items, never as one JSON tree: each item is checked as it is
//! parsed and dropped, parsing stops at the item past the cap, and at most
//! [`MAX_LISTED_ERRORS`] errors are kept (the rest are counted). A hostile body costs its bytes
//! and the checked items, not a tree and an error per item (issue 17).

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::{check_source, parse_observed_at, Outcome, COLUMNS};
use crate::record::FieldError;

/// The most errors one answer lists; past it, only their number is given.
pub const MAX_LISTED_ERRORS: usize = 100;

/// Why a body holds no outcomes to store.
#[derive(Debug, PartialEq)]
pub enum BodyError {
    /// Not JSON (the parser's message).
    NotJson(String),
    /// JSON, but neither an outcome object nor a list: one error on `body`.
    Shape(FieldError),
    /// More items than the cap; parsing stopped at the first one past it.
    TooMany { limit: usize },
    /// Broken rules: the first [`MAX_LISTED_ERRORS`], and how many more there are.
    Invalid {
        errors: Vec<FieldError>,
        more: usize,
    },
}

/// The outcomes of a request body of at most `max_items` outcomes, or why there are none.
///
/// # Errors
/// [`BodyError`]: a body that is not JSON, of the wrong shape, with too many items, or whose
/// outcomes break rules (unknown or missing keys, values of the wrong type or out of their
/// rules, an employee twice).
pub fn from_slice(
    body: &[u8],
    max_items: usize,
    default_source: &str,
    now: OffsetDateTime,
) -> Result<Vec<Outcome>, BodyError> {
    let mut reader = Reader {
        default_source,
        now,
        max_items,
        count: 0,
        too_many: false,
        shape: None,
        outcomes: Vec::new(),
        seen: HashMap::new(),
        errors: Vec::new(),
        more: 0,
    };
    let mut parser = serde_json::Deserializer::from_slice(body);
    let parsed = (&mut reader)
        .deserialize(&mut parser)
        .and_then(|()| parser.end());
    if reader.too_many {
        return Err(BodyError::TooMany { limit: max_items });
    }
    parsed.map_err(|e| BodyError::NotJson(e.to_string()))?;
    if let Some(shape) = reader.shape {
        return Err(BodyError::Shape(shape));
    }
    if reader.errors.is_empty() {
        Ok(reader.outcomes)
    } else {
        Err(BodyError::Invalid {
            errors: reader.errors,
            more: reader.more,
        })
    }
}

/// The outcomes of an already parsed body, or every error in it (the unit tests' entry).
#[cfg(test)]
fn from_json(body: &Value, now: OffsetDateTime) -> Result<Vec<Outcome>, Vec<FieldError>> {
    match from_slice(body.to_string().as_bytes(), usize::MAX, "http", now) {
        Ok(outcomes) => Ok(outcomes),
        Err(BodyError::Shape(error)) => Err(vec![error]),
        Err(BodyError::Invalid { errors, .. }) => Err(errors),
        Err(other) => panic!("{other:?}"),
    }
}

/// The state of one body being read: what is kept of it.
struct Reader<'a> {
    default_source: &'a str,
    now: OffsetDateTime,
    max_items: usize,
    count: usize,
    too_many: bool,
    shape: Option<FieldError>,
    outcomes: Vec<Outcome>,
    seen: HashMap<i64, String>,
    errors: Vec<FieldError>,
    more: usize,
}

impl Reader<'_> {
    fn fail(&mut self, error: FieldError) {
        if self.errors.len() < MAX_LISTED_ERRORS {
            self.errors.push(error);
        } else {
            self.more += 1;
        }
    }

    fn item(&mut self, prefix: &str, item: Value) {
        let Value::Object(map) = item else {
            let field = prefix.trim_end_matches('.').to_owned();
            self.fail(FieldError::new(field, "must be an outcome object", item));
            return;
        };
        let mut errors = Vec::new();
        let outcome = one(prefix, &map, self.default_source, self.now, &mut errors);
        let valid = errors.is_empty();
        for error in errors {
            self.fail(error);
        }
        let Some(outcome) = outcome.filter(|_| valid) else {
            return;
        };
        let here = format!("{prefix}employee_id");
        if let Some(first) = self.seen.get(&outcome.employee_id) {
            let message = format!(
                "employee {} already has an outcome at {first}; give each employee one outcome per request",
                outcome.employee_id
            );
            self.fail(FieldError::new(here, message, json!(outcome.employee_id)));
        } else {
            self.seen.insert(outcome.employee_id, here);
            self.outcomes.push(outcome);
        }
    }

    fn wrong_shape(&mut self, value: Value) {
        self.shape = Some(FieldError::new(
            "body",
            "must be an outcome object or a list of them",
            value,
        ));
    }
}

impl<'de> DeserializeSeed<'de> for &mut Reader<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for &mut Reader<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an outcome object or a list of them")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<Value>()? {
            if self.count == self.max_items {
                self.too_many = true;
                return Err(de::Error::custom("too many outcomes"));
            }
            self.item(&format!("[{}].", self.count), item);
            self.count += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let object = Map::deserialize(de::value::MapAccessDeserializer::new(map))?;
        self.item("", Value::Object(object));
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.wrong_shape(json!(v));
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.wrong_shape(json!(v));
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.wrong_shape(json!(v));
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.wrong_shape(json!(v));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.wrong_shape(json!(v));
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.wrong_shape(Value::Null);
        Ok(())
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
        let got = from_json(&one, now()).expect("valid");
        assert_eq!(
            (got[0].employee_id, got[0].left, got[0].source.as_str()),
            (7, true, "http")
        );
        let list = json!([one, {"employee_id": 8, "left": false, "observed_at": "2026-10-01T09:30:00+02:00", "source": "hr"}]);
        let got = from_json(&list, now()).expect("valid");
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].source, "hr");
        assert!(from_json(&json!([]), now()).expect("empty").is_empty());
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
        let errors = from_json(&body, now()).expect_err("invalid");
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
        let errors = from_json(&json!("x"), now()).expect_err("not an object");
        assert_eq!(errors[0].field, "body");
    }

    #[test]
    fn a_flood_stops_at_the_cap_and_lists_at_most_100_errors() {
        let flood = format!("[{}{{}}]", "{},".repeat(1_000_000));
        let got = from_slice(flood.as_bytes(), 10_000, "http", now());
        assert_eq!(got, Err(BodyError::TooMany { limit: 10_000 }));

        // 200 empty objects break 3 rules each: 100 are listed, 500 counted.
        let empties = format!("[{}{{}}]", "{},".repeat(199));
        let Err(BodyError::Invalid { errors, more }) =
            from_slice(empties.as_bytes(), 10_000, "http", now())
        else {
            panic!("invalid")
        };
        assert_eq!((errors.len(), more), (MAX_LISTED_ERRORS, 500));
        assert_eq!(errors[0].field, "[0].employee_id");

        // Exactly at the cap is fine; JSON errors and trailing bytes are still errors.
        let two = r#"[{"employee_id": 1, "left": true, "observed_at": "2026-10-01"},
                      {"employee_id": 2, "left": false, "observed_at": "2026-10-01"}]"#;
        assert_eq!(
            from_slice(two.as_bytes(), 2, "http", now()).map(|o| o.len()),
            Ok(2)
        );
        assert!(matches!(
            from_slice(b"[{}, ", 2, "http", now()),
            Err(BodyError::NotJson(_))
        ));
        assert!(matches!(
            from_slice(b"[] x", 2, "http", now()),
            Err(BodyError::NotJson(_))
        ));
        assert!(matches!(
            from_slice(b"true", 2, "http", now()),
            Err(BodyError::Shape(e)) if e.field == "body" && e.value == json!(true)
        ));
    }
}
