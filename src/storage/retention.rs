//! Retention's statements (docs/privacy.md): the advisory lock that lets one process at a time
//! apply the rules, and the bounded DELETE of the oldest rows of one table.
//!
//! Each DELETE removes at most `batch_rows` rows, oldest first, through the table's time
//! index, and commits on its own: a worker insert waits at most for one small statement, never
//! for a whole purge. This module does not loop or sleep; `crate::retention` does.

use deadpool_postgres::GenericClient;

use super::StorageError;

// An arbitrary constant shared by every turnover process ("retain" in ASCII, as an i64),
// distinct from the migration lock's key.
const RETENTION_LOCK_KEY: i64 = 0x0000_7265_7461_696e;

/// A table with a retention period, and the column that dates its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retained {
    Predictions,
    ShadowPredictions,
    RejectedMessages,
    Outcomes,
}

impl Retained {
    /// The table's name, also the `table` label of `turnover_retention_deleted_total`.
    pub fn table(self) -> &'static str {
        match self {
            Retained::Predictions => "predictions",
            Retained::ShadowPredictions => "shadow_predictions",
            Retained::RejectedMessages => "rejected_messages",
            Retained::Outcomes => "outcomes",
        }
    }

    fn delete_sql(self) -> &'static str {
        // ctid: the physical row, so one statement shape serves tables with any key.
        match self {
            Retained::Predictions => {
                "DELETE FROM predictions WHERE ctid = ANY(ARRAY(\
                SELECT ctid FROM predictions WHERE scored_at < now() - make_interval(days => $1) \
                ORDER BY scored_at LIMIT $2))"
            }
            Retained::ShadowPredictions => {
                "DELETE FROM shadow_predictions WHERE ctid = ANY(ARRAY(\
                SELECT ctid FROM shadow_predictions \
                WHERE scored_at < now() - make_interval(days => $1) ORDER BY scored_at LIMIT $2))"
            }
            Retained::RejectedMessages => {
                "DELETE FROM rejected_messages WHERE ctid = ANY(ARRAY(\
                SELECT ctid FROM rejected_messages \
                WHERE received_at < now() - make_interval(days => $1) \
                ORDER BY received_at LIMIT $2))"
            }
            Retained::Outcomes => {
                "DELETE FROM outcomes WHERE ctid = ANY(ARRAY(\
                SELECT ctid FROM outcomes WHERE recorded_at < now() - make_interval(days => $1) \
                ORDER BY recorded_at LIMIT $2))"
            }
        }
    }
}

/// Takes the retention lock for this session, if no other process holds it.
///
/// # Errors
/// [`StorageError`] when the statement fails.
pub async fn try_retention_lock(client: &impl GenericClient) -> Result<bool, StorageError> {
    let row = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&RETENTION_LOCK_KEY])
        .await?;
    Ok(row.try_get(0)?)
}

/// Releases the lock [`try_retention_lock`] took.
///
/// # Errors
/// [`StorageError`] when the statement fails (the session's end releases it anyway).
pub async fn release_retention_lock(client: &impl GenericClient) -> Result<(), StorageError> {
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&RETENTION_LOCK_KEY])
        .await?;
    Ok(())
}

/// Deletes at most `batch_rows` rows of `table` older than `days` days, oldest first, and
/// returns how many went.
///
/// # Errors
/// [`StorageError`] when the statement fails.
pub async fn delete_expired(
    client: &impl GenericClient,
    table: Retained,
    days: u32,
    batch_rows: u32,
) -> Result<u64, StorageError> {
    let days = i32::try_from(days).unwrap_or(i32::MAX);
    let limit = i64::from(batch_rows);
    let statement = client.prepare_cached(table.delete_sql()).await?;
    Ok(client.execute(&statement, &[&days, &limit]).await?)
}
