//! The record's fields, their Rust types, kinds and allowed values: the one table every rule
//! and the [`Record`] struct itself are made from (see [`record_fields!`](super::table)).
//!
//! The validator, the CSV reader's column checks, the property tests, the canonical form and
//! the feature names all walk [`FIELDS`], so a rule written here is enforced everywhere at once.

use super::table::{record_fields, Cell, CellValue};

/// Declares a closed set of strings as a Rust enum, with its spelling on the wire.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in the order of [`Self::NAMES`].
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The wire spelling of every value.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                Self::NAMES[self as usize]
            }

            /// Parses the exact wire spelling.
            pub fn parse(text: &str) -> Option<Self> {
                Self::NAMES.iter().position(|n| *n == text).map(|i| Self::ALL[i])
            }

            /// Position in [`Self::ALL`]: the one-hot column of this value.
            pub fn index(self) -> usize {
                self as usize
            }
        }

        impl CellValue for $name {
            fn from_cell(cell: Cell) -> Self {
                match cell {
                    Cell::Choice(i) => Self::ALL[i],
                    other => unreachable!("a choice field holds {other:?}"),
                }
            }
            fn to_cell(&self) -> Cell {
                Cell::Choice(self.index())
            }
        }
    };
}

wire_enum!(
    /// `domaine_etude`.
    DomaineEtude {
        Autre => "Autre",
        Entrepreunariat => "Entrepreunariat",
        InfraCloud => "Infra & Cloud",
        Marketing => "Marketing",
        RessourcesHumaines => "Ressources Humaines",
        TransformationDigitale => "Transformation Digitale",
    }
);

wire_enum!(
    /// `frequence_deplacement`, in increasing order of travel.
    FrequenceDeplacement {
        Aucun => "Aucun",
        Occasionnel => "Occasionnel",
        Frequent => "Frequent",
    }
);

wire_enum!(
    /// `genre`.
    Genre { M => "M", F => "F" }
);

wire_enum!(
    /// `statut_marital`.
    StatutMarital {
        Celibataire => "Célibataire",
        Marie => "Marié(e)",
        Divorce => "Divorcé(e)",
    }
);

wire_enum!(
    /// `departement`.
    Departement {
        Commercial => "Commercial",
        Consulting => "Consulting",
        RessourcesHumaines => "Ressources Humaines",
    }
);

wire_enum!(
    /// `poste`.
    Poste {
        AssistantDeDirection => "Assistant de Direction",
        CadreCommercial => "Cadre Commercial",
        Consultant => "Consultant",
        DirecteurTechnique => "Directeur Technique",
        Manager => "Manager",
        RepresentantCommercial => "Représentant Commercial",
        RessourcesHumaines => "Ressources Humaines",
        SeniorManager => "Senior Manager",
        TechLead => "Tech Lead",
    }
);

/// What a field holds and which values are allowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A whole number in `min..=max`; `default` when the field may be omitted.
    Int {
        min: i64,
        max: i64,
        default: Option<i64>,
    },
    /// Any number in `min..=max`.
    Number { min: f64, max: f64 },
    /// A percentage: a number or a string such as `"15%"` or `"15 %"`, in `0..=100`.
    Percent,
    /// One of these exact strings.
    Choice(&'static [&'static str]),
}

/// One field of the record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
}

const fn int(min: i64, max: i64) -> Kind {
    Kind::Int {
        min,
        max,
        default: None,
    }
}

const fn int_or(min: i64, max: i64, default: i64) -> Kind {
    Kind::Int {
        min,
        max,
        default: Some(default),
    }
}

const fn number(min: f64, max: f64) -> Kind {
    Kind::Number { min, max }
}

const fn choice(values: &'static [&'static str]) -> Kind {
    Kind::Choice(values)
}

/// `ayant_enfants`.
pub const YES_NO: &[&str] = &["Y", "N"];
/// `heure_supplementaires`.
pub const OUI_NON: &[&str] = &["Oui", "Non"];

// The record, once: each field's name, Rust type and rule, in the contract's order.
record_fields! {
    nombre_participation_pee: u8 = int(0, 3),
    nb_formations_suivies: u8 = int(0, 6),
    nombre_employee_sous_responsabilite: u32 = int_or(0, u32::MAX as i64, 1),
    distance_domicile_travail: u8 = int(1, 30),
    niveau_education: u8 = int(1, 5),
    domaine_etude: DomaineEtude = choice(DomaineEtude::NAMES),
    /// `ayant_enfants`: `Y` is true.
    ayant_enfants: bool = choice(YES_NO),
    frequence_deplacement: FrequenceDeplacement = choice(FrequenceDeplacement::NAMES),
    annees_depuis_la_derniere_promotion: u8 = int(0, 40),
    annes_sous_responsable_actuel: u8 = int(0, 40),
    satisfaction_employee_environnement: u8 = int(1, 4),
    note_evaluation_precedente: u8 = int(1, 4),
    niveau_hierarchique_poste: u8 = int(1, 5),
    satisfaction_employee_nature_travail: u8 = int(1, 4),
    satisfaction_employee_equipe: u8 = int(1, 4),
    satisfaction_employee_equilibre_pro_perso: u8 = int(1, 4),
    note_evaluation_actuelle: u8 = int(1, 4),
    /// `heure_supplementaires`: `Oui` is true.
    heure_supplementaires: bool = choice(OUI_NON),
    /// Percent, `15` for `"15 %"`.
    augementation_salaire_precedente: f64 = Kind::Percent,
    age: u8 = int(18, 70),
    genre: Genre = choice(Genre::NAMES),
    revenu_mensuel: f64 = number(1000.0, 100000.0),
    statut_marital: StatutMarital = choice(StatutMarital::NAMES),
    departement: Departement = choice(Departement::NAMES),
    poste: Poste = choice(Poste::NAMES),
    nombre_experiences_precedentes: u8 = int(0, 20),
    nombre_heures_travailless: u8 = int_or(1, 168, 80),
    annee_experience_totale: u8 = int(0, 50),
    annees_dans_l_entreprise: u8 = int(0, 50),
    annees_dans_le_poste_actuel: u8 = int(0, 50),
}

/// The position of a field in [`FIELDS`], if it is one.
pub fn position(name: &str) -> Option<usize> {
    FIELDS.iter().position(|f| f.name == name)
}

/// The youngest age an employee can have started working at (`age - annee_experience_totale`).
pub const MIN_START_AGE: i64 = 14;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_their_wire_spelling() {
        for p in Poste::ALL {
            assert_eq!(Poste::parse(p.as_str()), Some(*p));
        }
        assert_eq!(StatutMarital::parse("Marié(e)"), Some(StatutMarital::Marie));
        assert_eq!(
            DomaineEtude::parse("Infra & Cloud"),
            Some(DomaineEtude::InfraCloud)
        );
        assert_eq!(Genre::parse("m"), None, "spelling is exact");
    }

    #[test]
    fn field_names_are_unique_and_thirty() {
        let mut names: Vec<_> = FIELDS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 30);
    }
}
