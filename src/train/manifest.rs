//! The parts of `manifest.json` that training writes as free-form JSON (`params`, `metrics`),
//! and the bundle's version. Key names are those of docs/contract.md#model-bundle.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::baseline::{self, Baseline};
use super::bootstrap;
use super::calibrate::Choice;
use super::cv::CrossValidation;
use super::holdout::Assessment;
use super::search::{self, Params};
use super::{Comparison, Options};
use crate::digest::sha256_hex;
use crate::model::{Calibration, Identity};

/// The bundle's version: the digest of everything that decides a score
/// ([`crate::model::Identity`], docs/contract.md#model-bundle), which the loader recomputes.
pub fn version(
    model_json: &[u8],
    model_ubj: &[u8],
    calibration: &Calibration,
    threshold: f32,
    risk_cuts: [f64; 2],
) -> String {
    Identity {
        model_json_sha256: &sha256_hex(model_json),
        model_ubj_sha256: Some(&sha256_hex(model_ubj)),
        threshold: f64::from(threshold),
        risk_cuts,
        calibration,
    }
    .version()
}

/// `params`: the chosen hyper-parameters, the exact libxgboost parameters, and every rule that
/// chose something.
pub fn params_json(params: &Params, seed: u64, options: &Options, search_repeats: usize) -> Value {
    let xgboost: BTreeMap<_, _> = params.xgb(seed).into_iter().collect();
    json!({
        "search": params,
        "xgboost": xgboost,
        "seed": seed,
        "split": {"test_fraction": 0.2, "stratified": true},
        "search_space": {
            "trials": options.trials, "folds": options.folds, "repeats": search_repeats,
            "rounds": format!("chosen by cross-validation every {} rounds up to {}",
                search::STEP, search::MAX_ROUNDS),
            "objective": "mean out-of-fold ROC AUC over the repeats",
        },
        "calibration_rule": "none, platt or isotonic, whichever has the lowest Brier score in a \
            cross-validation over the rows of the winner's out-of-fold predictions of every repeat",
        "threshold_rule": "maximise F1 of the leaving class on the winner's calibrated \
            out-of-fold predictions of every repeat",
        "baseline_logreg": {
            "l2_grid": baseline::L2_GRID,
            "rule": "standardised features, L2 penalty by mean out-of-fold ROC AUC on the search \
                folds, threshold by out-of-fold F1",
        },
    })
}

/// Row counts of the split.
pub struct Rows {
    pub train: usize,
    pub holdout: usize,
    pub leavers: usize,
}

/// `metrics`: the holdout with intervals and calibration table, the repeated cross-validation,
/// the calibration choice, the baseline and the row counts.
pub fn metrics_json(
    assessment: &Assessment,
    cv: &CrossValidation,
    calibration: &Choice,
    baseline: &Baseline,
    rows: &Rows,
) -> Value {
    json!({
        "holdout": assessment.model.holdout,
        "holdout_ci": assessment.model.holdout_ci,
        "holdout_calibration_table": assessment.table,
        "bootstrap": {
            "resamples": bootstrap::RESAMPLES, "level": bootstrap::LEVEL,
            "method": "percentile, resampling leavers and stayers separately",
        },
        "cv": cv,
        "calibration": {
            "method": calibration.method,
            "cv_brier": calibration.cv_brier,
            "cv_log_loss": calibration.cv_log_loss,
            "folds": calibration.folds,
            "holdout_brier_uncalibrated": assessment.brier_uncalibrated,
        },
        "baseline_logreg": {
            "l2": baseline.l2,
            "cv_roc_auc": baseline.cv_roc_auc,
            "threshold": baseline.threshold,
            "holdout": assessment.baseline.holdout,
            "holdout_ci": assessment.baseline.holdout_ci,
            "roc_auc_difference": assessment.auc_difference,
        },
        "rows": {"train": rows.train, "holdout": rows.holdout, "leavers": rows.leavers},
    })
}

/// `metrics`, and with `--exclude-features` the same model refit with every feature beside it
/// (`with_every_feature`: its holdout figures and per-group figures on the same rows).
pub fn with_comparison(mut metrics: Value, comparison: Option<&Comparison>) -> Value {
    if let (Some(c), Some(map)) = (comparison, metrics.as_object_mut()) {
        map.insert(
            "with_every_feature".into(),
            json!({"holdout": c.holdout, "fairness": c.fairness}),
        );
    }
    metrics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_follows_what_decides_a_score() {
        let (model, ubj) = (b"{\"learner\": {}}".as_slice(), b"{L".as_slice());
        let cuts = [0.3, 0.7];
        let plain = version(model, ubj, &Calibration::None, 0.3, cuts);
        assert_ne!(plain, version(model, ubj, &Calibration::None, 0.4, cuts));
        assert_ne!(
            plain,
            version(model, ubj, &Calibration::None, 0.3, [0.2, 0.7])
        );
        assert_ne!(plain, version(b"{}", ubj, &Calibration::None, 0.3, cuts));
        let platt = Calibration::Platt { a: 1.0, b: 0.5 };
        assert_ne!(plain, version(model, ubj, &platt, 0.3, cuts));
        assert_eq!(plain, version(model, ubj, &Calibration::None, 0.3, cuts));
    }
}
