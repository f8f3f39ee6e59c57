//! The hostile messages, by kind: what a careless or hostile producer sends. Each message is
//! distinct (its index is in it), so each must leave its own `rejected_messages` row; the
//! empty bodies, identical by nature, differ by their `message_id`.

use serde_json::{json, Map, Value};
use turnover::queue::publisher::Outgoing;
use turnover::record::sample;
use turnover::wire::{BATCH_HEADER, ENQUEUED_AT_HEADER};

/// Every kind tried on the queue, with where it must end (the reason of its rejected row).
pub const QUEUE_KINDS: [(&str, &str); 17] = [
    ("NUL in request_id", "invalid_record"),
    ("control character in message_id", "invalid_id"),
    ("NUL in a value", "invalid_record"),
    ("NUL in a key", "invalid_record"),
    ("3,000-character request_id", "invalid_record"),
    ("invalid UTF-8", "malformed_json"),
    ("lone surrogate escape", "malformed_json"),
    ("not JSON", "malformed_json"),
    ("300 KB field", "too_large"),
    ("20,000-deep nesting", "malformed_json"),
    ("number past i64", "invalid_record"),
    ("duplicate keys", "malformed_json"),
    ("empty body", "malformed_json"),
    ("2 MiB body", "too_large"),
    ("bare record carrying request_id", "invalid_record"),
    ("x-enqueued-at-ms not a number", "invalid_header"),
    ("x-batch-id not a UUID", "invalid_id"),
];

fn envelope(id: &str, employee: Map<String, Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({"request_id": id, "employee": employee})).unwrap_or_default()
}

fn with(key: &str, value: Value) -> Map<String, Value> {
    let mut record = sample::example();
    record.insert(key.to_owned(), value);
    record
}

/// The body (and headers, message id) of hostile message `i` of kind `kind`.
pub fn hostile(kind: usize, i: usize) -> Outgoing {
    let mut message_id = None;
    let mut headers = Vec::new();
    let body =
        match kind {
            0 => envelope(&format!("h-{i}\u{0}x"), sample::example()),
            1 => {
                message_id = Some(format!("m-{i}\u{7}"));
                envelope(&format!("mid-{i}"), sample::example())
            }
            2 => envelope(
                &format!("v-{i}"),
                with("domaine_etude", json!(format!("Mark\u{0}eting{i}"))),
            ),
            3 => envelope(&format!("k-{i}"), with(&format!("k\u{0}{i}"), json!(1))),
            4 => envelope(&format!("{i}-{}", "x".repeat(3_000)), sample::example()),
            5 => [&b"\xff\xfe"[..], i.to_string().as_bytes()].concat(),
            6 => format!(r#"{{"request_id": "s-{i}", "employee": {{"poste": "\ud800"}}}}"#)
                .into_bytes(),
            7 => format!("not json {i}").into_bytes(),
            8 => envelope(&format!("f-{i}"), with("poste", json!("p".repeat(300_000)))),
            9 => format!(
                "{{\"i\": {i}, \"a\": {}{}}}",
                "[".repeat(20_000),
                "]".repeat(20_000)
            )
            .into_bytes(),
            10 => format!(
                r#"{{"request_id": "n-{i}", "employee_id": 99999999999999999999, "employee": {}}}"#,
                json!(sample::example())
            )
            .into_bytes(),
            11 => format!(
                r#"{{"request_id": "d-{i}", "request_id": "e-{i}", "employee": {}}}"#,
                json!(sample::example())
            )
            .into_bytes(),
            12 => {
                message_id = Some(format!("empty-{i}"));
                Vec::new()
            }
            13 => {
                let mut body = format!("{{\"i\": {i}, \"pad\": \"").into_bytes();
                body.resize(2 * 1024 * 1024, b'a');
                body
            }
            14 => serde_json::to_vec(&with("request_id", json!(format!("bare-{i}"))))
                .unwrap_or_default(),
            15 => {
                headers = vec![(ENQUEUED_AT_HEADER.into(), "yesterday".into())];
                envelope(&format!("t-{i}"), sample::example())
            }
            _ => {
                headers = vec![(BATCH_HEADER.into(), format!("batch-{i}"))];
                envelope(&format!("b-{i}"), sample::example())
            }
        };
    Outgoing {
        body,
        message_id,
        headers,
        ..Default::default()
    }
}

/// How many messages of each kind: a 2 MiB body is sent a few times only (it is the same
/// lesson each time, and 2 MiB each on the broker).
pub fn per_kind(kind: usize, total: usize) -> usize {
    if kind == 13 {
        5
    } else {
        (total - 5).div_ceil(QUEUE_KINDS.len() - 1)
    }
}

/// A valid queued job: an envelope with its own id.
pub fn valid(i: usize, record: &Map<String, Value>) -> Outgoing {
    Outgoing {
        body: envelope(&format!("valid-{i}"), record.clone()),
        ..Default::default()
    }
}
