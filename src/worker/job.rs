//! One delivery's first steps: bound it, identify it, check its deadline, decode and validate
//! it. Every identifier and header is checked where it enters (`record::ids`): a refused one
//! rejects its message alone, keyed by the hash of its bytes.
//!
//! Pure functions of the delivery's bytes and properties, so a unit test can drive them
//! without a broker. What comes out decides the message's fate: a [`Job`] to score, or a
//! [`Rejected`] to record (permanent, acked, never requeued).

use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::BasicProperties;
use serde_json::json;
use time::OffsetDateTime;

use crate::digest::sha256_hex;
use crate::queue::header_u64;
use crate::record::ids::check_id;
use crate::record::{FieldError, Record};
use crate::storage::{RejectedRow, Source};
use crate::trace::{self, Traced};
use crate::wire::{decode_keyed, DecodeError, BATCH_HEADER, ENQUEUED_AT_HEADER, SOURCE_HEADER};

/// Where to send the reply, when the producer asked for one.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyTo {
    pub queue: String,
    pub correlation_id: Option<String>,
}

/// A valid request, ready to score, borrowing its delivery's body.
#[derive(Debug, Clone)]
pub struct Job<'a> {
    pub tag: u64,
    pub request_id: String,
    pub employee_id: Option<i64>,
    pub batch_id: Option<uuid::Uuid>,
    pub source: Source,
    pub explain: bool,
    pub record: Record,
    pub enqueued_at: Option<OffsetDateTime>,
    pub reply: Option<ReplyTo>,
    /// The message body as received, borrowed from the delivery (which outlives the batch):
    /// only a `request_id_conflict` rejection copies it.
    pub payload: &'a [u8],
    /// This job's row in its batch's feature matrix, once built.
    pub row: usize,
    /// The consumer's span, continuing the producer's `traceparent` (or a new trace).
    pub trace: Traced,
}

/// A message that will never score: recorded with its bytes and reasons, then acked.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub tag: u64,
    /// The row to store; its `errors` (the validation list as JSON) are also the reply's
    /// `detail`, held once.
    pub row: RejectedRow,
    pub reply: Option<ReplyTo>,
    /// Expired messages are counted apart and get no reply: their caller has gone.
    pub expired: bool,
    /// Whether `row` is stored. An expired synchronous request (`x-source: http`) is only
    /// counted: its caller got a 504 and holds the retry, so there is nothing to keep.
    pub stored: bool,
    /// As a job's: the row's `trace_id` and the reply's `traceparent`.
    pub trace: Traced,
}

impl Rejected {
    /// The errors, read back from the row.
    #[cfg(test)]
    pub fn errors(&self) -> Vec<FieldError> {
        serde_json::from_value(self.row.errors.clone()).expect("the errors of a rejection")
    }
}

/// The fate of one delivery after decoding.
#[derive(Debug, Clone)]
pub enum Decoded<'a> {
    Job(Box<Job<'a>>),
    Rejected(Box<Rejected>),
}

/// The bytes of an oversized message kept in its `rejected_messages` row.
pub const TOO_LARGE_KEPT_BYTES: usize = 4096;

/// Decodes one delivery. `now_ms` is the current time (milliseconds since the epoch);
/// `max_bytes` is `amqp.max_message_bytes`.
pub fn decode<'a>(
    tag: u64,
    body: &'a [u8],
    properties: &BasicProperties,
    now_ms: u64,
    max_bytes: usize,
) -> Decoded<'a> {
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
    let source = match header_str(properties, SOURCE_HEADER).as_deref() {
        Some("http") => Source::Http,
        Some("batch") => Source::Batch,
        _ => Source::Queue,
    };
    // Hashed only when needed (a rejection, or a message with no id of its own): a valid
    // request with an id never pays for it.
    let sha = std::cell::OnceCell::new();
    let body_sha256 = || sha.get_or_init(|| sha256_hex(body)).as_str();
    // Same bytes, same id: a redelivery (or a duplicate publish) maps to the same row.
    let hash_id = || format!("sha256:{}", &body_sha256()[..32]);
    let reject = |request_id: String, reason: &str, errors: &[FieldError], expired: bool| {
        // An oversized body is kept by its head only: its length and hash are in the errors.
        let trace = trace::amqp::consume(&request_id, headers);
        let kept = if body.len() > max_bytes {
            &body[..TOO_LARGE_KEPT_BYTES.min(body.len())]
        } else {
            body
        };
        Decoded::Rejected(Box::new(Rejected {
            tag,
            row: RejectedRow {
                request_id: Some(request_id),
                reason: reason.to_owned(),
                errors: serde_json::to_value(errors).unwrap_or_default(),
                payload: kept.to_vec(),
                payload_sha256: body_sha256().to_owned(),
                received_at: OffsetDateTime::now_utc(),
                trace_id: Some(trace.trace_id.clone()),
            },
            reply: reply.clone(),
            expired,
            stored: !(expired && source == Source::Http),
            trace,
        }))
    };

    // Before any parsing: a body past the bound is neither decoded nor copied whole.
    if body.len() > max_bytes {
        let error = FieldError::new(
            "body",
            format!("must be at most {max_bytes} bytes (amqp.max_message_bytes)"),
            json!({"bytes": body.len(), "sha256": body_sha256()}),
        );
        return reject(hash_id(), "too_large", &[error], false);
    }

    // A refused id is never a key: the message is keyed by its bytes, the id kept in the error.
    let message_id = match properties
        .message_id()
        .as_ref()
        .map(|m| m.as_str().as_bytes())
    {
        None | Some(b"") => None,
        Some(id) => match check_id("message_id", id) {
            Ok(id) => Some(id.to_owned()),
            Err(error) => return reject(hash_id(), "invalid_id", &[error], false),
        },
    };
    let batch_id = match batch_header(headers) {
        Ok(batch_id) => batch_id,
        Err(error) => return reject(hash_id(), "invalid_id", &[error], false),
    };
    let enqueued_ms = match enqueued_at_header(headers) {
        Ok(ms) => ms.or_else(|| properties.timestamp().map(|s| s.saturating_mul(1000))),
        Err(error) => return reject(hash_id(), "invalid_header", &[error], false),
    };
    let fallback_id = |envelope_id: Option<String>| {
        envelope_id
            .or_else(|| message_id.clone())
            .unwrap_or_else(hash_id)
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
            return reject(
                fallback_id(envelope_request_id(body)),
                "expired",
                &[error],
                true,
            );
        }
    }

    let request = match decode_keyed(body) {
        Ok(request) => request,
        Err((error, envelope_id)) => {
            // Bytes that are JSON to a lenient reader but not to ours (a repeated key) may
            // still name their envelope's id; anything else was parsed once, above.
            let envelope_id = match &error {
                DecodeError::NotJson(_) => envelope_request_id(body),
                _ => envelope_id,
            };
            let reason = error.reason();
            let errors = match error {
                DecodeError::Invalid(errors) => errors,
                other => other.errors(),
            };
            return reject(fallback_id(envelope_id), reason, &errors, false);
        }
    };
    let request_id = request.request_id.or(message_id).unwrap_or_else(hash_id);
    Decoded::Job(Box::new(Job {
        tag,
        trace: trace::amqp::consume(&request_id, headers),
        request_id,
        employee_id: request.employee_id,
        batch_id,
        source,
        explain: request.explain,
        record: request.record,
        enqueued_at: enqueued_ms.and_then(|ms| {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
        }),
        reply,
        payload: body,
        row: 0,
    }))
}

