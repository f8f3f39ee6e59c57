//! Retention (docs/privacy.md): rows older than their table's `retention.*_days` are deleted,
//! every `retention.interval_secs`, by one process at a time (a session advisory lock: the
//! others skip that round), in batches of `retention.batch_rows` so the workers' inserts never
//! wait long. Counted in `turnover_retention_deleted_total{table}`.
//!
//! This module decides when and how much; the SQL is `storage`'s. It logs counts only.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::AppContext;
use crate::config::Retention;
use crate::metrics::Metrics;
use crate::storage::{self, Pool, Retained, StorageError};

/// Rows deleted in one round, per table.
pub type Deleted = Vec<(&'static str, u64)>;

/// The tables with a period, and the period.
fn rules(r: &Retention) -> Vec<(Retained, u32)> {
    [
        (Retained::Predictions, r.predictions_days),
        (Retained::ShadowPredictions, r.shadow_days),
        (Retained::RejectedMessages, r.rejected_days),
        (Retained::Outcomes, r.outcomes_days),
    ]
    .into_iter()
    .filter_map(|(table, days)| Some((table, days?.get())))
    .collect()
}

/// One round: takes the lock or returns `None` (another process is applying the rules), then
/// deletes each table's expired rows batch by batch until a batch comes back short.
///
/// # Errors
/// [`StorageError`] when a statement fails; what was deleted before stays deleted.
pub async fn apply_once(
    pool: &Pool,
    rules_of: &Retention,
    metrics: &Metrics,
) -> Result<Option<Deleted>, StorageError> {
    let client = pool.get().await?;
    if !storage::try_retention_lock(&client).await? {
        return Ok(None);
    }
    let mut deleted = Vec::new();
    let mut result = Ok(());
    'tables: for (table, days) in rules(rules_of) {
        let mut total = 0;
        loop {
            match storage::delete_expired(&client, table, days, rules_of.batch_rows.get()).await {
                Ok(n) => {
                    total += n;
                    metrics
                        .retention_deleted
                        .with_label_values(&[table.table()])
                        .inc_by(n);
                    if n < u64::from(rules_of.batch_rows.get()) {
                        break;
                    }
                }
                Err(error) => {
                    result = Err(error);
                    break 'tables;
                }
            }
        }
        deleted.push((table.table(), total));
    }
    // Released on the same session; were this to fail, the pooled session would keep the
    // lock, so the connection is dropped from the pool instead of returned.
    if storage::release_retention_lock(&client).await.is_err() {
        let _ = deadpool_postgres::Object::take(client);
    }
    result.map(|()| Some(deleted))
}

/// Applies the rules every `retention.interval_secs` until `stop`; a failed round is logged
/// and tried again at the next.
pub async fn run(ctx: Arc<AppContext>, stop: CancellationToken) {
    let settings = &ctx.settings.retention;
    if !settings.any() {
        return;
    }
    let mut ticks = tokio::time::interval(Duration::from_secs(settings.interval_secs.get()));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match apply_once(&ctx.pool, settings, &ctx.metrics).await {
            Ok(Some(deleted)) => tracing::info!(deleted = ?deleted, "retention applied"),
            Ok(None) => tracing::debug!("retention applied by another process this round"),
            Err(error) => {
                tracing::warn!(error.message = %error, "retention round failed; trying again next round");
            }
        }
    }
}
