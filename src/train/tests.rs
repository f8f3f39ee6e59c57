//! A training run on a small generated data set: the bundle loads, the manifest is complete,
//! a learnable rule is learnt, and the same seed gives the same bytes.

use std::path::Path;

use serde_json::Value;

use super::{train, Options, Progress, TrainError};
use crate::extracts::{labelled_population, write_dir, ExtractRow};
use crate::model::Bundle;

/// `n` made-up employees labelled by a noisy, learnable rule.
fn labelled_rows(n: usize) -> Vec<ExtractRow> {
    labelled_population(11, n)
}

fn options(data: &Path, out: &Path, seed: u64) -> Options {
    Options {
        data: data.to_owned(),
        out: out.to_owned(),
        seed,
        trials: 1,
        folds: 3,
        repeats: 2,
        progress: Progress::Off,
        exclude_features: Vec::new(),
    }
}

#[test]
fn training_on_generated_data_is_complete_learnt_and_reproducible() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let rows = labelled_rows(400);
    let leavers = rows.iter().filter(|r| r.label == Some(true)).count();
    assert!(
        (60..=260).contains(&leavers),
        "the rule labels {leavers} of 400 as leavers"
    );
    write_dir(&data, &rows).expect("write extracts");

    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    let trained = train(&options(&data, &a, 42)).expect("train");
    let holdout = &trained.assessment.model.holdout;
    assert!(
        holdout.roc_auc > 0.75,
        "holdout ROC AUC {}",
        holdout.roc_auc
    );
    assert!(
        trained.cv.roc_auc_mean > 0.75,
        "cv ROC AUC {}",
        trained.cv.roc_auc_mean
    );

    let bundle = Bundle::load(&a).expect("the bundle loads");
    assert_eq!(bundle.manifest.version, trained.manifest.version);
    assert!(
        bundle.model_ubj.is_some(),
        "train writes model.ubj, the form the service loads"
    );

    let manifest: Value =
        serde_json::from_slice(&std::fs::read(a.join("manifest.json")).expect("manifest"))
            .expect("json");
    for field in [
        "version",
        "threshold",
        "features",
        "risk_cuts",
        "xgboost_version",
        "params",
        "data_sha256",
        "created_at",
    ] {
        assert!(
            manifest.get(field).is_some_and(|v| !v.is_null()),
            "manifest lacks {field}"
        );
    }
    assert_eq!(
        manifest["features"],
        serde_json::json!(crate::features::names())
    );
    assert_eq!(manifest["risk_cuts"], serde_json::json!([0.3, 0.7]));
    for field in [
        "f1",
        "precision",
        "recall",
        "roc_auc",
        "pr_auc",
        "accuracy",
        "confusion_matrix",
    ] {
        assert!(
            manifest["metrics"]["holdout"].get(field).is_some(),
            "metrics.holdout lacks {field}"
        );
    }
    for field in ["f1_mean", "f1_sd", "roc_auc_mean", "roc_auc_sd"] {
        assert!(
            manifest["metrics"]["cv"][field].is_number(),
            "metrics.cv lacks {field}"
        );
    }
    check_honest_evaluation(&manifest, &trained);

    train(&options(&data, &b, 42)).expect("train again");
    let model = |dir: &Path| std::fs::read(dir.join("model.json")).expect("model.json");
    let ubj = |dir: &Path| std::fs::read(dir.join("model.ubj")).expect("model.ubj");
    assert!(
        model(&a) == model(&b),
        "the same seed gave different model bytes"
    );
    assert!(
        ubj(&a) == ubj(&b),
        "the same seed gave different model.ubj bytes"
    );
    let without_time = |dir: &Path| {
        let mut m: Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
                .expect("json");
        m["created_at"] = Value::Null;
        m
    };
    assert_eq!(
        without_time(&a),
        without_time(&b),
        "the same seed gave another manifest (besides created_at)"
    );

    train(&options(&data, &c, 7)).expect("train with another seed");
    assert!(model(&a) != model(&c), "another seed gave the same model");
}

