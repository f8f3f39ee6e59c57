//! Fitting the bundle's [`Calibration`] on out-of-fold predictions of the training part, and
//! choosing it by cross-validation.
//!
//! Platt scaling fits `sigmoid(a · logit(p) + b)`; isotonic regression fits the best
//! non-decreasing step function (pool adjacent violators). Which one is served, or none, is
//! decided by the Brier score of each on out-of-fold predictions it was not fitted on: the
//! rows are split into folds, and a row's predictions of every repeat stay in the same fold,
//! so no calibrator is judged on a row it has seen. The holdout plays no part.

use serde::Serialize;

use super::metrics::brier;
use super::split::{self, SplitError};
use crate::model::{logit, sigmoid, Calibration};

/// Platt scaling by Newton's method on the two coefficients, with Platt's smoothed targets
/// (`(N₊ + 1) / (N₊ + 2)` for a leaver, `1 / (N₋ + 2)` for a stayer) so that separable
/// scores do not send the slope to infinity.
pub fn platt(labels: &[bool], raw: &[f32]) -> Calibration {
    let f: Vec<f64> = raw.iter().map(|&p| logit(f64::from(p))).collect();
    let pos = labels.iter().filter(|&&y| y).count() as f64;
    let neg = labels.len() as f64 - pos;
    let (hi, lo) = ((pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0));
    let t: Vec<f64> = labels.iter().map(|&y| if y { hi } else { lo }).collect();
    let loss = |a: f64, b: f64| -> f64 {
        f.iter()
            .zip(&t)
            .map(|(&fi, &ti)| {
                let eta = a * fi + b;
                eta.max(0.0) + (-eta.abs()).exp().ln_1p() - ti * eta
            })
            .sum()
    };
    let (mut a, mut b) = (1.0, 0.0);
    let mut current = loss(a, b);
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-12, 0.0, 1e-12);
        for (&fi, &ti) in f.iter().zip(&t) {
            let mu = sigmoid(a * fi + b);
            let w = mu * (1.0 - mu);
            (ga, gb) = (ga + (mu - ti) * fi, gb + (mu - ti));
            (haa, hab, hbb) = (haa + w * fi * fi, hab + w * fi, hbb + w);
        }
        let det = haa * hbb - hab * hab;
        if det.is_nan() || det <= 0.0 {
            break;
        }
        let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
        let mut step = 1.0;
        while loss(a - step * da, b - step * db) > current && step > 1e-6 {
            step /= 2.0;
        }
        (a, b) = (a - step * da, b - step * db);
        current = loss(a, b);
        if (step * da).abs().max((step * db).abs()) < 1e-10 {
            break;
        }
    }
    Calibration::Platt { a, b }
}

/// Isotonic regression by pool adjacent violators. Equal raw probabilities are pooled first;
/// each final block contributes its lowest and highest raw probability, both mapped to the
/// block's leaver rate, so [`Calibration::apply`] is flat inside a block and linear between.
pub fn isotonic(labels: &[bool], raw: &[f32]) -> Calibration {
    let mut order: Vec<usize> = (0..raw.len()).collect();
    order.sort_by(|&i, &j| raw[i].total_cmp(&raw[j]));
    // (leavers, rows, lowest raw, highest raw)
    let mut blocks: Vec<(u64, u64, f64, f64)> = Vec::new();
    for i in order {
        let (x, y) = (f64::from(raw[i]), u64::from(labels[i]));
        match blocks.last_mut() {
            Some(last) if last.3 == x => (last.0, last.1) = (last.0 + y, last.1 + 1),
            _ => blocks.push((y, 1, x, x)),
        }
        // Merge while the rate does not increase (compared exactly, as fractions).
        while blocks.len() >= 2 {
            let (cur, prev) = (blocks[blocks.len() - 1], blocks[blocks.len() - 2]);
            if u128::from(prev.0) * u128::from(cur.1) < u128::from(cur.0) * u128::from(prev.1) {
                break;
            }
            blocks.pop();
            let last = blocks.last_mut().expect("two blocks");
            *last = (prev.0 + cur.0, prev.1 + cur.1, prev.2, cur.3);
        }
    }
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (leavers, rows, low, high) in blocks {
        let rate = leavers as f64 / rows as f64;
        x.push(low);
        y.push(rate);
        if high > low {
            x.push(high);
            y.push(rate);
        }
    }
    Calibration::Isotonic { x, y }
}

