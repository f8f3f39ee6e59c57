//! The predictions of a batch: the one insert of every new row, and what is found for the
//! others (replayed or conflicting), with `BEGIN` sent ahead of it or not.

use std::collections::HashSet;

use deadpool_postgres::ClientWrapper;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::storage::rows::risk_level_from_str;
use crate::storage::{Document, InsertCounts, PredictionRow, StorageError, StoredScore, Written};

// One statement for a whole batch: `unnest` turns the parallel arrays into rows, so a batch of
// 256 costs one round trip and one plan instead of 256. In the select list the arrays are read
// in step and the rows stream into the insert; `FROM UNNEST(...)` would first copy every row
// (its 1 KiB record included) into a tuplestore, which a profile of the pipeline showed as
// fresh memory paged in on every batch (docs/performance.md). The explicit casts fix the
// parameter types, so the prepared statement is the same for every batch size. RETURNING
// tells which rows are new; the others were stored before.
const INSERT_PREDICTIONS: &str = "\
INSERT INTO predictions (request_id, employee_id, batch_id, source, model_version, prediction, \
                         probability, risk_level, input, explanation, enqueued_at, scored_at, \
                         record_sha256, trace_id, genre, statut_marital, age_band)
SELECT unnest($1::text[]), unnest($2::bigint[]), unnest($3::uuid[]), unnest($4::text[]), \
       unnest($5::text[]), unnest($6::smallint[]), unnest($7::float8[]), unnest($8::text[]), \
       unnest($9::jsonb[]), unnest($10::jsonb[]), unnest($11::timestamptz[]), \
       unnest($12::timestamptz[]), unnest($13::text[]), unnest($14::text[]), \
       unnest($15::text[]), unnest($16::text[]), unnest($17::text[])
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

/// Whether [`insert_predictions`] opens the transaction with its insert.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Begin {
    /// `BEGIN` sent right before the insert, in the same round trip.
    With,
    /// The insert alone, committed by itself.
    Without,
}

/// Inserts the predictions not stored yet and settles the others against their stored rows:
/// one entry per prediction, in order, and the counts.
pub(super) async fn insert_predictions(
    client: &ClientWrapper,
    predictions: &[PredictionRow],
    begin: Begin,
) -> Result<(Vec<Written>, InsertCounts), StorageError> {
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
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 17] = [
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
        &c.groups[0],
        &c.groups[1],
        &c.groups[2],
    ];
    let rows = if begin == Begin::With {
        // Polled in this order, `BEGIN` is sent first and the insert right behind it.
        let (begun, inserted) = futures_util::join!(
            client.batch_execute("BEGIN"),
            client.query(&statement, &params)
        );
        begun?;
        inserted?
    } else {
        client.query(&statement, &params).await?
    };
    let inserted: HashSet<String> = rows
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut counts = InsertCounts {
        inserted: inserted.len() as u64,
        ..InsertCounts::default()
    };
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
    let found = settled
        .into_iter()
        .zip(predictions)
        .map(|(slot, p)| {
            slot.ok_or_else(|| StorageError::Corrupt {
                column: "predictions.request_id",
                value: format!("{} was neither inserted nor found", p.request_id),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok((found, counts))
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
    let input: Vec<&Document> = known.iter().map(|&i| &predictions[i].input).collect();
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
    input: Vec<&'a Document>,
    explanation: Vec<Option<&'a serde_json::Value>>,
    enqueued_at: Vec<Option<OffsetDateTime>>,
    scored_at: Vec<OffsetDateTime>,
    record_sha256: Vec<&'a str>,
    trace_id: Vec<Option<&'a str>>,
    /// `genre`, `statut_marital`, `age_band`: null where the row leaves them to the trigger.
    groups: [Vec<Option<&'static str>>; 3],
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
            groups: std::array::from_fn(|k| rows.iter().map(|r| Some(r.groups?[k])).collect()),
        }
    }
}
