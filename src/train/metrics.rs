//! Binary-classification metrics for the leaver model (positive class = the employee leaves).
//!
//! `labels[i]` is the truth and `scores[i]` the score of row `i`; a row is predicted positive
//! when `score >= threshold` (`-0.0` and `0.0` are the same score). Ranking metrics return
//! `NaN` when undefined (a class missing, or a `NaN` score), which serialises to JSON `null`;
//! ratios on [`Confusion`] are 0 when their denominator is 0. Tied scores are grouped and counts
//! stay integers until the last division, so results are exact and independent of row order.
//! Every function panics if `labels` and `scores` differ in length (a caller bug).

use serde::Serialize;

/// `(score, positives, negatives)` for each distinct score.
type Groups = Vec<(f32, u64, u64)>;

/// Score groups in descending score order, then the total positive and negative counts;
/// `None` if any score is `NaN`.
pub(super) fn score_groups(labels: &[bool], scores: &[f32]) -> Option<(Groups, u64, u64)> {
    assert_eq!(labels.len(), scores.len(), "labels/scores length");
    if scores.iter().any(|s| s.is_nan()) {
        return None;
    }
    // `+ 0.0` maps -0.0 to 0.0, so `total_cmp` groups exactly as `==` does.
    let mut rows: Vec<_> = scores
        .iter()
        .zip(labels)
        .map(|(&s, &y)| (s + 0.0, y))
        .collect();
    rows.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let groups = rows.chunk_by(|a, b| a.0 == b.0).map(|g| {
        let pos = g.iter().filter(|r| r.1).count() as u64;
        (g[0].0, pos, g.len() as u64 - pos)
    });
    let pos = labels.iter().filter(|&&y| y).count() as u64;
    Some((groups.collect(), pos, labels.len() as u64 - pos))
}

/// Area under the ROC curve: the probability that a random positive outscores a random
/// negative, ties counting one half (the average-rank / trapezoid rule, as scikit-learn).
///
/// Returns `NaN` when either class is absent or any score is `NaN`.
pub fn roc_auc(labels: &[bool], scores: &[f32]) -> f64 {
    let Some((groups, pos, neg)) = score_groups(labels, scores).filter(|g| g.1 > 0 && g.2 > 0)
    else {
        return f64::NAN;
    };
    // Twice the Mann-Whitney U: each positive beats the negatives below it, ties count 1/2.
    let (mut neg_below, mut twice_u) = (neg, 0u128);
    for &(_, p, n) in &groups {
        neg_below -= n;
        twice_u += u128::from(p) * u128::from(2 * neg_below + n);
    }
    twice_u as f64 / (2.0 * pos as f64 * neg as f64)
}

/// Average precision, as scikit-learn's `average_precision_score`: the sum over distinct score
/// thresholds (descending) of the recall gained times the precision at that threshold.
///
/// Returns `NaN` when there is no positive or any score is `NaN`.
pub fn pr_auc(labels: &[bool], scores: &[f32]) -> f64 {
    let Some((groups, pos, _)) = score_groups(labels, scores).filter(|g| g.1 > 0) else {
        return f64::NAN;
    };
    let (mut tp, mut fp, mut ap) = (0u64, 0u64, 0.0f64);
    for &(_, p, n) in &groups {
        tp += p;
        fp += n;
        ap += (p as f64 / pos as f64) * (tp as f64 / (tp + fp) as f64);
    }
    ap
}

/// Counts of a thresholded prediction against the truth: true/false positives/negatives
/// (`fn_` = positives predicted negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Confusion {
    pub tp: u64,
    pub fp: u64,
    pub tn: u64,
    pub fn_: u64,
}

/// `num / den`, or 0 when `den` is 0 (every caller has `num <= den`, so `num` is 0 too).
fn ratio(num: u64, den: u64) -> f64 {
    num as f64 / den.max(1) as f64
}

impl Confusion {
    /// Counts with `prediction = score >= threshold` (a `NaN` score is predicted negative).
    pub fn from_scores(labels: &[bool], scores: &[f32], threshold: f32) -> Self {
        assert_eq!(labels.len(), scores.len(), "labels/scores length");
        let mut c = Self::default();
        for (&y, &s) in labels.iter().zip(scores) {
            match (y, s >= threshold) {
                (true, true) => c.tp += 1,
                (false, true) => c.fp += 1,
                (false, false) => c.tn += 1,
                (true, false) => c.fn_ += 1,
            }
        }
        c
    }