/// The envelope's `request_id` of a body that will be rejected (so the rejection can be found
/// by the id its producer knows), when it obeys the id rule. Only an envelope's: a bare
/// record's `request_id` is one of its errors, not its id (docs/contract.md#messages). Only
/// for a body decoding could not read: an expired one (never decoded), or bytes only a lenient
/// parser reads.
fn envelope_request_id(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("employee")?;
    let id = value.get("request_id")?.as_str()?;
    check_id("request_id", id.as_bytes())
        .ok()
        .map(str::to_owned)
}

/// The `x-batch-id` header: absent, or an id (the rule of every id) that is a UUID.
fn batch_header(headers: Option<&FieldTable>) -> Result<Option<uuid::Uuid>, FieldError> {
    let Some(value) = headers.and_then(|h| h.inner().get(&ShortString::from(BATCH_HEADER))) else {
        return Ok(None);
    };
    let bytes = match value {
        AMQPValue::LongString(s) => s.as_bytes(),
        AMQPValue::ShortString(s) => s.as_str().as_bytes(),
        other => {
            return Err(FieldError::new(
                BATCH_HEADER,
                "must be a string holding a UUID",
                json!(format!("{other:?}").chars().take(200).collect::<String>()),
            ))
        }
    };
    let id = check_id(BATCH_HEADER, bytes)?;
    id.parse()
        .map(Some)
        .map_err(|_| FieldError::new(BATCH_HEADER, "must be a UUID", json!(id)))
}

/// The latest publish time the header may hold: the end of year 9999, in milliseconds.
const MAX_ENQUEUED_MS: u64 = 253_402_300_799_999;

/// The `x-enqueued-at-ms` header: milliseconds since the epoch, as any AMQP integer, a finite
/// floating-point number (what JavaScript clients send; the fraction is dropped) or a numeric
/// string. Anything else is refused with a reason, never ignored.
fn enqueued_at_header(headers: Option<&FieldTable>) -> Result<Option<u64>, FieldError> {
    let Some(value) = headers.and_then(|h| h.inner().get(&ShortString::from(ENQUEUED_AT_HEADER)))
    else {
        return Ok(None);
    };
    let from_f64 =
        |f: f64| (f.is_finite() && f >= 0.0 && f <= MAX_ENQUEUED_MS as f64).then_some(f as u64);
    let text = |s: &str| {
        let s = s.trim();
        s.parse::<u64>()
            .ok()
            .or_else(|| s.parse::<f64>().ok().and_then(from_f64))
    };
    let ms = match value {
        AMQPValue::Double(f) => from_f64(*f),
        AMQPValue::Float(f) => from_f64(f64::from(*f)),
        AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok().and_then(text),
        AMQPValue::ShortString(s) => text(s.as_str()),
        _ => header_u64(headers, ENQUEUED_AT_HEADER),
    };
    match ms {
        Some(ms) if ms <= MAX_ENQUEUED_MS => Ok(Some(ms)),
        _ => Err(FieldError::new(
            ENQUEUED_AT_HEADER,
            "must be the publish time in milliseconds since the Unix epoch: a number from 0 to 253402300799999",
            json!(format!("{value:?}").chars().take(200).collect::<String>()),
        )),
    }
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
