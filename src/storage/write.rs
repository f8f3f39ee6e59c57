//! The write path: one function per statement that changes data.
//!
//! Owns the SQL of every insert and upsert. It must not retry, sleep or log: a failure goes
//! back to the caller as a [`StorageError`] whose `is_transient` tells it what to do.

use std::borrow::Cow;
use std::collections::HashSet;

use deadpool_postgres::{Client, ClientWrapper, GenericClient};
use time::OffsetDateTime;
use uuid::Uuid;

use super::rows::{risk_level_from_str, storable_json, storable_text};
use super::transaction::Open;
use super::{
    InsertCounts, PredictionRow, RejectedRow, ShadowRow, StorageError, StoredBatch, StoredScore,
    Written,
};

// One statement per table for a whole batch: UNNEST turns the parallel arrays into rows, so a
// batch of 256 costs one round trip and one plan instead of 256. The explicit casts fix the
// parameter types, so the prepared statement is the same for every batch size. RETURNING tells
// which rows are new; the others were stored before.
const INSERT_PREDICTIONS: &str = "\
INSERT INTO predictions (request_id, employee_id, batch_id, source, model_version, prediction, \
                         probability, risk_level, input, explanation, enqueued_at, scored_at, \
                         record_sha256, trace_id)
SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::uuid[], $4::text[], $5::text[], \
                     $6::smallint[], $7::float8[], $8::text[], $9::jsonb[], $10::jsonb[], \
                     $11::timestamptz[], $12::timestamptz[], $13::text[], $14::text[])
ON CONFLICT (request_id) DO NOTHING
RETURNING request_id";

// The stored rows behind the requests that were not new, and whether each holds the same
// record. Rows from before the hash column are compared on their input (jsonb equality).
const STORED_FOR: &str = "\
SELECT j.ord, \
       coalesce(p.record_sha256 = j.sha, p.input = j.input) AS same, \
       p.prediction, p.probability, p.risk_level, p.model_version, p.explanation
FROM UNNEST($1::text[], $2::text[], $3::jsonb[]) WITH ORDINALITY AS j(request_id, sha, input, ord)
JOIN predictions p ON p.request_id = j.request_id";

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
/// unfinished, rolls back.
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
    let mut counts = InsertCounts::default();
    let mut found = Vec::with_capacity(predictions.len());
    let tx = if predictions.is_empty() {
        let tx = Open::new(client);
        client.batch_execute("BEGIN").await?;
        tx
    } else {
        // A request_id repeated within the batch goes in once (its first occurrence); the
        // repeats are settled against the stored row like any other known id.
        let mut seen = HashSet::with_capacity(predictions.len());
        let first: Vec<&PredictionRow> = predictions
            .iter()
            .filter(|p| seen.insert(p.request_id.as_str()))
            .collect();
        // Prepared once per connection, outside the transaction.
        let statement = client.prepare_cached(INSERT_PREDICTIONS).await?;
        let c = PredictionColumns::new(&first);
        let tx = Open::new(client);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 14] = [
            &c.request_id,
            &c.employee_id,
            &c.batch_id,
            &c.source,
            &c.model_version,
            &c.prediction,
            &c.probability,
            &c.risk_level,
            &c.input,
            &c.explanation,
            &c.enqueued_at,
            &c.scored_at,
            &c.record_sha256,
            &c.trace_id,
        ];
        // Polled in this order, `BEGIN` is sent first and the insert right behind it.
        let (begun, inserted) = futures_util::join!(
            client.batch_execute("BEGIN"),
            client.query(&statement, &params)
        );
        begun?;
        let inserted: HashSet<String> = inserted?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
        counts.inserted = inserted.len() as u64;
        counts.duplicates = predictions.len() as u64 - counts.inserted;

        let mut settled: Vec<Option<Written>> = vec![None; predictions.len()];
        let mut claimed = HashSet::with_capacity(inserted.len());
        for (slot, p) in settled.iter_mut().zip(predictions) {
            if inserted.contains(&p.request_id) && claimed.insert(p.request_id.as_str()) {
                *slot = Some(Written::Inserted);
            }
        }
        if counts.duplicates > 0 {
            settle_known(client, predictions, &mut settled).await?;
        }
        for (slot, p) in settled.into_iter().zip(predictions) {
            found.push(slot.ok_or_else(|| StorageError::Corrupt {
                column: "predictions.request_id",
                value: format!("{} was neither inserted nor found", p.request_id),
            })?);
        }
        tx
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

