//! The synchronous path's contract: its own transient queue (a timeout is no dead letter),
//! idempotency keys, a JSON body for every error, and throttled key guessing.

use std::num::NonZero;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use turnover::record::sample;
use turnover::startup::Roles;

use super::{client, post_json, wait_ready};
use crate::app::TestApp;
use crate::helpers::wait_until;

fn record_with_age(age: u64) -> Value {
    let mut record = sample::example();
    record.insert("age".into(), json!(age));
    Value::Object(record)
}

#[tokio::test]
async fn a_predict_that_times_out_leaves_no_dead_letter() {
    let mut app = TestApp::spawn_with(
        |s| s.http.predict_timeout_ms = NonZero::new(300).unwrap(),
        Roles::HTTP_ONLY,
    )
    .await;
    wait_ready(&app, false).await;
    for _ in 0..5 {
        let (status, body) = post_json(&app, "/predict", &record_with_age(41)).await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
        assert!(body["detail"].is_string(), "{body}");
    }
    let (rpc, dead) = (
        app.settings.amqp.rpc_queue.clone(),
        app.settings.amqp.dead_letter_queue.clone(),
    );
    // Their deadline passed in the synchronous queue: RabbitMQ drops them, nothing is kept.
    wait_until(
        "the expired requests to go",
        Duration::from_secs(10),
        || async { (app.queue_state(&rpc).await.0 == 0).then_some(()) },
    )
    .await;
    assert_eq!(
        app.queue_state(&dead).await.0,
        0,
        "a timeout became a dead letter"
    );
    assert_eq!(app.queue_state(&app.settings.amqp.queue).await.0, 0);
    app.stop().await.expect("clean stop");

    // A worker that comes later scores none of them, and records none.
    let worker = TestApp::start(app.db, app.settings.clone(), Roles::ALL).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        worker.predictions().await,
        0,
        "an expired request was scored"
    );
    assert_eq!(worker.queue_state(&dead).await.0, 0);
    worker.finish().await;
}

