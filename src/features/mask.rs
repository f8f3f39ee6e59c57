//! Masking the columns of excluded record fields (`turnover train --exclude-features`): which
//! columns a field feeds, and setting them to a constant, the same way in training and serving.

use super::{schema, COUNT, FEATURES};

/// The columns made from any of `fields` (record field names), in order: what a bundle trained
/// with `--exclude-features` never sees. A field that feeds no feature is an error naming it.
///
/// # Errors
/// The first name that is not a record field some feature is made from.
pub fn columns_of(fields: &[String]) -> Result<Vec<usize>, String> {
    let mut positions = Vec::with_capacity(fields.len());
    for name in fields {
        match schema::position(name) {
            Some(p) if FEATURES.iter().any(|f| f.sources.contains(&p)) => positions.push(p),
            _ => return Err(name.clone()),
        }
    }
    Ok(FEATURES
        .iter()
        .enumerate()
        .filter(|(_, f)| f.sources.iter().any(|s| positions.contains(s)))
        .map(|(j, _)| j)
        .collect())
}

/// Sets `columns` of every row of `data` to 0: a constant column, which no tree can split on
/// and a standardised regression zeroes, so the model learns nothing from it. Training and
/// scoring both mask the same way.
pub fn mask(data: &mut [f32], columns: &[usize]) {
    for row in data.chunks_exact_mut(COUNT) {
        for &j in columns {
            row[j] = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excluding_a_field_masks_every_column_made_from_it() {
        let cols = columns_of(&["genre".into(), "statut_marital".into()]).expect("known");
        let names: Vec<&str> = cols.iter().map(|&j| FEATURES[j].name.as_str()).collect();
        assert_eq!(
            names,
            [
                "genre",
                "statut_marital=Célibataire",
                "statut_marital=Marié(e)",
                "statut_marital=Divorcé(e)"
            ]
        );
        let age = columns_of(&["age".into()]).expect("known");
        assert_eq!(age.len(), 2, "age and age_debut_carriere");
        assert_eq!(
            columns_of(&["ayant_enfants".into()]),
            Err("ayant_enfants".into())
        );
        assert_eq!(columns_of(&["salaire".into()]), Err("salaire".into()));
        let mut data = vec![1.0; 2 * COUNT];
        mask(&mut data, &cols);
        assert_eq!(data.iter().filter(|v| **v == 0.0).count(), 2 * cols.len());
    }
}
