//! The model card's text, in Markdown, from a bundle's manifest: what the model is for and not
//! for, its data and features, its holdout figures with intervals beside the baseline, its
//! figures per group, its calibration, its limits, and how to make the card again. Every
//! number is read from the manifest; the prose around them does not depend on the data.

use std::fmt::Write;

use serde_json::Value;

use crate::fairness::{Fairness, Group};
use crate::model::Manifest;

/// Fields whose features are sensitive: the model must be shown not to treat their groups
/// differently, and they can be trained without.
const SENSITIVE: [&str; 3] = ["genre", "statut_marital", "age"];

fn num(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "–".to_owned(), |x| format!("{x:.3}"))
}

fn ci(v: &Value) -> String {
    match (v[0].as_f64(), v[1].as_f64()) {
        (Some(lo), Some(hi)) => format!("{lo:.3} – {hi:.3}"),
        _ => "–".to_owned(),
    }
}

fn rate(value: Option<f64>, interval: Option<[f64; 2]>) -> String {
    match (value, interval) {
        (Some(v), Some([lo, hi])) => format!("{v:.3} ({lo:.2} – {hi:.2})"),
        (Some(v), None) => format!("{v:.3}"),
        _ => "–".to_owned(),
    }
}

fn group_row(out: &mut String, name: &str, g: &Group) {
    let _ = writeln!(
        out,
        "| {name} | {} | {} | {} | {} | {} | {} | {} | {} |",
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

fn fairness_tables(out: &mut String, fairness: &Fairness) {
    for (attribute, a) in &fairness.attributes {
        let _ = writeln!(
            out,
            "\n**{attribute}**: selection-rate ratio (lowest / highest) {}, largest TPR gap {}.\n",
            a.selection_rate_ratio
                .map_or_else(|| "–".to_owned(), |r| format!("{r:.2}")),
            a.tpr_gap
                .map_or_else(|| "–".to_owned(), |r| format!("{r:.2}"))
        );
        let _ = writeln!(
            out,
            "| group | rows | leavers | selection rate | TPR | FPR | precision | mean predicted | observed leave rate |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for (name, g) in &a.groups {
            group_row(out, name, g);
        }
    }
}

/// The card of `manifest`, its figures linked under `figures` (a relative path or URL prefix).
pub fn card(manifest: &Manifest, figures: &str) -> String {
    let m = &manifest.metrics;
    let rows = &m["rows"];
    let (train, holdout, leavers) = (
        rows["train"].as_u64().unwrap_or(0),
        rows["holdout"].as_u64().unwrap_or(0),
        rows["leavers"].as_u64().unwrap_or(0),
    );
    let holdout_leavers = m["holdout"]["confusion_matrix"][1]
        .as_array()
        .map_or(0, |r| r.iter().filter_map(Value::as_u64).sum::<u64>());
    let mut out = String::new();
    let _ = writeln!(out, "# Model card: turnover {}\n", manifest.version);
    let _ = writeln!(out, "Made by `turnover model-card` (and by `turnover train`, which writes it into the bundle) from the bundle's `manifest.json`, trained {} on data sha256 `{}…`. Do not edit by hand: make it again (see the end).\n", manifest.created_at, &manifest.data_sha256.get(..12).unwrap_or(""));
    out.push_str(
        "## Intended use\n\nA **signal for HR conversations**: which employees may be worth a conversation about \
         their work, workload, pay or prospects, and which factors weigh in their score. A person \
         reads the score, with its explanation, before anything is said or done. It is **never an \
         automated decision about a person**.\n\n\
         ## Out-of-scope uses\n\n\
         - Any decision about a person taken on the score: dismissal, promotion, pay, bonus, \
           assignment, hiring, or ranking people for any of these.\n\
         - Surveillance or discipline: the score describes a risk, not a conduct.\n\
         - Other populations than the one it was trained on (another company, country or period) \
           without retraining and checking drift and the figures per group.\n\
         - Reading the probability of one employee as a fact: it is a rate among similar employees, \
           with the uncertainty below.\n\n",
    );
    let _ = writeln!(out, "## Training data\n\nThe HR system's three extracts (survey, appraisal, HR records) joined on the employee: {} employees, {leavers} of whom left. A stratified 80/20 split (seed {}): {train} employees to train and choose everything, {holdout} ({holdout_leavers} leavers) held out and used only to judge. The extracts never leave the HR environment; the bundle keeps their sha256 and, for each training employee, a salted hash of the id (`training_employees`) so live figures can set apart the employees never seen in training.\n",
        train + holdout, manifest.params["seed"]);
    let sensitive: Vec<&str> = manifest
        .features
        .iter()
        .filter(|f| {
            SENSITIVE
                .iter()
                .any(|s| f.as_str() == *s || f.starts_with(&format!("{s}=")))
                || f.as_str() == "age_debut_carriere"
        })
        .map(String::as_str)
        .collect();
    let _ = writeln!(out, "## Features\n\n{} features built from the record's fields (docs/model.md#features: the list, their sources and why). **Sensitive**: {} (gender, marital status, age and the age one started working at). They are model inputs: the figures per group below show how the model treats their groups.{}\n",
        manifest.features.len(),
        sensitive.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", "),
        if manifest.excluded_features.is_empty() { " This bundle was trained with all of them; `turnover train --exclude-features genre,statut_marital` trains without them and compares both on the same split (on the reference data: docs/model.md#fairness, where leaving them out evens the selection rates of women and men, 0.975 from 0.746, and changes neither the overall figures nor the marital-status gap beyond noise).".to_owned() }
        else { format!(" This bundle was trained **without** {} (their columns are masked in training and serving).", manifest.excluded_features.join(", ")) });
    out.push_str("## Metrics\n\nOn the holdout, at the bundle's threshold, each with its percentile bootstrap 95% interval, beside a logistic regression trained the same way on the same split.\n\n| metric | XGBoost (served) | 95% interval | logistic regression | 95% interval |\n| --- | ---: | ---: | ---: | ---: |\n");
    let base = &m["baseline_logreg"];
    for name in [
        "f1",
        "roc_auc",
        "pr_auc",
        "precision",
        "recall",
        "accuracy",
        "brier",
    ] {
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} |",
            num(&m["holdout"][name]),
            ci(&m["holdout_ci"][name]),
            num(&base["holdout"][name]),
            ci(&base["holdout_ci"][name])
        );
    }
    let diff = &base["roc_auc_difference"];
    let _ = writeln!(out, "\nThreshold {:.3}. ROC AUC difference (XGBoost − logistic regression): {} with a paired 95% interval of {}.\n", manifest.threshold, num(&diff["estimate"]), ci(&diff["ci"]));
    let _ = writeln!(out, "![ROC curves of the model and the logistic regression on the holdout]({figures}/roc.svg)\n\n![Precision-recall curves of the model and the logistic regression on the holdout]({figures}/precision_recall.svg)\n");
    out.push_str("## Fairness\n\nPer group of gender, marital status and age band, on the holdout: selection rate (share predicted to leave), true- and false-positive rates, precision, and the mean predicted against the observed leave rate, each with a bootstrap 95% interval (the group's rows resampled). The four-fifths rule asks for a selection-rate ratio of at least 0.8; a TPR gap says the leavers of one group are found less often than another's. Groups of a few dozen employees have wide intervals: read a gap together with its intervals.\n");
    match &manifest.fairness {
        Some(f) => fairness_tables(&mut out, f),
        None => out.push_str(
            "\nThis bundle was trained before the figures per group existed: retrain it.\n",
        ),
    }
    let _ = writeln!(out, "\n![Selection rate per group with its 95% interval]({figures}/selection_rate.svg)\n\n![True-positive rate per group with its 95% interval]({figures}/tpr.svg)\n");
    let _ = writeln!(out, "## Calibration\n\nChosen by cross-validation on the 80%: **{}** (out-of-fold Brier: none {}, Platt {}, isotonic {}). On the holdout, by deciles of the predicted probability:\n\n| predicted | mean predicted | observed | leavers | rows |\n| --- | ---: | ---: | ---: | ---: |",
        m["calibration"]["method"].as_str().unwrap_or("none"), num(&m["calibration"]["cv_brier"]["none"]), num(&m["calibration"]["cv_brier"]["platt"]), num(&m["calibration"]["cv_brier"]["isotonic"]));
    for bin in m["holdout_calibration_table"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let _ = writeln!(
            out,
            "| {} – {} | {} | {} | {} | {} |",
            num(&bin["from"]),
            num(&bin["to"]),
            num(&bin["predicted_mean"]),
            num(&bin["observed_rate"]),
            bin["leavers"],
            bin["count"]
        );
    }
    let _ = writeln!(
        out,
        "\n![Calibration curve on the holdout]({figures}/calibration.svg)\n"
    );
    let _ = writeln!(out, "## Limitations\n\n- **Small data**: {} employees, a {holdout}-row holdout with {holdout_leavers} leavers. The intervals above are wide; a change of a few points between two retrainings is noise.\n- **No separation from a logistic regression**: the ROC AUC difference's interval ({}) includes 0. A simpler model would do as well on this evidence.\n- **Per-group figures** rest on groups of a few dozen holdout employees, some with a handful of leavers: they can show a large gap, not prove a small one. Live figures (`model_performance_by_group`, alert `TurnoverFairnessGap`) grow with the outcomes.\n- **Excluding a field does not remove what correlates with it** (age with seniority and pay, for instance).\n- **One company, one period**: drift (`turnover drift`, `turnover_feature_psi`) says when the population moved away from the training data.\n- **Live figures include the training employees** unless read in `model_performance_unseen`, which sets them apart.\n",
        train + holdout, ci(&diff["ci"]));
    out.push_str("## Making this card again\n\n`turnover train` writes `model-card.md` and its figures (`figures/*.svg`) into the bundle it trains. For an existing bundle, with its training extracts (needed for the holdout's curves; the split is the manifest's):\n\n```sh\nturnover model-card --model models/turnover --data /path/to/extracts --out docs/model-card.md --figures models/turnover/figures\n```\n");
    out
}
