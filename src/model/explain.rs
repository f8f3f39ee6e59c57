//! SHAP contributions, mapped from feature columns back to the record fields they come from.

use serde::{Deserialize, Serialize};

use crate::features::FEATURES;
use crate::record::schema::FIELDS;

/// How much one record field pushed the score, in log-odds (positive: towards leaving).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contribution {
    pub field: String,
    pub contribution: f64,
}

/// Sums a row of per-feature contributions (bias last, ignored) into per-field ones, one-hot
/// columns into their field and a derived ratio evenly into the fields it combines, and keeps
/// the `top_k` largest by magnitude.
pub fn by_field(row: &[f32], top_k: usize) -> Vec<Contribution> {
    let mut per_field = [0.0f64; FIELDS.len()];
    for (feature, value) in FEATURES.iter().zip(row) {
        let share = f64::from(*value) / feature.sources.len() as f64;
        for &source in &feature.sources {
            per_field[source] += share;
        }
    }
    let mut out: Vec<Contribution> = per_field
        .iter()
        .enumerate()
        .filter(|(_, v)| **v != 0.0)
        .map(|(i, v)| Contribution {
            field: FIELDS[i].name.to_owned(),
            contribution: *v,
        })
        .collect();
    out.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
    out.truncate(top_k);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::COUNT;

    fn column(name: &str) -> usize {
        FEATURES.iter().position(|f| f.name == name).expect(name)
    }

    #[test]
    fn one_hot_columns_sum_into_their_field_and_ratios_split() {
        let mut row = vec![0.0f32; COUNT + 1];
        row[column("poste=Manager")] = 0.25;
        row[column("poste=Tech Lead")] = 0.5;
        row[column("age")] = -0.1;
        row[column("age_debut_carriere")] = 0.4; // age and annee_experience_totale, 0.2 each
        row[column("heure_supplementaires")] = 0.6;
        row[COUNT] = 9.0; // bias: not a field
        let got = by_field(&row, 10);
        let as_pairs: Vec<(&str, f64)> = got
            .iter()
            .map(|c| (c.field.as_str(), (c.contribution * 1e6).round() / 1e6))
            .collect();
        assert_eq!(
            as_pairs,
            [
                ("poste", 0.75),
                ("heure_supplementaires", 0.6),
                ("annee_experience_totale", 0.2),
                ("age", 0.1)
            ]
        );
    }

    #[test]
    fn top_k_keeps_the_largest_magnitudes() {
        let mut row = vec![0.0f32; COUNT + 1];
        row[column("age")] = -0.9;
        row[column("genre")] = 0.1;
        row[column("revenu_mensuel")] = 0.5;
        let got = by_field(&row, 2);
        assert_eq!(
            got.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(),
            ["age", "revenu_mensuel"]
        );
        assert!(got[0].contribution < 0.0);
    }
}
