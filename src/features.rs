//! The model's input: one function from a validated [`Record`] to its feature vector, called by
//! training and by serving alike, so the two cannot drift apart.
//!
//! Plain arithmetic on a struct, written into a caller's slice: no allocation, no fitted
//! encoder, no scaling (trees split on order, not magnitude). Constant columns of the reference
//! data (`nombre_employee_sous_responsabilite`, `ayant_enfants`, `nombre_heures_travailless`)
//! are left out: they carry no signal and would only mislead on out-of-range inputs.
//! Categories are one-hot, except travel frequency which is ordered. Every feature names the
//! record fields it is made from, which is how SHAP contributions map back to fields.

use std::sync::LazyLock;

mod mask;

use crate::record::{schema, Departement, DomaineEtude, Poste, Record, StatutMarital};
pub use mask::{columns_of, mask};

/// Fields used as they are (or as 0/1 for yes/no and M/F, 0/1/2 for travel).
const DIRECT: [&str; 23] = [
    "nombre_participation_pee",
    "nb_formations_suivies",
    "distance_domicile_travail",
    "niveau_education",
    "frequence_deplacement",
    "annees_depuis_la_derniere_promotion",
    "annes_sous_responsable_actuel",
    "satisfaction_employee_environnement",
    "note_evaluation_precedente",
    "niveau_hierarchique_poste",
    "satisfaction_employee_nature_travail",
    "satisfaction_employee_equipe",
    "satisfaction_employee_equilibre_pro_perso",
    "note_evaluation_actuelle",
    "heure_supplementaires",
    "augementation_salaire_precedente",
    "age",
    "genre",
    "revenu_mensuel",
    "nombre_experiences_precedentes",
    "annee_experience_totale",
    "annees_dans_l_entreprise",
    "annees_dans_le_poste_actuel",
];

/// Engineered ratios: name and the fields they combine (a contribution is split evenly
/// between them when explaining).
const DERIVED: [(&str, &[&str]); 6] = [
    (
        "satisfaction_moyenne",
        &[
            "satisfaction_employee_environnement",
            "satisfaction_employee_nature_travail",
            "satisfaction_employee_equipe",
            "satisfaction_employee_equilibre_pro_perso",
        ],
    ),
    (
        "part_carriere_dans_l_entreprise",
        &["annees_dans_l_entreprise", "annee_experience_totale"],
    ),
    (
        "annees_par_employeur",
        &["annee_experience_totale", "nombre_experiences_precedentes"],
    ),
    (
        "revenu_par_niveau",
        &["revenu_mensuel", "niveau_hierarchique_poste"],
    ),
    (
        "part_anciennete_sans_promotion",
        &[
            "annees_depuis_la_derniere_promotion",
            "annees_dans_l_entreprise",
        ],
    ),
    ("age_debut_carriere", &["age", "annee_experience_totale"]),
];

const ONE_HOT: [(&str, &[&str]); 4] = [
    ("domaine_etude", DomaineEtude::NAMES),
    ("statut_marital", StatutMarital::NAMES),
    ("departement", Departement::NAMES),
    ("poste", Poste::NAMES),
];

/// The length of the feature vector.
pub const COUNT: usize = DIRECT.len()
    + DomaineEtude::NAMES.len()
    + StatutMarital::NAMES.len()
    + Departement::NAMES.len()
    + Poste::NAMES.len()
    + DERIVED.len();

/// One column of the feature vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// Name in the model bundle's manifest, e.g. `age` or `poste=Tech Lead`.
    pub name: String,
    /// Positions in [`schema::FIELDS`] of the record fields it is made from.
    pub sources: Vec<usize>,
}

fn sources(names: &[&str]) -> Vec<usize> {
    names
        .iter()
        .map(|n| {
            schema::position(n)
                .unwrap_or_else(|| panic!("feature source {n} is not a record field"))
        })
        .collect()
}

/// Every feature, in the order the model takes them.
pub static FEATURES: LazyLock<Vec<Feature>> = LazyLock::new(|| {
    let mut all: Vec<Feature> = DIRECT
        .iter()
        .map(|n| Feature {
            name: (*n).to_owned(),
            sources: sources(&[n]),
        })
        .collect();
    for (field, values) in ONE_HOT {
        all.extend(values.iter().map(|v| Feature {
            name: format!("{field}={v}"),
            sources: sources(&[field]),
        }));
    }
    all.extend(DERIVED.iter().map(|(n, from)| Feature {
        name: (*n).to_owned(),
        sources: sources(from),
    }));
    assert_eq!(all.len(), COUNT);
    all
});

/// The feature names, in order: what a model bundle's manifest must list.
pub fn names() -> Vec<String> {
    FEATURES.iter().map(|f| f.name.clone()).collect()
}

