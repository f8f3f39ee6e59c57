use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use serde_json::json;

use super::*;
use crate::record::sample;

fn body(value: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&value).expect("json")
}

fn job(decoded: Decoded) -> Job {
    match decoded {
        Decoded::Job(job) => *job,
        Decoded::Rejected(r) => panic!("rejected: {:?}", r.errors),
    }
}

fn rejected(decoded: Decoded) -> Rejected {
    match decoded {
        Decoded::Rejected(r) => *r,
        Decoded::Job(j) => panic!("accepted {}", j.request_id),
    }
}

#[test]
fn a_bare_record_gets_an_id_that_is_the_same_on_every_delivery() {
    let bytes = body(json!(sample::example()));
    let a = job(decode(1, &bytes, &BasicProperties::default(), 0));
    let b = job(decode(9, &bytes, &BasicProperties::default(), 0));
    assert_eq!(a.request_id, b.request_id);
    assert!(a.request_id.starts_with("sha256:"));
    assert_eq!(a.source, Source::Queue);
    assert!(a.reply.is_none());
}

#[test]
fn the_envelope_id_wins_then_the_message_id() {
    let props = BasicProperties::default().with_message_id("m-1".into());
    let bare = job(decode(1, &body(json!(sample::example())), &props, 0));
    assert_eq!(bare.request_id, "m-1");
    let envelope = body(
        json!({"request_id": "r-7", "employee_id": 7, "explain": true, "employee": sample::example()}),
    );
    let j = job(decode(1, &envelope, &props, 0));
    assert_eq!(
        (j.request_id.as_str(), j.employee_id, j.explain),
        ("r-7", Some(7), true)
    );
}

#[test]
fn reply_to_and_correlation_id_are_kept() {
    let props = BasicProperties::default()
        .with_reply_to("amq.rabbitmq.reply-to.x".into())
        .with_correlation_id("c-1".into());
    let j = job(decode(1, &body(json!(sample::example())), &props, 0));
    assert_eq!(
        j.reply,
        Some(ReplyTo {
            queue: "amq.rabbitmq.reply-to.x".into(),
            correlation_id: Some("c-1".into())
        })
    );
}

#[test]
fn bad_bodies_are_rejected_with_their_bytes_and_reasons() {
    let not_json = b"\xff\xfe not json".to_vec();
    let r = rejected(decode(3, &not_json, &BasicProperties::default(), 0));
    assert_eq!(r.row.reason, "malformed_json");
    assert_eq!(r.row.payload, not_json);
    assert!(!r.expired);

    let mut map = sample::example();
    map.insert("age".into(), json!(12));
    map.insert("agee".into(), json!(40));
    let r = rejected(decode(4, &body(json!(map)), &BasicProperties::default(), 0));
    assert_eq!(r.row.reason, "invalid_record");
    let fields: Vec<_> = r.errors.iter().map(|e| e.field.as_str()).collect();
    assert!(
        fields.contains(&"age") && fields.contains(&"agee"),
        "{fields:?}"
    );
    assert_eq!(r.row.errors, serde_json::to_value(&r.errors).expect("json"));

    let r = rejected(decode(5, b"[1, 2]", &BasicProperties::default(), 0));
    assert_eq!(r.row.reason, "not_an_object");
}

#[test]
fn a_message_past_its_expiration_is_not_scored() {
    let mut headers = FieldTable::default();
    headers.insert(ENQUEUED_AT_HEADER.into(), AMQPValue::LongLongInt(1_000));
    let props = BasicProperties::default()
        .with_expiration("500".into())
        .with_headers(headers);
    let bytes = body(json!(sample::example()));
    let r = rejected(decode(1, &bytes, &props, 1_501));
    assert!(r.expired);
    assert_eq!(r.row.reason, "expired");
    assert!(
        matches!(decode(1, &bytes, &props, 1_500), Decoded::Job(_)),
        "not yet expired at the deadline"
    );
}

#[test]
fn source_and_batch_come_from_headers() {
    let batch = uuid::Uuid::new_v4();
    let mut headers = FieldTable::default();
    headers.insert(SOURCE_HEADER.into(), AMQPValue::LongString("batch".into()));
    headers.insert(
        BATCH_HEADER.into(),
        AMQPValue::LongString(batch.to_string().into()),
    );
    let props = BasicProperties::default().with_headers(headers);
    let j = job(decode(1, &body(json!(sample::example())), &props, 0));
    assert_eq!((j.source, j.batch_id), (Source::Batch, Some(batch)));
}
