//! The report `turnover train` prints: the holdout with its bootstrap intervals beside the
//! repeated cross-validation and the logistic-regression baseline; the AUC difference with the
//! baseline; the calibration choice and the calibration table; the figures per group
//! ([`groups`]). The replaced system's published figures are quoted on a line of their own,
//! labelled as such: this run did not measure them.

mod groups;

use std::fmt::Write;

use super::bootstrap::{Interval, LEVEL, RESAMPLES};
use super::Trained;

/// The replaced Python system's published figures (F1, ROC AUC, accuracy): quoted for
/// reference, never measured by a training run.
const REPLACED_SYSTEM: (f64, f64, f64) = (0.41, 0.72, 0.79);

fn ci(interval: Option<&Interval>) -> String {
    interval.map_or_else(|| "-".to_owned(), |[lo, hi]| format!("[{lo:.3}, {hi:.3}]"))
}

/// A plain-text report of a training run.
pub fn table(t: &Trained) -> String {
    let (model, base) = (&t.assessment.model, &t.assessment.baseline);
    let cv = &t.cv;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "model {}  threshold {:.4}  calibration {}",
        t.manifest.version, t.manifest.threshold, t.calibration.method
    );
    let _ = writeln!(
        out,
        "{:<10} {:>8} {:>16} {:>16} {:>8} {:>16}",
        "metric", "holdout", "95% interval", "repeated cv", "logreg", "95% interval"
    );
    let cv_of = |name: &str| match name {
        "f1" => Some((cv.f1_mean, cv.f1_sd)),
        "roc_auc" => Some((cv.roc_auc_mean, cv.roc_auc_sd)),
        _ => None,
    };
    for ((name, value), (_, baseline)) in
        model.holdout.named().into_iter().zip(base.holdout.named())
    {
        let cv = cv_of(name).map_or_else(|| "-".to_owned(), |(m, sd)| format!("{m:.3} ± {sd:.3}"));
        let _ = writeln!(
            out,
            "{name:<10} {value:>8.3} {:>16} {cv:>16} {baseline:>8.3} {:>16}",
            ci(model.holdout_ci.get(name)),
            ci(base.holdout_ci.get(name)),
        );
    }
    let (f1, auc, accuracy) = REPLACED_SYSTEM;
    let _ = writeln!(
        out,
        "the replaced system's published figures (not measured by this run): F1 {f1:.2}, \
         ROC AUC {auc:.2}, accuracy {accuracy:.2}"
    );
    let [[tn, fp], [fn_, tp]] = model.holdout.confusion_matrix;
    let _ = writeln!(
        out,
        "confusion (holdout): tn {tn}  fp {fp}  fn {fn_}  tp {tp}"
    );
    let d = &t.assessment.auc_difference;
    let _ = writeln!(
        out,
        "roc_auc xgboost − logreg: {:+.3}, {:.0}% interval [{:+.3}, {:+.3}] (paired bootstrap, \
         {RESAMPLES} resamples; xgboost ahead in {:.0}% of them)",
        d.estimate,
        LEVEL * 100.0,
        d.ci[0],
        d.ci[1],
        d.share_above_zero * 100.0
    );
    let _ = writeln!(
        out,
        "logreg: l2 {}, out-of-fold ROC AUC {:.4}, threshold {:.4}",
        t.baseline.l2, t.baseline.cv_roc_auc, t.baseline.threshold
    );
    let c = &t.calibration;
    let _ = writeln!(
        out,
        "calibration: {} (cross-validated Brier: none {:.4}, platt {:.4}, isotonic {:.4}); \
         holdout Brier {:.4} calibrated, {:.4} raw",
        c.method,
        c.cv_brier.none,
        c.cv_brier.platt,
        c.cv_brier.isotonic,
        model.holdout.brier,
        t.assessment.brier_uncalibrated
    );
    let _ = writeln!(
        out,
        "calibration table (holdout, deciles of the predicted probability):"
    );
    let _ = writeln!(
        out,
        "  {:>15} {:>9} {:>8} {:>7} {:>7}",
        "predicted", "mean", "observed", "leavers", "rows"
    );
    for bin in &t.assessment.table {
        let _ = writeln!(
            out,
            "  {:>6.3} – {:>6.3} {:>9.3} {:>8.3} {:>7} {:>7}",
            bin.from, bin.to, bin.predicted_mean, bin.observed_rate, bin.leavers, bin.count
        );
    }
    let _ = writeln!(
        out,
        "cv: {} x {}-fold on the 80%; search best out-of-fold ROC AUC {:.4}",
        cv.repeats, cv.folds, t.search_best_auc
    );
    out.push_str(&groups::table(t));
    out
}
