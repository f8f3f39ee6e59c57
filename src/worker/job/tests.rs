use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use serde_json::json;

use super::*;
use crate::record::sample;

/// The decoder with the default `amqp.max_message_bytes`.
fn decode<'a>(tag: u64, body: &'a [u8], properties: &BasicProperties, now_ms: u64) -> Decoded<'a> {
    super::decode(tag, body, properties, now_ms, 65_536)
}

fn body(value: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&value).expect("json")
}

fn job(decoded: Decoded<'_>) -> Job<'_> {
    match decoded {
        Decoded::Job(job) => *job,
        Decoded::Rejected(r) => panic!("rejected: {:?}", r.errors()),
    }
}

fn rejected(decoded: Decoded<'_>) -> Rejected {
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
    let bytes = body(json!(sample::example()));
    let bare = job(decode(1, &bytes, &props, 0));
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
    let bytes = body(json!(sample::example()));
    let j = job(decode(1, &bytes, &props, 0));
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
    let errors = r.errors();
    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert!(
        fields.contains(&"age") && fields.contains(&"agee"),
        "{fields:?}"
    );
    assert_eq!(
        r.row.errors,
        serde_json::to_value(r.errors()).expect("json")
    );

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
    let bytes = body(json!(sample::example()));
    let j = job(decode(1, &bytes, &props, 0));
    assert_eq!((j.source, j.batch_id), (Source::Batch, Some(batch)));
}

fn hash_id(bytes: &[u8]) -> String {
    format!("sha256:{}", &sha256_hex(bytes)[..32])
}

#[test]
fn a_refused_envelope_id_is_kept_in_the_errors_but_never_the_key() {
    for id in ["http\u{0}poison".to_owned(), "x".repeat(3_000)] {
        let bytes = body(json!({"request_id": id, "employee": sample::example()}));
        let r = rejected(decode(1, &bytes, &BasicProperties::default(), 0));
        assert_eq!(r.row.reason, "invalid_record");
        assert_eq!(r.row.request_id.as_deref(), Some(hash_id(&bytes).as_str()));
        let errors = r.errors();
        let error = errors
            .iter()
            .find(|e| e.field == "request_id")
            .expect("named");
        assert_eq!(error.message, crate::record::ids::ID_RULE);
        let kept = error.value.as_str().expect("the refused id");
        assert!(kept.len() <= 200 && id.starts_with(kept), "{}", kept.len());
        assert_eq!(r.row.payload, bytes, "the original bytes are stored");
        assert_eq!(r.row.payload_sha256, sha256_hex(&bytes));
    }
}

#[test]
fn a_refused_message_id_rejects_the_message_keyed_by_its_bytes() {
    let bytes = body(json!(sample::example()));
    let props = BasicProperties::default().with_message_id("m\u{7}bell".into());
    let r = rejected(decode(1, &bytes, &props, 0));
    assert_eq!(r.row.reason, "invalid_id");
    assert_eq!(r.row.request_id.as_deref(), Some(hash_id(&bytes).as_str()));
    assert_eq!(r.errors()[0].field, "message_id");
}

#[test]
fn a_bare_record_carrying_request_id_is_keyed_by_message_id_else_its_bytes() {
    let mut map = sample::example();
    map.insert("request_id".into(), json!("from-the-body"));
    let bytes = body(json!(map));
    let r = rejected(decode(1, &bytes, &BasicProperties::default(), 0));
    assert_eq!(r.row.request_id.as_deref(), Some(hash_id(&bytes).as_str()));
    let props = BasicProperties::default().with_message_id("m-9".into());
    let r = rejected(decode(1, &bytes, &props, 0));
    assert_eq!(r.row.request_id.as_deref(), Some("m-9"));
    assert!(
        r.errors().iter().any(|e| e.field == "request_id"),
        "{:?}",
        r.errors()
    );
}

#[test]
fn an_oversized_message_keeps_its_head_length_and_hash_only() {
    let bytes = vec![b'{'; 70_000];
    let r = rejected(decode(1, &bytes, &BasicProperties::default(), 0));
    assert_eq!(r.row.reason, "too_large");
    assert_eq!(r.row.payload.len(), TOO_LARGE_KEPT_BYTES);
    assert_eq!(r.row.payload_sha256, sha256_hex(&bytes));
    assert_eq!(r.errors()[0].field, "body");
    assert_eq!(r.errors()[0].value["bytes"], json!(70_000));
    assert_eq!(r.errors()[0].value["sha256"], json!(sha256_hex(&bytes)));
    let at_bound = super::decode(1, &bytes, &BasicProperties::default(), 0, 70_000);
    assert!(
        matches!(at_bound, Decoded::Rejected(r) if r.row.reason == "malformed_json"),
        "a body at the bound is decoded"
    );
}

#[test]
fn a_batch_header_that_is_not_a_uuid_is_refused_not_ignored() {
    for value in ["not-a-uuid", "a\u{0}b"] {
        let mut headers = FieldTable::default();
        headers.insert(BATCH_HEADER.into(), AMQPValue::LongString(value.into()));
        let props = BasicProperties::default().with_headers(headers);
        let r = rejected(decode(1, &body(json!(sample::example())), &props, 0));
        assert_eq!(r.row.reason, "invalid_id");
        assert_eq!(r.errors()[0].field, "x-batch-id");
    }
}

#[test]
fn the_enqueue_time_may_be_a_double_and_garbage_is_refused() {
    let with = |value: AMQPValue| {
        let mut headers = FieldTable::default();
        headers.insert(ENQUEUED_AT_HEADER.into(), value);
        BasicProperties::default().with_headers(headers)
    };
    let bytes = body(json!(sample::example()));
    let ms = 1_764_000_000_123_u64;
    let j = job(decode(1, &bytes, &with(AMQPValue::Double(ms as f64)), 0));
    let at = j.enqueued_at.expect("read from the double");
    assert_eq!(at.unix_timestamp_nanos() / 1_000_000, i128::from(ms));
    for bad in [
        AMQPValue::Double(-1.0),
        AMQPValue::Double(f64::NAN),
        AMQPValue::LongLongInt(-5),
        AMQPValue::LongString("yesterday".into()),
        AMQPValue::Boolean(true),
    ] {
        let r = rejected(decode(1, &bytes, &with(bad.clone()), 0));
        assert_eq!(r.row.reason, "invalid_header", "{bad:?}");
        assert_eq!(r.errors()[0].field, ENQUEUED_AT_HEADER);
    }
}

fn holds_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(a) => a.iter().any(holds_nul),
        serde_json::Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

proptest::proptest! {
    // What reaches Postgres from any bytes and any message id (the fuzz target `rejected_rows`
    // runs the same checks for longer): every key obeys the id rule, stored errors hold no
    // NUL, and an oversized body is kept by its head only.
    #[test]
    fn any_message_becomes_a_storable_row(
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        id in "\\PC{0,3}[\\x00-\\x1f]?\\PC{0,3}",
        nul_value in proptest::prelude::any::<bool>(),
    ) {
        let mut body = body;
        if nul_value {
            let mut map = sample::example();
            map.insert("domaine_etude".into(), json!(id.clone()));
            map.insert(id.clone(), json!(1));
            body = serde_json::to_vec(&json!({"request_id": id.clone(), "employee": map})).expect("json");
        }
        let props = BasicProperties::default().with_message_id(id.as_str().into());
        let max = 512;
        match super::decode(1, &body, &props, 0, max) {
            Decoded::Job(j) => {
                proptest::prop_assert!(crate::record::ids::check_id("request_id", j.request_id.as_bytes()).is_ok());
                proptest::prop_assert!(!holds_nul(&j.record.to_json()));
            }
            Decoded::Rejected(r) => {
                let key = r.row.request_id.as_deref().unwrap_or("");
                proptest::prop_assert!(crate::record::ids::check_id("request_id", key.as_bytes()).is_ok(), "{key:?}");
                proptest::prop_assert!(!holds_nul(&crate::storage::storable_json(&r.row.errors)));
                proptest::prop_assert!(!crate::storage::storable_text(&r.row.reason).contains('\0'));
                let kept = if body.len() > max { TOO_LARGE_KEPT_BYTES.min(body.len()) } else { body.len() };
                proptest::prop_assert_eq!(r.row.payload.as_slice(), &body[..kept]);
                proptest::prop_assert_eq!(&r.row.payload_sha256, &sha256_hex(&body));
            }
        }
    }
}