/// Intervals, baseline, calibration and drift reference: present, well-formed and consistent.
fn check_honest_evaluation(manifest: &Value, trained: &super::Trained) {
    let metrics = &manifest["metrics"];
    let metric_names = [
        "f1",
        "precision",
        "recall",
        "roc_auc",
        "pr_auc",
        "accuracy",
        "brier",
    ];
    for (section, holdout, ci) in [
        ("model", &metrics["holdout"], &metrics["holdout_ci"]),
        (
            "baseline",
            &metrics["baseline_logreg"]["holdout"],
            &metrics["baseline_logreg"]["holdout_ci"],
        ),
    ] {
        for name in metric_names {
            let point = holdout[name].as_f64().expect("a holdout figure");
            let lo = ci[name][0].as_f64().expect("a low bound");
            let hi = ci[name][1].as_f64().expect("a high bound");
            assert!(
                lo <= point && point <= hi,
                "{section} {name}: {point} outside [{lo}, {hi}]"
            );
        }
    }
    let difference = &metrics["baseline_logreg"]["roc_auc_difference"];
    let estimate = difference["estimate"].as_f64().expect("an AUC difference");
    let want = metrics["holdout"]["roc_auc"].as_f64().unwrap()
        - metrics["baseline_logreg"]["holdout"]["roc_auc"]
            .as_f64()
            .unwrap();
    assert!((estimate - want).abs() < 1e-12, "{estimate} vs {want}");
    assert!(difference["ci"][0].as_f64() <= difference["ci"][1].as_f64());
    assert!(metrics["baseline_logreg"]["holdout"]["roc_auc"].as_f64() > Some(0.7));

    let method = manifest["calibration"]["method"]
        .as_str()
        .expect("a method");
    assert!(["none", "platt", "isotonic"].contains(&method), "{method}");
    assert_eq!(metrics["calibration"]["method"], method);
    let cv_brier = &metrics["calibration"]["cv_brier"];
    let chosen = cv_brier[method]
        .as_f64()
        .expect("the chosen method's Brier");
    for other in ["none", "platt", "isotonic"] {
        assert!(
            chosen <= cv_brier[other].as_f64().expect("a Brier"),
            "{cv_brier}"
        );
    }
    // The threshold is a calibrated out-of-fold probability, and the served scores are
    // calibrated: the holdout's confusion matrix is the bundle's own scoring of the holdout.
    let table = metrics["holdout_calibration_table"]
        .as_array()
        .expect("a table");
    let rows: u64 = table.iter().map(|b| b["count"].as_u64().unwrap()).sum();
    let leavers: u64 = table.iter().map(|b| b["leavers"].as_u64().unwrap()).sum();
    assert_eq!(rows, metrics["rows"]["holdout"].as_u64().unwrap());
    let [[_, _], [fn_, tp]] = trained.assessment.model.holdout.confusion_matrix;
    assert_eq!(leavers, fn_ + tp);
    assert_eq!(table.len(), 10);

    let reference = manifest["drift_reference"]
        .as_object()
        .expect("drift_reference");
    assert_eq!(reference.len(), crate::features::COUNT);
    for (name, bins) in &trained.manifest.drift_reference {
        assert!(bins.is_valid(), "{name}: {bins:?}");
        assert!(bins.shares.len() <= crate::model::MAX_BINS, "{name}");
    }
    let overtime = &trained.manifest.drift_reference["heure_supplementaires"];
    assert_eq!(overtime.edges, vec![0.0], "a 0/1 feature gets two bins");
}

#[test]
fn training_on_unlabelled_extracts_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rows: Vec<ExtractRow> = labelled_rows(20)
        .into_iter()
        .map(|row| ExtractRow { label: None, ..row })
        .collect();
    write_dir(dir.path(), &rows).expect("write extracts");
    let err = train(&options(dir.path(), &dir.path().join("out"), 42)).expect_err("no labels");
    assert!(matches!(err, TrainError::NoLabels(_)), "{err:?}");
    assert!(err.to_string().contains("no label column"), "{err}");
    assert!(!dir.path().join("out").exists(), "nothing is written");
}
