//! Drift: a bundle trained on made-up employees, then employees drawn from the same population
//! (PSI near 0) and from a shifted one (older, better paid: PSI above 0.25), measured by
//! `turnover drift` and by the worker's window gauge.

use std::num::NonZero;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Map, Value};
use turnover::commands::{drift_table, write_drift_table, DriftError, DRIFT_FOUND};
use turnover::extracts::{labelled_population, read_dir, write_dir, ExtractRow};
use turnover::features;
use turnover::model::{psi_table, Bundle, FeatureDrift, PSI_MAJOR};
use turnover::queue::publisher::Outgoing;
use turnover::record::validate;
use turnover::startup::Roles;
use turnover::train::{train, Options, Progress};
use turnover::wire::Envelope;

use crate::app::{model_path, TestApp};
use crate::helpers::wait_until;
use crate::outcomes::{gauge, metrics_text};

/// A bundle trained once per test run on 800 made-up employees (seed 21).
fn trained_bundle() -> &'static Path {
    static BUNDLE: OnceLock<PathBuf> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("drift-{}", std::process::id()));
        let data = root.join("data");
        write_dir(&data, &labelled_population(21, 800)).expect("write extracts");
        let out = root.join("bundle");
        train(&Options {
            data,
            out: out.clone(),
            seed: 7,
            trials: 1,
            folds: 3,
            repeats: 1,
            progress: Progress::Off,
            exclude_features: Vec::new(),
        })
        .expect("train");
        out
    })
}

/// Older by 15 years (at most 70) and paid 2.5 times more (at most 100000): still valid records.
fn shifted(mut rows: Vec<ExtractRow>) -> Vec<ExtractRow> {
    for row in &mut rows {
        let r: &mut Map<String, Value> = &mut row.record;
        let age = r["age"].as_i64().expect("age");
        r.insert("age".into(), Value::from((age + 15).min(70)));
        let pay = r["revenu_mensuel"].as_f64().expect("pay");
        r.insert(
            "revenu_mensuel".into(),
            Value::from((pay * 2.5).min(100_000.0).round()),
        );
    }
    rows
}

fn psi_of(table: &[FeatureDrift], feature: &str) -> f64 {
    table
        .iter()
        .find(|r| r.feature == feature)
        .unwrap_or_else(|| panic!("{feature} in {table:?}"))
        .psi
}

fn extracts_of(rows: &[ExtractRow]) -> (tempfile::TempDir, turnover::extracts::Extracts) {
    let dir = tempfile::tempdir().expect("temp dir");
    write_dir(dir.path(), rows).expect("write extracts");
    let extracts = read_dir(dir.path()).expect("read back");
    (dir, extracts)
}

