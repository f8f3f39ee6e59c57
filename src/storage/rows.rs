//! The rows that storage writes and reads, as plain Rust types.
//!
//! Owns the mapping between these types and the columns of docs/contract.md#tables (the string
//! values of `source` and `risk_level`). It must not compute anything: scores, risk levels and
//! request ids arrive already decided.

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
    pub input: serde_json::Value,
    /// The sha256 of the canonical record: what a reused `request_id` is compared on.
    pub record_sha256: String,
    pub explanation: Option<serde_json::Value>,
    /// When the producer published it (AMQP `timestamp`), when known.
    pub enqueued_at: Option<OffsetDateTime>,
    pub scored_at: OffsetDateTime,
}

/// One `rejected_messages` row (the `id` is assigned by the database).
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedRow {
    pub request_id: Option<String>,
    /// A short machine-readable reason, e.g. `invalid_json` or `validation`.
    pub reason: String,
    /// Every reason in detail, e.g. the validation list.
    pub errors: serde_json::Value,
    /// The message body exactly as received.
    pub payload: Vec<u8>,
    pub received_at: OffsetDateTime,
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

/// What [`insert_batch`](super::insert_batch) did, in total and for each prediction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredBatch {
    pub outcome: InsertOutcome,
    /// One entry per prediction, in the order given.
    pub written: Vec<Written>,
}

/// The counts of a [`StoredBatch`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InsertOutcome {
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
