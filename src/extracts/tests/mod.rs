//! Tests of the extracts, on small extracts written by [`write_extracts`] and edited as text
//! where a test needs a broken file.

mod errors;
mod join;
mod keys;
mod real_data;
mod round_trip;

use std::path::Path;

use serde_json::{json, Map, Value};

use super::*;

/// Employee 1 of the reference data: a record inside every rule of contract section 1.
pub(super) fn record() -> Map<String, Value> {
    let value = json!({
        "nombre_participation_pee": 0, "nb_formations_suivies": 0,
        "nombre_employee_sous_responsabilite": 1, "distance_domicile_travail": 1,
        "niveau_education": 2, "domaine_etude": "Infra & Cloud", "ayant_enfants": "Y",
        "frequence_deplacement": "Occasionnel", "annees_depuis_la_derniere_promotion": 0,
        "annes_sous_responsable_actuel": 5,
        "satisfaction_employee_environnement": 2, "note_evaluation_precedente": 3,
        "niveau_hierarchique_poste": 2, "satisfaction_employee_nature_travail": 4,
        "satisfaction_employee_equipe": 1, "satisfaction_employee_equilibre_pro_perso": 1,
        "note_evaluation_actuelle": 3, "heure_supplementaires": "Oui",
        "augementation_salaire_precedente": "11 %",
        "age": 41, "genre": "F", "revenu_mensuel": 5993, "statut_marital": "Célibataire",
        "departement": "Commercial", "poste": "Cadre Commercial",
        "nombre_experiences_precedentes": 8, "nombre_heures_travailless": 80,
        "annee_experience_totale": 8, "annees_dans_l_entreprise": 6,
        "annees_dans_le_poste_actuel": 4,
    });
    match value {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

pub(super) fn row(employee_id: i64, label: Option<bool>) -> ExtractRow {
    ExtractRow {
        employee_id,
        record: record(),
        label,
    }
}

/// Employees 1..=n, labelled `Oui` for even ids.
pub(super) fn rows(n: i64, labelled: bool) -> Vec<ExtractRow> {
    (1..=n)
        .map(|id| row(id, labelled.then_some(id % 2 == 0)))
        .collect()
}

/// The three files' text (sondage, eval, sirh).
pub(super) fn files(rows: &[ExtractRow]) -> [String; 3] {
    ExtractFile::ALL.map(|file| {
        let mut out = Vec::new();
        write_file(file, &mut out, rows).expect("writing to memory");
        String::from_utf8(out).expect("the writer writes UTF-8")
    })
}

pub(super) fn read(files: &[String; 3]) -> Result<Extracts, ExtractError> {
    read_readers(
        files[0].as_bytes(),
        files[1].as_bytes(),
        files[2].as_bytes(),
    )
}

/// The message of the error `files` must give.
pub(super) fn error_message(files: &[String; 3]) -> String {
    match read(files) {
        Ok(extracts) => panic!("expected an error, read {} rows", extracts.rows.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_three_files_hold_the_thirty_record_fields_once() {
    let mut fields: Vec<&str> = ExtractFile::ALL
        .iter()
        .flat_map(|f| f.fields().iter().copied())
        .collect();
    fields.sort_unstable();
    fields.dedup();
    assert_eq!(fields.len(), 30);
    let record = record();
    let mut expected: Vec<&str> = record.keys().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(fields, expected);
}
