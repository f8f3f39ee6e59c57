//! The model's input: one function from a validated [`Record`] to its feature vector, called by
//! training and by serving alike, so the two cannot drift apart.
//!
//! Plain arithmetic on a struct, written into a caller's slice: no allocation, no fitted
//! encoder, no scaling (trees split on order, not magnitude). Constant columns of the reference
//! data (`nombre_employee_sous_responsabilite`, `ayant_enfants`, `nombre_heures_travailless`)
//! are left out: they carry no signal and would only mislead on out-of-range inputs.
//! Categories are one-hot, except travel frequency which is ordered. Every feature names the
//! record fields it is made from, which is how SHAP contributions map back to fields. Each
//! column is written once, its name beside its computation (`DIRECT`, `ONE_HOT`, `DERIVED`).

use std::sync::LazyLock;

mod mask;

use crate::record::{schema, Departement, DomaineEtude, Poste, Record, StatutMarital};
pub use mask::{columns_of, mask};

/// A feature's value, computed from the record.
type Compute = fn(&Record) -> f32;

fn f(x: u8) -> f32 {
    f32::from(x)
}

/// Fields used as they are (or as 0/1 for yes/no and M/F, 0/1/2 for travel): each feature's
/// name beside how it is computed, so a name can never be paired with another's value.
const DIRECT: [(&str, Compute); 23] = [
    (
        "nombre_participation_pee",
        |r| f(r.nombre_participation_pee),
    ),
    ("nb_formations_suivies", |r| f(r.nb_formations_suivies)),
    ("distance_domicile_travail", |r| {
        f(r.distance_domicile_travail)
    }),
    ("niveau_education", |r| f(r.niveau_education)),
    ("frequence_deplacement", |r| {
        r.frequence_deplacement.index() as f32
    }),
    ("annees_depuis_la_derniere_promotion", |r| {
        f(r.annees_depuis_la_derniere_promotion)
    }),
    ("annes_sous_responsable_actuel", |r| {
        f(r.annes_sous_responsable_actuel)
    }),
    ("satisfaction_employee_environnement", |r| {
        f(r.satisfaction_employee_environnement)
    }),
    ("note_evaluation_precedente", |r| {
        f(r.note_evaluation_precedente)
    }),
    ("niveau_hierarchique_poste", |r| {
        f(r.niveau_hierarchique_poste)
    }),
    ("satisfaction_employee_nature_travail", |r| {
        f(r.satisfaction_employee_nature_travail)
    }),
    ("satisfaction_employee_equipe", |r| {
        f(r.satisfaction_employee_equipe)
    }),
    ("satisfaction_employee_equilibre_pro_perso", |r| {
        f(r.satisfaction_employee_equilibre_pro_perso)
    }),
    (
        "note_evaluation_actuelle",
        |r| f(r.note_evaluation_actuelle),
    ),
    ("heure_supplementaires", |r| {
        f(u8::from(r.heure_supplementaires))
    }),
    ("augementation_salaire_precedente", |r| {
        r.augementation_salaire_precedente as f32
    }),
    ("age", |r| f(r.age)),
    ("genre", |r| f(u8::from(r.genre == crate::record::Genre::M))),
    ("revenu_mensuel", |r| r.revenu_mensuel as f32),
    ("nombre_experiences_precedentes", |r| {
        f(r.nombre_experiences_precedentes)
    }),
    ("annee_experience_totale", |r| f(r.annee_experience_totale)),
    (
        "annees_dans_l_entreprise",
        |r| f(r.annees_dans_l_entreprise),
    ),
    ("annees_dans_le_poste_actuel", |r| {
        f(r.annees_dans_le_poste_actuel)
    }),
];

