//! Hyper-parameters, one model fit, and their judgement by stratified k-fold cross-validation.

use serde::Serialize;

use super::metrics::roc_auc;
use super::progress::Phase;
use super::split::Fold;
use crate::features::COUNT;
use crate::model::xgb::{Booster, DMatrix, XgbError};
use crate::rng::Rng;

/// Rounds between two points of a cross-validation curve.
pub const STEP: u32 = 50;
/// The most rounds a search point may run.
pub const MAX_ROUNDS: u32 = 2000;

/// The parameters the search explores; everything else is fixed in [`Params::xgb`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Params {
    pub max_depth: u32,
    pub num_rounds: u32,
    pub eta: f64,
    pub subsample: f64,
    pub colsample_bytree: f64,
    pub min_child_weight: f64,
    pub gamma: f64,
    pub scale_pos_weight: f64,
    pub reg_lambda: f64,
}

impl Params {
    /// A random point of the search space. Shallow trees and small steps are favoured: 1,176
    /// rows do not support deep interactions. `num_rounds` is only the ceiling here: the
    /// cross-validation curve picks the number of rounds (see [`cv_curve`]).
    pub fn sample(rng: &mut Rng) -> Self {
        let round2 = |x: f64| (x * 100.0).round() / 100.0;
        let eta = (10f64.powf(rng.uniform(-2.0, -0.8)) * 1000.0).round() / 1000.0;
        Params {
            max_depth: 1 + rng.below(3) as u32,
            // Enough rounds for a total step (eta x rounds) of 60, in checkpoints of STEP.
            num_rounds: ((60.0 / eta / f64::from(STEP)).ceil() as u32 * STEP)
                .clamp(4 * STEP, MAX_ROUNDS),
            eta,
            subsample: round2(rng.uniform(0.5, 1.0)),
            colsample_bytree: round2(rng.uniform(0.2, 0.9)),
            min_child_weight: (1 + rng.below(10)) as f64,
            gamma: round2(rng.uniform(0.0, 1.0)),
            reg_lambda: round2(10f64.powf(rng.uniform(0.0, 1.5))),
            scale_pos_weight: [1.0, 2.0, 3.0, 4.0, 5.2][rng.below(5) as usize],
        }
    }

    /// The libxgboost parameters, in a fixed order. One thread and a fixed seed make a fit
    /// reproducible bit for bit.
    pub fn xgb(&self, seed: u64) -> Vec<(&'static str, String)> {
        vec![
            ("objective", "binary:logistic".into()),
            ("eval_metric", "logloss".into()),
            ("tree_method", "hist".into()),
            ("nthread", "1".into()),
            ("seed", (seed % (1 << 31)).to_string()),
            ("max_depth", self.max_depth.to_string()),
            ("eta", self.eta.to_string()),
            ("subsample", self.subsample.to_string()),
            ("colsample_bytree", self.colsample_bytree.to_string()),
            ("min_child_weight", self.min_child_weight.to_string()),
            ("gamma", self.gamma.to_string()),
            ("scale_pos_weight", self.scale_pos_weight.to_string()),
            ("lambda", self.reg_lambda.to_string()),
        ]
    }
}

/// Rows of features with their labels.
pub struct Data<'a> {
    pub x: &'a [f32],
    pub y: &'a [bool],
}

impl Data<'_> {
    /// The feature rows `idx`, row-major, and their labels as 0/1.
    pub(super) fn take(&self, idx: &[usize]) -> (Vec<f32>, Vec<f32>) {
        let mut x = Vec::with_capacity(idx.len() * COUNT);
        for &i in idx {
            x.extend_from_slice(&self.x[i * COUNT..(i + 1) * COUNT]);
        }
        (
            x,
            idx.iter()
                .map(|&i| f32::from(u8::from(self.y[i])))
                .collect(),
        )
    }
}

/// Fits a model on the rows `train` of `data`.
///
/// # Errors
/// When libxgboost fails.
pub fn fit(
    data: &Data<'_>,
    train: &[usize],
    params: &Params,
    seed: u64,
) -> Result<Booster, XgbError> {
    let (x, y) = data.take(train);
    let matrix = DMatrix::dense(&x, train.len(), Some(&y))?;
    let booster = Booster::for_training(&matrix, &params.xgb(seed))?;
    for round in 0..params.num_rounds {
        booster.update(round as i32, &matrix)?;
    }
    Ok(booster)
}

