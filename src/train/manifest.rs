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
use crate::model::{sha256_hex, Calibration};

/// `xgb-` and 12 hex digits of a sha256 over what decides a score. Uncalibrated, that is the
/// model's bytes alone (the rule from before calibration existed, so a bundle that scores as
/// before keeps its name); calibrated, the model's bytes, the calibration and the threshold,
/// since the same booster recalibrated serves other probabilities and needs another name.
pub fn version(model_json: &[u8], calibration: &Calibration, threshold: f32) -> String {
    let mut bytes = model_json.to_vec();
    if *calibration != Calibration::None {
        bytes.extend(serde_json::to_vec(calibration).unwrap_or_default());
        bytes.extend(f64::from(threshold).to_string().into_bytes());
    }
    format!("xgb-{}", &sha256_hex(&bytes)[..12])
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
        let model = b"{\"learner\": {}}";
        let plain = version(model, &Calibration::None, 0.3);
        assert_eq!(plain, format!("xgb-{}", &sha256_hex(model)[..12]));
        assert_eq!(plain, version(model, &Calibration::None, 0.4));
        let platt = Calibration::Platt { a: 1.0, b: 0.5 };
        let calibrated = version(model, &platt, 0.3);
        assert_ne!(calibrated, plain);
        assert_ne!(calibrated, version(model, &platt, 0.4));
        assert_ne!(
            calibrated,
            version(model, &Calibration::Platt { a: 1.0, b: 0.6 }, 0.3)
        );
        assert_eq!(calibrated, version(model, &platt, 0.3));
    }
}