/// Engineered ratios: name, the fields they combine (a contribution is split evenly between
/// them when explaining), and how.
const DERIVED: [(&str, &[&str], Compute); 6] = [
    (
        "satisfaction_moyenne",
        &[
            "satisfaction_employee_environnement",
            "satisfaction_employee_nature_travail",
            "satisfaction_employee_equipe",
            "satisfaction_employee_equilibre_pro_perso",
        ],
        |r| {
            (f(r.satisfaction_employee_environnement)
                + f(r.satisfaction_employee_nature_travail)
                + f(r.satisfaction_employee_equipe)
                + f(r.satisfaction_employee_equilibre_pro_perso))
                / 4.0
        },
    ),
    (
        "part_carriere_dans_l_entreprise",
        &["annees_dans_l_entreprise", "annee_experience_totale"],
        |r| f(r.annees_dans_l_entreprise) / (f(r.annee_experience_totale) + 1.0),
    ),
    (
        "annees_par_employeur",
        &["annee_experience_totale", "nombre_experiences_precedentes"],
        |r| f(r.annee_experience_totale) / (f(r.nombre_experiences_precedentes) + 1.0),
    ),
    (
        "revenu_par_niveau",
        &["revenu_mensuel", "niveau_hierarchique_poste"],
        |r| r.revenu_mensuel as f32 / f(r.niveau_hierarchique_poste),
    ),
    (
        "part_anciennete_sans_promotion",
        &[
            "annees_depuis_la_derniere_promotion",
            "annees_dans_l_entreprise",
        ],
        |r| f(r.annees_depuis_la_derniere_promotion) / (f(r.annees_dans_l_entreprise) + 1.0),
    ),
    (
        "age_debut_carriere",
        &["age", "annee_experience_totale"],
        |r| f(r.age) - f(r.annee_experience_totale),
    ),
];

/// Where a record's value stands among its field's values.
type Place = fn(&Record) -> usize;

/// Categories one-hot: the field, its values in column order, and the record's value's place.
const ONE_HOT: [(&str, &[&str], Place); 4] = [
    ("domaine_etude", DomaineEtude::NAMES, |r| {
        r.domaine_etude.index()
    }),
    ("statut_marital", StatutMarital::NAMES, |r| {
        r.statut_marital.index()
    }),
    ("departement", Departement::NAMES, |r| r.departement.index()),
    ("poste", Poste::NAMES, |r| r.poste.index()),
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
        .map(|(n, _)| Feature {
            name: (*n).to_owned(),
            sources: sources(&[n]),
        })
        .collect();
    for (field, values, _) in ONE_HOT {
        all.extend(values.iter().map(|v| Feature {
            name: format!("{field}={v}"),
            sources: sources(&[field]),
        }));
    }
    all.extend(DERIVED.iter().map(|(n, from, _)| Feature {
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
    for (slot, (_, compute)) in out.iter_mut().zip(&DIRECT) {
        *slot = compute(r);
    }
    let mut at = DIRECT.len();
    for (_, values, place) in ONE_HOT {
        let hot = place(r);
        for (i, slot) in out[at..at + values.len()].iter_mut().enumerate() {
            *slot = f32::from(u8::from(i == hot));
        }
        at += values.len();
    }
    for (slot, (_, _, compute)) in out[at..].iter_mut().zip(&DERIVED) {
        *slot = compute(r);
    }
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
    fn a_column_moves_only_when_a_field_it_names_as_its_source_changes() {
        // Each field of one record is given, alone, the value another record has: only the
        // columns that name that field among their sources may change, and at least one must
        // (every field is used, bar the three constant ones).
        let records = sample::many(17, 40);
        let unused = [
            "ayant_enfants",
            "nombre_heures_travailless",
            "nombre_employee_sous_responsabilite",
        ];
        let mut moved = vec![false; schema::FIELDS.len()];
        for pair in records.chunks(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let before = matrix([&validate(a).expect("valid")]);
            for (k, field) in schema::FIELDS.iter().enumerate() {
                if a.get(field.name) == b.get(field.name) {
                    continue;
                }
                let mut changed = a.clone();
                changed.insert(field.name.to_owned(), b[field.name].clone());
                let Ok(r) = validate(&changed) else {
                    continue; // a cross-field rule the mix breaks: not this test's concern
                };
                let after = matrix([&r]);
                for (column, feature) in FEATURES.iter().enumerate() {
                    if before[column].to_bits() != after[column].to_bits() {
                        assert!(
                            feature.sources.contains(&k),
                            "{} changed with {}, which it does not name",
                            feature.name,
                            field.name
                        );
                        moved[k] = true;
                    }
                }
            }
        }
        for (k, field) in schema::FIELDS.iter().enumerate() {
            if !unused.contains(&field.name) {
                assert!(moved[k], "no column moved with {}", field.name);
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
