//! Training's per-group figures of the served model on the holdout ([`Fairness`]).
//!
//! Each group is resampled on its own, rows drawn with replacement from the group (not
//! stratified by label, unlike the holdout's intervals: the observed leave rate of a group is
//! one of the figures and must be allowed to move), with the holdout's resample count and
//! coverage.

use std::collections::BTreeMap;

use super::bootstrap::{interval, LEVEL, RESAMPLES};
use super::metrics::Evaluation;
use super::search::{self, Data, Params};
use super::{Comparison, TrainError};
use crate::extracts::ExtractRow;
use crate::fairness::{groups, rows_by_group, Attribute, Fairness, Group, ATTRIBUTES};
use crate::model::Calibration;
use crate::record::Record;
use crate::rng::Rng;

/// What the holdout's group figures are computed from.
pub struct Holdout<'a> {
    /// Every validated row (the holdout's are `test_idx`).
    pub rows: &'a [(&'a ExtractRow, Record)],
    /// Every row's label.
    pub labels: &'a [bool],
    pub test_idx: &'a [usize],
    /// The served model's probabilities of the holdout rows.
    pub calibrated: &'a [f32],
    pub threshold: f32,
    pub seed: u64,
}

/// The served model's figures per group, and with excluded features the same model refit on
/// every feature (`(unmasked features, training rows, parameters, calibration)`), judged on
/// the same holdout rows.
///
/// # Errors
/// [`TrainError`] when the refit fails in libxgboost.
pub fn judge(
    h: &Holdout<'_>,
    refit: Option<(&[f32], &[usize], &Params, &Calibration)>,
) -> Result<(Fairness, Option<Comparison>), TrainError> {
    let test_labels: Vec<bool> = h.test_idx.iter().map(|&i| h.labels[i]).collect();
    let by_row: Vec<[&'static str; 3]> = h.test_idx.iter().map(|&i| groups(&h.rows[i].1)).collect();
    let judge = |probabilities: &[f32]| {
        compute(
            &test_labels,
            probabilities,
            h.threshold,
            &by_row,
            RESAMPLES,
            h.seed.wrapping_add(4000),
        )
    };
    let Some((full_x, train_idx, params, served)) = refit else {
        return Ok((judge(h.calibrated), None));
    };
    let full = Data {
        x: full_x,
        y: h.labels,
    };
    let booster = search::fit(&full, train_idx, params, h.seed)?;
    let probabilities: Vec<f32> = search::predict(&booster, &full, h.test_idx)?
        .iter()
        .map(|&p| served.apply(p))
        .collect();
    let comparison = Comparison {
        holdout: Evaluation::compute(&test_labels, &probabilities, h.threshold),
        fairness: judge(&probabilities),
    };
    Ok((judge(h.calibrated), Some(comparison)))
}

/// The rows of one group: labels, served probabilities, threshold.
struct Rows<'a> {
    labels: &'a [bool],
    probabilities: &'a [f32],
    threshold: f32,
}

fn ratio(num: usize, den: usize) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// The six rates of `rows` (positions into `r`), in [`Group`] order.
fn rates(r: &Rows<'_>, rows: &[usize]) -> [Option<f64>; 6] {
    let (mut tp, mut fp, mut pos, mut sum) = (0, 0, 0, 0.0);
    for &i in rows {
        let flagged = r.probabilities[i] >= r.threshold;
        pos += usize::from(r.labels[i]);
        tp += usize::from(flagged && r.labels[i]);
        fp += usize::from(flagged && !r.labels[i]);
        sum += f64::from(r.probabilities[i]);
    }
    let n = rows.len();
    [
        ratio(tp + fp, n),
        ratio(tp, pos),
        ratio(fp, n - pos),
        ratio(tp, tp + fp),
        (n > 0).then(|| sum / n as f64),
        ratio(pos, n),
    ]
}

fn group(r: &Rows<'_>, rows: &[usize], resamples: usize, rng: &mut Rng) -> Group {
    let point = rates(r, rows);
    let mut draws: [Vec<f64>; 6] = Default::default();
    for _ in 0..resamples {
        let drawn: Vec<usize> = (0..rows.len())
            .map(|_| rows[rng.below(rows.len() as u64) as usize])
            .collect();
        for (d, v) in draws.iter_mut().zip(rates(r, &drawn)) {
            d.extend(v);
        }
    }
    let ci: Vec<Option<[f64; 2]>> = draws
        .into_iter()
        .zip(point)
        .map(|(d, p)| p.map(|_| interval(d)))
        .collect();
    Group {
        count: rows.len(),
        leavers: rows.iter().filter(|&&i| r.labels[i]).count(),
        selection_rate: point[0],
        selection_rate_ci: ci[0],
        tpr: point[1],
        tpr_ci: ci[1],
        fpr: point[2],
        fpr_ci: ci[2],
        precision: point[3],
        precision_ci: ci[3],
        mean_predicted: point[4],
        mean_predicted_ci: ci[4],
        observed_rate: point[5],
        observed_rate_ci: ci[5],
    }
}

