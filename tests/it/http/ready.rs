//! Readiness and the sidecar without its dependencies: no worker, no broker, no database.

use std::num::NonZero;

use super::*;

#[tokio::test]
async fn without_a_worker_predict_times_out_and_the_request_expires_unscored() {
    let args = Roles::HTTP_ONLY;
    let mut app = TestApp::spawn_with(
        |s| s.http.predict_timeout_ms = NonZero::new(300).unwrap(),
        args,
    )
    .await;
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
