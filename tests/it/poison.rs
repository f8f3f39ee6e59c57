//! Poison isolation (issue 17): what one message holds costs only that message, against the
//! real broker and database. Each test publishes before its worker starts, so the poison and
//! the valid messages share a batch, as in production under load.

use std::num::NonZero;
use std::time::Duration;

use serde_json::{json, Value};
use turnover::config::QueueType;
use turnover::digest::sha256_hex;
use turnover::queue::publisher::Outgoing;
use turnover::record::sample;
use turnover::startup::Roles;

use crate::app::{body, test_settings, TestApp};
use crate::helpers::{wait_until, TestDb};

fn valid(id: &str, employee_id: i64) -> Outgoing {
    body(&json!({"request_id": id, "employee_id": employee_id, "employee": sample::example()}))
}

/// An idle app (nothing consuming yet) on a fresh database, with `adjust` applied.
async fn idle(adjust: impl FnOnce(&mut turnover::config::Settings)) -> TestApp {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    adjust(&mut settings);
    TestApp::idle(db, settings)
}

async fn wait_for_rejected(app: &TestApp, n: u64) {
    wait_until(
        &format!("{n} rejected rows"),
        Duration::from_secs(20),
        || async move { (app.rejected().await >= n).then_some(()) },
    )
    .await;
}

async fn dead_letters(app: &TestApp) -> u32 {
    app.queue_state(&app.settings.amqp.dead_letter_queue)
        .await
        .0
}

/// `(request_id, reason, errors)` of the rejected row holding exactly `payload`.
async fn rejected_row(app: &TestApp, payload: &[u8]) -> (String, String, Value) {
    let row = app
        .db
        .client()
        .await
        .query_one(
            "SELECT request_id, reason, errors FROM rejected_messages WHERE payload = $1",
            &[&payload],
        )
        .await
        .expect("one rejected row for the message");
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test]
async fn a_batch_with_a_nul_id_stores_the_others_and_rejects_that_one_by_the_id_rule() {
    let mut app = idle(|_| {}).await;
    let nul_id = body(&json!({"request_id": "http\u{0}poison", "employee": sample::example()}));
    let long_id = body(&json!({"request_id": "x".repeat(3_000), "employee": sample::example()}));
    let mut nul_value = sample::example();
    nul_value.insert("domaine_etude".into(), json!("Market\u{0}ing"));
    let nul_value = body(&json!({"request_id": "nul-value", "employee": nul_value}));
    let mut messages: Vec<Outgoing> = (0..30).map(|i| valid(&format!("ok-{i}"), i)).collect();
    messages.insert(10, nul_id.clone());
    messages.insert(20, long_id.clone());
    messages.push(nul_value.clone());
    assert!(app.publish(messages).await.all_confirmed(33));
    app.run(Roles::ALL).await;

    app.wait_for_predictions(30).await;
    wait_for_rejected(&app, 3).await;
    for poison in [&nul_id, &long_id] {
        let (request_id, reason, errors) = rejected_row(&app, &poison.body).await;
        assert_eq!(reason, "invalid_record");
        assert_eq!(
            request_id,
            format!("sha256:{}", &sha256_hex(&poison.body)[..32]),
            "a refused id is never the key"
        );
        let error = &errors.as_array().expect("a list")[0];
        assert_eq!(error["field"], "request_id");
        assert_eq!(
            error["message"],
            "must be 1 to 200 bytes of UTF-8 with no control characters"
        );
        assert!(error["value"].as_str().is_some_and(|v| v.len() <= 200));
    }
    let (_, reason, errors) = rejected_row(&app, &nul_value.body).await;
    assert_eq!(reason, "invalid_record");
    assert!(
        errors.to_string().contains("Market\\\\u0000ing"),
        "the NUL is escaped in the stored errors: {errors}"
    );
    assert_eq!(app.predictions().await, 30);
    assert_eq!(dead_letters(&app).await, 0);
    app.finish().await;
}

#[tokio::test]
async fn a_row_postgres_refuses_is_narrowed_down_and_the_rest_of_the_batch_commits() {
    let mut app = idle(|_| {}).await;
    // A refusal no validation foresees: a constraint the database holds and the service does
    // not know about.
    app.db
        .client()
        .await
        .batch_execute(
            "ALTER TABLE predictions ADD CONSTRAINT refuse_one CHECK (request_id <> 'refused')",
        )
        .await
        .expect("constraint");
    let mut messages: Vec<Outgoing> = (0..40).map(|i| valid(&format!("ok-{i}"), i)).collect();
    let culprit = valid("refused", 99);
    messages.insert(17, culprit.clone());
    assert!(app.publish(messages).await.all_confirmed(41));
    app.run(Roles::ALL).await;

    app.wait_for_predictions(40).await;
    wait_for_rejected(&app, 1).await;
    let (request_id, reason, errors) = rejected_row(&app, &culprit.body).await;
    assert_eq!(
        (request_id.as_str(), reason.as_str()),
        ("refused", "storage_refused")
    );
    let refusal = errors
        .as_array()
        .and_then(|e| e.iter().find(|e| e["field"] == "storage"))
        .expect("the refusal is in the errors");
    assert_eq!(refusal["value"]["sqlstate"], "23514");
    assert!(refusal["value"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("refuse_one")));
    assert_eq!(app.predictions().await, 40);
    assert_eq!(dead_letters(&app).await, 0);
    app.finish().await;
}

