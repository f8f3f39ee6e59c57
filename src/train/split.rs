//! Stratified train/test splits and stratified k-fold cross-validation indices.
//!
//! Both functions work on row indices only, are deterministic for a given seed (see
//! [`crate::train::rng`]) and keep the positive-class ratio of every part as close to the
//! whole as whole rows allow. Bad parameters or too-small classes are reported as
//! [`SplitError`], never as a panic. Within one seed, positives are shuffled before negatives
//! from the same generator; that order is part of the reproducibility contract.

use crate::rng::Rng;

/// Why a split or a set of folds cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SplitError {
    /// The test fraction is not strictly between 0 and 1.
    #[error("test fraction must be strictly between 0 and 1, got {0}")]
    InvalidTestFraction(f64),
    /// Fewer than two folds were requested.
    #[error("k-fold cross-validation needs at least 2 folds, got {0}")]
    InvalidFoldCount(usize),
    /// A class has too few rows to appear in every part.
    #[error("{class} class has {count} rows but at least {needed} are needed")]
    ClassTooSmall {
        /// `"positive"` or `"negative"`.
        class: &'static str,
        /// Rows of that class in the input.
        count: usize,
        /// Rows of that class required.
        needed: usize,
    },
}

/// One cross-validation fold: `(train, validation)` row indices, both sorted ascending.
pub type Fold = (Vec<usize>, Vec<usize>);

/// Shuffled indices of the positive and the negative rows (positives shuffled first).
fn shuffled_classes(labels: &[bool], rng: &mut Rng) -> (Vec<usize>, Vec<usize>) {
    let (mut pos, mut neg): (Vec<usize>, Vec<usize>) = (0..labels.len()).partition(|&i| labels[i]);
    rng.shuffle(&mut pos);
    rng.shuffle(&mut neg);
    (pos, neg)
}

fn check_class(class: &'static str, count: usize, needed: usize) -> Result<(), SplitError> {
    if count < needed {
        return Err(SplitError::ClassTooSmall {
            class,
            count,
            needed,
        });
    }
    Ok(())
}

