//! Checks a JSON object against [`FIELDS`](super::schema::FIELDS) and the cross-field rules,
//! reporting every broken rule, not only the first.

use serde_json::{Map, Value};

use super::schema::{
    self, Departement, DomaineEtude, FrequenceDeplacement, Genre, Kind, Poste, StatutMarital,
    FIELDS, MIN_START_AGE,
};
use super::{FieldError, Record};

/// A field's value once its own rule holds.
#[derive(Debug, Clone, Copy)]
enum Cell {
    Int(i64),
    Number(f64),
    /// Index into the field's allowed values.
    Choice(usize),
}

/// Validates a JSON object as an employee record.
///
/// # Errors
/// Every broken rule: unknown fields, missing required fields, wrong types, values out of
/// range or not in the allowed set, and the cross-field rules between valid fields.
pub fn validate(map: &Map<String, Value>) -> Result<Record, Vec<FieldError>> {
    let mut errors = Vec::new();
    for (name, value) in map {
        if schema::position(name).is_none() {
            errors.push(FieldError::new(
                name,
                "is not a field of the record",
                value.clone(),
            ));
        }
    }

    let mut cells = [None; FIELDS.len()];
    for (cell, field) in cells.iter_mut().zip(FIELDS.iter()) {
        match check(field.kind, map.get(field.name)) {
            Ok(c) => *cell = Some(c),
            Err(message) => errors.push(FieldError::new(
                field.name,
                message,
                map.get(field.name).cloned().unwrap_or(Value::Null),
            )),
        }
    }

    check_cross_fields(&cells, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(build(&cells))
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

fn int_at(cells: &[Option<Cell>], name: &str) -> Option<i64> {
    match cells[schema::position(name)?] {
        Some(Cell::Int(n)) => Some(n),
        _ => None,
    }
}

/// The cross-field rules, each checked only when both of its fields are valid on their own.
fn check_cross_fields(cells: &[Option<Cell>], errors: &mut Vec<FieldError>) {
    const NOT_ABOVE: [(&str, &str); 4] = [
        ("annees_dans_l_entreprise", "annee_experience_totale"),
        ("annees_dans_le_poste_actuel", "annees_dans_l_entreprise"),
        ("annes_sous_responsable_actuel", "annees_dans_l_entreprise"),
        (
            "annees_depuis_la_derniere_promotion",
            "annees_dans_l_entreprise",
        ),
    ];
    for (small, large) in NOT_ABOVE {
        if let (Some(a), Some(b)) = (int_at(cells, small), int_at(cells, large)) {
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
        int_at(cells, "age"),
        int_at(cells, "annee_experience_totale"),
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

/// Builds the typed record from cells that all passed their rules (ranges make every `as` exact).
fn build(cells: &[Option<Cell>; FIELDS.len()]) -> Record {
    let int = |i: usize| match cells[i] {
        Some(Cell::Int(n)) => n,
        other => unreachable!("field {} is an int, got {other:?}", FIELDS[i].name),
    };
    let num = |i: usize| match cells[i] {
        Some(Cell::Number(x)) => x,
        Some(Cell::Int(n)) => n as f64,
        other => unreachable!("field {} is a number, got {other:?}", FIELDS[i].name),
    };
    let pick = |i: usize| match cells[i] {
        Some(Cell::Choice(c)) => c,
        other => unreachable!("field {} is a choice, got {other:?}", FIELDS[i].name),
    };
    Record {
        nombre_participation_pee: int(0) as u8,
        nb_formations_suivies: int(1) as u8,
        nombre_employee_sous_responsabilite: int(2) as u32,
        distance_domicile_travail: int(3) as u8,
        niveau_education: int(4) as u8,
        domaine_etude: DomaineEtude::ALL[pick(5)],
        ayant_enfants: pick(6) == 0,
        frequence_deplacement: FrequenceDeplacement::ALL[pick(7)],
        annees_depuis_la_derniere_promotion: int(8) as u8,
        annes_sous_responsable_actuel: int(9) as u8,
        satisfaction_employee_environnement: int(10) as u8,
        note_evaluation_precedente: int(11) as u8,
        niveau_hierarchique_poste: int(12) as u8,
        satisfaction_employee_nature_travail: int(13) as u8,
        satisfaction_employee_equipe: int(14) as u8,
        satisfaction_employee_equilibre_pro_perso: int(15) as u8,
        note_evaluation_actuelle: int(16) as u8,
        heure_supplementaires: pick(17) == 0,
        augementation_salaire_precedente: num(18),
        age: int(19) as u8,
        genre: Genre::ALL[pick(20)],
        revenu_mensuel: num(21),
        statut_marital: StatutMarital::ALL[pick(22)],
        departement: Departement::ALL[pick(23)],
        poste: Poste::ALL[pick(24)],
        nombre_experiences_precedentes: int(25) as u8,
        nombre_heures_travailless: int(26) as u8,
        annee_experience_totale: int(27) as u8,
        annees_dans_l_entreprise: int(28) as u8,
        annees_dans_le_poste_actuel: int(29) as u8,
    }
}

#[cfg(test)]
mod tests;
