//! The write path: one function per statement that changes data.
//!
//! Owns the SQL of every insert and upsert. It must not retry, sleep or log: a failure goes
//! back to the caller as a [`StorageError`] whose `is_transient` tells it what to do.

use std::borrow::Cow;

use deadpool_postgres::{Client, ClientWrapper, GenericClient};
use time::OffsetDateTime;
use uuid::Uuid;

use super::rows::{storable_json, storable_text};
use super::transaction::Open;
use super::{
    InsertCounts, PredictionRow, RejectedRow, ShadowRow, StorageError, StoredBatch, Written,
};
use predictions::{insert_predictions, Begin};

mod predictions;

// A shadow row exists only beside a live row inserted in the same transaction, so a conflict
// here is a shadow bundle of the same version as an earlier one: the first score stands.
const INSERT_SHADOW: &str = "\
INSERT INTO shadow_predictions (request_id, model_version, probability, prediction, risk_level, \
                                scored_at)
SELECT * FROM UNNEST($1::text[], $2::text[], $3::float8[], $4::smallint[], $5::text[], \
                     $6::timestamptz[])
ON CONFLICT (request_id, model_version) DO NOTHING";

// The conflict target names the partial unique index's predicate so Postgres can infer it: a
// redelivery (same id, same bytes) adds nothing, another message with the same id its own row.
const INSERT_REJECTED: &str = "\
INSERT INTO rejected_messages (request_id, reason, errors, payload, received_at, payload_sha256, \
                               trace_id)
SELECT * FROM UNNEST($1::text[], $2::text[], $3::jsonb[], $4::bytea[], $5::timestamptz[], \
                     $6::text[], $7::text[])
ON CONFLICT (request_id, payload_sha256) WHERE request_id IS NOT NULL DO NOTHING";

/// A micro-batch's predictions written in an open transaction, with what was found for each:
/// [`Written::Inserted`] (new), [`Written::Replayed`] (its `request_id` stored already with the
/// same record: the stored result stands) or [`Written::Conflict`] (stored with another
/// record). The caller decides what a conflict becomes, then [`Pending::commit`]s the
/// rejected rows with it, in the same transaction. Dropped without a commit, nothing is written.
pub struct Pending<'c> {
    tx: Option<Open<'c>>,
    found: Vec<Written>,
    counts: InsertCounts,
}

impl Pending<'_> {
    /// One entry per prediction, in the order given.
    pub fn found(&self) -> &[Written] {
        &self.found
    }

    /// Writes `rejected` (the batch's rejected messages and, for each conflict, its
    /// `request_id_conflict` row), then commits everything. A rejected row whose `request_id`
    /// and bytes (`payload_sha256`) are both stored already (a redelivery) is skipped.
    ///
    /// # Errors
    ///
    /// [`StorageError`] when a statement or the commit fails; nothing was written.
    pub async fn commit(mut self, rejected: &[&RejectedRow]) -> Result<StoredBatch, StorageError> {
        let Some(tx) = self.tx.take() else {
            return Ok(StoredBatch::default());
        };
        if !rejected.is_empty() {
            self.counts.rejected = insert_rejected(tx.client, rejected).await?;
        }
        tx.commit().await?;
        Ok(StoredBatch {
            counts: self.counts,
            written: std::mem::take(&mut self.found),
        })
    }
}

/// Writes a micro-batch's predictions, and the shadow bundle's scores of the new ones, in a
/// transaction left open for [`Pending::commit`].
///
/// Idempotent by `request_id`, with the usual semantics of idempotency keys: a prediction
/// whose `request_id` is stored already (a redelivery after a crash between commit and ack, a
/// client's retry, a repeat within the batch) is not written again, and [`Pending::found`]
/// says whether the stored row holds the same record. `shadow[i]` is the shadow score of
/// `predictions[i]` (`shadow` is empty when no shadow bundle serves); a shadow row is written
/// only for a prediction inserted now, so shadow and live rows stay one to one. Either
/// everything is committed or nothing is, so the caller acks the whole batch after `Ok` and
/// none of it after `Err`. A batch of new predictions costs two round trips: `BEGIN` with the
/// insert, then the `COMMIT`; the [`Pending`] dropped uncommitted, or this future dropped
/// unfinished, rolls back. A batch of predictions alone takes one: [`insert_alone`].
///
/// # Errors
///
/// [`StorageError`] when the transaction fails; nothing was written. A transient error
/// (connection lost, database restarting) may be retried as is; a permanent one (a CHECK
/// violation: a prediction that is not 0/1, a probability outside 0..=1) fails the whole
/// batch, and retrying its rows one by one isolates the culprit. [`StorageError::Corrupt`]
/// when `shadow` is neither empty nor as long as `predictions`.
pub async fn insert_batch<'c>(
    client: &'c mut Client,
    predictions: &[PredictionRow],
    shadow: &[ShadowRow],
) -> Result<Pending<'c>, StorageError> {
    if !shadow.is_empty() && shadow.len() != predictions.len() {
        return Err(StorageError::Corrupt {
            column: "shadow_predictions",
            value: format!(
                "{} shadow rows for {} predictions",
                shadow.len(),
                predictions.len()
            ),
        });
    }
    let client: &'c ClientWrapper = client;
    let tx = Open::new(client);
    let (found, counts) = if predictions.is_empty() {
        client.batch_execute("BEGIN").await?;
        (Vec::new(), InsertCounts::default())
    } else {
        insert_predictions(client, predictions, Begin::With).await?
    };
    if !shadow.is_empty() {
        let new: Vec<&ShadowRow> = shadow
            .iter()
            .zip(&found)
            .filter(|(_, w)| **w == Written::Inserted)
            .map(|(s, _)| s)
            .collect();
        insert_shadow(client, &new).await?;
    }
    Ok(Pending {
        tx: Some(tx),
        found,
        counts,
    })
}

