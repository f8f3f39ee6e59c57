//! Loading the committed bundle and refusing bundles whose files do not match their manifest.

use super::*;

/// The committed bundle's folder.
fn committed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/turnover")
}

/// A copy of the committed bundle whose manifest is edited by `edit` and given the
/// version its new content hashes to (when it still parses), as `turnover train` would.
fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> tempfile::TempDir {
    tampered(|m| {
        edit(m);
        if let Ok(parsed) = serde_json::from_value::<Manifest>(m.clone()) {
            let json = read(&committed().join("model.json")).expect("model.json");
            let sha = sha256_hex(&json);
            let id = parsed.identity(&sha, parsed.model_ubj_sha256.as_deref());
            m["version"] = serde_json::json!(id.version());
        }
    })
}

/// A copy of the committed bundle (model.json only) whose manifest is edited by `edit`.
fn tampered(edit: impl FnOnce(&mut serde_json::Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&read(&committed().join("manifest.json")).expect("manifest"))
            .expect("json");
    edit(&mut manifest);
    let model = read(&committed().join("model.json")).expect("model.json");
    std::fs::write(dir.path().join("model.json"), model).expect("write model");
    std::fs::write(
        dir.path().join("manifest.json"),
        serde_json::to_vec(&manifest).expect("json"),
    )
    .expect("write manifest");
    dir
}

#[test]
fn the_committed_model_ubj_is_model_json_in_binary_form_and_scores_the_same() {
    let dir = committed();
    let bundle = Bundle::load(&dir).expect("the committed bundle loads");
    let ubj = bundle
        .model_ubj
        .as_deref()
        .expect("the committed bundle has model.ubj");
    let from_json = super::super::xgb::Booster::load(&bundle.model_json).expect("model.json");
    assert!(
        from_json.to_ubj().expect("to ubj") == ubj,
        "model.ubj is not model.json in binary form"
    );
    let from_ubj = super::super::xgb::Booster::load(ubj).expect("model.ubj");
    let records: Vec<_> = crate::record::sample::many(3, 50)
        .iter()
        .map(|map| crate::record::validate(map).expect("valid"))
        .collect();
    let data = features::matrix(records.iter());
    assert_eq!(
        from_json.predict(&data, records.len()).expect("score"),
        from_ubj.predict(&data, records.len()).expect("score"),
    );
}

#[test]
fn a_model_ubj_that_is_not_the_manifests_is_refused_and_json_alone_still_loads() {
    let stale = edited(|m| m["model_ubj_sha256"] = serde_json::json!("0".repeat(64)));
    let ubj = read(&committed().join("model.ubj")).expect("model.ubj");
    std::fs::write(stale.path().join("model.ubj"), ubj).expect("write model.ubj");
    let err = Bundle::load(stale.path()).expect_err("refused");
    assert!(err.to_string().contains("model.ubj has sha256"), "{err}");

    // `edited` copies model.json only: without model.ubj the bundle serves model.json.
    let json_only = edited(|_| {});
    let bundle = Bundle::load(json_only.path()).expect("model.json alone loads");
    assert!(bundle.model_ubj.is_none());
    assert_eq!(bundle.model_bytes(), bundle.model_json.as_slice());
}

#[test]
fn a_manifest_without_calibration_or_drift_reference_loads_uncalibrated() {
    let dir = edited(|m| {
        let m = m.as_object_mut().expect("object");
        m.remove("calibration");
        m.remove("drift_reference");
    });
    let bundle = Bundle::load(dir.path()).expect("an older bundle loads");
    assert_eq!(bundle.manifest.calibration, Calibration::None);
    assert!(bundle.manifest.drift_reference.is_empty());
}

#[test]
fn the_committed_bundle_carries_calibration_and_drift_reference() {
    let bundle = Bundle::load(&committed()).expect("the committed bundle loads");
    assert_eq!(bundle.manifest.calibration.problem(), None);
    assert_eq!(
        bundle.manifest.drift_reference.keys().len(),
        features::COUNT,
        "one distribution per feature"
    );
}

#[test]
fn unservable_calibration_or_drift_reference_is_refused() {
    let bad_calibration = edited(|m| {
        m["calibration"] = serde_json::json!({"method": "platt", "a": -1.0, "b": 0.0});
    });
    let err = Bundle::load(bad_calibration.path()).expect_err("refused");
    assert!(err.to_string().contains("slope"), "{err}");

    let unknown_method = edited(|m| m["calibration"] = serde_json::json!({"method": "beta"}));
    let err = Bundle::load(unknown_method.path()).expect_err("refused");
    assert!(matches!(err, ModelError::Manifest { .. }), "{err}");

    let bad_bins = edited(|m| {
        m["drift_reference"] = serde_json::json!({"age": {"edges": [30.0], "shares": [1.0]}});
    });
    let err = Bundle::load(bad_bins.path()).expect_err("refused");
    assert!(
        err.to_string().contains("drift_reference[\"age\"]"),
        "{err}"
    );
}

#[test]
fn files_that_do_not_give_the_version_are_refused_naming_the_file_and_both_digests() {
    let committed_version = Bundle::load(&committed())
        .expect("the committed bundle proves its version")
        .manifest
        .version;

    let threshold = tampered(|m| m["threshold"] = serde_json::json!(0.9));
    let err = Bundle::load(threshold.path()).expect_err("an edited threshold is refused");
    let text = err.to_string();
    assert!(
        text.contains("manifest.json says version") && text.contains(&committed_version),
        "{text}"
    );

    let truncated = tampered(|_| {});
    let json = read(&committed().join("model.json")).expect("model.json");
    std::fs::write(truncated.path().join("model.json"), &json[..json.len() / 2]).expect("truncate");
    let err = Bundle::load(truncated.path()).expect_err("a truncated model is refused");
    let text = err.to_string();
    assert!(
        text.contains("model.json has sha256")
            && text.contains(&sha256_hex(&json[..json.len() / 2]))
            && text.contains(&sha256_hex(&json)),
        "{text}"
    );

    let swapped = tampered(|_| {});
    std::fs::write(swapped.path().join("model.ubj"), b"{not the model").expect("swap");
    let err = Bundle::load(swapped.path()).expect_err("a swapped model.ubj is refused");
    let text = err.to_string();
    assert!(
        text.contains("model.ubj has sha256") && text.contains(&sha256_hex(b"{not the model")),
        "{text}"
    );
}