#[tokio::test]
async fn the_same_key_replays_the_stored_result_and_another_record_is_a_409() {
    let app = TestApp::spawn().await;
    wait_ready(&app, true).await;
    let http = client();
    let send = |body: Value, key: Option<&'static str>| {
        let http = http.clone();
        let url = app.url("/predict");
        async move {
            let mut request = http.post(url).json(&body);
            if let Some(key) = key {
                request = request.header("Idempotency-Key", key);
            }
            let response = request.send().await.expect("request");
            let replayed = response
                .headers()
                .get("idempotent-replayed")
                .map(|v| v.to_str().unwrap().to_owned());
            let status = response.status();
            (status, replayed, response.json::<Value>().await.unwrap())
        }
    };
    let envelope = |age| json!({"request_id": "x", "employee": record_with_age(age)});

    let (status, replayed, first) = send(envelope(41), None).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(replayed, None);
    assert_eq!(first["request_id"], "x");

    let (status, replayed, again) = send(envelope(41), None).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!(again, first, "a replay answers the stored result");

    let (status, replayed, conflict) = send(envelope(30), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{conflict}");
    assert_eq!(replayed, None);
    assert_eq!(conflict["detail"][0]["field"], "request_id", "{conflict}");
    let client = app.db.client().await;
    let stored = client
        .query_one(
            "SELECT probability, input->>'age' FROM predictions WHERE request_id = 'x'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        stored.get::<_, f64>(0),
        first["probability_1"].as_f64().unwrap()
    );
    assert_eq!(
        stored.get::<_, String>(1),
        "41",
        "the stored row is unchanged"
    );
    let reason: String = client
        .query_one(
            "SELECT reason FROM rejected_messages WHERE request_id = 'x'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(reason, "request_id_conflict");

    // The key may come as a header; it is the same key space.
    let (status, replayed, by_header) = send(record_with_age(41), Some("x")).await;
    assert_eq!(status, StatusCode::OK, "{by_header}");
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!(by_header, first);
    let (status, _, both) = send(envelope(41), Some("y")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{both}");
    assert_eq!(both["detail"][0]["field"], "request_id", "{both}");
    assert_eq!(app.predictions().await, 1);
    app.finish().await;
}

#[tokio::test]
async fn every_error_is_a_json_body() {
    let app = TestApp::spawn_with(|_| {}, Roles::HTTP_ONLY).await;
    let http = client();
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(70 * 1024));
    let cases = [
        (
            http.post(app.url("/predict"))
                .header("content-type", "application/json")
                .body(big),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            http.get(app.url("/predict")),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            http.delete(app.url("/health")),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (http.get(app.url("/nowhere")), StatusCode::NOT_FOUND),
        (
            http.post(app.url("/predict?explain=null"))
                .json(&record_with_age(41)),
            StatusCode::BAD_REQUEST,
        ),
        (
            http.post(app.url("/predict/batch")).body("not multipart"),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (request, expected) in cases {
        let response = request.send().await.unwrap();
        let status = response.status();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, expected, "{body}");
        assert_eq!(content_type, "application/json", "{expected}");
        assert!(
            body["detail"].is_string() || body["detail"].is_array(),
            "{expected}: {body}"
        );
    }
    let response = http
        .post(app.url("/predict?explain=null"))
        .json(&record_with_age(41))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["detail"][0]["field"], "explain",
        "a 400 lists its errors: {body}"
    );
    app.finish().await;
}

#[tokio::test]
async fn wrong_keys_from_one_address_are_throttled() {
    let app = TestApp::spawn_with(
        |s| {
            s.auth.api_keys = vec!["the-key".into()];
            s.http.auth_failures_per_minute = NonZero::new(10).unwrap();
        },
        Roles::HTTP_ONLY,
    )
    .await;
    let http = client();
    let mut statuses = Vec::new();
    for i in 0..20 {
        let response = http
            .post(app.url("/predict"))
            .header("X-API-Key", format!("guess-{i}"))
            .json(&record_with_age(41))
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&retry), "{retry}");
        }
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses[..10], [401; 10], "{statuses:?}");
    assert_eq!(statuses[10..], [429; 10], "{statuses:?}");
    // Once throttled, even the right key is not checked from that address until the minute ends.
    let response = http
        .post(app.url("/predict"))
        .header("X-API-Key", "the-key")
        .json(&record_with_age(41))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    app.finish().await;
}

/// The synchronous queue is transient: in a cluster it disappears with its node. The worker
/// declares it again and consumes it again by itself, and queued work never waits on it.
#[tokio::test]
async fn a_lost_synchronous_queue_is_declared_and_consumed_again() {
    let app = TestApp::spawn().await;
    wait_ready(&app, true).await;
    let (status, body) = post_json(&app, "/predict", &record_with_age(41)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // What a node's loss does to it: the queue is gone, and its consumers are cancelled.
    let amqp = &app.settings.amqp;
    let connection = turnover::queue::connect_with(amqp, "test-delete-rpc")
        .await
        .expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .queue_delete(
            amqp.rpc_queue.as_str().into(),
            lapin::options::QueueDeleteOptions::default(),
        )
        .await
        .expect("delete the synchronous queue");

    // Queued work goes on meanwhile.
    app.publish([crate::app::body(&Value::Object(sample::example()))])
        .await;
    app.wait_for_predictions(2).await;

    // Within seconds the worker has declared it again and consumes it: /predict answers 200.
    wait_until(
        "a /predict answered after the queue was lost",
        Duration::from_secs(15),
        || async {
            let (status, _) = post_json(&app, "/predict", &record_with_age(42)).await;
            (status == StatusCode::OK).then_some(())
        },
    )
    .await;
    let _ = connection.close(200, "".into()).await;
    app.finish().await;
}