/// Writes a batch that holds predictions and nothing else (no rejected message, no shadow
/// score) in one statement, which Postgres commits by itself: one round trip, where
/// [`insert_batch`]'s transaction takes two. What was found for each prediction is as
/// [`Pending::found`] says; the `request_id_conflict` rows made from it go in with
/// [`insert_rejected`], committed by themselves in turn. Between the two a crash leaves the
/// predictions without their conflict rows, and the unacked batch comes back: its
/// conflicts are found again and written then.
///
/// # Errors
///
/// [`StorageError`] when the statement fails; nothing was written.
pub async fn insert_alone(
    client: &ClientWrapper,
    predictions: &[PredictionRow],
) -> Result<StoredBatch, StorageError> {
    if predictions.is_empty() {
        return Ok(StoredBatch::default());
    }
    let (written, counts) = insert_predictions(client, predictions, Begin::Without).await?;
    Ok(StoredBatch { counts, written })
}

/// Writes rejected messages, in the batch's transaction or, on a client outside one, committed
/// by themselves (one statement); returns how many rows are new.
///
/// # Errors
///
/// [`StorageError`] when the statement fails; nothing was written.
pub async fn insert_rejected(
    tx: &ClientWrapper,
    rejected: &[&RejectedRow],
) -> Result<u64, StorageError> {
    let statement = tx.prepare_cached(INSERT_REJECTED).await?;
    // What a rejected message holds is anything at all: the text and jsonb columns get it
    // made storable (the bytes stay as they came in `payload`).
    let request_id: Vec<Option<Cow<'_, str>>> = rejected
        .iter()
        .map(|r| r.request_id.as_deref().map(storable_text))
        .collect();
    let reason: Vec<Cow<'_, str>> = rejected.iter().map(|r| storable_text(&r.reason)).collect();
    let storable: Vec<Cow<'_, serde_json::Value>> =
        rejected.iter().map(|r| storable_json(&r.errors)).collect();
    let errors: Vec<&serde_json::Value> = storable.iter().map(AsRef::as_ref).collect();
    let payload: Vec<&[u8]> = rejected.iter().map(|r| r.payload.as_slice()).collect();
    let received_at: Vec<OffsetDateTime> = rejected.iter().map(|r| r.received_at).collect();
    let sha: Vec<&str> = rejected.iter().map(|r| r.payload_sha256.as_str()).collect();
    let trace_id: Vec<Option<&str>> = rejected.iter().map(|r| r.trace_id.as_deref()).collect();
    Ok(tx
        .execute(
            &statement,
            &[
                &request_id,
                &reason,
                &errors,
                &payload,
                &received_at,
                &sha,
                &trace_id,
            ],
        )
        .await?)
}

/// Writes the shadow rows of the new predictions of a batch, in its transaction.
async fn insert_shadow(tx: &ClientWrapper, rows: &[&ShadowRow]) -> Result<(), StorageError> {
    if rows.is_empty() {
        return Ok(());
    }
    let statement = tx.prepare_cached(INSERT_SHADOW).await?;
    let request_id: Vec<&str> = rows.iter().map(|r| r.request_id.as_str()).collect();
    let model_version: Vec<&str> = rows.iter().map(|r| r.model_version.as_str()).collect();
    let probability: Vec<f64> = rows.iter().map(|r| r.probability).collect();
    let prediction: Vec<i16> = rows.iter().map(|r| r.prediction).collect();
    let risk_level: Vec<&str> = rows.iter().map(|r| r.risk_level.as_str()).collect();
    let scored_at: Vec<OffsetDateTime> = rows.iter().map(|r| r.scored_at).collect();
    tx.execute(
        &statement,
        &[
            &request_id,
            &model_version,
            &probability,
            &prediction,
            &risk_level,
            &scored_at,
        ],
    )
    .await?;
    Ok(())
}

/// Registers an HTTP batch of `total` employees, submitted now. Idempotent: registering the
/// same `batch_id` again (a retry after a lost answer) changes nothing.
///
/// # Errors
///
/// [`StorageError::OutOfRange`] when `total` exceeds the column (`i32::MAX`), or another
/// [`StorageError`] when the statement fails.
pub async fn create_batch(
    client: &impl GenericClient,
    batch_id: Uuid,
    total: u32,
) -> Result<(), StorageError> {
    let total = i32::try_from(total).map_err(|_| StorageError::OutOfRange {
        column: "batches.total",
        value: total.to_string(),
    })?;
    let statement = client
        .prepare_cached(
            "INSERT INTO batches (batch_id, submitted_at, total) VALUES ($1, now(), $2) \
             ON CONFLICT (batch_id) DO NOTHING",
        )
        .await?;
    client.execute(&statement, &[&batch_id, &total]).await?;
    Ok(())
}
