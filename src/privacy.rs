//! What of a record is kept (docs/privacy.md): with `storage.store_inputs = false`, a
//! `predictions` row keeps only the fields its explanation names, not the whole record. The
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
    Value::Object(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_explained_fields_are_kept() {
        let input = json!({"age": 41, "genre": "F", "revenu_mensuel": 5000});
        let explanation = [Contribution {
            field: "age".into(),
            contribution: 0.3,
        }];
        assert_eq!(
            minimal_input(&input, Some(&explanation)),
            json!({"age": 41})
        );
        assert_eq!(minimal_input(&input, None), json!({}));
    }
}
