//! The repeated cross-validation that reports the chosen model's spread (mean ± sd) on the
//! 80%, on fold assignments the search never saw, with the served calibration and threshold.

use serde::Serialize;

use super::metrics::{self, mean_sd, Confusion};
use super::progress::Phase;
use super::search::{self, Data, Params};
use super::{split, Options, TrainError};
use crate::model::Calibration;

/// Repeated stratified cross-validation on the 80%, at the chosen threshold.
#[derive(Debug, Clone, Serialize)]
pub struct CrossValidation {
    pub f1_mean: f64,
    pub f1_sd: f64,
    pub roc_auc_mean: f64,
    pub roc_auc_sd: f64,
    pub folds: usize,
    pub repeats: usize,
}

/// The chosen parameters, calibration and threshold, judged by `options.repeats` repeats of
/// `options.folds`-fold cross-validation on the rows `train_idx`.
///
/// # Errors
/// When a class is too small for the folds or libxgboost fails.
pub fn repeated(
    data: &Data<'_>,
    train_idx: &[usize],
    train_labels: &[bool],
    (params, calibration, threshold): (&Params, &Calibration, f32),
    options: &Options,
) -> Result<CrossValidation, TrainError> {
    let phase = Phase::counted(
        options.progress,
        (options.repeats * options.folds) as u64,
        "repeated cv",
    );
    let (mut f1s, mut aucs) = (Vec::new(), Vec::new());
    for repeat in 0..options.repeats as u64 {
        let seed = options.seed.wrapping_add(1000 + repeat);
        for (train, valid) in split::stratified_kfold(train_labels, options.folds, seed)? {
            let to_rows = |pos: &[usize]| pos.iter().map(|&p| train_idx[p]).collect::<Vec<_>>();
            let booster = search::fit(data, &to_rows(&train), params, options.seed)?;
            let scores: Vec<f32> = search::predict(&booster, data, &to_rows(&valid))?
                .into_iter()
                .map(|p| calibration.apply(p))
                .collect();
            let labels: Vec<bool> = valid.iter().map(|&p| train_labels[p]).collect();
            f1s.push(Confusion::from_scores(&labels, &scores, threshold).f1());
            aucs.push(metrics::roc_auc(&labels, &scores));
            phase.inc();
        }
    }
    phase.finish();
    let ((f1_mean, f1_sd), (roc_auc_mean, roc_auc_sd)) = (mean_sd(&f1s), mean_sd(&aucs));
    Ok(CrossValidation {
        f1_mean,
        f1_sd,
        roc_auc_mean,
        roc_auc_sd,
        folds: options.folds,
        repeats: options.repeats,
    })
}
