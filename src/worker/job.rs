//! One delivery's first steps: identify it, check its deadline, decode and validate it.
//!
//! Pure functions of the delivery's bytes and properties, so a unit test can drive them
//! without a broker. What comes out decides the message's fate: a [`Job`] to score, or a
//! [`Rejected`] to record (permanent, acked, never requeued).

use lapin::types::{AMQPValue, ShortString};
use lapin::BasicProperties;
use serde_json::json;
use time::OffsetDateTime;

use crate::model::sha256_hex;
use crate::queue::{header_u64, BATCH_HEADER, ENQUEUED_AT_HEADER, SOURCE_HEADER};
use crate::record::{decode_request, FieldError, Record};
use crate::storage::{RejectedRow, Source};

/// Where to send the reply, when the producer asked for one.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyTo {
    pub queue: String,
    pub correlation_id: Option<String>,
}

/// A valid request, ready to score.
#[derive(Debug, Clone)]
pub struct Job {
    pub tag: u64,
    pub request_id: String,
    pub employee_id: Option<i64>,
    pub batch_id: Option<uuid::Uuid>,
    pub source: Source,
    pub explain: bool,
    pub record: Record,
    pub enqueued_at: Option<OffsetDateTime>,
    pub reply: Option<ReplyTo>,
    /// The message body as received: kept for a `request_id_conflict` rejection.
    pub payload: Vec<u8>,
}

/// A message that will never score: recorded with its bytes and reasons, then acked.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub tag: u64,
    pub row: RejectedRow,
    pub errors: Vec<FieldError>,
    pub reply: Option<ReplyTo>,
    /// Expired messages are counted apart and get no reply: their caller has gone.
    pub expired: bool,
    /// Whether `row` is stored. An expired synchronous request (`x-source: http`) is only
    /// counted: its caller got a 504 and holds the retry, so there is nothing to keep.
    pub stored: bool,
}

/// The fate of one delivery after decoding.
#[derive(Debug, Clone)]
pub enum Decoded {
    Job(Box<Job>),
    Rejected(Box<Rejected>),
}

/// Decodes one delivery. `now_ms` is the current time (milliseconds since the epoch).
pub fn decode(tag: u64, body: &[u8], properties: &BasicProperties, now_ms: u64) -> Decoded {
    let headers = properties.headers().as_ref();
    let reply = properties
        .reply_to()
        .as_ref()
        .filter(|q| !q.as_str().is_empty())
        .map(|q| ReplyTo {
            queue: q.as_str().to_owned(),
            correlation_id: properties
                .correlation_id()
                .as_ref()
                .map(|c| c.as_str().to_owned()),
        });
    let enqueued_ms = header_u64(headers, ENQUEUED_AT_HEADER)
        .or_else(|| properties.timestamp().map(|s| s * 1000));
    let fallback_id = || {
        envelope_request_id(body)
            .or_else(|| {
                properties
                    .message_id()
                    .as_ref()
                    .map(|m| m.as_str().to_owned())
                    .filter(|m| !m.is_empty())
            })
            // Same bytes, same id: a redelivery (or a duplicate publish) maps to the same row.
            .unwrap_or_else(|| format!("sha256:{}", &sha256_hex(body)[..32]))
    };
    let source = match header_str(properties, SOURCE_HEADER).as_deref() {
        Some("http") => Source::Http,
        Some("batch") => Source::Batch,
        _ => Source::Queue,
    };
    let reject = |request_id: String, reason: &str, errors: Vec<FieldError>, expired: bool| {
        Decoded::Rejected(Box::new(Rejected {
            tag,
            row: RejectedRow {
                request_id: Some(request_id),
                reason: reason.to_owned(),
                errors: serde_json::to_value(&errors).unwrap_or_default(),
                payload: body.to_vec(),
                received_at: OffsetDateTime::now_utc(),
            },
            errors,
            reply: reply.clone(),
            expired,
            stored: !(expired && source == Source::Http),
        }))
    };

    let expiration = properties
        .expiration()
        .as_ref()
        .and_then(|e| e.as_str().parse::<u64>().ok());
    if let (Some(ttl), Some(at)) = (expiration, enqueued_ms) {
        if now_ms > at.saturating_add(ttl) {
            let error = FieldError::new(
                "expiration",
                format!("expired {} ms before it could be scored", now_ms - at - ttl),
                json!(ttl),
            );
            return reject(fallback_id(), "expired", vec![error], true);
        }
    }

    let request = match decode_request(body) {
        Ok(request) => request,
        Err(error) => return reject(fallback_id(), error.reason(), error.errors(), false),
    };
    let batch_id = header_str(properties, BATCH_HEADER).and_then(|b| b.parse().ok());
    Decoded::Job(Box::new(Job {
        tag,
        request_id: request.request_id.unwrap_or_else(fallback_id),
        employee_id: request.employee_id,
        batch_id,
        source,
        explain: request.explain,
        record: request.record,
        enqueued_at: enqueued_ms.and_then(|ms| {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
        }),
        reply,
        payload: body.to_vec(),
    }))
}

/// The envelope's `request_id` of a body that will be rejected (so the rejection can be found
/// by the id its producer knows). Only on the rejection path: it parses the body again.
fn envelope_request_id(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value
        .get("request_id")?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn header_str(properties: &BasicProperties, name: &str) -> Option<String> {
    match properties
        .headers()
        .as_ref()?
        .inner()
        .get(&ShortString::from(name))?
    {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
