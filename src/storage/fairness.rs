//! Reads of the views that judge the model per group of employees and say what
//! `model_performance` leaves out (migration V10, docs/contract.md#tables): `model_performance_by_group`,
//! `model_performance_unjudged` and `model_performance_unseen`.
//!
//! Like the rest of storage: one statement per function, no retry, no log.

use deadpool_postgres::GenericClient;

use super::StorageError;

/// One row of `model_performance_by_group`.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPerformance {
    /// `live` or `shadow`.
    pub role: String,
    pub model_version: String,
    /// `genre`, `statut_marital` or `age_band`.
    pub attribute: String,
    pub group_value: String,
    pub count: i64,
    pub leavers: i64,
    pub selection_rate: Option<f64>,
    pub tpr: Option<f64>,
    pub fpr: Option<f64>,
    pub precision: Option<f64>,
}

/// Every row of `model_performance_by_group`, by role, version, attribute and group.
///
/// # Errors
/// [`StorageError`] when the query fails.
pub async fn model_performance_by_group(
    client: &impl GenericClient,
) -> Result<Vec<GroupPerformance>, StorageError> {
    let rows = client
        .query(
            "SELECT role, model_version, attribute, group_value, count, leavers, \
                    selection_rate, tpr, fpr, precision \
             FROM model_performance_by_group \
             ORDER BY role, model_version, attribute, group_value",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(GroupPerformance {
                role: r.try_get(0)?,
                model_version: r.try_get(1)?,
                attribute: r.try_get(2)?,
                group_value: r.try_get(3)?,
                count: r.try_get(4)?,
                leavers: r.try_get(5)?,
                selection_rate: r.try_get(6)?,
                tpr: r.try_get(7)?,
                fpr: r.try_get(8)?,
                precision: r.try_get(9)?,
            })
        })
        .collect()
}