/// Writes rejected messages in the batch's transaction; returns how many rows are new.
async fn insert_rejected(
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

/// Settles the predictions not inserted by this batch against their stored rows.
async fn settle_known(
    tx: &ClientWrapper,
    predictions: &[PredictionRow],
    settled: &mut [Option<Written>],
) -> Result<(), StorageError> {
    let known: Vec<usize> = (0..predictions.len())
        .filter(|&i| settled[i].is_none())
        .collect();
    let request_id: Vec<&str> = known
        .iter()
        .map(|&i| predictions[i].request_id.as_str())
        .collect();
    let sha: Vec<&str> = known
        .iter()
        .map(|&i| predictions[i].record_sha256.as_str())
        .collect();
    let input: Vec<&serde_json::Value> = known.iter().map(|&i| &predictions[i].input).collect();
    let statement = tx.prepare_cached(STORED_FOR).await?;
    for row in tx.query(&statement, &[&request_id, &sha, &input]).await? {
        let ordinal: i64 = row.try_get(0)?;
        let Some(&i) = usize::try_from(ordinal - 1).ok().and_then(|k| known.get(k)) else {
            continue;
        };
        settled[i] = Some(if row.try_get::<_, Option<bool>>(1)? == Some(true) {
            Written::Replayed(StoredScore {
                prediction: row.try_get(2)?,
                probability: row.try_get(3)?,
                risk_level: risk_level_from_str(row.try_get(4)?)?,
                model_version: row.try_get(5)?,
                explanation: row.try_get(6)?,
            })
        } else {
            Written::Conflict
        });
    }
    Ok(())
}

/// The batch turned column-wise, borrowing from the rows (no copy of the JSON documents).
struct PredictionColumns<'a> {
    request_id: Vec<&'a str>,
    employee_id: Vec<Option<i64>>,
    batch_id: Vec<Option<Uuid>>,
    source: Vec<&'static str>,
    model_version: Vec<&'a str>,
    prediction: Vec<i16>,
    probability: Vec<f64>,
    risk_level: Vec<&'static str>,
    input: Vec<&'a serde_json::Value>,
    explanation: Vec<Option<&'a serde_json::Value>>,
    enqueued_at: Vec<Option<OffsetDateTime>>,
    scored_at: Vec<OffsetDateTime>,
    record_sha256: Vec<&'a str>,
    trace_id: Vec<Option<&'a str>>,
}

impl<'a> PredictionColumns<'a> {
    fn new(rows: &[&'a PredictionRow]) -> Self {
        Self {
            request_id: rows.iter().map(|r| r.request_id.as_str()).collect(),
            employee_id: rows.iter().map(|r| r.employee_id).collect(),
            batch_id: rows.iter().map(|r| r.batch_id).collect(),
            source: rows.iter().map(|r| r.source.as_str()).collect(),
            model_version: rows.iter().map(|r| r.model_version.as_str()).collect(),
            prediction: rows.iter().map(|r| r.prediction).collect(),
            probability: rows.iter().map(|r| r.probability).collect(),
            risk_level: rows.iter().map(|r| r.risk_level.as_str()).collect(),
            input: rows.iter().map(|r| &r.input).collect(),
            explanation: rows.iter().map(|r| r.explanation.as_ref()).collect(),
            enqueued_at: rows.iter().map(|r| r.enqueued_at).collect(),
            scored_at: rows.iter().map(|r| r.scored_at).collect(),
            record_sha256: rows.iter().map(|r| r.record_sha256.as_str()).collect(),
            trace_id: rows.iter().map(|r| r.trace_id.as_deref()).collect(),
        }
    }
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
