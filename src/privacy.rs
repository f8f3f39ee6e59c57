//! What of a record is kept (docs/privacy.md): with `storage.store_inputs = false`, a
//! `predictions` row keeps only the fields its explanation names and its group bands (for the
//! fairness figures), not the whole record. The
//! record's hash is kept either way (`record_sha256`), so a reused `request_id` is still
//! recognised. This module shapes values; it does no I/O.

use serde_json::{Map, Value};

use crate::model::Contribution;

/// The fields of `input` (the validated record as JSON) that `explanation` names; an empty
/// object without an explanation.
pub fn minimal_input(input: &Value, explanation: Option<&[Contribution]>) -> Value {
    let mut kept = Map::new();
    for c in explanation.unwrap_or_default() {
        if let Some(value) = input.get(&c.field) {
            kept.insert(c.field.clone(), value.clone());
        }
    }
    // The fairness figures (model_performance_by_group) judge every row by its groups: keep
    // them, banded (an age band, not the age), under a key no record field can take.
    let mut groups = Map::new();
    for field in ["genre", "statut_marital"] {
        if let Some(value) = input.get(field).filter(|v| v.is_string()) {
            groups.insert(field.to_owned(), value.clone());
        }
    }
    if let Some(age) = input.get("age").and_then(Value::as_u64) {
        let band = crate::fairness::age_band(u8::try_from(age).unwrap_or(u8::MAX));
        groups.insert("age_band".to_owned(), Value::from(band));
    }
    if !groups.is_empty() {
        kept.insert(GROUPS_KEY.to_owned(), Value::Object(groups));
    }
    Value::Object(kept)
}

/// Where a row stored without its full input keeps its group bands (migration V10 reads it).
pub const GROUPS_KEY: &str = "_groups";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_explained_fields_and_the_group_bands_are_kept() {
        let input = json!({"age": 41, "genre": "F", "revenu_mensuel": 5000});
        let explanation = [Contribution {
            field: "age".into(),
            contribution: 0.3,
        }];
        assert_eq!(
            minimal_input(&input, Some(&explanation)),
            json!({"age": 41, "_groups": {"genre": "F", "age_band": "40-49"}})
        );
        assert_eq!(
            minimal_input(&json!({"revenu_mensuel": 5000}), None),
            json!({})
        );
    }
}
