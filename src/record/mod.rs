//! The employee record (docs/contract.md#record): its thirty fields and their rules (the
//! envelope that may wrap it is in [`crate::wire`]).
//!
//! This module owns the wire format of a record and every rule a record must obey. It turns
//! untrusted JSON into a [`Record`] whose fields are typed and in range, or into the complete
//! list of what is wrong ([`FieldError`]s). It must not know about features, the model, the
//! broker or the database: everything downstream trusts a `Record` and never re-checks it.
//!
//! - [`schema`] lists the fields, their kinds and ranges (the single source of the rules),
//! - [`validate`](mod@validate) checks a JSON object against them, all errors at once,
//! - [`ids`] holds the rule of every identifier that enters (request ids, keys, batch ids),
//! - [`json`](mod@json) reads untrusted JSON, refusing a repeated key.

pub mod ids;
pub mod json;
mod openapi;
pub mod sample;
pub(crate) mod schema;
mod validate;

use serde::Serialize;

pub use openapi::EmployeeRecord;
pub use schema::{Departement, DomaineEtude, FrequenceDeplacement, Genre, Poste, StatutMarital};
pub use validate::validate;

/// One broken rule of a record: the field (or comma-joined pair of fields for a cross-field
/// rule), what is wrong, and the offending value.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    pub value: serde_json::Value,
}

impl FieldError {
    pub(crate) fn new(
        field: impl Into<String>,
        message: impl Into<String>,
        value: serde_json::Value,
    ) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            value,
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} (got {})", self.field, self.message, self.value)
    }
}

/// A validated employee record: every field present (defaults applied), typed and in range,
/// and the cross-field rules hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub nombre_participation_pee: u8,
    pub nb_formations_suivies: u8,
    pub nombre_employee_sous_responsabilite: u32,
    pub distance_domicile_travail: u8,
    pub niveau_education: u8,
    pub domaine_etude: DomaineEtude,
    /// `ayant_enfants`: `Y` is true.
    pub ayant_enfants: bool,
    pub frequence_deplacement: FrequenceDeplacement,
    pub annees_depuis_la_derniere_promotion: u8,
    pub annes_sous_responsable_actuel: u8,
    pub satisfaction_employee_environnement: u8,
    pub note_evaluation_precedente: u8,
    pub niveau_hierarchique_poste: u8,
    pub satisfaction_employee_nature_travail: u8,
    pub satisfaction_employee_equipe: u8,
    pub satisfaction_employee_equilibre_pro_perso: u8,
    pub note_evaluation_actuelle: u8,
    /// `heure_supplementaires`: `Oui` is true.
    pub heure_supplementaires: bool,
    /// Percent, `15` for `"15 %"`.
    pub augementation_salaire_precedente: f64,
    pub age: u8,
    pub genre: Genre,
    pub revenu_mensuel: f64,
    pub statut_marital: StatutMarital,
    pub departement: Departement,
    pub poste: Poste,
    pub nombre_experiences_precedentes: u8,
    pub nombre_heures_travailless: u8,
    pub annee_experience_totale: u8,
    pub annees_dans_l_entreprise: u8,
    pub annees_dans_le_poste_actuel: u8,
}

impl Record {
    /// The record in its canonical wire form: every field, defaults filled in, the raise as a
    /// number. Stored as `predictions.input`, and accepted again by [`validate`].
    pub fn to_json(&self) -> serde_json::Value {
        self.canonical()
    }

    /// The sha256 (hex) of the canonical record's JSON bytes: two requests hash the same
    /// exactly when their records are the same once defaults are filled in. Stored with each
    /// prediction, it is what a reused `request_id` is compared on.
    pub fn sha256(&self) -> String {
        let bytes = serde_json::to_vec(&self.canonical()).expect("a record always serializes");
        crate::digest::sha256_hex(&bytes)
    }

    fn canonical(&self) -> serde_json::Value {
        serde_json::json!({
            "nombre_participation_pee": self.nombre_participation_pee,
            "nb_formations_suivies": self.nb_formations_suivies,
            "nombre_employee_sous_responsabilite": self.nombre_employee_sous_responsabilite,
            "distance_domicile_travail": self.distance_domicile_travail,
            "niveau_education": self.niveau_education,
            "domaine_etude": self.domaine_etude.as_str(),
            "ayant_enfants": if self.ayant_enfants { "Y" } else { "N" },
            "frequence_deplacement": self.frequence_deplacement.as_str(),
            "annees_depuis_la_derniere_promotion": self.annees_depuis_la_derniere_promotion,
            "annes_sous_responsable_actuel": self.annes_sous_responsable_actuel,
            "satisfaction_employee_environnement": self.satisfaction_employee_environnement,
            "note_evaluation_precedente": self.note_evaluation_precedente,
            "niveau_hierarchique_poste": self.niveau_hierarchique_poste,
            "satisfaction_employee_nature_travail": self.satisfaction_employee_nature_travail,
            "satisfaction_employee_equipe": self.satisfaction_employee_equipe,
            "satisfaction_employee_equilibre_pro_perso": self.satisfaction_employee_equilibre_pro_perso,
            "note_evaluation_actuelle": self.note_evaluation_actuelle,
            "heure_supplementaires": if self.heure_supplementaires { "Oui" } else { "Non" },
            "augementation_salaire_precedente": self.augementation_salaire_precedente,
            "age": self.age,
            "genre": self.genre.as_str(),
            "revenu_mensuel": self.revenu_mensuel,
            "statut_marital": self.statut_marital.as_str(),
            "departement": self.departement.as_str(),
            "poste": self.poste.as_str(),
            "nombre_experiences_precedentes": self.nombre_experiences_precedentes,
            "nombre_heures_travailless": self.nombre_heures_travailless,
            "annee_experience_totale": self.annee_experience_totale,
            "annees_dans_l_entreprise": self.annees_dans_l_entreprise,
            "annees_dans_le_poste_actuel": self.annees_dans_le_poste_actuel,
        })
    }
}
