//! The last line of defence of a batch: when Postgres refuses its transaction for a reason no
//! retry can fix (a value a column or an index cannot hold, a constraint), the batch is split
//! in halves, and halves again, until the row it refuses stands alone. Every other row is
//! committed; the culprit becomes a `rejected_messages` row with reason `storage_refused`, the
//! SQLSTATE and the server's message, so one message costs only itself.
//!
//! Rare by design (ids and rows are made storable before they get here), so it favours being
//! obviously right over being fast: each half is its own transaction, retried like any batch.
//! It must not reply or ack: the batch does, with what this settles.

use serde_json::json;
use time::OffsetDateTime;

use super::job::{Job, Rejected};
use super::store::store;
use crate::app::AppContext;
use crate::digest::sha256_hex;
use crate::record::ids::check_id;
use crate::record::FieldError;
use crate::serving::Scored;
use crate::storage::{PredictionRow, RejectedRow, ShadowRow, StorageError, Written};

/// One row of a batch: a prediction (with its shadow row, if any) or a rejected message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Prediction(usize),
    Rejected(usize),
}

/// What became of each row of a refused batch once stored apart.
#[derive(Debug, Default)]
pub struct Apart {
    /// Per prediction, in order: what was written; `None` for a refused one.
    pub written: Vec<Option<Written>>,
    /// The rows refused on their own, with the refusal.
    pub refused: Vec<(Unit, StorageError)>,
    /// The conflict rows written, in the order of their predictions.
    pub conflicts: Vec<RejectedRow>,
}

/// Stores the rows of a batch that Postgres refused as a whole, bisecting down to the rows it
/// refuses alone. `conflict(i)` is the conflict row of prediction `i`, as for the batch.
///
/// # Errors
/// A transient error that outlived the retries (shutdown while Postgres is away): the caller
/// gives the whole batch back, and what was committed is settled as a replay on redelivery.
pub async fn store_apart(
    ctx: &AppContext,
    rows: &[PredictionRow],
    shadow: &[ShadowRow],
    rejected: &[RejectedRow],
    conflict: &impl Fn(usize) -> RejectedRow,
) -> Result<Apart, StorageError> {
    let mut apart = Apart {
        written: vec![None; rows.len()],
        refused: Vec::new(),
        conflicts: Vec::new(),
    };
    let mut conflicts: Vec<(usize, RejectedRow)> = Vec::new();
    let all: Vec<Unit> = (0..rows.len())
        .map(Unit::Prediction)
        .chain((0..rejected.len()).map(Unit::Rejected))
        .collect();
    let mut pending = vec![all];
    while let Some(group) = pending.pop() {
        let predictions: Vec<usize> = group
            .iter()
            .filter_map(|u| match u {
                Unit::Prediction(i) => Some(*i),
                Unit::Rejected(_) => None,
            })
            .collect();
        let part_rows: Vec<PredictionRow> = predictions.iter().map(|&i| rows[i].clone()).collect();
        let part_shadow: Vec<ShadowRow> = if shadow.is_empty() {
            Vec::new()
        } else {
            predictions.iter().map(|&i| shadow[i].clone()).collect()
        };
        let part_rejected: Vec<RejectedRow> = group
            .iter()
            .filter_map(|u| match u {
                Unit::Rejected(k) => Some(rejected[*k].clone()),
                Unit::Prediction(_) => None,
            })
            .collect();
        let part_conflict = |k: usize| conflict(predictions[k]);
        match store(ctx, &part_rows, &part_shadow, &part_rejected, part_conflict).await {
            Ok(committed) => {
                let mut made = committed.conflicts.into_iter();
                for (&i, w) in predictions.iter().zip(committed.stored.written) {
                    if w == Written::Conflict {
                        conflicts.extend(made.next().map(|row| (i, row)));
                    }
                    apart.written[i] = Some(w);
                }
            }
            Err(error) if error.is_transient() => return Err(error),
            Err(error) if group.len() == 1 => apart.refused.push((group[0], error)),
            Err(_) => {
                let (a, b) = group.split_at(group.len() / 2);
                pending.push(b.to_vec());
                pending.push(a.to_vec());
            }
        }
    }
    conflicts.sort_by_key(|(i, _)| *i);
    apart.conflicts = conflicts.into_iter().map(|(_, row)| row).collect();
    Ok(apart)
}

/// The `storage_refused` rejection of a message whose row Postgres refused alone: its bytes,
/// its errors so far and the refusal. Keyed by its id when that obeys the id rule, else by the
/// hash of its bytes, like any message whose id cannot be a key.
pub fn refusal(
    request_id: Option<&str>,
    payload: Vec<u8>,
    payload_sha256: String,
    errors: serde_json::Value,
    error: &StorageError,
) -> RejectedRow {
    let (sqlstate, message) = error.refusal().map_or_else(
        || (String::new(), error.to_string()),
        |(c, m)| (c.to_owned(), m.to_owned()),
    );
    let mut errors = match errors {
        serde_json::Value::Array(errors) => errors,
        _ => Vec::new(),
    };
    errors.push(json!(FieldError::new(
        "storage",
        "Postgres refused to store this message's row",
        json!({"sqlstate": sqlstate, "message": message}),
    )));
    let request_id = request_id
        .filter(|id| check_id("request_id", id.as_bytes()).is_ok())
        .map_or_else(
            || format!("sha256:{}", &payload_sha256[..32]),
            str::to_owned,
        );
    RejectedRow {
        request_id: Some(request_id),
        reason: "storage_refused".to_owned(),
        errors: serde_json::Value::Array(errors),
        payload,
        payload_sha256,
        received_at: OffsetDateTime::now_utc(),
        trace_id: None,
    }
}

