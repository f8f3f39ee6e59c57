//! Percentile bootstrap intervals for the holdout metrics, and the paired bootstrap of the
//! ROC AUC difference between two models scored on the same holdout rows.
//!
//! The resampling is stratified: each resample draws, with replacement, as many leavers from
//! the leavers and as many stayers from the stayers as the holdout has. With 47 leavers, a
//! plain resample would sometimes hold 35 and sometimes 60, and the interval would then mostly
//! measure that. Every interval of a run uses the same seeded resamples, so the XGBoost and
//! the baseline intervals (and their difference) are paired row for row.

use std::collections::BTreeMap;

use serde::Serialize;

use super::metrics::{roc_auc, Evaluation};
use crate::rng::Rng;

/// Resamples of the holdout.
pub const RESAMPLES: usize = 2000;
/// Coverage of every interval.
pub const LEVEL: f64 = 0.95;

/// A metric's percentile interval, `[low, high]`.
pub type Interval = [f64; 2];

/// Intervals by metric name (`f1`, `precision`, `recall`, `roc_auc`, `pr_auc`, `accuracy`,
/// `brier`).
pub type Intervals = BTreeMap<&'static str, Interval>;

/// `count` stratified resamples of the row indices of `labels`.
pub fn resamples(labels: &[bool], count: usize, seed: u64) -> Vec<Vec<usize>> {
    let (pos, neg): (Vec<usize>, Vec<usize>) = (0..labels.len()).partition(|&i| labels[i]);
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| {
            let mut draw = |class: &[usize]| {
                (0..class.len())
                    .map(|_| class[rng.below(class.len() as u64) as usize])
                    .collect::<Vec<_>>()
            };
            let mut rows = draw(&pos);
            rows.extend(draw(&neg));
            rows
        })
        .collect()
}

/// The `q` quantile of sorted values, interpolating linearly between order statistics (as
/// numpy's default). `NaN` for no values.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The central [`LEVEL`] percentile interval of some bootstrap values (`NaN`s, undefined
/// metrics, are left out).
pub fn interval(mut values: Vec<f64>) -> Interval {
    values.retain(|v| !v.is_nan());
    values.sort_unstable_by(f64::total_cmp);
    let tail = (1.0 - LEVEL) / 2.0;
    [percentile(&values, tail), percentile(&values, 1.0 - tail)]
}

/// Every holdout metric's interval, for scores thresholded at `threshold`.
pub fn metric_intervals(
    labels: &[bool],
    scores: &[f32],
    threshold: f32,
    resamples: &[Vec<usize>],
) -> Intervals {
    let mut values: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for rows in resamples {
        let (y, s) = take(labels, scores, rows);
        for (name, value) in Evaluation::compute(&y, &s, threshold).named() {
            values.entry(name).or_default().push(value);
        }
    }
    values
        .into_iter()
        .map(|(name, v)| (name, interval(v)))
        .collect()
}

/// The paired bootstrap of `roc_auc(a) - roc_auc(b)` on the same rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Difference {
    /// The difference on the holdout itself.
    pub estimate: f64,
    /// Its [`LEVEL`] percentile interval over the resamples.
    pub ci: Interval,
    /// The share of resamples where `a` has the higher ROC AUC.
    pub share_above_zero: f64,
}

/// The ROC AUC of scores `a` minus that of scores `b`, both on `labels`, with its interval.
pub fn paired_auc_difference(
    labels: &[bool],
    a: &[f32],
    b: &[f32],
    resamples: &[Vec<usize>],
) -> Difference {
    let differences: Vec<f64> = resamples
        .iter()
        .map(|rows| {
            let (y, sa) = take(labels, a, rows);
            let (_, sb) = take(labels, b, rows);
            roc_auc(&y, &sa) - roc_auc(&y, &sb)
        })
        .collect();
    let above = differences.iter().filter(|&&d| d > 0.0).count();
    Difference {
        estimate: roc_auc(labels, a) - roc_auc(labels, b),
        share_above_zero: above as f64 / differences.len().max(1) as f64,
        ci: interval(differences),
    }
}