/// Lowest over highest of some rates; `None` when there are fewer than two or the highest is 0.
fn lowest_over_highest(values: impl Iterator<Item = f64>) -> (Option<f64>, Option<f64>) {
    let v: Vec<f64> = values.collect();
    if v.len() < 2 {
        return (None, None);
    }
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    ((hi > 0.0).then(|| lo / hi), Some(hi - lo))
}

/// Figures of the probabilities against the labels at `threshold`, rows grouped by `groups`
/// (one entry per row, [`ATTRIBUTES`] order), with `resamples` seeded bootstrap draws per group.
pub fn compute(
    labels: &[bool],
    probabilities: &[f32],
    threshold: f32,
    groups: &[[&'static str; 3]],
    resamples: usize,
    seed: u64,
) -> Fairness {
    let r = Rows {
        labels,
        probabilities,
        threshold,
    };
    let mut rng = Rng::new(seed);
    let attributes = ATTRIBUTES
        .iter()
        .enumerate()
        .map(|(a, name)| {
            let groups: BTreeMap<String, Group> = rows_by_group(groups, a)
                .into_iter()
                .map(|(value, rows)| (value.to_owned(), group(&r, &rows, resamples, &mut rng)))
                .collect();
            let (selection_rate_ratio, _) =
                lowest_over_highest(groups.values().filter_map(|g| g.selection_rate));
            let (_, tpr_gap) = lowest_over_highest(groups.values().filter_map(|g| g.tpr));
            let attribute = Attribute {
                groups,
                selection_rate_ratio,
                tpr_gap,
            };
            ((*name).to_owned(), attribute)
        })
        .collect();
    Fairness {
        attributes,
        resamples,
        level: LEVEL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_figures_by_hand() {
        // Group F: 4 rows, 2 leavers; flagged rows 0 (leaver), 1 (stayer). Group M: 2 rows, one
        // leaver, flagged: row 4 (leaver).
        let labels = [true, false, true, false, true, false];
        let probs = [0.9, 0.6, 0.2, 0.1, 0.8, 0.3];
        let groups = [
            ["F", "Marié(e)", "<30"],
            ["F", "Marié(e)", "<30"],
            ["F", "Célibataire", "30-39"],
            ["F", "Célibataire", "30-39"],
            ["M", "Célibataire", "30-39"],
            ["M", "Célibataire", "30-39"],
        ];
        let f = compute(&labels, &probs, 0.5, &groups, 200, 1);
        let genre = &f.attributes["genre"];
        let fem = &genre.groups["F"];
        assert_eq!((fem.count, fem.leavers), (4, 2));
        assert_eq!(fem.selection_rate, Some(0.5));
        assert_eq!(fem.tpr, Some(0.5));
        assert_eq!(fem.fpr, Some(0.5));
        assert_eq!(fem.precision, Some(0.5));
        assert_eq!(fem.observed_rate, Some(0.5));
        assert!((fem.mean_predicted.unwrap_or(0.0) - 0.45).abs() < 1e-6);
        let [lo, hi] = fem.selection_rate_ci.expect("interval");
        assert!(lo <= 0.5 && 0.5 <= hi && lo >= 0.0 && hi <= 1.0);
        let male = &genre.groups["M"];
        assert_eq!(
            (male.selection_rate, male.tpr, male.fpr),
            (Some(0.5), Some(1.0), Some(0.0))
        );
        assert_eq!(genre.selection_rate_ratio, Some(1.0));
        assert_eq!(genre.tpr_gap, Some(0.5));
        // "<30": rows 0 and 1, one leaver flagged, one stayer flagged; "30-39": one of four.
        let age = &f.attributes["age_band"];
        assert_eq!(age.groups["<30"].selection_rate, Some(1.0));
        assert_eq!(age.groups["30-39"].selection_rate, Some(0.25));
        assert_eq!(age.selection_rate_ratio, Some(0.25));
    }

    #[test]
    fn a_group_without_leavers_has_no_tpr_and_no_gap_is_made_up() {
        let f = compute(
            &[false, false, true],
            &[0.9, 0.1, 0.9],
            0.5,
            &[
                ["F", "Marié(e)", "50+"],
                ["F", "Marié(e)", "50+"],
                ["M", "Marié(e)", "50+"],
            ],
            50,
            2,
        );
        let genre = &f.attributes["genre"];
        assert_eq!(genre.groups["F"].tpr, None);
        assert_eq!(genre.groups["F"].tpr_ci, None);
        assert_eq!(genre.tpr_gap, None, "one group with leavers: no gap");
        assert_eq!(f.attributes["statut_marital"].selection_rate_ratio, None);
        let json = serde_json::to_value(&f).expect("json");
        assert!(json["attributes"]["genre"]["groups"]["F"]["tpr"].is_null());
    }
}