/// What the cross-validation measured, per method, and what it chose.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    #[serde(skip)]
    pub calibration: Calibration,
    pub method: &'static str,
    /// Out-of-fold Brier score of each method (the criterion), `[none, platt, isotonic]`.
    pub cv_brier: Scores,
    /// Out-of-fold log loss of each method (probabilities clamped to [1e-6, 1 − 1e-6]).
    pub cv_log_loss: Scores,
    pub folds: usize,
}

/// One figure per method.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    pub none: f64,
    pub platt: f64,
    pub isotonic: f64,
}

type Fitter = fn(&[bool], &[f32]) -> Calibration;

/// Chooses the calibration of pooled out-of-fold predictions: `raw[j]` predicts row
/// `j % rows` (repeats laid end to end, as the search pools them), `labels` are the rows'
/// labels. Each method is fitted on `folds - 1` folds of rows and scored on the last; the
/// lowest Brier wins, a tie going to the simpler method. The winner is then refitted on all
/// the predictions.
///
/// # Errors
/// When a class has fewer rows than folds.
pub fn choose(labels: &[bool], raw: &[f32], folds: usize, seed: u64) -> Result<Choice, SplitError> {
    let rows = labels.len();
    let pooled: Vec<bool> = (0..raw.len()).map(|j| labels[j % rows]).collect();
    let methods: [(&'static str, Option<Fitter>); 3] = [
        ("none", None),
        ("platt", Some(platt)),
        ("isotonic", Some(isotonic)),
    ];
    let mut calibrated = vec![vec![0.0f32; raw.len()]; methods.len()];
    for (_, valid) in split::stratified_kfold(labels, folds, seed)? {
        let mut held_out = vec![false; rows];
        valid.iter().for_each(|&r| held_out[r] = true);
        let (fit_y, fit_p): (Vec<bool>, Vec<f32>) = (0..raw.len())
            .filter(|&j| !held_out[j % rows])
            .map(|j| (pooled[j], raw[j]))
            .unzip();
        for ((_, fitter), out) in methods.iter().zip(calibrated.iter_mut()) {
            let calibration = fitter.map_or(Calibration::None, |fit| fit(&fit_y, &fit_p));
            for j in (0..raw.len()).filter(|&j| held_out[j % rows]) {
                out[j] = calibration.apply(raw[j]);
            }
        }
    }
    let score = |f: fn(&[bool], &[f32]) -> f64| Scores {
        none: f(&pooled, &calibrated[0]),
        platt: f(&pooled, &calibrated[1]),
        isotonic: f(&pooled, &calibrated[2]),
    };
    let (cv_brier, cv_log_loss) = (score(brier), score(log_loss));
    let figures = [cv_brier.none, cv_brier.platt, cv_brier.isotonic];
    let best = (0..figures.len()).fold(0, |b, i| if figures[i] < figures[b] { i } else { b });
    let (method, fitter) = methods[best];
    Ok(Choice {
        calibration: fitter.map_or(Calibration::None, |fit| fit(&pooled, raw)),
        method,
        cv_brier,
        cv_log_loss,
        folds,
    })
}

/// The mean negative log-likelihood, probabilities clamped to `[1e-6, 1 − 1e-6]`.
pub fn log_loss(labels: &[bool], probabilities: &[f32]) -> f64 {
    let sum: f64 = labels
        .iter()
        .zip(probabilities)
        .map(|(&y, &p)| {
            let p = f64::from(p).clamp(1e-6, 1.0 - 1e-6);
            -if y { p.ln() } else { (1.0 - p).ln() }
        })
        .sum();
    sum / labels.len().max(1) as f64
}

#[cfg(test)]
mod tests;
