//! `POST /admin/reload` and `turnover reload --url`: a bundle swapped over HTTP, a broken one
//! refused with the versions still served, behind the API keys.

use reqwest::StatusCode;
use serde_json::Value;

use crate::app::{model_path, TestApp};
use crate::cli::{printed, turnover};
use crate::http::{client, get_json};
use crate::model_swap::{candidate_path, install, version_of};

const KEY: &str = "reload-test-key";

async fn post_reload(app: &TestApp, key: Option<&str>) -> (StatusCode, Value) {
    let mut request = client().post(app.url("/admin/reload"));
    if let Some(key) = key {
        request = request.header("X-API-Key", key);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn health_version(app: &TestApp) -> Value {
    get_json(&app.url("/health")).await["model_version"].clone()
}

#[tokio::test]
async fn post_admin_reload_swaps_the_bundle_and_refuses_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    install(&model_path(), dir.path());
    let (live, candidate) = (version_of(&model_path()), version_of(&candidate_path()));
    assert_ne!(live, candidate);
    let folder = dir.path().to_owned();
    let app = TestApp::spawn_with(
        move |s| {
            s.model.path = folder;
            s.auth.api_keys = vec![KEY.to_owned()];
        },
        turnover::startup::Roles::ALL,
    )
    .await;

    let (status, body) = post_reload(&app, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["detail"].is_string(), "{body}");

    install(&candidate_path(), dir.path());
    let (status, body) = post_reload(&app, Some(KEY)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["model_version"], candidate.as_str(), "{body}");
    assert_eq!(body["previous_version"], live.as_str(), "{body}");
    assert_eq!(health_version(&app).await, candidate.as_str());

    std::fs::write(dir.path().join("manifest.json"), "not a manifest").unwrap();
    let (status, body) = post_reload(&app, Some(KEY)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("refused"),
        "{body}"
    );
    assert_eq!(
        body["model_version"],
        candidate.as_str(),
        "the loaded bundle keeps serving"
    );
    assert_eq!(health_version(&app).await, candidate.as_str());

    // The command: a refusal is exit 1, a swap exit 0 with the versions on stdout.
    let url = app.url("");
    let refused = turnover(&app.settings, &["reload", "--url", &url, "--api-key", KEY]).await;
    assert_eq!(refused.status.code(), Some(1), "{:?}", printed(&refused));
    install(&model_path(), dir.path());
    let key_file = dir.path().join("keys");
    std::fs::write(&key_file, format!("{KEY}\nanother\n")).unwrap();
    let key_file = key_file.to_string_lossy().into_owned();
    let swapped = turnover(
        &app.settings,
        &["reload", "--url", &url, "--api-key-file", &key_file],
    )
    .await;
    let (stdout, stderr) = printed(&swapped);
    assert!(swapped.status.success(), "{stderr}");
    let answer: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(answer["model_version"], live.as_str(), "{answer}");
    assert_eq!(answer["previous_version"], candidate.as_str(), "{answer}");
    assert_eq!(health_version(&app).await, live.as_str());
    app.finish().await;
}