#[tokio::test]
async fn an_oversized_message_is_a_too_large_row_with_its_head_length_and_hash() {
    let app = TestApp::spawn_with(|s| s.amqp.max_message_bytes = 8_192, Roles::ALL).await;
    let big = body(&json!({"request_id": "big", "employee": {"poste": "x".repeat(20_000)}}));
    assert!(app
        .publish([big.clone(), valid("small", 1)])
        .await
        .all_confirmed(2));
    app.wait_for_predictions(1).await;
    wait_for_rejected(&app, 1).await;
    let row = app
        .db
        .client()
        .await
        .query_one(
            "SELECT reason, length(payload), payload_sha256, errors FROM rejected_messages",
            &[],
        )
        .await
        .expect("the too_large row");
    assert_eq!(row.get::<_, String>(0), "too_large");
    assert_eq!(row.get::<_, i32>(1), 4096, "only the first 4 KiB are kept");
    assert_eq!(row.get::<_, String>(2), sha256_hex(&big.body));
    let errors: Value = row.get(3);
    assert_eq!(errors[0]["value"]["bytes"], json!(big.body.len()));
    app.finish().await;
}

#[tokio::test]
async fn one_id_with_two_bodies_makes_two_rejected_rows_and_a_redelivery_none() {
    let app = TestApp::spawn_with(
        |s| s.worker.consumers = NonZero::new(1).unwrap(),
        Roles::ALL,
    )
    .await;
    let first = body(&json!({"request_id": "same", "employee": {"age": 12}}));
    let second = body(&json!({"request_id": "same", "employee": {"age": 13}}));
    assert!(app
        .publish([first.clone(), second.clone()])
        .await
        .all_confirmed(2));
    wait_for_rejected(&app, 2).await;
    // The same bytes again, then a marker: one consumer takes them in order, so once the
    // marker is stored the repeat has been handled.
    let marker = body(&json!({"request_id": "marker", "employee": {"age": 14}}));
    assert!(app.publish([first.clone(), marker]).await.all_confirmed(2));
    wait_for_rejected(&app, 3).await;
    let client = app.db.client().await;
    let same: i64 = client
        .query_one(
            "SELECT count(*) FROM rejected_messages WHERE request_id = 'same'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(same, 2, "one row per distinct message, none for the repeat");
    assert_eq!(app.rejected().await, 3);
    app.finish().await;
}

#[tokio::test]
async fn a_classic_queue_dead_letters_a_poison_message_after_one_redelivery() {
    let mut app = idle(|s| s.amqp.queue_type = QueueType::Classic).await;
    // A message whose every row Postgres refuses, its storage_refused row included: it can
    // only fail, on every delivery.
    app.db
        .client()
        .await
        .batch_execute(
            "ALTER TABLE predictions ADD CONSTRAINT no_poison CHECK (request_id <> 'poison'); \
             ALTER TABLE rejected_messages ADD CONSTRAINT no_poison \
                 CHECK (request_id IS DISTINCT FROM 'poison')",
        )
        .await
        .expect("constraints");
    let mut messages: Vec<Outgoing> = (0..10).map(|i| valid(&format!("ok-{i}"), i)).collect();
    messages.push(valid("poison", 99));
    assert!(app.publish(messages).await.all_confirmed(11));
    app.run(Roles::ALL).await;

    app.wait_for_predictions(10).await;
    wait_until(
        "the poison message in the dead-letter queue",
        Duration::from_secs(20),
        || async { (dead_letters(&app).await == 1).then_some(()) },
    )
    .await;
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("turnover_jobs_total{outcome=\"dead_lettered\"} 1"),
        "counted once"
    );
    let (ready, _) = app.queue_state(&app.settings.amqp.queue).await;
    assert_eq!(ready, 0, "not requeued forever");
    assert_eq!(app.predictions().await, 10);
    assert_eq!(app.rejected().await, 0);
    app.finish().await;
}

#[tokio::test]
async fn predict_refuses_a_bad_id_or_key_with_a_422_naming_it_and_publishes_nothing() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    let bad_key = http
        .post(app.url("/predict"))
        .header("Idempotency-Key", "k".repeat(201))
        .json(&json!(sample::example()))
        .send()
        .await
        .expect("request");
    assert_eq!(bad_key.status(), 422);
    let answer: Value = bad_key.json().await.expect("a JSON body");
    assert_eq!(answer["detail"][0]["field"], "Idempotency-Key");
    assert_eq!(
        answer["detail"][0]["message"],
        "must be 1 to 200 bytes of UTF-8 with no control characters"
    );

    let nul_id = http
        .post(app.url("/predict"))
        .json(&json!({"request_id": "http\u{0}poison", "employee": sample::example()}))
        .send()
        .await
        .expect("request");
    assert_eq!(nul_id.status(), 422);
    let answer: Value = nul_id.json().await.expect("a JSON body");
    assert_eq!(answer["detail"][0]["field"], "request_id");

    // The sidecar refused both at the edge: a valid request is the only row. It is sent once
    // the sidecar's broker link and a worker are up, or it could be a 503 for that alone.
    crate::http::wait_ready(&app, true).await;
    let ok = http
        .post(app.url("/predict"))
        .json(&json!(sample::example()))
        .send()
        .await
        .expect("request");
    assert_eq!(ok.status(), 200);
    assert_eq!((app.predictions().await, app.rejected().await), (1, 0));
    app.finish().await;
}
