//! The made-up population behind `target/example-extracts/`: random valid records from
//! [`crate::record::sample`], labelled by a noisy rule on overtime, satisfaction, age and level,
//! so that training on it learns something, but not perfectly (about one label in twenty is
//! flipped). No real person is in it.

use super::ExtractRow;
use crate::record::{sample, validate};
use crate::rng::Rng;

/// The seed of the example extract.
pub const EXAMPLE_SEED: u64 = 11;
/// The number of employees in the example extract.
pub const EXAMPLE_EMPLOYEES: usize = 200;

/// `n` labelled employees with ids `1..=n`, the same for the same `seed`.
pub fn labelled_population(seed: u64, n: usize) -> Vec<ExtractRow> {
    let mut noise = Rng::new(seed ^ 0x00C0_FFEE);
    sample::many(seed, n)
        .into_iter()
        .enumerate()
        .map(|(i, record)| {
            let r = validate(&record).expect("sample records obey every rule");
            let risk = 2.0 * f64::from(u8::from(r.heure_supplementaires))
                + (2.5 - f64::from(r.satisfaction_employee_environnement))
                + (35.0 - f64::from(r.age)) / 8.0
                - 0.5 * f64::from(r.niveau_hierarchique_poste);
            let flip = noise.below(20) == 0;
            ExtractRow {
                employee_id: i as i64 + 1,
                record,
                label: Some((risk > 0.5) != flip),
            }
        })
        .collect()
}
