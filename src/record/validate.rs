//! Checks a JSON object against [`FIELDS`](super::schema::FIELDS) and the cross-field rules,
//! reporting every broken rule, not only the first.

use serde_json::{Map, Value};

use super::json::Fields;
use super::schema::{self, FieldId, Kind, FIELDS, MIN_START_AGE};
use super::table::Cell;
use super::{FieldError, Record};

/// Validates a JSON object as an employee record.
///
/// # Errors
/// Every broken rule: unknown fields, missing required fields, wrong types, values out of
/// range or not in the allowed set, and the cross-field rules between valid fields.
pub fn validate(map: &Map<String, Value>) -> Result<Record, Vec<FieldError>> {
    let unknown = map
        .iter()
        .filter(|(name, _)| schema::position(name).is_none())
        .map(|(name, value)| (name.as_str(), value));
    check_all(unknown, |i| map.get(FIELDS[i].name))
}

/// As [`validate`], for an object read straight into its fields by
/// [`parse_fields`](super::json::parse_fields): the same rules, the same errors in the same
/// order.
///
/// # Errors
/// As [`validate`].
pub(crate) fn validate_fields(fields: &Fields) -> Result<Record, Vec<FieldError>> {
    let unknown = fields.others.iter().map(|(k, v)| (k.as_str(), v));
    check_all(unknown, |i| fields.values[i].as_ref())
}

/// The rules over an object given as its keys that are not fields (in key order) and the
/// value of each field by position.
fn check_all<'v>(
    unknown: impl Iterator<Item = (&'v str, &'v Value)>,
    value_of: impl Fn(usize) -> Option<&'v Value>,
) -> Result<Record, Vec<FieldError>> {
    let mut errors: Vec<FieldError> = unknown
        .map(|(name, value)| FieldError::new(name, "is not a field of the record", value.clone()))
        .collect();

    let mut cells = [None; FIELDS.len()];
    for (i, (cell, field)) in cells.iter_mut().zip(FIELDS.iter()).enumerate() {
        let value = value_of(i);
        match check(field.kind, value) {
            Ok(c) => *cell = Some(c),
            Err(message) => errors.push(FieldError::new(
                field.name,
                message,
                value.cloned().unwrap_or(Value::Null),
            )),
        }
    }

    check_cross_fields(&cells, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    // No error: every field has its cell.
    let cells = cells.map(|c| c.expect("a field without an error has a cell"));
    Ok(Record::from_cells(&cells))
}

fn check(kind: Kind, value: Option<&Value>) -> Result<Cell, String> {
    let value = match (value, kind) {
        (
            None | Some(Value::Null),
            Kind::Int {
                default: Some(d), ..
            },
        ) => return Ok(Cell::Int(d)),
        (None | Some(Value::Null), _) => return Err("is required".into()),
        (Some(v), _) => v,
    };
    match kind {
        Kind::Int { min, max, .. } => {
            let rule = || {
                if max == u32::MAX as i64 {
                    format!("must be a whole number >= {min}")
                } else {
                    format!("must be a whole number from {min} to {max}")
                }
            };
            match as_whole(value) {
                Some(n) if (min..=max).contains(&n) => Ok(Cell::Int(n)),
                _ => Err(rule()),
            }
        }
        Kind::Number { min, max } => match value.as_f64() {
            Some(x) if x >= min && x <= max => Ok(Cell::Number(x)),
            _ => Err(format!("must be a number from {min} to {max}")),
        },
        Kind::Percent => match percent(value) {
            Some(x) if (0.0..=100.0).contains(&x) => Ok(Cell::Number(x)),
            _ => Err("must be a percentage from 0 to 100, as a number or a string like \"15%\" or \"15 %\"".into()),
        },
        Kind::Choice(allowed) => match value.as_str().and_then(|s| allowed.iter().position(|a| *a == s)) {
            Some(i) => Ok(Cell::Choice(i)),
            None => Err(format!("must be one of: {}", allowed.join(", "))),
        },
    }
}

/// A JSON number with no fractional part (`3` or `3.0`); strings are not numbers.
fn as_whole(value: &Value) -> Option<i64> {
    if let Some(n) = value.as_i64() {
        return Some(n);
    }
    let x = value.as_f64()?;
    (x.fract() == 0.0 && x.abs() < 1e15).then_some(x as i64)
}

/// The strings a percentage may be written as, for the OpenAPI document: what [`percent`]
/// accepts, exactly (`15%`, `15 %`, ` 7.5 % `, `100%`; spaces and tabs around).
pub(crate) const PERCENT_PATTERN: &str = r"^[ \t]*(100(\.0+)?|[0-9]{1,2}(\.[0-9]+)?)[ \t]*%[ \t]*$";

fn percent(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let blank = |c: char| c == ' ' || c == '\t';
            let digits = s
                .trim_matches(blank)
                .strip_suffix('%')?
                .trim_end_matches(blank);
            let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
            let is_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
            let well_formed = (1..=3).contains(&whole.len())
                && is_digits(whole)
                && is_digits(fraction)
                && (digits.len() == whole.len() || !fraction.is_empty());
            well_formed.then(|| digits.parse().ok()).flatten()
        }
        _ => None,
    }
}

fn int_at(cells: &[Option<Cell>], field: FieldId) -> Option<i64> {
    match cells[field as usize] {
        Some(Cell::Int(n)) => Some(n),
        _ => None,
    }
}

/// The cross-field rules, each checked only when both of its fields are valid on their own.
fn check_cross_fields(cells: &[Option<Cell>], errors: &mut Vec<FieldError>) {
    use FieldId as F;
    const NOT_ABOVE: [(FieldId, FieldId); 4] = [
        (F::annees_dans_l_entreprise, F::annee_experience_totale),
        (F::annees_dans_le_poste_actuel, F::annees_dans_l_entreprise),
        (
            F::annes_sous_responsable_actuel,
            F::annees_dans_l_entreprise,
        ),
        (
            F::annees_depuis_la_derniere_promotion,
            F::annees_dans_l_entreprise,
        ),
    ];
    for (small, large) in NOT_ABOVE {
        if let (Some(a), Some(b)) = (int_at(cells, small), int_at(cells, large)) {
            let (small, large) = (FIELDS[small as usize].name, FIELDS[large as usize].name);
            if a > b {
                errors.push(FieldError::new(
                    format!("{small},{large}"),
                    format!("{small} must not exceed {large}"),
                    serde_json::json!([a, b]),
                ));
            }
        }
    }
    if let (Some(age), Some(exp)) = (
        int_at(cells, F::age),
        int_at(cells, F::annee_experience_totale),
    ) {
        if age - exp < MIN_START_AGE {
            errors.push(FieldError::new(
                "age,annee_experience_totale",
                format!("age minus annee_experience_totale must be at least {MIN_START_AGE}"),
                serde_json::json!([age, exp]),
            ));
        }
    }
}

#[cfg(test)]
mod tests;