#[test]
fn turnover_drift_is_near_zero_on_the_training_population_and_flags_a_shift() {
    let bundle = Bundle::load(trained_bundle()).expect("the trained bundle loads");

    let (_same_dir, same) = extracts_of(&labelled_population(22, 800));
    let drift = drift_table(&bundle, &same).expect("drift");
    let table = drift.table.clone();
    assert_eq!((drift.rows, table.len()), (800, features::COUNT));
    assert!(drift.out_of_range.is_empty() && !drift.found(), "{drift:?}");
    let worst = &table[0];
    assert!(
        worst.psi < 0.1,
        "a sample of the training population drifts: {table:?}"
    );
    assert!(table.windows(2).all(|w| w[0].psi >= w[1].psi), "sorted");

    let (shifted_dir, moved) = extracts_of(&shifted(labelled_population(22, 800)));
    let drift = drift_table(&bundle, &moved).expect("drift");
    let table = drift.table.clone();
    for feature in ["age", "revenu_mensuel"] {
        assert!(psi_of(&table, feature) > PSI_MAJOR, "{feature}: {table:?}");
    }
    assert!(
        psi_of(&table, "distance_domicile_travail") < 0.1,
        "{table:?}"
    );
    let mut printed = Vec::new();
    write_drift_table(&mut printed, &drift).expect("write");
    let printed = String::from_utf8(printed).expect("utf-8");
    let age_line = printed
        .lines()
        .find(|l| l.starts_with("age "))
        .expect("an age line");
    assert!(age_line.ends_with("major shift (> 0.25)"), "{printed}");

    // The binary prints the same table, largest first.
    let out = Command::new(env!("CARGO_BIN_EXE_turnover"))
        .args(["drift", "--data"])
        .arg(shifted_dir.path())
        .arg("--model")
        .arg(trained_bundle())
        .env_remove("TURNOVER_CONFIG")
        .output()
        .expect("run turnover drift");
    assert_eq!(
        out.status.code(),
        Some(i32::from(DRIFT_FOUND)),
        "drift found: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first = stdout.lines().nth(1).expect("a first feature");
    assert!(first.starts_with(&table[0].feature), "{stdout}");

    // A bundle made before drift existed: a clear error.
    let old = tempfile::tempdir().expect("temp dir");
    let mut manifest: Value = serde_json::from_slice(
        &std::fs::read(model_path().join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    manifest
        .as_object_mut()
        .expect("object")
        .remove("drift_reference");
    std::fs::write(old.path().join("manifest.json"), manifest.to_string()).expect("write");
    std::fs::copy(
        model_path().join("model.json"),
        old.path().join("model.json"),
    )
    .expect("copy");
    let old_bundle = Bundle::load(old.path()).expect("an older bundle loads");
    let err = drift_table(&old_bundle, &same).expect_err("no reference");
    assert!(matches!(err, DriftError::NoReference(_)), "{err:?}");
    assert!(err.to_string().contains("has no drift_reference"), "{err}");
}

/// Every age 15 years older, with no cap: the ages past 70 are out of the record's range.
#[test]
fn drift_counts_values_out_of_range_and_still_prints_the_table() {
    let mut rows = labelled_population(24, 400);
    for row in &mut rows {
        let age = row.record["age"].as_i64().expect("age");
        row.record.insert("age".into(), Value::from(age + 15));
    }
    let past_70 = rows
        .iter()
        .filter(|r| r.record["age"].as_i64() > Some(70))
        .count();
    assert!(past_70 > 0, "the shift takes some ages past 70");
    let (dir, extracts) = extracts_of(&rows);
    let bundle = Bundle::load(trained_bundle()).expect("bundle");
    let drift = drift_table(&bundle, &extracts).expect("a table, not an error");
    assert_eq!(drift.rows, 400, "no employee left out");
    assert_eq!(drift.unreadable, 0);
    assert_eq!(drift.out_of_range.get("age"), Some(&past_70));
    assert_eq!(drift.out_of_range.get("age_debut_carriere"), Some(&past_70));
    assert!(psi_of(&drift.table, "age") > PSI_MAJOR);

    let out = Command::new(env!("CARGO_BIN_EXE_turnover"))
        .args(["drift", "--data"])
        .arg(dir.path())
        .arg("--model")
        .arg(trained_bundle())
        .env_remove("TURNOVER_CONFIG")
        .output()
        .expect("run turnover drift");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(i32::from(DRIFT_FOUND)), "{stderr}");
    assert!(stdout.starts_with("feature"), "{stdout}");
    assert_eq!(stdout.lines().count(), features::COUNT + 1, "{stdout}");
    let age_line = stdout
        .lines()
        .find(|l| l.starts_with("age "))
        .expect("an age line");
    assert!(
        age_line.split_whitespace().nth(2) == Some(past_70.to_string().as_str()),
        "{age_line}"
    );
    assert!(!stderr.contains("invalid values"), "{stderr}");
}

fn envelopes(rows: &[ExtractRow], prefix: &str) -> Vec<Outgoing> {
    rows.iter()
        .map(|row| Outgoing {
            body: Envelope {
                request_id: Some(format!("{prefix}-{}", row.employee_id)),
                employee_id: Some(row.employee_id),
                ..Envelope::new(row.record.clone())
            }
            .to_bytes(),
            ..Default::default()
        })
        .collect()
}

/// What the worker's window should show for these records: the same computation, here.
fn expected(bundle: &Bundle, rows: &[ExtractRow]) -> Vec<FeatureDrift> {
    let records: Vec<_> = rows
        .iter()
        .map(|r| validate(&r.record).expect("valid"))
        .collect();
    let data = features::matrix(records.iter());
    psi_table(&bundle.manifest.drift_reference, &data, records.len())
}

#[tokio::test]
async fn the_worker_exports_the_psi_of_its_recent_records() {
    let path = trained_bundle().to_owned();
    let bundle = Bundle::load(&path).expect("bundle");
    let app = TestApp::spawn_with(
        |s| {
            s.model.path = path;
            s.drift.window = NonZero::new(200).unwrap();
            s.drift.min_records = NonZero::new(200).unwrap();
            s.drift.refresh_secs = NonZero::new(1).unwrap();
        },
        Roles::ALL,
    )
    .await;

    let same = labelled_population(23, 200);
    assert!(app
        .publish(envelopes(&same, "same"))
        .await
        .all_confirmed(200));
    app.wait_for_predictions(200).await;
    let want = expected(&bundle, &same);
    let age = psi_of(&want, "age");
    let app_ref = &app;
    let text = wait_until("the PSI gauges", Duration::from_secs(10), || async move {
        let text = metrics_text(app_ref).await;
        gauge(&text, "turnover_feature_psi", &[("feature", "age")])
            .filter(|g| (g - age).abs() < 1e-9)
            .map(|_| text)
    })
    .await;
    for row in &want {
        let got = gauge(
            &text,
            "turnover_feature_psi",
            &[("feature", row.feature.as_str())],
        );
        assert!(
            got.is_some_and(|g| (g - row.psi).abs() < 1e-9),
            "{}: {got:?} vs {}",
            row.feature,
            row.psi
        );
        assert!(
            row.psi < PSI_MAJOR,
            "no alarm on the training population: {want:?}"
        );
    }

    // The window (200 records) now holds only shifted employees.
    let moved = shifted(labelled_population(24, 200));
    assert!(app
        .publish(envelopes(&moved, "moved"))
        .await
        .all_confirmed(200));
    app.wait_for_predictions(400).await;
    let want = expected(&bundle, &moved);
    let age = psi_of(&want, "age");
    assert!(age > PSI_MAJOR, "{want:?}");
    wait_until("the shifted PSI", Duration::from_secs(10), || async move {
        let text = metrics_text(app_ref).await;
        gauge(&text, "turnover_feature_psi", &[("feature", "age")])
            .filter(|g| (g - age).abs() < 1e-9)
    })
    .await;
    let text = metrics_text(&app).await;
    let pay = gauge(
        &text,
        "turnover_feature_psi",
        &[("feature", "revenu_mensuel")],
    );
    assert!(pay.is_some_and(|p| p > PSI_MAJOR), "{pay:?}");
    app.finish().await;
}
