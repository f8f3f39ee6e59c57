//! The rows that storage writes and reads, as plain Rust types.
//!
//! Owns the mapping between these types and the columns of docs/contract.md#tables (the string
//! values of `source` and `risk_level`), and what makes any value storable in them
//! ([`storable_json`]). It must not compute anything else: scores, risk levels and request ids
//! arrive already decided.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;
use uuid::Uuid;

use super::StorageError;
use crate::model::RiskLevel;

/// Where a scoring request came from (`predictions.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Published directly to the request queue.
    Queue,
    /// `POST /predict`.
    Http,
    /// One employee of a `POST /predict/batch` upload.
    Batch,
}

impl Source {
    /// The column value: `"queue"`, `"http"` or `"batch"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queue => "queue",
            Self::Http => "http",
            Self::Batch => "batch",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Source {
    type Err = StorageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "queue" => Ok(Self::Queue),
            "http" => Ok(Self::Http),
            "batch" => Ok(Self::Batch),
            other => Err(corrupt("source", other)),
        }
    }
}

/// A stored risk level, parsed back.
pub(crate) fn risk_level_from_str(s: &str) -> Result<RiskLevel, StorageError> {
    s.parse().map_err(|_| corrupt("risk_level", s))
}

fn corrupt(column: &'static str, value: &str) -> StorageError {
    StorageError::Corrupt {
        column,
        value: value.to_owned(),
    }
}

/// One `predictions` row.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRow {
    /// Idempotency key (docs/contract.md#idempotency).
    pub request_id: String,
    pub employee_id: Option<i64>,
    pub batch_id: Option<Uuid>,
    pub source: Source,
    pub model_version: String,
    /// 0 or 1.
    pub prediction: i16,
    /// Probability of leaving, in `0.0..=1.0`.
    pub probability: f64,
    /// `"Low"`, `"Medium"` or `"High"`.
    pub risk_level: RiskLevel,
    /// The validated record as scored.
    pub input: Document,
    /// The sha256 of the canonical record: what a reused `request_id` is compared on.
    pub record_sha256: String,
    pub explanation: Option<serde_json::Value>,
    /// When the producer published it (AMQP `timestamp`), when known.
    pub enqueued_at: Option<OffsetDateTime>,
    pub scored_at: OffsetDateTime,
    /// The W3C trace the request was scored in (32 lower-case hex digits), when known.
    pub trace_id: Option<String>,
    /// The employee's groups (`genre`, `statut_marital`, age band: `fairness::groups`), when
    /// the writer knows them; left `None`, the database draws them from `input` (V10, V13).
    pub groups: Option<[&'static str; 3]>,
}

/// A document for a `jsonb` column: a value, or JSON already written. The worker hands over
/// the canonical record's bytes, the very bytes its `record_sha256` is taken over, so the
/// record is written out once per row instead of once as a map, again by the driver, and a
/// third time for the hash.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    Value(serde_json::Value),
    /// Valid JSON text (an object), with no `\u0000`, which `jsonb` cannot hold.
    Written(Vec<u8>),
}

impl From<serde_json::Value> for Document {
    fn from(value: serde_json::Value) -> Self {
        Document::Value(value)
    }
}

impl tokio_postgres::types::ToSql for Document {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Document::Value(value) => value.to_sql(ty, out),
            Document::Written(text) => {
                // The binary form of `jsonb` is a version byte (1) and the text; `json`'s is
                // the text alone.
                if *ty == tokio_postgres::types::Type::JSONB {
                    out.extend_from_slice(&[1]);
                }
                out.extend_from_slice(text);
                Ok(tokio_postgres::types::IsNull::No)
            }
        }
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <serde_json::Value as tokio_postgres::types::ToSql>::accepts(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

/// One `rejected_messages` row (the `id` is assigned by the database).
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedRow {
    pub request_id: Option<String>,
    /// A short machine-readable reason, e.g. `invalid_json` or `validation`.
    pub reason: String,
    /// Every reason in detail, e.g. the validation list.
    pub errors: serde_json::Value,
    /// The message body exactly as received (its first 4 KiB only when it was `too_large`).
    pub payload: Vec<u8>,
    /// The sha256 (hex) of the whole message as received; with `request_id`, the row's key.
    pub payload_sha256: String,
    pub received_at: OffsetDateTime,
    /// The W3C trace the message was consumed in, when known.
    pub trace_id: Option<String>,
}

/// What became of one prediction of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// A new row.
    Inserted,
    /// Its `request_id` was stored already with the same record: the stored result stands
    /// (a redelivery, a retry, or a repeat within the batch).
    Replayed(StoredScore),
    /// Its `request_id` was stored already with another record: refused, and recorded in
    /// `rejected_messages` with reason `request_id_conflict`.
    Conflict,
}

