//! The worker against the real broker and database: every message ends in exactly one place.

use std::net::SocketAddr;
use std::time::Duration;

use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use serde_json::{json, Value};
use turnover::model::{Bundle, Model, RiskLevel};
use turnover::queue::publisher::Outgoing;
use turnover::queue::{self, now_ms};
use turnover::record::{sample, validate};
use turnover::startup::Roles;
use turnover::storage::{PredictionRow, Source};
use turnover::wire::{Envelope, ENQUEUED_AT_HEADER};

use crate::app::{body, delete_topology, model_path, test_settings, TestApp};
use crate::helpers::{wait_until, TestDb};
use crate::proxy::Proxy;

mod faults;

fn envelope(id: &str, employee_id: i64, record: &serde_json::Map<String, Value>) -> Outgoing {
    Outgoing {
        body: Envelope {
            request_id: Some(id.to_owned()),
            employee_id: Some(employee_id),
            ..Envelope::new(record.clone())
        }
        .to_bytes(),
        ..Default::default()
    }
}

async fn probabilities(app: &TestApp) -> Vec<(String, f64, i16, String)> {
    let client = app.db.client().await;
    let rows = client
        .query("SELECT request_id, probability, prediction, risk_level FROM predictions ORDER BY request_id", &[])
        .await
        .expect("query");
    rows.iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

#[tokio::test]
async fn published_records_become_rows_equal_to_offline_scores() {
    let app = TestApp::spawn().await;
    let records = sample::many(11, 300);
    let report = app
        .publish(
            records
                .iter()
                .enumerate()
                .map(|(i, r)| envelope(&format!("r-{i:04}"), i as i64, r)),
        )
        .await;
    assert!(report.all_confirmed(300), "{report:?}");
    app.wait_for_predictions(300).await;

    let bundle = Bundle::load(&model_path()).expect("bundle");
    let model = Model::new(&bundle, None).expect("model");
    let typed: Vec<_> = records
        .iter()
        .map(|r| validate(r).expect("valid"))
        .collect();
    let offline = model
        .score(&typed.iter().collect::<Vec<_>>())
        .expect("score");
    let rows = probabilities(&app).await;
    assert_eq!(rows.len(), 300);
    for (i, (id, p, prediction, risk)) in rows.iter().enumerate() {
        assert_eq!(id, &format!("r-{i:04}"));
        assert!(
            (p - offline[i].probability).abs() < 1e-6,
            "{id}: {p} vs {}",
            offline[i].probability
        );
        assert_eq!(*prediction, i16::from(offline[i].prediction));
        assert_eq!(risk, offline[i].risk_level.as_str());
    }
    let client = app.db.client().await;
    let source: String = client
        .query_one("SELECT DISTINCT source FROM predictions", &[])
        .await
        .expect("q")
        .get(0);
    assert_eq!(source, "queue");
    app.finish().await;
}

#[tokio::test]
async fn a_duplicate_or_a_redelivery_after_commit_makes_one_row() {
    let app = TestApp::spawn().await;
    let record = sample::example();
    // A crash after the commit but before the ack: the row exists, the message comes back.
    let typed = validate(&record).expect("valid");
    let committed = PredictionRow {
        request_id: "redelivered".into(),
        employee_id: Some(1),
        batch_id: None,
        source: Source::Queue,
        model_version: "before-crash".into(),
        prediction: 0,
        probability: 0.25,
        risk_level: RiskLevel::Low,
        input: typed.to_json().into(),
        record_sha256: typed.sha256(),
        explanation: None,
        enqueued_at: None,
        scored_at: time::OffsetDateTime::now_utc(),
        trace_id: None,
        groups: None,
    };
    crate::helpers::insert_batch(&mut app.db.client().await, &[committed], &[])
        .await
        .expect("pre-commit");

    let report = app
        .publish([
            envelope("twice", 2, &record),
            envelope("twice", 2, &record),
            envelope("redelivered", 1, &record),
            envelope("after", 3, &record),
        ])
        .await;
    assert!(report.all_confirmed(4));
    app.wait_for_predictions(3).await;
    wait_until("the queue to drain", Duration::from_secs(10), || async {
        (app.queue_state(&app.settings.amqp.queue).await.0 == 0).then_some(())
    })
    .await;
    let rows = probabilities(&app).await;
    let ids: Vec<_> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(ids, ["after", "redelivered", "twice"]);
    let kept: String = app
        .db
        .client()
        .await
        .query_one(
            "SELECT model_version FROM predictions WHERE request_id = 'redelivered'",
            &[],
        )
        .await
        .expect("q")
        .get(0);
    assert_eq!(
        kept, "before-crash",
        "the first committed row is kept, not overwritten"
    );
    app.finish().await;
}

#[tokio::test]
async fn bad_messages_are_recorded_with_their_reasons_and_the_rest_is_scored() {
    let app = TestApp::spawn().await;
    let mut out_of_range = sample::example();
    out_of_range.insert("age".into(), json!(15));
    out_of_range.insert("genre".into(), json!("X"));
    let mut unknown_field = sample::example();
    unknown_field.insert("salaire".into(), json!(3000));
    let bad = [
        (
            Outgoing {
                body: b"\xff\xfenot json".to_vec(),
                message_id: Some("bytes".into()),
                ..Default::default()
            },
            "malformed_json",
        ),
        (
            Outgoing {
                body: b"[1,2,3]".to_vec(),
                message_id: Some("array".into()),
                ..Default::default()
            },
            "not_an_object",
        ),
        (envelope("range", 1, &out_of_range), "invalid_record"),
        (envelope("unknown", 2, &unknown_field), "invalid_record"),
        (
            body(&json!({"employee": "not an object", "request_id": "shape"})),
            "invalid_record",
        ),
    ];
    let mut messages: Vec<Outgoing> = bad.iter().map(|(m, _)| m.clone()).collect();
    messages.extend((0..20).map(|i| envelope(&format!("good-{i}"), i, &sample::example())));
    assert!(app.publish(messages).await.all_confirmed(25));
    app.wait_for_predictions(20).await;
    wait_until("5 rejected rows", Duration::from_secs(10), || async {
        (app.rejected().await == 5).then_some(())
    })
    .await;

    let client = app.db.client().await;
    for (message, reason) in &bad {
        let row = client
            .query_one(
                "SELECT reason, errors, request_id FROM rejected_messages WHERE payload = $1",
                &[&message.body],
            )
            .await
            .expect("one rejected row per bad message, with its exact bytes");
        assert_eq!(row.get::<_, String>(0), *reason);
        let errors: Value = row.get(1);
        assert!(errors.as_array().is_some_and(|e| !e.is_empty()), "{errors}");
    }
    let errors: Value = client
        .query_one(
            "SELECT errors FROM rejected_messages WHERE request_id = 'range'",
            &[],
        )
        .await
        .expect("q")
        .get(0);
    let fields: Vec<_> = errors
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["field"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        fields,
        ["age", "genre"],
        "every error of the record is kept"
    );
    app.finish().await;
}

#[tokio::test]
async fn an_expired_message_is_not_scored() {
    let app = TestApp::spawn().await;
    let amqp = &app.settings.amqp;
    let connection = queue::connect(&amqp.url, "test-expired")
        .await
        .expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    // Published 10 s ago (by its header) with a 5 s deadline: the broker still holds it (its
    // TTL counts from arrival), but its caller has given up.
    let mut headers = FieldTable::default();
    headers.insert(
        ENQUEUED_AT_HEADER.into(),
        AMQPValue::LongLongInt(now_ms() as i64 - 10_000),
    );
    let props = BasicProperties::default()
        .with_expiration("5000".into())
        .with_headers(headers)
        .with_delivery_mode(2);
    let stale = serde_json::to_vec(&json!({"request_id": "stale", "employee": sample::example()}))
        .expect("json");
    channel
        .basic_publish(
            amqp.exchange.as_str().into(),
            amqp.routing_key.as_str().into(),
            BasicPublishOptions::default(),
            &stale,
            props,
        )
        .await
        .expect("publish");
    assert!(app
        .publish([envelope("fresh", 1, &sample::example())])
        .await
        .all_confirmed(1));
    app.wait_for_predictions(1).await;
    wait_until(
        "the expired message recorded",
        Duration::from_secs(10),
        || async { (app.rejected().await == 1).then_some(()) },
    )
    .await;
    let client = app.db.client().await;
    let reason: String = client
        .query_one(
            "SELECT reason FROM rejected_messages WHERE request_id = 'stale'",
            &[],
        )
        .await
        .expect("q")
        .get(0);
    assert_eq!(reason, "expired");
    assert_eq!(
        app.predictions().await,
        1,
        "only the fresh message was scored"
    );
    let _ = connection.close(200, "".into()).await;
    app.finish().await;
}