    /// `tp / (tp + fp)`; 0 when nothing is predicted positive.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// `tp / (tp + fn)`; 0 when there is no positive.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// F1 of the positive class, `2tp / (2tp + fp + fn)`; 0 when that denominator is 0.
    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }

    /// `(tp + tn) / total`; 0 when there are no rows.
    pub fn accuracy(&self) -> f64 {
        ratio(self.tp + self.tn, self.tp + self.fp + self.tn + self.fn_)
    }
}

/// The threshold maximising F1 of the positive class, and that F1.
///
/// Candidates are the distinct scores themselves, so `score >= threshold` reproduces the
/// reported F1 exactly. F1 values are compared exactly (as fractions); on a tie the highest
/// threshold wins. Returns `None` when there are no rows or any score is `NaN`.
pub fn best_f1_threshold(labels: &[bool], scores: &[f32]) -> Option<(f32, f64)> {
    let (groups, pos, _) = score_groups(labels, scores)?;
    // F1 at a threshold = 2tp / (tp + fp + P); keep (threshold, numerator, denominator).
    let (mut tp, mut fp, mut best) = (0u64, 0u64, None::<(f32, u64, u64)>);
    for &(s, p, n) in &groups {
        tp += p;
        fp += n;
        let (num, den) = (2 * tp, tp + fp + pos);
        let wide = |x: u64| u128::from(x);
        if best.is_none_or(|(_, bn, bd)| wide(num) * wide(bd) > wide(bn) * wide(den)) {
            best = Some((s, num, den));
        }
    }
    best.map(|(s, num, den)| (s, ratio(num, den)))
}

/// The Brier score: the mean squared difference between the probability and the outcome
/// (0 is perfect; always predicting the base rate `r` scores `r (1 - r)`). `NaN` with no rows.
pub fn brier(labels: &[bool], probabilities: &[f32]) -> f64 {
    assert_eq!(labels.len(), probabilities.len(), "labels/scores length");
    let sum: f64 = labels
        .iter()
        .zip(probabilities)
        .map(|(&y, &p)| (f64::from(p) - f64::from(u8::from(y))).powi(2))
        .sum();
    sum / labels.len() as f64
}

/// Sample mean and sample standard deviation (divisor `n - 1`) of `xs`.
///
/// Returns `(NaN, NaN)` for an empty slice and `(x, NaN)` for a single value.
pub fn mean_sd(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let ss: f64 = xs.iter().map(|x| (x - mean) * (x - mean)).sum();
    (mean, (ss / (n - 1.0)).sqrt())
}

/// The evaluation report of one model on one data set at one threshold; `f1`, `precision`,
/// `recall` and `accuracy` are those of [`Confusion`] (positive class = leaves).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Evaluation {
    pub f1: f64,
    pub precision: f64,
    pub recall: f64,
    /// Area under the ROC curve (`null` in JSON when undefined).
    pub roc_auc: f64,
    /// Average precision (`null` in JSON when undefined).
    pub pr_auc: f64,
    pub accuracy: f64,
    /// [`brier`] of the scores taken as probabilities.
    pub brier: f64,
    /// `[[tn, fp], [fn, tp]]`: rows are the truth, columns the prediction (negative first).
    pub confusion_matrix: [[u64; 2]; 2],
}

impl Evaluation {
    /// Computes every metric; the thresholded ones use `score >= threshold`.
    pub fn compute(labels: &[bool], scores: &[f32], threshold: f32) -> Self {
        let c = Confusion::from_scores(labels, scores, threshold);
        Self {
            f1: c.f1(),
            precision: c.precision(),
            recall: c.recall(),
            roc_auc: roc_auc(labels, scores),
            pr_auc: pr_auc(labels, scores),
            accuracy: c.accuracy(),
            brier: brier(labels, scores),
            confusion_matrix: [[c.tn, c.fp], [c.fn_, c.tp]],
        }
    }

    /// Every metric but the confusion matrix, by its manifest name.
    pub fn named(&self) -> [(&'static str, f64); 7] {
        [
            ("f1", self.f1),
            ("precision", self.precision),
            ("recall", self.recall),
            ("roc_auc", self.roc_auc),
            ("pr_auc", self.pr_auc),
            ("accuracy", self.accuracy),
            ("brier", self.brier),
        ]
    }
}

#[cfg(test)]
mod tests;
