//! A batch's rows and their writes: the rows built from the jobs and their scores (the
//! canonical record and its hash once per job), written by `storage::insert_alone` (a batch of
//! predictions alone, one statement) or `storage::insert_batch` (one transaction), and the
//! `request_id_conflict` rows made here from what the insert found.

use std::time::Duration;

use deadpool_postgres::ClientWrapper;
use serde_json::json;
use time::OffsetDateTime;

use super::job::Job;
use super::reply;
use crate::app::AppContext;
use crate::backoff::Backoff;
use crate::digest::sha256_hex;
use crate::serving::Scored;
use crate::storage::{
    self, Document, PredictionRow, RejectedRow, ShadowRow, StorageError, StoredBatch, Written,
};

/// What a committed batch wrote, with the conflict rows it made: `conflicts[k]` belongs to
/// the `k`-th prediction found [`Written::Conflict`], in order.
#[derive(Debug, Default)]
pub struct Committed {
    pub stored: StoredBatch,
    pub conflicts: Vec<RejectedRow>,
}

/// Writes the batch, retrying transient failures with capped backoff until it succeeds or the
/// shutdown deadline passes. `conflict(i)` makes the row of prediction `i` when its
/// `request_id` turns out to be stored with another record.
///
/// A batch of predictions alone (no rejected message, no shadow score: every synchronous
/// request, and most queued batches) is one statement that commits by itself, one round trip
/// instead of a transaction's two; its conflict rows, if any, follow in a second statement,
/// and once the predictions have committed a retry writes only those. Should Postgres refuse
/// those rows for good, the predictions stay committed, and the isolation that follows
/// (`isolate`) finds them stored: replays of themselves, with the same scores.
pub async fn store(
    ctx: &AppContext,
    rows: &[PredictionRow],
    shadow: &[ShadowRow],
    rejected: &[RejectedRow],
    conflict: impl Fn(usize) -> RejectedRow,
) -> Result<Committed, StorageError> {
    if rows.is_empty() && rejected.is_empty() {
        return Ok(Committed::default());
    }
    let alone = shadow.is_empty() && rejected.is_empty();
    // The predictions of a batch written alone, once committed (for a retry of their conflicts).
    let mut written: Option<StoredBatch> = None;
    let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(5));
    loop {
        let attempt = async {
            let mut client = ctx.pool.get().await?;
            if alone {
                return store_alone(&client, rows, &mut written, &conflict).await;
            }
            let pending = storage::insert_batch(&mut client, rows, shadow).await?;
            let conflicts = conflicts(pending.found(), &conflict);
            let all: Vec<&RejectedRow> = rejected.iter().chain(&conflicts).collect();
            let stored = pending.commit(&all).await?;
            Ok::<_, StorageError>(Committed { stored, conflicts })
        };
        match attempt.await {
            Ok(committed) => {
                ctx.metrics.postgres_connected.set(1);
                return Ok(committed);
            }
            Err(error) if error.is_transient() && !ctx.hard_stop.is_cancelled() => {
                ctx.metrics.postgres_connected.set(0);
                let delay = backoff.next_delay();
                tracing::warn!(error.message = %error, retry_in_ms = delay.as_millis() as u64, "cannot store the batch; retrying");
                tokio::select! {
                    () = ctx.hard_stop.cancelled() => {}
                    () = tokio::time::sleep(delay) => {}
                }
            }
            Err(error) => return Err(error),
        }
    }
}

/// One attempt at a batch of predictions alone: the predictions in one statement (unless
/// `committed` holds them from an earlier attempt), then their conflict rows. When the
/// conflict rows fail, the committed predictions are left in `committed` for the retry.
async fn store_alone(
    client: &ClientWrapper,
    rows: &[PredictionRow],
    committed: &mut Option<StoredBatch>,
    conflict: impl Fn(usize) -> RejectedRow,
) -> Result<Committed, StorageError> {
    let mut stored = match committed.take() {
        Some(stored) => stored,
        None => storage::insert_alone(client, rows).await?,
    };
    let conflicts = conflicts(&stored.written, conflict);
    if !conflicts.is_empty() {
        let all: Vec<&RejectedRow> = conflicts.iter().collect();
        match storage::insert_rejected(client, &all).await {
            Ok(n) => stored.counts.rejected = n,
            Err(error) => {
                *committed = Some(stored);
                return Err(error);
            }
        }
    }
    Ok(Committed { stored, conflicts })
}

/// The `request_id_conflict` rows of the predictions found [`Written::Conflict`], in order.
fn conflicts(found: &[Written], conflict: impl Fn(usize) -> RejectedRow) -> Vec<RejectedRow> {
    found
        .iter()
        .enumerate()
        .filter(|(_, found)| **found == Written::Conflict)
        .map(|(i, _)| conflict(i))
        .collect()
}

/// The `rejected_messages` row of a request whose `request_id` was stored with another
/// record: its bytes (copied here, the only place a job's body is) and its error list.
pub fn conflict_row(job: &Job<'_>, now: OffsetDateTime) -> RejectedRow {
    RejectedRow {
        request_id: Some(job.request_id.clone()),
        reason: "request_id_conflict".to_owned(),
        errors: reply::conflict_errors(job),
        payload: job.payload.to_vec(),
        payload_sha256: sha256_hex(job.payload),
        received_at: now,
        trace_id: Some(job.trace.trace_id.clone()),
    }
}

/// The `predictions` row of a scored job: its canonical record written once, as the bytes
/// the row stores and its hash is taken over.
pub fn prediction_row(
    version: &str,
    job: &Job<'_>,
    s: &Scored,
    now: OffsetDateTime,
) -> PredictionRow {
    let canonical = job.record.canonical_json();
    PredictionRow {
        request_id: job.request_id.clone(),
        employee_id: job.employee_id,
        batch_id: job.batch_id,
        source: job.source,
        model_version: version.to_owned(),
        prediction: i16::from(s.score.prediction),
        probability: s.score.probability,
        risk_level: s.score.risk_level,
        record_sha256: sha256_hex(&canonical),
        input: Document::Written(canonical),
        explanation: s.explanation.as_ref().map(|e| json!(e)),
        enqueued_at: job.enqueued_at,
        scored_at: now,
        trace_id: Some(job.trace.trace_id.clone()),
        groups: Some(crate::fairness::groups(&job.record)),
    }
}

/// The `shadow_predictions` row of a job the shadow bundle scored.
pub fn shadow_row(version: &str, job: &Job<'_>, s: &Scored, now: OffsetDateTime) -> ShadowRow {
    ShadowRow {
        request_id: job.request_id.clone(),
        model_version: version.to_owned(),
        probability: s.score.probability,
        prediction: i16::from(s.score.prediction),
        risk_level: s.score.risk_level,
        scored_at: now,
    }
}