/// A job whose prediction Postgres refused, as the rejection that replaces it.
pub fn refused_job(job: Job<'_>, error: &StorageError) -> Rejected {
    let sha = sha256_hex(job.payload);
    let mut row = refusal(
        Some(&job.request_id),
        job.payload.to_vec(),
        sha,
        json!([]),
        error,
    );
    row.trace_id = Some(job.trace.trace_id.clone());
    Rejected {
        tag: job.tag,
        row,
        reply: job.reply,
        expired: false,
        stored: true,
        trace: job.trace,
    }
}

/// A rejection whose own row Postgres refused, as a `storage_refused` rejection of the same
/// message.
pub fn refused_rejection(rejected: Rejected, error: &StorageError) -> Rejected {
    let trace_id = rejected.row.trace_id.clone();
    let mut row = refusal(
        rejected.row.request_id.as_deref(),
        rejected.row.payload,
        rejected.row.payload_sha256,
        rejected.row.errors,
        error,
    );
    row.trace_id = trace_id;
    Rejected { row, ..rejected }
}

/// The parts of a batch that a refusal changes, aligned by prediction.
pub struct Batch<'a, 'b> {
    pub jobs: &'a mut Vec<Job<'b>>,
    pub scores: &'a mut Vec<Scored>,
    pub rows: &'a mut Vec<PredictionRow>,
    /// Empty when no shadow bundle serves.
    pub shadow: &'a mut Vec<ShadowRow>,
    pub rejected: &'a mut Vec<Rejected>,
    /// For each rejected row given to [`store_apart`], its index in `rejected`.
    pub stored_rejected: &'a [usize],
    pub failed: &'a mut Vec<u64>,
}

/// Turns each refused row into a stored `storage_refused` rejection of its message: a refused
/// prediction leaves the batch's predictions for `rejected`, a refused rejection is replaced.
/// A refusal that cannot be stored either (Postgres refuses even that) fails its message
/// alone, which goes back to the queue and, past the delivery limit, to the dead letters.
/// Returns what was written for each prediction that remains.
pub async fn settle(
    ctx: &AppContext,
    refused: Vec<(Unit, StorageError)>,
    batch: Batch<'_, '_>,
    written: Vec<Option<Written>>,
) -> Vec<Written> {
    let mut written = written;
    let mut to_store = Vec::new();
    let mut predictions = Vec::new();
    for (unit, error) in refused {
        match unit {
            Unit::Rejected(k) => {
                let index = batch.stored_rejected[k];
                let before = batch.rejected[index].clone();
                tracing::warn!(request_id = before.row.request_id.as_deref().unwrap_or(""), sqlstate = error.refusal().map_or("", |r| r.0), error.message = %error, "Postgres refused a rejected message's row; stored as storage_refused");
                batch.rejected[index] = refused_rejection(before, &error);
                to_store.push(index);
            }
            Unit::Prediction(i) => predictions.push((i, error)),
        }
    }
    // Highest index first, so removing one leaves the others' indices valid.
    predictions.sort_by_key(|p| std::cmp::Reverse(p.0));
    for (i, error) in predictions {
        let job = batch.jobs.remove(i);
        batch.scores.remove(i);
        batch.rows.remove(i);
        if !batch.shadow.is_empty() {
            batch.shadow.remove(i);
        }
        written.remove(i);
        tracing::warn!(request_id = %job.request_id, sqlstate = error.refusal().map_or("", |r| r.0), error.message = %error, "Postgres refused a prediction's row; stored as storage_refused");
        batch.rejected.push(refused_job(job, &error));
        to_store.push(batch.rejected.len() - 1);
    }
    let mut lost = Vec::new();
    for index in to_store {
        let row = [batch.rejected[index].row.clone()];
        let none = |_: usize| -> RejectedRow { unreachable!("no predictions, so no conflicts") };
        if let Err(error) = store(ctx, &[], &[], &row, none).await {
            tracing::error!(request_id = row[0].request_id.as_deref().unwrap_or(""), sqlstate = error.refusal().map_or("", |r| r.0), error.message = %error, "Postgres refused even the storage_refused row; the message goes back to the queue");
            lost.push(index);
        }
    }
    lost.sort_unstable_by_key(|&i| std::cmp::Reverse(i));
    for index in lost {
        let gone = batch.rejected.remove(index);
        batch.failed.push(gone.tag);
    }
    // Every prediction left was stored: `store_apart` settles each one or refuses it.
    written.into_iter().flatten().collect()
}
