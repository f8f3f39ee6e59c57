//! The worker's decoder on arbitrary bytes and message ids, through to the rows that reach
//! Postgres: whatever a producer sends, every key obeys the id rule, the stored errors hold no
//! NUL (which `jsonb` refuses), and an oversized body is kept by its first 4 KiB only. The
//! first byte is the length of the message id, taken from the bytes after it; the rest is the
//! body.
#![no_main]

use lapin::BasicProperties;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use turnover::digest::sha256_hex;
use turnover::record::ids::check_id;
use turnover::storage::{storable_json, storable_text};
use turnover::worker::{decode, Decoded};

/// Small, so the fuzzer reaches the `too_large` path.
const MAX_BYTES: usize = 8_192;

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(holds_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let (id_len, rest) = data
        .split_first()
        .map_or((0, data), |(n, rest)| (usize::from(*n), rest));
    let (id, body) = rest.split_at(id_len.min(rest.len()));
    let mut properties = BasicProperties::default();
    if let Ok(id) = std::str::from_utf8(id) {
        properties = properties.with_message_id(id.into());
    }
    match decode(1, body, &properties, 0, MAX_BYTES) {
        Decoded::Job(job) => {
            assert!(check_id("request_id", job.request_id.as_bytes()).is_ok());
            assert!(!holds_nul(&job.record.to_json()), "a stored record holds a NUL");
        }
        Decoded::Rejected(rejected) => {
            let row = &rejected.row;
            let key = row.request_id.as_deref().expect("every rejection has a key");
            assert!(check_id("request_id", key.as_bytes()).is_ok(), "key {key:?}");
            assert!(!holds_nul(&storable_json(&row.errors)));
            assert!(!storable_text(&row.reason).contains('\0'));
            let kept = if body.len() > MAX_BYTES { 4096 } else { body.len() };
            assert_eq!(row.payload, &body[..kept]);
            assert_eq!(row.payload_sha256, sha256_hex(body));
        }
    }
});
