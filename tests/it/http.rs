//! The HTTP sidecar end to end: the app on port 0 against the real RabbitMQ and Postgres, a
//! reqwest client, and what a user would check (status, body, rows, metrics).

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

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
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
async fn predict_scores_like_offline_scoring_and_stores_an_http_row() {
    let app = TestApp::spawn().await;
    wait_ready(&app, true).await;
    let record = sample::example();
    let (status, body) = post_json(&app, "/predict", &Value::Object(record.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for field in [
        "request_id",
        "prediction",
        "probability_0",
        "probability_1",
        "risk_level",
        "model_version",
    ] {
        assert!(!body[field].is_null(), "{field} missing in {body}");
    }
    let (p0, p1) = (
        body["probability_0"].as_f64().unwrap(),
        body["probability_1"].as_f64().unwrap(),
    );
    assert!((p0 + p1 - 1.0).abs() < 1e-9);

    let bundle = Bundle::load(&model_path()).expect("bundle");
    let model = Model::new(&bundle, None).expect("model");
    let offline = model
        .score(&[&turnover::record::validate(&record).expect("valid")])
        .expect("scored")[0]
        .clone();
    assert!(
        (p1 - offline.probability).abs() < 1e-6,
        "http {p1} vs offline {}",
        offline.probability
    );
    assert_eq!(body["prediction"], json!(offline.prediction));
    assert_eq!(body["risk_level"], offline.risk_level.as_str());
    assert_eq!(body["model_version"], bundle.manifest.version.as_str());

    let request_id = body["request_id"].as_str().unwrap();
    let row = app
        .db
        .client()
        .await
        .query_one(
            "SELECT source, probability FROM predictions WHERE request_id = $1",
            &[&request_id],
        )
        .await
        .expect("a row");
    assert_eq!(row.get::<_, &str>(0), "http");
    assert!((row.get::<_, f64>(1) - p1).abs() < 1e-12);

    // An envelope keeps its request_id; ?explain=true adds the explanation.
    let envelope = json!({"request_id": "mine-1", "employee_id": 7, "employee": record});
    let response = client()
        .post(app.url("/predict?explain=true"))
        .json(&envelope)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-request-id"], "mine-1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["request_id"], "mine-1");
    assert!(
        !body["explanation"]
            .as_array()
            .expect("explanation")
            .is_empty(),
        "{body}"
    );
    app.finish().await;
}

#[tokio::test]
async fn predict_rejects_what_the_old_api_rejected_naming_the_field() {
    let app = TestApp::spawn().await;
    wait_ready(&app, true).await;
    let mut missing = sample::example();
    missing.remove("age");
    let cases = [
        (with("age", json!(15)), "age"),
        (with("age", json!(75)), "age"),
        (with("age", json!("trente")), "age"),
        (
            with("nb_formations_suivies", json!(-1)),
            "nb_formations_suivies",
        ),
        (
            with("nombre_experiences_precedentes", json!(-2)),
            "nombre_experiences_precedentes",
        ),
        (with("genre", json!("X")), "genre"),
        (with("departement", json!("Finance")), "departement"),
        (with("statut_marital", json!("Veuf")), "statut_marital"),
        (
            with("frequence_deplacement", json!("Jamais")),
            "frequence_deplacement",
        ),
        (with("revenu_mensuel", json!(500)), "revenu_mensuel"),
        (
            with("nb_formations_suivies", json!(99)),
            "nb_formations_suivies",
        ),
        (json!({}), "age"),
        (Value::Object(missing), "age"),
    ];
    for (body, field) in &cases {
        let (status, answer) = post_json(&app, "/predict", body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {answer}"
        );
        let detail = answer["detail"]
            .as_array()
            .unwrap_or_else(|| panic!("a list in {answer}"));
        assert!(
            detail
                .iter()
                .any(|e| e["field"] == *field && e["message"].is_string()),
            "{field} not named in {answer}"
        );
    }
    for raise in ["15%", "10 %"] {
        let (status, answer) = post_json(
            &app,
            "/predict",
            &with("augementation_salaire_precedente", json!(raise)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{raise}: {answer}");
    }
    for malformed in [&b"{\"age\": "[..], b"not json", b"[1, 2]", b""] {
        let response = client()
            .post(app.url("/predict"))
            .header("content-type", "application/json")
            .body(malformed.to_vec())
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{status}"
        );
        let body: Value = response.json().await.expect("a JSON error");
        assert!(body["detail"][0]["message"].is_string(), "{body}");
    }
    // Nothing invalid reached the queue: the two raises are the only rows.
    assert_eq!(app.predictions().await, 2);
    assert_eq!(app.rejected().await, 0);
    app.finish().await;
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

    let doc: Value = http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
    let app = TestApp::spawn_with(|s| s.http.rate_limit_per_minute = Some(2), Roles::ALL).await;
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

#[tokio::test]
async fn without_a_worker_predict_times_out_and_the_request_expires_unscored() {
    let args = Roles::HTTP_ONLY;
    let mut app = TestApp::spawn_with(|s| s.http.predict_timeout_ms = 300, args).await;
    wait_ready(&app, false).await;
    let (status, body) = post_json(&app, "/predict", &Value::Object(sample::example())).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert!(body["detail"].is_string());

    // A worker that comes later must not score it: its caller has gone.
    app.stop().await.expect("clean stop");
    let settings = app.settings.clone();
    let worker = TestApp::start(app.db, settings, Roles::ALL).await;
    let queue = worker.settings.amqp.queue.clone();
    wait_until(
        "the request queue to drain",
        Duration::from_secs(10),
        || async { (worker.queue_state(&queue).await.0 == 0).then_some(()) },
    )
    .await;
    assert_eq!(
        worker.predictions().await,
        0,
        "an expired request was scored"
    );
    worker.finish().await;
}

#[tokio::test]
async fn with_the_broker_down_predict_is_a_503_and_not_ready() {
    let args = Roles::HTTP_ONLY;
    let app = TestApp::spawn_with(
        |s| s.amqp.url = "amqp://guest:guest@127.0.0.1:1/%2f".into(),
        args,
    )
    .await;
    let (status, body) = post_json(&app, "/predict", &Value::Object(sample::example())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let response = client().get(app.url("/ready")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: Value = response.json().await.unwrap();
    assert_ne!(ready["checks"]["rabbitmq"], "ok", "{ready}");
    assert_eq!(ready["checks"]["postgres"], "ok", "{ready}");
    app.finish().await;
}

#[tokio::test]
async fn ready_needs_a_consumer() {
    let app = TestApp::spawn_with(|_| {}, Roles::HTTP_ONLY).await;
    wait_ready(&app, false).await;
    let response = client().get(app.url("/ready")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "not ready");
    assert!(
        body["checks"]["consumers"]
            .as_str()
            .unwrap()
            .contains("no consumer"),
        "{body}"
    );
    app.finish().await;
}

#[tokio::test]
async fn metrics_move_with_requests_and_ready_is_green_with_a_worker() {
    let app = TestApp::spawn_with(|s| s.metrics.queue_depth_interval_ms = 100, Roles::ALL).await;
    wait_ready(&app, true).await;
    let http = client();
    let ready = http.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");

    let (status, _) = post_json(&app, "/predict", &Value::Object(sample::example())).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post_json(&app, "/predict", &json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let _ = http
        .get(app.url(&format!("/batches/{}", uuid::Uuid::new_v4())))
        .send()
        .await
        .unwrap();

    let queue = app.settings.amqp.queue.clone();
    let text = wait_until("the queue depth gauge", Duration::from_secs(10), || {
        let (http, url, queue) = (http.clone(), app.url("/metrics"), queue.clone());
        async move {
            let response = http.get(url).send().await.ok()?;
            assert!(response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4"));
            let text = response.text().await.ok()?;
            text.contains(&format!("turnover_queue_depth{{queue=\"{queue}\"}}"))
                .then_some(text)
        }
    })
    .await;
    for line in [
        "turnover_http_requests_total{route=\"/predict\",status=\"200\"} 1",
        "turnover_http_requests_total{route=\"/predict\",status=\"422\"} 1",
        "turnover_http_requests_total{route=\"/batches/{batch_id}\",status=\"404\"} 1",
        "turnover_http_request_duration_seconds_count{route=\"/predict\"} 2",
        "turnover_jobs_total{outcome=\"scored\"} 1",
        "turnover_amqp_connected 1",
        "turnover_postgres_connected 1",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    app.finish().await;
}

#[tokio::test]
async fn ready_turns_503_while_postgres_is_unreachable_and_back_to_200() {
    use crate::helpers::TestDb;
    use crate::proxy::Proxy;

    let db = TestDb::new().await;
    let proxy = Proxy::start(std::net::SocketAddr::from(([127, 0, 0, 1], 5432))).await;
    let mut settings = crate::app::test_settings(&db);
    settings.postgres.url = db.url.replace("127.0.0.1:5432", &proxy.addr.to_string());
    let app = TestApp::start(db, settings, Roles::ALL).await;
    let client = reqwest::Client::new();
    let ready = |app: &TestApp| {
        let (client, url) = (client.clone(), app.url("/ready"));
        async move {
            let response = client.get(url).send().await.expect("reachable");
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    wait_until("ready", Duration::from_secs(10), || async {
        (ready(&app).await.0 == StatusCode::OK).then_some(())
    })
    .await;

    proxy.down();
    let body = wait_until(
        "not ready without Postgres",
        Duration::from_secs(10),
        || async {
            let (status, body) = ready(&app).await;
            (status == StatusCode::SERVICE_UNAVAILABLE).then_some(body)
        },
    )
    .await;
    assert!(
        body.to_string().contains("postgres"),
        "names what is down: {body}"
    );
    let health = client
        .get(app.url("/health"))
        .send()
        .await
        .expect("reachable");
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "liveness does not depend on Postgres"
    );

    proxy.up();
    wait_until("ready again", Duration::from_secs(15), || async {
        (ready(&app).await.0 == StatusCode::OK).then_some(())
    })
    .await;
    app.finish().await;
}
