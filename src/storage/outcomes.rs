//! Outcomes and what they say of each model version: the upsert behind
//! `turnover outcomes` and `POST /outcomes`, and the reads of the `model_performance` view and
//! of the holdout figures the manifests promised (docs/contract.md#tables).
//!
//! Like the rest of storage: one statement per function, no retry, no log.

use deadpool_postgres::{Client, GenericClient};

use super::StorageError;
use crate::outcomes::Outcome;

/// Rows per statement when loading a large file, all in one transaction.
const CHUNK: usize = 10_000;

// One row per employee: a new employee is inserted, a changed outcome replaces the stored one
// (the latest load wins), an identical one is left alone and not returned. `xmax = 0` tells a
// fresh row from an updated one.
const UPSERT_OUTCOMES: &str = "\
INSERT INTO outcomes (employee_id, \"left\", observed_at, source)
SELECT * FROM UNNEST($1::bigint[], $2::bool[], $3::timestamptz[], $4::text[])
ON CONFLICT (employee_id) DO UPDATE
   SET \"left\" = EXCLUDED.\"left\", observed_at = EXCLUDED.observed_at,
       source = EXCLUDED.source, recorded_at = now()
 WHERE (outcomes.\"left\", outcomes.observed_at, outcomes.source)
       IS DISTINCT FROM (EXCLUDED.\"left\", EXCLUDED.observed_at, EXCLUDED.source)
RETURNING (xmax = 0) AS inserted";

// Of the outcomes just loaded, those of employees with no live score made strictly before the
// observation: `model_performance` cannot judge them, and says nothing of them.
const UNJUDGED: &str = "\
SELECT count(*) FROM UNNEST($1::bigint[], $2::timestamptz[]) AS o(employee_id, observed_at)
 WHERE NOT EXISTS (SELECT 1 FROM predictions p
                    WHERE p.employee_id = o.employee_id AND p.scored_at < o.observed_at)";

/// What loading outcomes did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct OutcomeCounts {
    /// Employees that had no outcome.
    pub inserted: u64,
    /// Employees whose stored outcome changed.
    pub updated: u64,
    /// Employees whose stored outcome was already this one.
    pub unchanged: u64,
    /// Outcomes (of those loaded) with no score made before them: left out of
    /// `model_performance` until a score dated before the outcome exists.
    pub unjudged: u64,
}

impl std::fmt::Display for OutcomeCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} inserted, {} updated, {} unchanged; {} with no earlier score (not judged by \
             model_performance)",
            self.inserted, self.updated, self.unchanged, self.unjudged
        )
    }
}

/// Stores outcomes, all or nothing, in one transaction. The caller has checked them, one per
/// employee.
///
/// # Errors
/// [`StorageError`] when the transaction fails; nothing was written.
pub async fn upsert_outcomes(
    client: &mut Client,
    outcomes: &[Outcome],
) -> Result<OutcomeCounts, StorageError> {
    let tx = client.transaction().await?;
    let statement = tx.prepare_cached(UPSERT_OUTCOMES).await?;
    let mut counts = OutcomeCounts::default();
    let unjudged = tx.prepare_cached(UNJUDGED).await?;
    for chunk in outcomes.chunks(CHUNK) {
        let ids: Vec<i64> = chunk.iter().map(|o| o.employee_id).collect();
        let left: Vec<bool> = chunk.iter().map(|o| o.left).collect();
        let at: Vec<time::OffsetDateTime> = chunk.iter().map(|o| o.observed_at).collect();
        let source: Vec<&str> = chunk.iter().map(|o| o.source.as_str()).collect();
        for row in tx.query(&statement, &[&ids, &left, &at, &source]).await? {
            if row.try_get::<_, bool>(0)? {
                counts.inserted += 1;
            } else {
                counts.updated += 1;
            }
        }
        let row = tx.query_one(&unjudged, &[&ids, &at]).await?;
        counts.unjudged += row.try_get::<_, i64>(0)?.unsigned_abs();
    }
    tx.commit().await?;
    counts.unchanged = outcomes.len() as u64 - counts.inserted - counts.updated;
    Ok(counts)
}

/// One row of the `model_performance` view.
#[derive(Debug, Clone, PartialEq)]
pub struct Performance {
    /// `live` or `shadow`.
    pub role: String,
    pub model_version: String,
    /// Scores judged (one per employee with an outcome).
    pub count: i64,
    pub leavers: i64,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub roc_auc: Option<f64>,
}

/// Every row of `model_performance`, by role then version.
///
/// # Errors
/// [`StorageError`] when the query fails.
pub async fn model_performance(
    client: &impl GenericClient,
) -> Result<Vec<Performance>, StorageError> {
    let rows = client
        .query(
            "SELECT role, model_version, count, leavers, precision, recall, f1, roc_auc \
             FROM model_performance ORDER BY role, model_version",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Performance {
                role: r.try_get(0)?,
                model_version: r.try_get(1)?,
                count: r.try_get(2)?,
                leavers: r.try_get(3)?,
                precision: r.try_get(4)?,
                recall: r.try_get(5)?,
                f1: r.try_get(6)?,
                roc_auc: r.try_get(7)?,
            })
        })
        .collect()
}

/// The `metrics` each registered model version's manifest gave (`model_versions.metrics`),
/// by version; versions without metrics are left out.
///
/// # Errors
/// [`StorageError`] when the query fails.
pub async fn holdout_metrics(
    client: &impl GenericClient,
) -> Result<Vec<(String, serde_json::Value)>, StorageError> {
    let rows = client
        .query(
            "SELECT version, metrics FROM model_versions WHERE metrics IS NOT NULL ORDER BY version",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}
