//! `turnover_model_live_metric` and `turnover_model_holdout_metric`, read from Postgres every
//! `metrics.performance_refresh_secs`, after refreshing the summary the views read (storage's
//! `refresh_performance_summary`: one process at a time, the others skip it).
//!
//! The live gauges are rebuilt from the view on each refresh: a version that leaves the view
//! leaves the gauges, and a figure the view leaves NULL (no leaver yet, say) is not exported
//! rather than exported as 0. The holdout gauges come from `model_versions.metrics`: the
//! manifest's `holdout` (bound `estimate`) and `holdout_ci` (bounds `lower`, `upper`).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::storage::{self, Performance, Pool, StorageError};

/// The metrics of the holdout gauges, as the manifest names them.
const HOLDOUT_METRICS: [&str; 4] = ["precision", "recall", "f1", "roc_auc"];

/// Refreshes the gauges every `every` (`metrics.performance_refresh_secs`) until `stop`.
pub async fn watch(pool: Pool, metrics: Metrics, every: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        match refresh(&pool, &metrics).await {
            Ok(()) => failing = false,
            // Logged once per run of failures: the database being away has its own alert.
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(error.message = %error, "cannot refresh the model performance gauges; keeping the last values");
            }
            Err(_) => {}
        }
    }
}

/// One refresh of both families of gauges.
///
/// # Errors
/// When Postgres cannot be reached or a query fails; the gauges are then unchanged.
pub async fn refresh(pool: &Pool, metrics: &Metrics) -> Result<(), StorageError> {
    let client = pool.get().await?;
    // Every replica runs this; one at a time refreshes the summary, the others read it.
    if let Some(done) = storage::refresh_performance_summary(&client).await? {
        tracing::debug!(
            full_rebuild = done.full_rebuild,
            rows = done.rows,
            "performance summary refreshed"
        );
    }
    let live = storage::model_performance(&client).await?;
    let holdout = storage::holdout_metrics(&client).await?;
    let groups = storage::model_performance_by_group(&client).await?;
    drop(client);
    super::groups::set(metrics, &groups);
    set_live(metrics, &live);
    set_holdout(metrics, &holdout);
    Ok(())
}

fn set_live(metrics: &Metrics, rows: &[Performance]) {
    let gauge = &metrics.model_live_metric;
    gauge.reset();
    for row in rows {
        let figures = [
            ("count", Some(row.count as f64)),
            ("precision", row.precision),
            ("recall", row.recall),
            ("f1", row.f1),
            ("roc_auc", row.roc_auc),
        ];
        for (metric, value) in figures {
            if let Some(value) = value {
                gauge
                    .with_label_values(&[&row.model_version, metric, &row.role])
                    .set(value);
            }
        }
    }
}

fn set_holdout(metrics: &Metrics, versions: &[(String, serde_json::Value)]) {
    let gauge = &metrics.model_holdout_metric;
    gauge.reset();
    for (version, m) in versions {
        for metric in HOLDOUT_METRICS {
            let bounds = [
                ("estimate", m["holdout"][metric].as_f64()),
                ("lower", m["holdout_ci"][metric][0].as_f64()),
                ("upper", m["holdout_ci"][metric][1].as_f64()),
            ];
            for (bound, value) in bounds {
                if let Some(value) = value {
                    gauge
                        .with_label_values(&[version, metric, bound])
                        .set(value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_figures_are_left_out_and_old_versions_dropped() {
        let m = Metrics::new();
        let row = |version: &str, f1: Option<f64>| Performance {
            role: "live".into(),
            model_version: version.into(),
            count: 4,
            leavers: 0,
            precision: None,
            recall: None,
            f1,
            roc_auc: None,
        };
        set_live(&m, &[row("old", Some(0.5))]);
        set_live(&m, &[row("new", None)]);
        let text = m.render();
        assert!(text.contains(
            "turnover_model_live_metric{metric=\"count\",model_version=\"new\",role=\"live\"} 4"
        ));
        assert!(!text.contains("model_version=\"old\""), "{text}");
        assert!(!text.contains("metric=\"f1\""), "{text}");

        let manifest: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("models/turnover/manifest.json"),
            )
            .expect("manifest"),
        )
        .expect("json");
        set_holdout(&m, &[("v".into(), manifest["metrics"].clone())]);
        let lower = manifest["metrics"]["holdout_ci"]["f1"][0]
            .as_f64()
            .expect("f1 lower");
        assert!(m.render().contains(&format!(
            "turnover_model_holdout_metric{{bound=\"lower\",metric=\"f1\",model_version=\"v\"}} {lower}"
        )));
    }
}
