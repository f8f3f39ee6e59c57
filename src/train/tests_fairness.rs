//! Training's fairness figures and `--exclude-features` on generated data: the manifest carries
//! `fairness` whose group counts add up to the holdout, the training ids are found by hash, and
//! a bundle trained without `genre` scores a record the same whatever its `genre`.

use std::path::Path;

use super::{train, Options, Progress};
use crate::extracts::{labelled_population, write_dir};
use crate::model::{Bundle, Model};

fn options(data: &Path, out: &Path, exclude: &[&str]) -> Options {
    Options {
        data: data.to_owned(),
        out: out.to_owned(),
        seed: 5,
        trials: 1,
        folds: 3,
        repeats: 1,
        progress: Progress::Off,
        exclude_features: exclude.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[test]
fn excluded_fields_change_no_score_and_the_manifest_says_what_was_left_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let rows = labelled_population(3, 300);
    write_dir(&data, &rows).expect("write extracts");
    let out = dir.path().join("without");
    let trained = train(&options(&data, &out, &["genre", "statut_marital"])).expect("train");

    // Every attribute's groups cover the holdout once.
    let holdout = trained.assessment.model.holdout.confusion_matrix;
    let holdout_rows: u64 = holdout.iter().flatten().sum();
    for (name, attribute) in &trained.fairness.attributes {
        let total: usize = attribute.groups.values().map(|g| g.count).sum();
        assert_eq!(total as u64, holdout_rows, "{name}");
    }
    let with_all = trained
        .with_every_feature
        .as_ref()
        .expect("the comparison with every feature");
    assert!(with_all.holdout.roc_auc > 0.5);
    let report = super::report::table(&trained);
    assert!(
        report.contains("without genre, statut_marital against every feature"),
        "{report}"
    );
    assert!(report.contains("selection-rate ratio"), "{report}");
    assert!(!report.contains("old API"), "{report}");

    let bundle = Bundle::load(&out).expect("loads");
    assert_eq!(
        bundle.manifest.excluded_features,
        ["genre", "statut_marital"]
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).expect("read"))
            .expect("json");
    assert!(manifest["fairness"]["attributes"]["age_band"]["groups"].is_object());
    assert!(manifest["metrics"]["with_every_feature"]["holdout"]["f1"].is_number());

    // The training employees are recognised by hash, and only they: 80% of the rows.
    let seen = bundle.manifest.training_employees.clone().expect("hashes");
    let known = rows.iter().filter(|r| seen.contains(r.employee_id)).count();
    assert_eq!(
        Some(known as u64),
        manifest["metrics"]["rows"]["train"].as_u64()
    );
    assert!(!seen.contains(1_000_000));

    // Two records that differ only in the excluded fields get the same score.
    let model = Model::new(&bundle, None).expect("model");
    let mut records: Vec<_> = crate::record::sample::many(9, 40)
        .iter()
        .map(|m| crate::record::validate(m).expect("valid"))
        .collect();
    let before = model
        .score(&records.iter().collect::<Vec<_>>())
        .expect("score");
    for r in &mut records {
        r.genre = match r.genre {
            crate::record::Genre::M => crate::record::Genre::F,
            crate::record::Genre::F => crate::record::Genre::M,
        };
        r.statut_marital = crate::record::StatutMarital::Divorce;
    }
    let after = model
        .score(&records.iter().collect::<Vec<_>>())
        .expect("score");
    assert_eq!(before, after);

    let err = train(&options(&data, &dir.path().join("bad"), &["salary"])).expect_err("unknown");
    assert!(err.to_string().contains("\"salary\""), "{err}");
}
