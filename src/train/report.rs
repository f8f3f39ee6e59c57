//! The table `turnover train` prints: holdout and cross-validation beside the old API's figures.

use std::fmt::Write;

use super::Trained;

/// The old Python pipeline retrained on the same stratified 20% holdout.
const OLD_API: (f64, f64, f64) = (0.41, 0.72, 0.79);

/// A plain-text report of a training run.
pub fn table(t: &Trained) -> String {
    let h = &t.holdout;
    let cv = &t.cv;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "model {}  threshold {:.4}",
        t.manifest.version, t.manifest.threshold
    );
    let _ = writeln!(
        out,
        "{:<12} {:>10} {:>20} {:>10}",
        "metric", "holdout", "repeated cv (±sd)", "old API"
    );
    let rows = [
        ("f1", h.f1, Some((cv.f1_mean, cv.f1_sd)), Some(OLD_API.0)),
        (
            "roc_auc",
            h.roc_auc,
            Some((cv.roc_auc_mean, cv.roc_auc_sd)),
            Some(OLD_API.1),
        ),
        ("pr_auc", h.pr_auc, None, None),
        ("precision", h.precision, None, None),
        ("recall", h.recall, None, None),
        ("accuracy", h.accuracy, None, Some(OLD_API.2)),
    ];
    for (name, holdout, cv, old) in rows {
        let cv = cv.map_or_else(|| "-".to_owned(), |(m, sd)| format!("{m:.3} ± {sd:.3}"));
        let old = old.map_or_else(|| "-".to_owned(), |o| format!("{o:.2}"));
        let _ = writeln!(out, "{name:<12} {holdout:>10.3} {cv:>20} {old:>10}");
    }
    let [[tn, fp], [fn_, tp]] = h.confusion_matrix;
    let _ = writeln!(
        out,
        "confusion (holdout): tn {tn}  fp {fp}  fn {fn_}  tp {tp}"
    );
    let _ = writeln!(
        out,
        "cv: {} x {}-fold on the 80%; search best out-of-fold ROC AUC {:.4}",
        cv.repeats, cv.folds, t.search_best_auc
    );
    out
}