fn take(labels: &[bool], scores: &[f32], rows: &[usize]) -> (Vec<bool>, Vec<f32>) {
    rows.iter().map(|&i| (labels[i], scores[i])).unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_interpolates_like_numpy() {
        let xs = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&xs, 0.0), 1.0);
        assert_eq!(percentile(&xs, 0.25), 2.0);
        assert!((percentile(&xs, 0.1) - 1.4).abs() < 1e-12);
        assert_eq!(percentile(&xs, 1.0), 5.0);
        assert!(percentile(&[], 0.5).is_nan());
        // np.percentile(range(1, 101), [2.5, 97.5]) == [3.475, 97.525]
        let [lo, hi] = interval((1..=100).map(f64::from).rev().collect());
        assert!((lo - 3.475).abs() < 1e-12 && (hi - 97.525).abs() < 1e-12);
    }

    #[test]
    fn resamples_keep_class_counts_and_are_seeded() {
        let labels: Vec<bool> = (0..50).map(|i| i % 5 == 0).collect();
        let r = resamples(&labels, 30, 1);
        assert_eq!(r.len(), 30);
        for rows in &r {
            assert_eq!(rows.len(), 50);
            assert_eq!(rows.iter().filter(|&&i| labels[i]).count(), 10);
        }
        assert_eq!(r, resamples(&labels, 30, 1));
        assert_ne!(r, resamples(&labels, 30, 2));
    }

    #[test]
    fn a_perfect_ranker_has_a_degenerate_interval() {
        let labels: Vec<bool> = (0..40).map(|i| i < 10).collect();
        let scores: Vec<f32> = (0..40).map(|i| if i < 10 { 0.9 } else { 0.1 }).collect();
        let ci = metric_intervals(&labels, &scores, 0.5, &resamples(&labels, 200, 7));
        for name in ["f1", "precision", "recall", "roc_auc", "pr_auc", "accuracy"] {
            assert_eq!(ci[name], [1.0, 1.0], "{name}");
        }
        assert_eq!(ci.len(), 7);
        // Brier: every row is off by 0.1 exactly (in f32), whichever rows are drawn.
        let [lo, hi] = ci["brier"];
        assert!((lo - 0.01).abs() < 1e-7 && (hi - 0.01).abs() < 1e-7);
    }

    #[test]
    fn the_interval_of_a_noisy_scorer_covers_its_estimate() {
        let mut rng = Rng::new(5);
        let labels: Vec<bool> = (0..300).map(|i| i % 6 == 0).collect();
        let scores: Vec<f32> = labels
            .iter()
            .map(|&y| (rng.next_f64() + if y { 0.4 } else { 0.0 }) as f32)
            .collect();
        let ci = metric_intervals(&labels, &scores, 0.8, &resamples(&labels, 500, 3));
        let point = Evaluation::compute(&labels, &scores, 0.8);
        for (name, value) in point.named() {
            let [lo, hi] = ci[name];
            assert!(
                lo < value && value < hi,
                "{name}: {value} outside [{lo}, {hi}]"
            );
        }
        // The AUC's standard error here is about 0.035 (Hanley & McNeil): an interval of
        // width about 4 × 0.035.
        let width = ci["roc_auc"][1] - ci["roc_auc"][0];
        assert!((0.09..0.20).contains(&width), "width {width}");
    }

    #[test]
    fn the_paired_difference_of_a_model_with_itself_is_zero() {
        let labels: Vec<bool> = (0..60).map(|i| i % 3 == 0).collect();
        let a: Vec<f32> = (0..60).map(|i| ((i * 37) % 60) as f32).collect();
        let r = resamples(&labels, 100, 9);
        let same = paired_auc_difference(&labels, &a, &a, &r);
        assert_eq!(
            (same.estimate, same.ci, same.share_above_zero),
            (0.0, [0.0, 0.0], 0.0)
        );
        // A model that knows the labels beats a constant one in every resample.
        let oracle: Vec<f32> = labels.iter().map(|&y| f32::from(u8::from(y))).collect();
        let constant = vec![0.5f32; 60];
        let d = paired_auc_difference(&labels, &oracle, &constant, &r);
        assert_eq!(
            (d.estimate, d.ci, d.share_above_zero),
            (0.5, [0.5, 0.5], 1.0)
        );
    }
}