/// Splits row indices into `(train, test)`, both sorted ascending.
///
/// Each class is shuffled and `round(count * test_fraction)` of its rows (clamped so that both
/// sides keep at least one row of each class) go to the test side, so each side's class counts
/// are within one row of the exact proportion.
///
/// # Errors
/// [`SplitError::InvalidTestFraction`] unless `0 < test_fraction < 1`;
/// [`SplitError::ClassTooSmall`] if either class has fewer than 2 rows.
pub fn stratified_split(
    labels: &[bool],
    test_fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>), SplitError> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(SplitError::InvalidTestFraction(test_fraction));
    }
    let n_pos = labels.iter().filter(|&&y| y).count();
    check_class("positive", n_pos, 2)?;
    check_class("negative", labels.len() - n_pos, 2)?;

    let mut rng = Rng::new(seed);
    let (pos, neg) = shuffled_classes(labels, &mut rng);
    let mut train = Vec::with_capacity(labels.len());
    let mut test = Vec::with_capacity(labels.len());
    for class in [&pos, &neg] {
        let n_test =
            ((class.len() as f64 * test_fraction).round() as usize).clamp(1, class.len() - 1);
        test.extend_from_slice(&class[..n_test]);
        train.extend_from_slice(&class[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

/// Builds `k` stratified folds, each `(train, validation)` with both index lists sorted.
///
/// Positives are shuffled and dealt round-robin to folds, then the shuffled negatives continue
/// the deal where the positives stopped. Hence every row is in exactly one validation fold,
/// each fold's positive (and negative) count differs from any other's by at most one, and
/// fold sizes differ by at most one.
///
/// # Errors
/// [`SplitError::InvalidFoldCount`] if `k < 2`; [`SplitError::ClassTooSmall`] if either class
/// has fewer than `k` rows (some validation fold would lack that class).
pub fn stratified_kfold(labels: &[bool], k: usize, seed: u64) -> Result<Vec<Fold>, SplitError> {
    if k < 2 {
        return Err(SplitError::InvalidFoldCount(k));
    }
    let n_pos = labels.iter().filter(|&&y| y).count();
    check_class("positive", n_pos, k)?;
    check_class("negative", labels.len() - n_pos, k)?;

    let mut rng = Rng::new(seed);
    let (pos, neg) = shuffled_classes(labels, &mut rng);
    let mut fold_of = vec![0usize; labels.len()];
    for (deal, &row) in pos.iter().chain(neg.iter()).enumerate() {
        fold_of[row] = deal % k;
    }
    let folds = (0..k)
        .map(|f| {
            let mut train = Vec::with_capacity(labels.len() - labels.len() / k);
            let mut valid = Vec::with_capacity(labels.len().div_ceil(k));
            for (row, &fold) in fold_of.iter().enumerate() {
                if fold == f {
                    valid.push(row)
                } else {
                    train.push(row)
                }
            }
            (train, valid)
        })
        .collect();
    Ok(folds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 1,470 rows, 237 positives spread through the file (the real data set's shape).
    fn labels_like_real() -> Vec<bool> {
        (0..1470).map(|i| i * 237 % 1470 < 237).collect()
    }

    fn positives(labels: &[bool], idx: &[usize]) -> usize {
        idx.iter().filter(|&&i| labels[i]).count()
    }

    #[test]
    fn split_keeps_ratio_and_partitions() {
        let labels = labels_like_real();
        let n_pos = positives(&labels, &(0..labels.len()).collect::<Vec<_>>());
        assert_eq!(n_pos, 237);
        let (train, test) = stratified_split(&labels, 0.2, 42).unwrap();
        assert_eq!(test.len(), 294);
        assert_eq!(train.len(), 1176);
        assert!((positives(&labels, &test) as f64 - 0.2 * 237.0).abs() <= 1.0);
        assert!((positives(&labels, &train) as f64 - 0.8 * 237.0).abs() <= 1.0);
        assert!(train.windows(2).all(|w| w[0] < w[1]));
        assert!(test.windows(2).all(|w| w[0] < w[1]));
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1470).collect::<Vec<_>>());
    }

    #[test]
    fn split_is_reproducible_per_seed() {
        let labels = labels_like_real();
        let a = stratified_split(&labels, 0.2, 42).unwrap();
        assert_eq!(a, stratified_split(&labels, 0.2, 42).unwrap());
        assert_ne!(a, stratified_split(&labels, 0.2, 43).unwrap());
    }

    #[test]
    fn split_keeps_each_class_on_both_sides() {
        let labels = [
            true, true, false, false, false, false, false, false, false, false,
        ];
        let (train, test) = stratified_split(&labels, 0.1, 1).unwrap();
        assert_eq!(positives(&labels, &test), 1);
        assert_eq!(positives(&labels, &train), 1);
        assert_eq!(test.len(), 2);
    }

    #[test]
    fn split_rejects_bad_input() {
        let labels = [true, true, false, false];
        for f in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
            assert!(matches!(
                stratified_split(&labels, f, 0),
                Err(SplitError::InvalidTestFraction(_))
            ));
        }
        let err = stratified_split(&[true, false, false], 0.5, 0).unwrap_err();
        assert_eq!(
            err,
            SplitError::ClassTooSmall {
                class: "positive",
                count: 1,
                needed: 2
            }
        );
        assert!(stratified_split(&[], 0.5, 0).is_err());
    }

    #[test]
    fn kfold_partitions_and_spreads_positives() {
        let labels = labels_like_real();
        let folds = stratified_kfold(&labels, 5, 42).unwrap();
        assert_eq!(folds.len(), 5);
        let mut seen = vec![0u8; labels.len()];
        for (train, valid) in &folds {
            assert_eq!(train.len() + valid.len(), labels.len());
            assert!(valid.len() == 294);
            let p = positives(&labels, valid);
            assert!(p == 47 || p == 48, "{p}");
            assert!(train.windows(2).all(|w| w[0] < w[1]));
            assert!(valid.windows(2).all(|w| w[0] < w[1]));
            assert!(valid.iter().all(|v| train.binary_search(v).is_err()));
            valid.iter().for_each(|&v| seen[v] += 1);
        }
        assert!(seen.iter().all(|&c| c == 1));
        assert_eq!(folds, stratified_kfold(&labels, 5, 42).unwrap());
        assert_ne!(folds, stratified_kfold(&labels, 5, 7).unwrap());
    }

    #[test]
    fn kfold_rejects_bad_input() {
        let labels = [true, true, false, false, false];
        assert_eq!(
            stratified_kfold(&labels, 1, 0),
            Err(SplitError::InvalidFoldCount(1))
        );
        assert_eq!(
            stratified_kfold(&labels, 3, 0),
            Err(SplitError::ClassTooSmall {
                class: "positive",
                count: 2,
                needed: 3
            })
        );
        assert!(stratified_kfold(&[], 2, 0).is_err());
        assert!(stratified_kfold(&labels, 2, 0).is_ok());
    }

    proptest! {
        #[test]
        fn kfold_validation_sets_partition_rows(
            labels in prop::collection::vec(any::<bool>(), 0..200),
            k in 2usize..8,
            seed in any::<u64>(),
        ) {
            let n_pos = labels.iter().filter(|&&y| y).count();
            let folds = stratified_kfold(&labels, k, seed);
            prop_assume!(n_pos >= k && labels.len() - n_pos >= k);
            let folds = folds.unwrap();
            let mut all: Vec<usize> = folds.iter().flat_map(|(_, v)| v.iter().copied()).collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..labels.len()).collect::<Vec<_>>());
            let counts: Vec<usize> = folds.iter().map(|(_, v)| positives(&labels, v)).collect();
            prop_assert!(counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1);
        }

        #[test]
        fn split_ratio_within_one_row(
            labels in prop::collection::vec(any::<bool>(), 4..300),
            frac in 0.05f64..0.95,
            seed in any::<u64>(),
        ) {
            let n_pos = labels.iter().filter(|&&y| y).count();
            prop_assume!(n_pos >= 2 && labels.len() - n_pos >= 2);
            let (train, test) = stratified_split(&labels, frac, seed).unwrap();
            prop_assert_eq!(train.len() + test.len(), labels.len());
            prop_assert!((positives(&labels, &test) as f64 - frac * n_pos as f64).abs() < 1.0);
        }
    }
}
