//! Idempotency keys over the queue: a producer that reuses a `request_id` gets the stored
//! result back (marked as a replay) for the same record, and a `request_id_conflict`
//! rejection (a 409 reply) for another record. The stored row never changes.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::types::{AMQPValue, ShortString};
use lapin::BasicProperties;
use serde_json::{json, Value};
use turnover::record::sample;
use turnover::wire::Envelope;

use crate::app::{body, TestApp};

fn envelope(age: u64) -> Vec<u8> {
    let mut record = sample::example();
    record.insert("age".into(), json!(age));
    Envelope {
        request_id: Some("q-1".into()),
        ..Envelope::new(record)
    }
    .to_bytes()
}

fn header(properties: &BasicProperties, name: &str) -> Option<i64> {
    match properties
        .headers()
        .as_ref()?
        .inner()
        .get(&ShortString::from(name))?
    {
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::LongLongInt(n) => Some(*n),
        _ => None,
    }
}

#[tokio::test]
async fn a_reused_request_id_replays_the_stored_result_or_is_refused() {
    let app = TestApp::spawn().await;
    let first: Value = serde_json::from_slice(&envelope(41)).unwrap();
    assert!(app.publish([body(&first)]).await.all_confirmed(1));
    app.wait_for_predictions(1).await;

    let amqp = &app.settings.amqp;
    let mut client = app.reply_client("test-idempotency").await;
    let conflicting = envelope(30);
    for (correlation, bytes) in [("same", envelope(41)), ("other", conflicting.clone())] {
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_correlation_id(correlation.into());
        client.request(amqp, &bytes, properties).await;
    }

    let mut answers = std::collections::HashMap::new();
    while answers.len() < 2 {
        let delivery = tokio::time::timeout(Duration::from_secs(10), client.consumer.next())
            .await
            .expect("two replies within 10 s")
            .expect("a delivery")
            .expect("no error");
        let id = delivery
            .properties
            .correlation_id()
            .as_ref()
            .unwrap()
            .to_string();
        let body: Value = serde_json::from_slice(&delivery.data).unwrap();
        answers.insert(id, (delivery.properties, body));
    }
    let stored = app
        .db
        .client()
        .await
        .query_one(
            "SELECT probability, model_version, input->>'age' FROM predictions WHERE request_id = 'q-1'",
            &[],
        )
        .await
        .unwrap();

    let (properties, replay) = &answers["same"];
    assert_eq!(header(properties, "x-status"), Some(200));
    assert_eq!(header(properties, "x-idempotent-replayed"), Some(1));
    assert_eq!(replay["request_id"], "q-1");
    assert_eq!(
        replay["probability_1"].as_f64(),
        Some(stored.get::<_, f64>(0))
    );
    assert_eq!(replay["model_version"], stored.get::<_, String>(1));

    let (properties, refusal) = &answers["other"];
    assert_eq!(header(properties, "x-status"), Some(409));
    assert_eq!(header(properties, "x-idempotent-replayed"), None);
    assert_eq!(refusal["request_id"], "q-1");
    assert_eq!(refusal["detail"][0]["field"], "request_id", "{refusal}");

    assert_eq!(
        stored.get::<_, String>(2),
        "41",
        "the stored row is unchanged"
    );
    assert_eq!(app.predictions().await, 1);
    let rejected = app
        .db
        .client()
        .await
        .query_one(
            "SELECT reason, payload FROM rejected_messages WHERE request_id = 'q-1'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rejected.get::<_, String>(0), "request_id_conflict");
    assert_eq!(
        rejected.get::<_, Vec<u8>>(1),
        conflicting,
        "the refused bytes are kept"
    );
    let _ = client.connection.close(200, "".into()).await;
    app.finish().await;
}
