//! Bundles that prove what they are (issue 19 item 1): a bundle whose files do not give its
//! version is refused at start-up and on reload (what SIGHUP runs), naming the file and both
//! digests, while the bundle already loaded goes on serving under its own version.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use turnover::app::AppContext;
use turnover::record::sample;
use turnover::startup::{self, Roles};

use crate::app::{model_path, test_settings, TestApp};
use crate::helpers::TestDb;

/// The three ways a bundle is tampered with after it was made.
const TAMPERINGS: [&str; 3] = [
    "edited manifest",
    "truncated model.json",
    "swapped model.ubj",
];

/// A full copy of the committed bundle (model.ubj included).
fn copy_of_committed() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for file in ["manifest.json", "model.json", "model.ubj"] {
        std::fs::copy(model_path().join(file), dir.path().join(file)).expect("copy");
    }
    dir
}

/// Tampers with the bundle in `dir`; returns the file the refusal must name and a digest it
/// must quote.
fn tamper(dir: &Path, how: &str) -> (&'static str, String) {
    let sha = |bytes: &[u8]| turnover::digest::sha256_hex(bytes);
    match how {
        "edited manifest" => {
            let path = dir.join("manifest.json");
            let mut manifest: Value =
                serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
            let version = manifest["version"].as_str().expect("version").to_owned();
            manifest["threshold"] = Value::from(0.9);
            std::fs::write(&path, serde_json::to_vec(&manifest).expect("json")).expect("write");
            ("manifest.json", version)
        }
        "truncated model.json" => {
            let path = dir.join("model.json");
            let bytes = std::fs::read(&path).expect("read");
            let cut = &bytes[..bytes.len() / 3];
            std::fs::write(&path, cut).expect("write");
            ("model.json", sha(cut))
        }
        "swapped model.ubj" => {
            // Another model's bytes: the candidate bundle's model, as an operator might copy.
            let other = std::fs::read(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("models/candidate/model.json"),
            )
            .expect("read");
            std::fs::write(dir.join("model.ubj"), &other).expect("write");
            ("model.ubj", sha(&other))
        }
        other => panic!("unknown tampering {other}"),
    }
}

async fn predict_version(app: &TestApp) -> String {
    // Once the sidecar's broker link and a worker are up: a cold start answers 503 otherwise.
    crate::http::wait_ready(app, true).await;
    let reply: Value = reqwest::Client::new()
        .post(app.url("/predict"))
        .json(&Value::Object(sample::example()))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json reply");
    reply["model_version"]
        .as_str()
        .unwrap_or_else(|| panic!("no model_version in {reply}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_bundle_is_refused_at_start_naming_the_file_and_both_digests() {
    for how in TAMPERINGS {
        let dir = copy_of_committed();
        let (file, digest) = tamper(dir.path(), how);
        let db = TestDb::new().await;
        let mut settings = test_settings(&db);
        settings.model.path = dir.path().to_owned();
        let Err(error) = startup::build(settings, Roles::ALL).await else {
            panic!("{how}: the service started");
        };
        let text = format!("{error:#}");
        assert!(
            text.contains(file) && text.contains(&digest),
            "{how}: {text}"
        );
        // Nothing was recorded under the tampered files.
        let rows: i64 = db
            .client()
            .await
            .query_one("SELECT count(*) FROM model_versions", &[])
            .await
            .expect("count")
            .get(0);
        assert_eq!(rows, 0, "{how}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_bundle_is_refused_on_reload_and_the_loaded_one_goes_on_serving() {
    let dir = copy_of_committed();
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.model.path = dir.path().to_owned();
    let mut app = TestApp::idle(db, settings);
    turnover::telemetry::init(turnover::config::LogFormat::Pretty, "warn");
    let built = startup::build(app.settings.clone(), Roles::ALL)
        .await
        .expect("the committed bundle starts");
    let ctx: Arc<AppContext> = Arc::clone(&built.ctx);
    app.addr = built.http_addr();
    app.task = Some(tokio::spawn(built.run_until_stopped(app.shutdown.clone())));
    app.wait_for_consumer().await;
    let version = ctx.model_version();
    let registered: (String, Value) = {
        let row = app
            .db
            .client()
            .await
            .query_one(
                "SELECT sha256, manifest FROM model_versions WHERE version = $1",
                &[&version],
            )
            .await
            .expect("the version is registered");
        (row.get(0), row.get(1))
    };
    assert_eq!(predict_version(&app).await, version);

    for how in TAMPERINGS {
        // Each tampering starts from the good files, so each refusal has one cause.
        for file in ["manifest.json", "model.json", "model.ubj"] {
            std::fs::copy(model_path().join(file), dir.path().join(file)).expect("restore");
        }
        let (file, digest) = tamper(dir.path(), how);
        let refused = ctx.reload().await.expect_err(how).to_string();
        assert!(
            refused.contains(file) && refused.contains(&digest),
            "{how}: {refused}"
        );
        assert!(!refused.contains('\n'), "{how}: one line: {refused}");
        assert_eq!(ctx.model_version(), version, "{how}");
        assert_eq!(predict_version(&app).await, version, "{how}: still serving");
    }

    // Files that still give the version but whose manifest says something else (here its
    // date) are refused by the registry: a version names one manifest for good.
    for file in ["manifest.json", "model.json", "model.ubj"] {
        std::fs::copy(model_path().join(file), dir.path().join(file)).expect("restore");
    }
    let path = dir.path().join("manifest.json");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    manifest["created_at"] = Value::from("2020-01-01T00:00:00Z");
    std::fs::write(&path, serde_json::to_vec(&manifest).expect("json")).expect("write");
    let refused = ctx
        .reload()
        .await
        .expect_err("another manifest")
        .to_string();
    assert!(
        refused.contains("model_versions already holds version") && refused.contains(&version),
        "{refused}"
    );
    assert_eq!(predict_version(&app).await, version);

    // The registry row still says what the version was.
    let row = app
        .db
        .client()
        .await
        .query_one(
            "SELECT count(*) OVER (), sha256, manifest FROM model_versions",
            &[],
        )
        .await
        .expect("row");
    assert_eq!(row.get::<_, i64>(0), 1);
    assert_eq!(
        (row.get::<_, String>(1), row.get::<_, Value>(2)),
        registered
    );
    app.finish().await;
}
