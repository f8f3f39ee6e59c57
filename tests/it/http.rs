//! The HTTP sidecar end to end: the app on port 0 against the real RabbitMQ and Postgres, a
//! reqwest client, and what a user would check (status, body, rows, metrics).

use std::num::NonZero;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use turnover::model::{Bundle, Model};
use turnover::record::sample;
use turnover::startup::Roles;

use crate::app::{model_path, TestApp};
use crate::helpers::wait_until;

pub(crate) mod batch;
mod bounds;
mod memory;
mod sync;

mod predict;
mod ready;

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// The JSON body of a GET of `url`.
pub(crate) async fn get_json(url: &str) -> Value {
    client()
        .get(url)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("a JSON body")
}

/// Waits until `/ready` says the broker link is up (and, with a worker, that it consumes).
pub(crate) async fn wait_ready(app: &TestApp, with_worker: bool) {
    let http = client();
    wait_until("the sidecar's broker link", Duration::from_secs(10), || {
        let http = http.clone();
        async move {
            let body: Value = http
                .get(app.url("/ready"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let ok = body["checks"]["rabbitmq"] == "ok"
                && (!with_worker || body["checks"]["consumers"] == "ok");
            ok.then_some(())
        }
    })
    .await;
}

pub(super) async fn post_json(app: &TestApp, path: &str, body: &Value) -> (StatusCode, Value) {
    let response = client()
        .post(app.url(path))
        .json(body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn with(field: &str, value: Value) -> Value {
    let mut record = sample::example();
    record.insert(field.to_owned(), value);
    Value::Object(record)
}

#[tokio::test]
async fn api_keys_guard_the_scoring_routes_only_and_openapi_lists_every_route() {
    let app = TestApp::spawn_with(
        |s| s.auth.api_keys = vec!["first-key".into(), "second-key".into()],
        Roles::ALL,
    )
    .await;
    wait_ready(&app, true).await;
    let http = client();
    let record = Value::Object(sample::example());
    for key in [None, Some("wrong"), Some("second-ke"), Some("second-keyy")] {
        let mut request = http.post(app.url("/predict")).json(&record);
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{key:?}");
        assert!(response.json::<Value>().await.unwrap()["detail"].is_string());
    }
    let response = http
        .post(app.url("/predict"))
        .header("X-API-Key", "second-key")
        .json(&record)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let batch = http
        .get(app.url(&format!("/batches/{}", uuid::Uuid::new_v4())))
        .send()
        .await
        .unwrap();
    assert_eq!(batch.status(), StatusCode::UNAUTHORIZED);
    for open in ["/health", "/ready", "/metrics", "/openapi.json"] {
        assert_eq!(
            http.get(app.url(open)).send().await.unwrap().status(),
            StatusCode::OK,
            "{open}"
        );
    }

    let doc = get_json(&app.url("/openapi.json")).await;
    let paths = doc["paths"].as_object().expect("paths");
    let routes = turnover::http::routes();
    for (method, path) in &routes {
        let operation = &paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} missing from the document"))
            [method.as_str().to_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {path} missing from the document"
        );
        assert!(!operation["responses"].as_object().unwrap().is_empty());
    }
    assert_eq!(
        paths.len(),
        routes.len(),
        "the document has routes the router does not serve"
    );
    for status in ["401", "422", "429", "503", "504"] {
        assert!(
            !paths["/predict"]["post"]["responses"][status].is_null(),
            "/predict {status} undocumented"
        );
    }
    assert!(doc["components"]["schemas"]["EmployeeRecord"]["properties"]["age"].is_object());
    app.finish().await;
}

#[tokio::test]
async fn over_the_rate_limit_is_a_429_with_retry_after() {
    let app = TestApp::spawn_with(
        |s| s.http.rate_limit_per_minute = Some(NonZero::new(2).unwrap()),
        Roles::ALL,
    )
    .await;
    let http = client();
    for _ in 0..2 {
        let response = http
            .post(app.url("/predict"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let response = http
        .post(app.url("/predict"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert!(response.json::<Value>().await.unwrap()["detail"].is_string());
    assert_eq!(
        http.get(app.url("/health")).send().await.unwrap().status(),
        StatusCode::OK,
        "health is not limited"
    );
    app.finish().await;
}
