//! The logistic-regression baseline, trained the way the boosted model is: the same 80%, the
//! same features, its penalty chosen by the same repeated cross-validation folds and the same
//! criterion (mean out-of-fold ROC AUC), its threshold by out-of-fold F1. If the boosted model
//! cannot beat this on the holdout, its trees are not earning their keep.

use serde::Serialize;

use super::logreg::LogReg;
use super::metrics::{best_f1_threshold, roc_auc};
use super::search::Data;
use super::split::Fold;
use super::TrainError;
use crate::features::COUNT;

/// The penalties tried (on standardised features, against the summed log-likelihood).
pub const L2_GRID: [f64; 6] = [0.1, 1.0, 10.0, 30.0, 100.0, 1000.0];

/// The baseline fitted on the whole 80%, with what chose it.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    /// The chosen penalty.
    pub l2: f64,
    /// Its mean out-of-fold ROC AUC over the repeats.
    pub cv_roc_auc: f64,
    /// The threshold maximising F1 on its out-of-fold predictions of every repeat.
    pub threshold: f32,
    #[serde(skip)]
    pub model: LogReg,
}

impl Baseline {
    /// The probability of leaving of the rows `rows` of `data`.
    pub fn predict(&self, data: &Data<'_>, rows: &[usize]) -> Vec<f32> {
        self.model.predict(&data.take(rows).0)
    }
}

/// Chooses the penalty on `folds` (one set of folds per repeat, positions into `train_idx`),
/// sets the threshold, and refits on all of `train_idx`.
///
/// # Errors
/// [`TrainError::NoThreshold`] when the out-of-fold predictions are unusable.
pub fn fit(
    data: &Data<'_>,
    train_idx: &[usize],
    train_labels: &[bool],
    folds: &[Vec<Fold>],
) -> Result<Baseline, TrainError> {
    // (penalty, mean out-of-fold AUC, pooled out-of-fold predictions)
    let mut best: Option<(f64, f64, Vec<f32>)> = None;
    for l2 in L2_GRID {
        let mut pooled = Vec::with_capacity(train_idx.len() * folds.len());
        let mut auc = 0.0;
        for repeat in folds {
            let oof = out_of_fold(data, train_idx, train_labels, repeat, l2);
            auc += roc_auc(train_labels, &oof) / folds.len() as f64;
            pooled.extend(oof);
        }
        // A tie goes to the stronger penalty, the simpler model: hence `>=`.
        if best.as_ref().is_none_or(|b| auc >= b.1) {
            best = Some((l2, auc, pooled));
        }
    }
    let (l2, cv_roc_auc, pooled) = best.ok_or(TrainError::NoThreshold)?;
    let pooled_labels: Vec<bool> = (0..pooled.len())
        .map(|j| train_labels[j % train_labels.len()])
        .collect();
    let (threshold, _) =
        best_f1_threshold(&pooled_labels, &pooled).ok_or(TrainError::NoThreshold)?;
    let (x, _) = data.take(train_idx);
    Ok(Baseline {
        l2,
        cv_roc_auc,
        threshold,
        model: LogReg::fit(&x, COUNT, train_labels, l2),
    })
}

/// Out-of-fold predictions of one repeat, in `train_idx` order.
fn out_of_fold(
    data: &Data<'_>,
    train_idx: &[usize],
    train_labels: &[bool],
    folds: &[Fold],
    l2: f64,
) -> Vec<f32> {
    let mut oof = vec![0.0f32; train_idx.len()];
    for (train, valid) in folds {
        let to_rows = |pos: &[usize]| pos.iter().map(|&p| train_idx[p]).collect::<Vec<_>>();
        let (x, _) = data.take(&to_rows(train));
        let labels: Vec<bool> = train.iter().map(|&p| train_labels[p]).collect();
        let model = LogReg::fit(&x, COUNT, &labels, l2);
        let (valid_x, _) = data.take(&to_rows(valid));
        for (&p, value) in valid.iter().zip(model.predict(&valid_x)) {
            oof[p] = value;
        }
    }
    oof
}
