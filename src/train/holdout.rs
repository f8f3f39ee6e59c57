//! Judging the finished model once on the untouched 20%: every metric with its bootstrap
//! interval, the calibration table, and the baseline beside it with the paired AUC difference.
//! Nothing here chooses anything: the threshold, the calibration and the baseline's penalty
//! were all fixed on the 80% before this runs.

use serde::Serialize;

use super::bootstrap::{self, Difference, Intervals};
use super::metrics::{brier, Evaluation};

/// Rows of the calibration table (deciles of the predicted probability).
pub const TABLE_BINS: usize = 10;

/// One row of a calibration table: a slice of rows by predicted probability, what was
/// predicted on average and how many actually left.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CalibrationBin {
    /// Lowest and highest predicted probability in the slice.
    pub from: f64,
    pub to: f64,
    pub predicted_mean: f64,
    pub observed_rate: f64,
    pub count: usize,
    pub leavers: usize,
}

/// Equal-count slices of the rows sorted by probability (`bins` of them, fewer when there are
/// fewer rows): the first slice holds the lowest probabilities.
pub fn calibration_table(
    labels: &[bool],
    probabilities: &[f32],
    bins: usize,
) -> Vec<CalibrationBin> {
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&i, &j| probabilities[i].total_cmp(&probabilities[j]));
    let n = order.len();
    (0..bins)
        .map(|b| &order[b * n / bins..(b + 1) * n / bins])
        .filter(|slice| !slice.is_empty())
        .map(|slice| {
            let p = |i: usize| f64::from(probabilities[i]);
            let leavers = slice.iter().filter(|&&i| labels[i]).count();
            CalibrationBin {
                from: p(slice[0]),
                to: p(slice[slice.len() - 1]),
                predicted_mean: slice.iter().map(|&i| p(i)).sum::<f64>() / slice.len() as f64,
                observed_rate: leavers as f64 / slice.len() as f64,
                count: slice.len(),
                leavers,
            }
        })
        .collect()
}

/// One model on the holdout.
#[derive(Debug, Clone, Serialize)]
pub struct Judged {
    pub holdout: Evaluation,
    pub holdout_ci: Intervals,
}

impl Judged {
    /// Every metric of `scores` at `threshold`, with intervals over `resamples`.
    pub fn new(labels: &[bool], scores: &[f32], threshold: f32, resamples: &[Vec<usize>]) -> Self {
        Judged {
            holdout: Evaluation::compute(labels, scores, threshold),
            holdout_ci: bootstrap::metric_intervals(labels, scores, threshold, resamples),
        }
    }
}

/// Everything measured on the holdout.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// The served model: calibrated probabilities at the bundle's threshold.
    pub model: Judged,
    /// Brier of the raw, uncalibrated probabilities (what calibration changed).
    pub brier_uncalibrated: f64,
    pub table: Vec<CalibrationBin>,
    pub baseline: Judged,
    /// Served model's ROC AUC minus the baseline's.
    pub auc_difference: Difference,
}

/// The holdout's scores of both models, and the thresholds chosen on the 80%.
pub struct Scores<'a> {
    pub labels: &'a [bool],
    pub raw: &'a [f32],
    pub calibrated: &'a [f32],
    pub threshold: f32,
    pub baseline: &'a [f32],
    pub baseline_threshold: f32,
}

/// Assesses both models on the same [`bootstrap::RESAMPLES`] stratified resamples.
pub fn assess(s: &Scores<'_>, seed: u64) -> Assessment {
    let resamples = bootstrap::resamples(s.labels, bootstrap::RESAMPLES, seed);
    Assessment {
        model: Judged::new(s.labels, s.calibrated, s.threshold, &resamples),
        brier_uncalibrated: brier(s.labels, s.raw),
        table: calibration_table(s.labels, s.calibrated, TABLE_BINS),
        baseline: Judged::new(s.labels, s.baseline, s.baseline_threshold, &resamples),
        auc_difference: bootstrap::paired_auc_difference(
            s.labels,
            s.calibrated,
            s.baseline,
            &resamples,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_table_by_hand() {
        let labels: Vec<bool> = (0..10).map(|i| i == 3 || i >= 8).collect();
        let probs: Vec<f32> = (0..10).map(|i| 0.05 + 0.1 * i as f32).collect();
        let table = calibration_table(&labels, &probs, 2);
        assert_eq!(table.len(), 2);
        assert_eq!((table[0].count, table[0].leavers), (5, 1));
        assert_eq!((table[1].count, table[1].leavers), (5, 2));
        assert!((table[0].predicted_mean - 0.25).abs() < 1e-6);
        assert!((table[1].observed_rate - 0.4).abs() < 1e-12);
        assert!((table[1].from - 0.55).abs() < 1e-6 && (table[1].to - 0.95).abs() < 1e-6);
        let deciles = calibration_table(&labels, &probs, 10);
        assert_eq!(deciles.iter().map(|b| b.count).sum::<usize>(), 10);
        assert_eq!(calibration_table(&labels[..3], &probs[..3], 10).len(), 3);
    }
}
