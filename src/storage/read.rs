//! The read path: one function per query that the service and its tests need.
//!
//! Owns the SQL of every select. It must not write, and it must not hold a transaction open:
//! each function is one statement on whatever client or transaction it is given.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::rows::risk_level_from_str;
use super::{BatchPrediction, BatchStatus, PredictionRow, StorageError};

/// Checks that the database answers (`/ready`).
///
/// # Errors
///
/// [`StorageError`] when the round trip fails.
pub async fn ping(client: &impl GenericClient) -> Result<(), StorageError> {
    client.execute("SELECT 1", &[]).await?;
    Ok(())
}

/// Progress of an HTTP batch, or `None` when no such batch was registered.
///
/// # Errors
///
/// [`StorageError`] when the query fails.
pub async fn batch_status(
    client: &impl GenericClient,
    batch_id: Uuid,
) -> Result<Option<BatchStatus>, StorageError> {
    let statement = client
        .prepare_cached(
            "SELECT b.total, b.submitted_at, \
                    (SELECT count(*) FROM predictions p WHERE p.batch_id = b.batch_id) \
             FROM batches b WHERE b.batch_id = $1",
        )
        .await?;
    let Some(row) = client.query_opt(&statement, &[&batch_id]).await? else {
        return Ok(None);
    };
    Ok(Some(BatchStatus {
        total: non_negative("batches.total", i64::from(row.try_get::<_, i32>(0)?))?,
        submitted_at: row.try_get(1)?,
        done: non_negative("count", row.try_get(2)?)?,
    }))
}

/// The scored employees of an HTTP batch, by `employee_id` (rows without one last).
///
/// # Errors
///
/// [`StorageError`] when the query fails or a stored risk level is unknown.
pub async fn batch_results(
    client: &impl GenericClient,
    batch_id: Uuid,
) -> Result<Vec<BatchPrediction>, StorageError> {
    let statement = client
        .prepare_cached(
            "SELECT employee_id, prediction, probability, risk_level FROM predictions \
             WHERE batch_id = $1 ORDER BY employee_id NULLS LAST, request_id",
        )
        .await?;
    client
        .query(&statement, &[&batch_id])
        .await?
        .iter()
        .map(|row| {
            Ok(BatchPrediction {
                employee_id: row.try_get(0)?,
                prediction: row.try_get(1)?,
                probability: row.try_get(2)?,
                risk_level: risk_level_from_str(row.try_get(3)?)?,
            })
        })
        .collect()
}

/// The stored prediction for a `request_id`, if any.
///
/// # Errors
///
/// [`StorageError`] when the query fails or a stored value is not one this code writes.
pub async fn find_prediction(
    client: &impl GenericClient,
    request_id: &str,
) -> Result<Option<PredictionRow>, StorageError> {
    let statement = client
        .prepare_cached(
            "SELECT request_id, employee_id, batch_id, source, model_version, prediction, \
                    probability, risk_level, input, explanation, enqueued_at, scored_at, \
                    coalesce(record_sha256, ''), trace_id \
             FROM predictions WHERE request_id = $1",
        )
        .await?;
    let Some(row) = client.query_opt(&statement, &[&request_id]).await? else {
        return Ok(None);
    };
    Ok(Some(PredictionRow {
        request_id: row.try_get(0)?,
        employee_id: row.try_get(1)?,
        batch_id: row.try_get(2)?,
        source: row.try_get::<_, &str>(3)?.parse()?,
        model_version: row.try_get(4)?,
        prediction: row.try_get(5)?,
        probability: row.try_get(6)?,
        risk_level: risk_level_from_str(row.try_get(7)?)?,
        input: super::Document::Value(row.try_get(8)?),
        explanation: row.try_get(9)?,
        enqueued_at: row.try_get(10)?,
        scored_at: row.try_get(11)?,
        record_sha256: row.try_get(12)?,
        trace_id: row.try_get(13)?,
        groups: None,
    }))
}

fn non_negative(column: &'static str, value: i64) -> Result<u64, StorageError> {
    u64::try_from(value).map_err(|_| StorageError::OutOfRange {
        column,
        value: value.to_string(),
    })
}
