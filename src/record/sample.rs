//! Records made up for tests, benchmarks and load generation: always valid, never real people.

use serde_json::{json, Map, Value};

use crate::rng::Rng;

use super::schema::{Departement, DomaineEtude, FrequenceDeplacement, Genre, Poste, StatutMarital};

/// A valid, made-up record, as JSON: the example of the docs and tests.
pub fn example() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "nombre_participation_pee": 1, "nb_formations_suivies": 2,
        "nombre_employee_sous_responsabilite": 1, "distance_domicile_travail": 7,
        "niveau_education": 3, "domaine_etude": "Marketing", "ayant_enfants": "Y",
        "frequence_deplacement": "Occasionnel", "annees_depuis_la_derniere_promotion": 0,
        "annes_sous_responsable_actuel": 5, "satisfaction_employee_environnement": 2,
        "note_evaluation_precedente": 3, "niveau_hierarchique_poste": 2,
        "satisfaction_employee_nature_travail": 4, "satisfaction_employee_equipe": 1,
        "satisfaction_employee_equilibre_pro_perso": 1, "note_evaluation_actuelle": 3,
        "heure_supplementaires": "Oui", "augementation_salaire_precedente": "13 %", "age": 41,
        "genre": "F", "revenu_mensuel": 4850, "statut_marital": "Célibataire",
        "departement": "Commercial", "poste": "Cadre Commercial",
        "nombre_experiences_precedentes": 6, "nombre_heures_travailless": 80,
        "annee_experience_totale": 8, "annees_dans_l_entreprise": 6,
        "annees_dans_le_poste_actuel": 4
    }) else {
        unreachable!("a JSON object literal")
    };
    map
}

/// A random valid record. `below(n)` must return a uniform integer in `0..n`; the caller's
/// generator makes the sequence reproducible.
pub fn random(below: &mut impl FnMut(u64) -> u64) -> Map<String, Value> {
    let mut pick = |lo: u64, hi: u64| lo + below(hi - lo + 1);
    let age = pick(18, 70);
    let experience = pick(0, (age - 14).min(50));
    let tenure = pick(0, experience);
    let mut map = Map::new();
    let mut set = |name: &str, value: Value| map.insert(name.to_owned(), value);
    set("annee_experience_totale", json!(experience));
    set("annees_dans_l_entreprise", json!(tenure));
    set("annees_dans_le_poste_actuel", json!(pick(0, tenure)));
    set(
        "annes_sous_responsable_actuel",
        json!(pick(0, tenure.min(40))),
    );
    set(
        "annees_depuis_la_derniere_promotion",
        json!(pick(0, tenure.min(40))),
    );
    set("age", json!(age));
    set("nombre_participation_pee", json!(pick(0, 3)));
    set("nb_formations_suivies", json!(pick(0, 6)));
    set("nombre_employee_sous_responsabilite", json!(1));
    set("distance_domicile_travail", json!(pick(1, 30)));
    set("niveau_education", json!(pick(1, 5)));
    set("ayant_enfants", json!("Y"));
    for name in [
        "satisfaction_employee_environnement",
        "note_evaluation_precedente",
        "satisfaction_employee_nature_travail",
        "satisfaction_employee_equipe",
        "satisfaction_employee_equilibre_pro_perso",
        "note_evaluation_actuelle",
    ] {
        set(name, json!(pick(1, 4)));
    }
    set("niveau_hierarchique_poste", json!(pick(1, 5)));
    set(
        "augementation_salaire_precedente",
        json!(format!("{} %", pick(11, 25))),
    );
    set("revenu_mensuel", json!(pick(1000, 20000)));
    set("nombre_experiences_precedentes", json!(pick(0, 9)));
    set("nombre_heures_travailless", json!(80));
    let choices: [(&str, &[&str]); 7] = [
        ("domaine_etude", DomaineEtude::NAMES),
        ("frequence_deplacement", FrequenceDeplacement::NAMES),
        ("heure_supplementaires", &["Oui", "Non"]),
        ("genre", Genre::NAMES),
        ("statut_marital", StatutMarital::NAMES),
        ("departement", Departement::NAMES),
        ("poste", Poste::NAMES),
    ];
    for (name, names) in choices {
        set(name, json!(names[pick(0, names.len() as u64 - 1) as usize]));
    }
    map
}

/// `n` random valid records from `seed`.
pub fn many(seed: u64, n: usize) -> Vec<Map<String, Value>> {
    let mut rng = Rng::new(seed);
    let mut below = |n: u64| rng.below(n);
    (0..n).map(|_| random(&mut below)).collect()
}
