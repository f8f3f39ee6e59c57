//! The per-group part of the training report: for each attribute, each group's count, leavers
//! and rates with their intervals, then the selection-rate ratio and the TPR gap; with
//! `--exclude-features`, the same table for the model refit with every feature, on the same
//! holdout rows, and both holdout figures side by side.

use std::fmt::Write;

use crate::fairness::{Fairness, Group};
use crate::train::Trained;

fn rate(value: Option<f64>, ci: Option<[f64; 2]>) -> String {
    match (value, ci) {
        (Some(v), Some([lo, hi])) => format!("{v:.3} [{lo:.2}, {hi:.2}]"),
        (Some(v), None) => format!("{v:.3}"),
        _ => "-".to_owned(),
    }
}

fn or_dash(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
}

fn group_row(out: &mut String, name: &str, g: &Group) {
    let _ = writeln!(
        out,
        "  {name:<14} {:>5} {:>7} {:>20} {:>20} {:>20} {:>20} {:>20} {:>20}",
        g.count,
        g.leavers,
        rate(g.selection_rate, g.selection_rate_ci),
        rate(g.tpr, g.tpr_ci),
        rate(g.fpr, g.fpr_ci),
        rate(g.precision, g.precision_ci),
        rate(g.mean_predicted, g.mean_predicted_ci),
        rate(g.observed_rate, g.observed_rate_ci),
    );
}

/// The per-group table of `fairness`, headed by `title`.
pub fn fairness_table(title: &str, fairness: &Fairness) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{title} (holdout, {:.0}% intervals from {} resamples of each group):",
        fairness.level * 100.0,
        fairness.resamples
    );
    let _ = writeln!(
        out,
        "  {:<14} {:>5} {:>7} {:>20} {:>20} {:>20} {:>20} {:>20} {:>20}",
        "group",
        "rows",
        "leavers",
        "selection rate",
        "tpr",
        "fpr",
        "precision",
        "mean predicted",
        "observed rate"
    );
    for (attribute, a) in &fairness.attributes {
        let _ = writeln!(out, "  {attribute}");
        for (name, g) in &a.groups {
            group_row(&mut out, name, g);
        }
        let _ = writeln!(
            out,
            "  {attribute}: selection-rate ratio (lowest / highest) {}, largest TPR gap {}",
            or_dash(a.selection_rate_ratio),
            or_dash(a.tpr_gap)
        );
    }
    out
}

/// The group tables of a run, and the comparison when features were excluded.
pub fn table(t: &Trained) -> String {
    let excluded = &t.manifest.excluded_features;
    let mut out = fairness_table("by group", &t.fairness);
    if let Some(c) = &t.with_every_feature {
        let m = &t.assessment.model.holdout;
        let _ = writeln!(
            out,
            "without {} against every feature (same parameters, calibration, threshold and \
             split): f1 {:.3} / {:.3}, roc_auc {:.3} / {:.3}, precision {:.3} / {:.3}, recall \
             {:.3} / {:.3}",
            excluded.join(", "),
            m.f1,
            c.holdout.f1,
            m.roc_auc,
            c.holdout.roc_auc,
            m.precision,
            c.holdout.precision,
            m.recall,
            c.holdout.recall,
        );
        out.push_str(&fairness_table(
            "by group, the same model refit with every feature",
            &c.fairness,
        ));
    }
    out
}
