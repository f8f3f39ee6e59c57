//! The holdout's ROC and precision-recall curves, one point per distinct score (descending),
//! from the same score groups as the AUCs of [`super::super::metrics`], so a curve and its
//! area cannot disagree.

use super::super::metrics::score_groups;

/// `(false-positive rate, true-positive rate)` from `(0, 0)` to `(1, 1)`; empty when a class is
/// missing or a score is `NaN`.
pub fn roc(labels: &[bool], scores: &[f32]) -> Vec<(f64, f64)> {
    let Some((groups, pos, neg)) = score_groups(labels, scores) else {
        return Vec::new();
    };
    if pos == 0 || neg == 0 {
        return Vec::new();
    }
    let (mut tp, mut fp) = (0, 0);
    let mut points = vec![(0.0, 0.0)];
    for (_, p, n) in groups {
        tp += p;
        fp += n;
        points.push((fp as f64 / neg as f64, tp as f64 / pos as f64));
    }
    points
}

/// `(recall, precision)` at each distinct score, highest first; empty without a leaver.
pub fn precision_recall(labels: &[bool], scores: &[f32]) -> Vec<(f64, f64)> {
    let Some((groups, pos, _)) = score_groups(labels, scores) else {
        return Vec::new();
    };
    if pos == 0 {
        return Vec::new();
    }
    let (mut tp, mut flagged) = (0, 0);
    groups
        .into_iter()
        .map(|(_, p, n)| {
            tp += p;
            flagged += p + n;
            (tp as f64 / pos as f64, tp as f64 / flagged as f64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_by_hand() {
        // Scores 0.9 (leaver), 0.8 (stayer), 0.7 (leaver), 0.1 (stayer).
        let labels = [true, false, true, false];
        let scores = [0.9, 0.8, 0.7, 0.1];
        assert_eq!(
            roc(&labels, &scores),
            [(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]
        );
        let pr = precision_recall(&labels, &scores);
        assert_eq!(pr[0], (0.5, 1.0));
        assert_eq!(pr[1], (0.5, 0.5));
        assert!((pr[2].1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(pr[3], (1.0, 0.5));
        assert!(roc(&[true, true], &[0.1, 0.2]).is_empty());
    }
}