/// Predicts the rows `rows` of `data`.
///
/// # Errors
/// When libxgboost fails.
pub fn predict(booster: &Booster, data: &Data<'_>, rows: &[usize]) -> Result<Vec<f32>, XgbError> {
    let (x, _) = data.take(rows);
    booster.predict(&x, rows.len())
}

/// Out-of-fold predictions after every [`STEP`] rounds, up to `params.num_rounds`: one
/// boosting run per fold gives the whole curve, which is how the number of rounds is chosen by
/// cross-validation (early stopping without a stopping rule tuned on a single fold).
/// `curve[c]` holds the predictions after `(c + 1) * STEP` rounds, in `indices`' order.
///
/// # Errors
/// When libxgboost fails.
pub fn cv_curve(
    data: &Data<'_>,
    indices: &[usize],
    folds: &[Fold],
    params: &Params,
    seed: u64,
    mut on_fold: impl FnMut(),
) -> Result<Vec<Vec<f32>>, XgbError> {
    let points = (params.num_rounds / STEP).max(1) as usize;
    let mut curve = vec![vec![0.0f32; indices.len()]; points];
    for (train, valid) in folds {
        let to_rows = |pos: &[usize]| pos.iter().map(|&p| indices[p]).collect::<Vec<_>>();
        let (x, y) = data.take(&to_rows(train));
        let matrix = DMatrix::dense(&x, train.len(), Some(&y))?;
        let booster = Booster::for_training(&matrix, &params.xgb(seed))?;
        let (valid_x, _) = data.take(&to_rows(valid));
        let mut round = 0;
        for oof in curve.iter_mut() {
            for _ in 0..STEP {
                booster.update(round, &matrix)?;
                round += 1;
            }
            for (p, value) in valid.iter().zip(booster.predict(&valid_x, valid.len())?) {
                oof[*p] = value;
            }
        }
        on_fold();
    }
    Ok(curve)
}

/// The best search point: its mean out-of-fold ROC AUC, its parameters (rounds set to the best
/// point of its curve), and its out-of-fold predictions of every repeat, end to end (position
/// `j` predicts the row at position `j % train_idx.len()` of the training part).
pub struct Best {
    pub auc: f64,
    pub params: Params,
    pub oof: Vec<f32>,
}

/// The random search: `trials` points, each judged by the mean out-of-fold ROC AUC over the
/// repeats in `folds` at every point of its curve. `None` when `trials` is 0.
///
/// # Errors
/// When libxgboost fails.
pub fn search(
    data: &Data<'_>,
    train_idx: &[usize],
    folds: &[Vec<Fold>],
    trials: usize,
    seed: u64,
    phase: &Phase,
) -> Result<Option<Best>, XgbError> {
    let train_labels: Vec<bool> = train_idx.iter().map(|&i| data.y[i]).collect();
    let mut rng = Rng::new(seed);
    let mut best: Option<Best> = None;
    for _ in 0..trials {
        let mut params = Params::sample(&mut rng);
        let curves = folds
            .iter()
            .map(|f| cv_curve(data, train_idx, f, &params, seed, || phase.inc()))
            .collect::<Result<Vec<_>, _>>()?;
        for point in 0..curves[0].len() {
            let auc = curves
                .iter()
                .map(|c| roc_auc(&train_labels, &c[point]))
                .sum::<f64>()
                / curves.len() as f64;
            if best.as_ref().is_none_or(|b| auc > b.auc) {
                params.num_rounds = (point as u32 + 1) * STEP;
                phase.set_message(format!("best out-of-fold ROC AUC {auc:.4}"));
                let oof = curves
                    .iter()
                    .flat_map(|c| c[point].iter().copied())
                    .collect();
                best = Some(Best {
                    auc,
                    params: params.clone(),
                    oof,
                });
            }
        }
    }
    Ok(best)
}