/// The result held by a stored `predictions` row.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredScore {
    pub prediction: i16,
    pub probability: f64,
    pub risk_level: RiskLevel,
    pub model_version: String,
    pub explanation: Option<serde_json::Value>,
}

/// What a committed [`insert_batch`](super::insert_batch) did, in total and for each prediction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredBatch {
    pub counts: InsertCounts,
    /// One entry per prediction, in the order given.
    pub written: Vec<Written>,
}

/// The counts of a [`StoredBatch`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InsertCounts {
    /// New `predictions` rows.
    pub inserted: u64,
    /// Predictions whose `request_id` was already stored (or repeated within the batch):
    /// replays and conflicts.
    pub duplicates: u64,
    /// New `rejected_messages` rows (a redelivered rejection with a known `request_id` is not
    /// counted again).
    pub rejected: u64,
}

/// Progress of an HTTP batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchStatus {
    /// Employees submitted.
    pub total: u64,
    /// Employees scored so far (`predictions` rows carrying the batch id).
    pub done: u64,
    pub submitted_at: OffsetDateTime,
}

/// One scored employee of an HTTP batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchPrediction {
    pub employee_id: Option<i64>,
    pub prediction: i16,
    pub probability: f64,
    pub risk_level: RiskLevel,
}

/// One `shadow_predictions` row: the shadow bundle's score of a request whose live row is
/// written in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowRow {
    pub request_id: String,
    /// The shadow bundle's version.
    pub model_version: String,
    /// Probability of leaving, in `0.0..=1.0`.
    pub probability: f64,
    /// 0 or 1.
    pub prediction: i16,
    pub risk_level: RiskLevel,
    pub scored_at: OffsetDateTime,
}

/// `value` as `jsonb` accepts it: a NUL (`\u0000`) in any string or key, which `jsonb` refuses
/// (SQLSTATE 22P05) and a rejected message may hold anywhere, is replaced by the six
/// characters `\u0000`. Every other character is kept: a rejection's errors show what was sent.
/// Borrowed when there is nothing to replace, which is nearly always.
#[must_use]
pub fn storable_json(value: &serde_json::Value) -> Cow<'_, serde_json::Value> {
    use serde_json::Value;
    fn has_nul(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(a) => a.iter().any(has_nul),
            Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            _ => false,
        }
    }
    fn replaced(v: &Value) -> Value {
        let text = |s: &str| s.replace('\0', "\\u0000");
        match v {
            Value::String(s) => Value::String(text(s)),
            Value::Array(a) => Value::Array(a.iter().map(replaced).collect()),
            Value::Object(o) => {
                Value::Object(o.iter().map(|(k, v)| (text(k), replaced(v))).collect())
            }
            other => other.clone(),
        }
    }
    if has_nul(value) {
        Cow::Owned(replaced(value))
    } else {
        Cow::Borrowed(value)
    }
}

/// `text` as a `text` column accepts it: a NUL, which no `text` value may hold (SQLSTATE
/// 22021), is replaced by the six characters `\u0000`.
#[must_use]
pub fn storable_text(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\\u0000"))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_nul_anywhere_in_errors_is_escaped_and_the_rest_kept() {
        let errors = json!([{"field": "a\u{0}b", "value": {"k\u{0}": ["x\u{0}", 1, "é"]}}]);
        let stored = storable_json(&errors);
        assert_eq!(
            *stored,
            json!([{"field": "a\\u0000b", "value": {"k\\u0000": ["x\\u0000", 1, "é"]}}])
        );
        let clean = json!([{"field": "age", "value": 12}]);
        assert!(matches!(storable_json(&clean), Cow::Borrowed(_)));
        assert_eq!(storable_text("a\0b"), "a\\u0000b");
    }
}