/// Writes the features of `r` into `out` (length [`COUNT`]), in [`FEATURES`] order.
///
/// # Panics
/// If `out` is not [`COUNT`] long: a programming error, never a property of the input.
pub fn write(r: &Record, out: &mut [f32]) {
    assert_eq!(out.len(), COUNT, "feature buffer length");
    let f = |x: u8| f32::from(x);
    let direct = [
        f(r.nombre_participation_pee),
        f(r.nb_formations_suivies),
        f(r.distance_domicile_travail),
        f(r.niveau_education),
        r.frequence_deplacement.index() as f32,
        f(r.annees_depuis_la_derniere_promotion),
        f(r.annes_sous_responsable_actuel),
        f(r.satisfaction_employee_environnement),
        f(r.note_evaluation_precedente),
        f(r.niveau_hierarchique_poste),
        f(r.satisfaction_employee_nature_travail),
        f(r.satisfaction_employee_equipe),
        f(r.satisfaction_employee_equilibre_pro_perso),
        f(r.note_evaluation_actuelle),
        f32::from(u8::from(r.heure_supplementaires)),
        r.augementation_salaire_precedente as f32,
        f(r.age),
        f32::from(u8::from(r.genre == crate::record::Genre::M)),
        r.revenu_mensuel as f32,
        f(r.nombre_experiences_precedentes),
        f(r.annee_experience_totale),
        f(r.annees_dans_l_entreprise),
        f(r.annees_dans_le_poste_actuel),
    ];
    out[..DIRECT.len()].copy_from_slice(&direct);

    let mut at = DIRECT.len();
    for (len, hot) in [
        (DomaineEtude::NAMES.len(), r.domaine_etude.index()),
        (StatutMarital::NAMES.len(), r.statut_marital.index()),
        (Departement::NAMES.len(), r.departement.index()),
        (Poste::NAMES.len(), r.poste.index()),
    ] {
        for (i, slot) in out[at..at + len].iter_mut().enumerate() {
            *slot = f32::from(u8::from(i == hot));
        }
        at += len;
    }

    let satisfaction = (f(r.satisfaction_employee_environnement)
        + f(r.satisfaction_employee_nature_travail)
        + f(r.satisfaction_employee_equipe)
        + f(r.satisfaction_employee_equilibre_pro_perso))
        / 4.0;
    let experience = f(r.annee_experience_totale);
    let tenure = f(r.annees_dans_l_entreprise);
    out[at..].copy_from_slice(&[
        satisfaction,
        tenure / (experience + 1.0),
        experience / (f(r.nombre_experiences_precedentes) + 1.0),
        r.revenu_mensuel as f32 / f(r.niveau_hierarchique_poste),
        f(r.annees_depuis_la_derniere_promotion) / (tenure + 1.0),
        f(r.age) - experience,
    ]);
}

/// The features of many records, row after row, ready for one XGBoost call.
pub fn matrix<'a>(records: impl IntoIterator<Item = &'a Record>) -> Vec<f32> {
    let records = records.into_iter();
    let mut out = Vec::with_capacity(records.size_hint().0 * COUNT);
    for r in records {
        let start = out.len();
        out.resize(start + COUNT, 0.0);
        write(r, &mut out[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{sample, validate};

    #[test]
    fn the_example_has_known_features() {
        let r = validate(&sample::example()).expect("valid");
        let mut v = vec![0.0; COUNT];
        write(&r, &mut v);
        let by_name = |n: &str| v[FEATURES.iter().position(|f| f.name == n).expect(n)];
        let expected = [
            ("nombre_participation_pee", 1.0),
            ("distance_domicile_travail", 7.0),
            ("frequence_deplacement", 1.0),
            ("heure_supplementaires", 1.0),
            ("augementation_salaire_precedente", 13.0),
            ("age", 41.0),
            ("genre", 0.0),
            ("revenu_mensuel", 4850.0),
            ("domaine_etude=Marketing", 1.0),
            ("domaine_etude=Autre", 0.0),
            ("statut_marital=Célibataire", 1.0),
            ("poste=Cadre Commercial", 1.0),
            ("poste=Manager", 0.0),
            ("satisfaction_moyenne", 2.0),
            ("part_carriere_dans_l_entreprise", 6.0 / 9.0),
            ("annees_par_employeur", 8.0 / 7.0),
            ("revenu_par_niveau", 4850.0 / 2.0),
            ("part_anciennete_sans_promotion", 0.0),
            ("age_debut_carriere", 33.0),
        ];
        for (name, want) in expected {
            assert_eq!(by_name(name), want as f32, "{name}");
        }
    }

    #[test]
    fn one_hot_groups_have_exactly_one_hot_column() {
        for map in sample::many(3, 50) {
            let r = validate(&map).expect("valid");
            let v = matrix([&r]);
            for field in ["domaine_etude", "statut_marital", "departement", "poste"] {
                let hot: f32 = FEATURES
                    .iter()
                    .zip(&v)
                    .filter(|(f, _)| f.name.starts_with(&format!("{field}=")))
                    .map(|(_, x)| *x)
                    .sum();
                assert_eq!(hot, 1.0, "{field}");
            }
        }
    }

    #[test]
    fn constant_columns_are_left_out_and_overtime_is_in() {
        let names = names();
        assert!(names.contains(&"heure_supplementaires".to_owned()));
        for constant in [
            "ayant_enfants",
            "nombre_heures_travailless",
            "nombre_employee_sous_responsabilite",
        ] {
            assert!(!names.iter().any(|n| n.starts_with(constant)), "{constant}");
        }
        assert_eq!(names.len(), COUNT);
    }
}
