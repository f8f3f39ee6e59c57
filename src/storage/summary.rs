//! The refresh of the live-performance summary (migration V12, docs/contract.md#tables): the
//! judged scores behind `model_performance`, `model_performance_by_group`, `_unjudged` and
//! `_unseen`, rebuilt for the employees whose rows changed since the last refresh.
//!
//! The work is the database's (`performance_refresh_summary()`): it takes a transaction-level
//! advisory lock, so one process refreshes at a time and the others skip the round. The views
//! are exact whether or not a refresh ran; refreshing only makes reading them cheap.
//!
//! Like the rest of storage: one statement per function, no retry, no log.

use deadpool_postgres::GenericClient;

use super::StorageError;

/// What one refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryRefresh {
    /// Whether the summary was rebuilt whole (the first refresh, or after a TRUNCATE) rather
    /// than for the employees marked since the last one.
    pub full_rebuild: bool,
    /// Summary rows written.
    pub rows: u64,
}

/// Refreshes the summary, or returns `None` when another process is refreshing it.
///
/// # Errors
/// [`StorageError`] when the statement fails; the summary is then as it was.
pub async fn refresh_performance_summary(
    client: &impl GenericClient,
) -> Result<Option<SummaryRefresh>, StorageError> {
    let row = client
        .query_opt(
            "SELECT full_rebuild, summary_rows FROM performance_refresh_summary()",
            &[],
        )
        .await?;
    row.map(|row| {
        Ok(SummaryRefresh {
            full_rebuild: row.try_get(0)?,
            rows: row.try_get::<_, i64>(1)?.unsigned_abs(),
        })
    })
    .transpose()
}
