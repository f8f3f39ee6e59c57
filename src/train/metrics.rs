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
fn score_groups(labels: &[bool], scores: &[f32]) -> Option<(Groups, u64, u64)> {
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
            confusion_matrix: [[c.tn, c.fp], [c.fn_, c.tp]],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: bool = true;
    const F: bool = false;

    #[test]
    fn roc_auc_hand_worked() {
        let y = [F, F, T, T];
        assert_eq!(roc_auc(&y, &[0.1, 0.2, 0.3, 0.4]), 1.0);
        assert_eq!(roc_auc(&y, &[0.4, 0.3, 0.2, 0.1]), 0.0);
        assert_eq!(roc_auc(&y, &[0.5; 4]), 0.5);
        assert_eq!(roc_auc(&y, &[0.1, 0.4, 0.35, 0.8]), 0.75);
        // Pairs (pos, neg): (.5,.5)=1/2, (.5,.2)=1, (.8,.5)=1, (.8,.2)=1 -> 3.5 / 4.
        assert_eq!(roc_auc(&[T, F, T, F], &[0.5, 0.5, 0.8, 0.2]), 0.875);
        assert_eq!(roc_auc(&[T, F], &[0.0, -0.0]), 0.5);
        assert!(roc_auc(&[T, T], &[0.1, 0.2]).is_nan() && roc_auc(&[], &[]).is_nan());
        assert!(roc_auc(&[T, F], &[f32::NAN, 0.2]).is_nan());
    }

    #[test]
    fn average_precision_hand_worked() {
        // Descending: .8 T (P=1, R=1/2), .4 F, .35 T (P=2/3, R=1) -> 1/2 + 1/2 * 2/3 = 5/6.
        assert!((pr_auc(&[F, F, T, T], &[0.1, 0.4, 0.35, 0.8]) - 5.0 / 6.0).abs() < 1e-15);
        // Ties grouped: .8 {T} -> 1/2 * 1; .5 {T, F} -> 1/2 * 2/3.
        assert!((pr_auc(&[T, F, T, F], &[0.5, 0.5, 0.8, 0.2]) - 5.0 / 6.0).abs() < 1e-15);
        assert_eq!(pr_auc(&[T, F, F, F], &[0.2; 4]), 0.25);
        assert_eq!(pr_auc(&[F, T], &[0.1, 0.9]), 1.0);
        assert!(pr_auc(&[F, F], &[0.1, 0.9]).is_nan());
    }

    const Y7: [bool; 7] = [T, T, T, F, F, F, F];
    const S7: [f32; 7] = [0.9, 0.6, 0.2, 0.7, 0.3, 0.1, 0.05];

    #[test]
    fn confusion_and_ratios() {
        let c = Confusion::from_scores(&Y7, &S7, 0.5);
        assert_eq!((c.tp, c.fp, c.tn, c.fn_), (2, 1, 3, 1));
        assert_eq!([c.precision(), c.recall(), c.f1()], [2.0 / 3.0; 3]);
        assert_eq!(c.accuracy(), 5.0 / 7.0);
        assert_eq!(Confusion::from_scores(&Y7, &S7, 0.6).tp, 2); // `>=`
        let z = Confusion::default();
        assert_eq!([z.precision(), z.recall(), z.f1(), z.accuracy()], [0.0; 4]);
    }

    #[test]
    fn best_f1_threshold_hand_worked() {
        // F1 = 2tp/(tp+fp+3) at .9 .7 .6 .3 .2 ...: 2/4, 2/5, 4/6, 4/7, 6/8, 6/9, 6/10.
        assert_eq!(best_f1_threshold(&Y7, &S7), Some((0.2, 0.75)));
        // 2/3 at .9 and at .6: the higher threshold wins.
        let best = best_f1_threshold(&[T, F, F, T], &[0.9, 0.8, 0.7, 0.6]);
        assert_eq!(best, Some((0.9, 2.0 / 3.0)));
        assert_eq!(best_f1_threshold(&[], &[]), None);
        assert_eq!(best_f1_threshold(&[F, F], &[0.3, 0.1]), Some((0.3, 0.0)));
    }

    #[test]
    fn mean_sd_hand_worked() {
        let (m, sd) = mean_sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!((m, sd), (5.0, (32.0f64 / 7.0).sqrt()));
        assert!(mean_sd(&[]).0.is_nan() && mean_sd(&[]).1.is_nan());
        assert!(mean_sd(&[3.0]).0 == 3.0 && mean_sd(&[3.0]).1.is_nan());
    }

    #[test]
    fn metrics_serialise_with_contract_names() {
        let m = serde_json::to_value(Evaluation::compute(&Y7, &S7, 0.5)).unwrap();
        assert_eq!(m["confusion_matrix"], serde_json::json!([[3, 1], [1, 2]]));
        assert_eq!(m["accuracy"], 5.0 / 7.0);
        let keys = ["f1", "precision", "recall", "roc_auc", "pr_auc", "accuracy"];
        assert!(keys.iter().all(|k| m[k].is_f64()) && m.as_object().unwrap().len() == 7);
        let undefined = serde_json::to_value(Evaluation::compute(&[F], &[0.1], 0.5)).unwrap();
        assert!(undefined["roc_auc"].is_null());
    }

    fn rows() -> impl Strategy<Value = (Vec<bool>, Vec<f32>)> {
        let row = (any::<bool>(), -20i16..20);
        prop::collection::vec(row, 0..60)
            .prop_map(|r| r.into_iter().map(|(y, s)| (y, f32::from(s))).unzip())
    }

    proptest! {
        #[test]
        fn roc_auc_is_pairwise_and_rank_invariant((y, s) in rows()) {
            let auc = roc_auc(&y, &s);
            let pos: Vec<f32> = s.iter().zip(&y).filter(|r| *r.1).map(|r| *r.0).collect();
            let neg: Vec<f32> = s.iter().zip(&y).filter(|r| !*r.1).map(|r| *r.0).collect();
            prop_assume!(!pos.is_empty() && !neg.is_empty());
            let half_wins = |p: f32| neg.iter().map(|&n| u32::from(p > n) * 2 + u32::from(p == n)).sum::<u32>();
            let twice_u: u32 = pos.iter().map(|&p| half_wins(p)).sum();
            prop_assert!((0.0..=1.0).contains(&auc));
            prop_assert_eq!(auc, f64::from(twice_u) / (2 * pos.len() * neg.len()) as f64);
            // x -> x^3 / 8 - 5 is strictly increasing and exact in f32 on these integers.
            let t: Vec<f32> = s.iter().map(|x| x * x * x / 8.0 - 5.0).collect();
            prop_assert_eq!(roc_auc(&y, &t), auc);
        }

        #[test]
        fn best_f1_matches_brute_force((y, s) in rows()) {
            let f1_at = |t: f32| Confusion::from_scores(&y, &s, t).f1();
            let best = best_f1_threshold(&y, &s);
            prop_assert_eq!(best.map(|b| b.1), s.iter().map(|&t| f1_at(t)).reduce(f64::max));
            if let Some((t, f1)) = best {
                prop_assert_eq!(f1_at(t), f1);
                prop_assert!(s.iter().all(|&u| u <= t || f1_at(u) < f1));
            }
        }
    }
}
