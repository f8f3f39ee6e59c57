//! The groups of employees the model is checked against: `genre`, `statut_marital` and an age
//! band (`<30`, `30-39`, `40-49`, `50+`). Training reports its holdout figures per group
//! ([`crate::train`]), and every stored score keeps its row's groups as plain bands so the
//! `model_performance_by_group` view can judge the model per group even where inputs are not
//! stored. One function decides a record's groups, so training and serving cannot disagree.
//!
//! The shape of the manifest's `fairness` ([`Fairness`]) lives here too: the model card, the
//! figures and the report all read it.

mod figures;

use std::collections::BTreeMap;

use crate::record::Record;
pub use figures::{Attribute, Fairness, Group};

/// The grouping attributes, in report order.
pub const ATTRIBUTES: [&str; 3] = ["genre", "statut_marital", "age_band"];

/// The age bands, youngest first.
pub const AGE_BANDS: [&str; 4] = ["<30", "30-39", "40-49", "50+"];

/// The band of an age in years.
pub fn age_band(age: u8) -> &'static str {
    match age {
        0..=29 => AGE_BANDS[0],
        30..=39 => AGE_BANDS[1],
        40..=49 => AGE_BANDS[2],
        _ => AGE_BANDS[3],
    }
}

/// A record's group for each of [`ATTRIBUTES`], in that order.
pub fn groups(record: &Record) -> [&'static str; 3] {
    [
        record.genre.as_str(),
        record.statut_marital.as_str(),
        age_band(record.age),
    ]
}

/// Rows of one attribute by group value (row positions, in order).
pub fn rows_by_group(
    groups: &[[&'static str; 3]],
    attribute: usize,
) -> BTreeMap<&'static str, Vec<usize>> {
    let mut by: BTreeMap<&'static str, Vec<usize>> = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        by.entry(g[attribute]).or_default().push(i);
    }
    by
}

/// Field names a feature exclusion may name: the grouping fields that are model inputs.
pub fn is_attribute_field(name: &str) -> bool {
    matches!(name, "genre" | "statut_marital" | "age")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_bands_have_their_edges_where_the_names_say() {
        let bands: Vec<_> = [18, 29, 30, 39, 40, 49, 50, 70].map(age_band).to_vec();
        assert_eq!(
            bands,
            ["<30", "<30", "30-39", "30-39", "40-49", "40-49", "50+", "50+"]
        );
    }

    #[test]
    fn a_record_gets_one_group_per_attribute() {
        let map = &crate::record::sample::many(1, 3)[0];
        let record = crate::record::validate(map).expect("valid");
        let g = groups(&record);
        assert_eq!(g[0], record.genre.as_str());
        assert_eq!(g[1], record.statut_marital.as_str());
        assert_eq!(g[2], age_band(record.age));
        let by = rows_by_group(&[g, g, ["F", "Marié(e)", "50+"]], 2);
        assert_eq!(by[g[2]].len(), if g[2] == "50+" { 3 } else { 2 });
    }
}
