//! A training run on a small generated data set: the bundle loads, the manifest is complete,
//! a learnable rule is learnt, and the same seed gives the same bytes.

use std::path::Path;

use serde_json::Value;

use super::{train, Options, TrainError};
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
        progress: false,
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
    assert!(
        trained.holdout.roc_auc > 0.75,
        "holdout ROC AUC {}",
        trained.holdout.roc_auc
    );
    assert!(
        trained.cv.roc_auc_mean > 0.75,
        "cv ROC AUC {}",
        trained.cv.roc_auc_mean
    );

    let bundle = Bundle::load(&a).expect("the bundle loads");
    assert_eq!(bundle.manifest.version, trained.manifest.version);

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

    train(&options(&data, &b, 42)).expect("train again");
    let model = |dir: &Path| std::fs::read(dir.join("model.json")).expect("model.json");
    assert!(
        model(&a) == model(&b),
        "the same seed gave different model bytes"
    );

    train(&options(&data, &c, 7)).expect("train with another seed");
    assert!(model(&a) != model(&c), "another seed gave the same model");
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
