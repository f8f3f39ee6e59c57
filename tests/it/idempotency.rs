//! Idempotency keys over the queue: a producer that reuses a `request_id` gets the stored
//! result back (marked as a replay) for the same record, and a `request_id_conflict`
//! rejection (a 409 reply) for another record. The stored row never changes. Requests sent
//! together, whose replies go out together, each get their own.

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
        let (id, properties, body) = client.next_reply(Duration::from_secs(10)).await;
        answers.insert(id, (properties, body));
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

/// Requests published together are scored together, and their replies are sent together:
/// each caller still gets exactly one reply, under its own correlation id, with its own
/// answer (a score for a valid record, a 422 for an invalid one).
#[tokio::test]
async fn requests_sent_together_each_get_their_own_reply() {
    let app = TestApp::spawn().await;
    let amqp = &app.settings.amqp;
    let mut client = app.reply_client("test-replies-together").await;
    let requests: Vec<(String, Vec<u8>, i64)> = (0..24u64)
        .map(|i| {
            let mut record = sample::example();
            // Every fourth is under the minimum age: refused, with a 422 reply.
            record.insert("age".into(), json!(if i % 4 == 3 { 12 } else { 30 + i }));
            let bytes = Envelope {
                request_id: Some(format!("together-{i}")),
                ..Envelope::new(record)
            }
            .to_bytes();
            (format!("c-{i}"), bytes, if i % 4 == 3 { 422 } else { 200 })
        })
        .collect();
    futures_util::future::join_all(requests.iter().map(|(correlation, bytes, _)| {
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_correlation_id(correlation.as_str().into());
        client.request(amqp, bytes, properties)
    }))
    .await;

    let mut replies = std::collections::HashMap::new();
    while replies.len() < requests.len() {
        let (id, properties, body) = client.next_reply(Duration::from_secs(10)).await;
        let status = header(&properties, "x-status");
        assert!(
            replies.insert(id.clone(), (status, body)).is_none(),
            "a second reply for {id}"
        );
    }
    for (i, (correlation, _, status)) in requests.iter().enumerate() {
        let (got, body) = &replies[correlation];
        assert_eq!(*got, Some(*status), "the status of {correlation}: {body}");
        assert_eq!(
            body["request_id"],
            json!(format!("together-{i}")),
            "{correlation} got another request's reply"
        );
    }
    // Nothing more: one reply per request.
    let extra = tokio::time::timeout(Duration::from_secs(1), client.consumer.next()).await;
    assert!(extra.is_err(), "a reply nobody asked for: {extra:?}");
    app.finish().await;
}
