//! The record's fields, their kinds and allowed values: the one table every rule is read from.
//!
//! The validator, the CSV reader's column checks, the property tests and the feature names all
//! walk [`FIELDS`], so a rule written here is enforced everywhere at once.

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

const fn int(name: &'static str, min: i64, max: i64) -> Field {
    Field {
        name,
        kind: Kind::Int {
            min,
            max,
            default: None,
        },
    }
}

const fn choice(name: &'static str, values: &'static [&'static str]) -> Field {
    Field {
        name,
        kind: Kind::Choice(values),
    }
}

/// `ayant_enfants`.
pub const YES_NO: &[&str] = &["Y", "N"];
/// `heure_supplementaires`.
pub const OUI_NON: &[&str] = &["Oui", "Non"];

/// Every field of the record, in the contract's order.
pub const FIELDS: [Field; 30] = [
    int("nombre_participation_pee", 0, 3),
    int("nb_formations_suivies", 0, 6),
    Field {
        name: "nombre_employee_sous_responsabilite",
        kind: Kind::Int {
            min: 0,
            max: u32::MAX as i64,
            default: Some(1),
        },
    },
    int("distance_domicile_travail", 1, 30),
    int("niveau_education", 1, 5),
    choice("domaine_etude", DomaineEtude::NAMES),
    choice("ayant_enfants", YES_NO),
    choice("frequence_deplacement", FrequenceDeplacement::NAMES),
    int("annees_depuis_la_derniere_promotion", 0, 40),
    int("annes_sous_responsable_actuel", 0, 40),
    int("satisfaction_employee_environnement", 1, 4),
    int("note_evaluation_precedente", 1, 4),
    int("niveau_hierarchique_poste", 1, 5),
    int("satisfaction_employee_nature_travail", 1, 4),
    int("satisfaction_employee_equipe", 1, 4),
    int("satisfaction_employee_equilibre_pro_perso", 1, 4),
    int("note_evaluation_actuelle", 1, 4),
    choice("heure_supplementaires", OUI_NON),
    Field {
        name: "augementation_salaire_precedente",
        kind: Kind::Percent,
    },
    int("age", 18, 70),
    choice("genre", Genre::NAMES),
    Field {
        name: "revenu_mensuel",
        kind: Kind::Number {
            min: 1000.0,
            max: 100000.0,
        },
    },
    choice("statut_marital", StatutMarital::NAMES),
    choice("departement", Departement::NAMES),
    choice("poste", Poste::NAMES),
    int("nombre_experiences_precedentes", 0, 20),
    Field {
        name: "nombre_heures_travailless",
        kind: Kind::Int {
            min: 1,
            max: 168,
            default: Some(80),
        },
    },
    int("annee_experience_totale", 0, 50),
    int("annees_dans_l_entreprise", 0, 50),
    int("annees_dans_le_poste_actuel", 0, 50),
];

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
