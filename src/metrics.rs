//! The Prometheus metrics of docs/contract.md#metrics, in one registry owned by the app.
//!
//! Names and labels are fixed by the contract (dashboards and alerts rely on them). This module
//! only records and renders; the polling of queue depth lives with the queue code.

use prometheus::{
    exponential_buckets, Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter,
    IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Every metric the service exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// `outcome`: scored, rejected, expired, failed.
    pub jobs: IntCounterVec,
    /// `stage`: queue_wait, validate, score, store, total.
    pub job_duration: HistogramVec,
    pub batch_size: Histogram,
    /// `risk_level`: Low, Medium, High.
    pub predictions: IntCounterVec,
    pub probability: Histogram,
    /// `route`, `status`.
    pub http_requests: IntCounterVec,
    /// `route`.
    pub http_duration: HistogramVec,
    /// `version`.
    pub model_info: IntGaugeVec,
    pub amqp_connected: IntGauge,
    pub postgres_connected: IntGauge,
    /// `queue`.
    pub queue_depth: IntGaugeVec,
    /// `model_version`, `metric` (count, precision, recall, f1, roc_auc), `role` (live,
    /// shadow): the `model_performance` view, refreshed by [`crate::monitor`].
    pub model_live_metric: GaugeVec,
    /// `model_version`, `metric` (precision, recall, f1, roc_auc), `bound` (estimate, lower,
    /// upper): the holdout figures and 95% interval of each registered version's manifest.
    pub model_holdout_metric: GaugeVec,
    /// `feature`: the population stability index of the worker's recent records.
    pub feature_psi: GaugeVec,
    /// `model_version`, `role`, `attribute`, `group`, `metric` (count, leavers,
    /// selection_rate, tpr, fpr, precision): the `model_performance_by_group` view, refreshed
    /// with the live figures.
    pub model_group_metric: GaugeVec,
    /// `outcome`: success, failure.
    pub model_reloads: IntCounterVec,
    /// 1 after a start or a successful reload, 0 after a refused one: what
    /// `TurnoverModelReloadFailed` fires on, whatever the order of the reloads.
    pub model_reload_last_success: IntGauge,
    /// Records the shadow bundle classed otherwise than the live one.
    pub shadow_disagreements: IntCounter,
    /// The shadow bundle's probability of leaving, buckets as `probability`.
    pub shadow_probability: Histogram,
    /// `limiter` (auth_failures, rate_limit): client addresses or keys tracked now.
    pub limiter_clients: IntGaugeVec,
    /// `table`: rows deleted by the retention rules (docs/privacy.md).
    pub retention_deleted: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    ///
    /// # Panics
    /// Never in practice: names are static and registered once per registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        // 0.1 ms to ~13 s: a job's stage is sub-millisecond when healthy and seconds when
        // the database is retried, and both ends must be visible.
        let latency = exponential_buckets(0.0001, 2.0, 18).expect("static buckets");
        let m = Metrics {
            jobs: IntCounterVec::new(
                Opts::new("turnover_jobs_total", "Messages handled, by outcome"),
                &["outcome"],
            )
            .expect("static"),
            job_duration: HistogramVec::new(
                HistogramOpts::new("turnover_job_duration_seconds", "Time per job, by stage")
                    .buckets(latency.clone()),
                &["stage"],
            )
            .expect("static"),
            batch_size: Histogram::with_opts(
                HistogramOpts::new("turnover_batch_size", "Messages per micro-batch").buckets(
                    vec![
                        1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
                    ],
                ),
            )
            .expect("static"),
            predictions: IntCounterVec::new(
                Opts::new("turnover_predictions_total", "Scores, by risk level"),
                &["risk_level"],
            )
            .expect("static"),
            // Tenths, with 0.5 for the share-of-leavers drift alert.
            probability: Histogram::with_opts(
                HistogramOpts::new(
                    "turnover_prediction_probability",
                    "Probability of leaving, for drift",
                )
                .buckets((1..=10).map(|i| f64::from(i) / 10.0).collect()),
            )
            .expect("static"),
            http_requests: IntCounterVec::new(
                Opts::new(
                    "turnover_http_requests_total",
                    "HTTP requests, by route and status",
                ),
                &["route", "status"],
            )
            .expect("static"),
            http_duration: HistogramVec::new(
                HistogramOpts::new(
                    "turnover_http_request_duration_seconds",
                    "HTTP request time, by route",
                )
                .buckets(latency),
                &["route"],
            )
            .expect("static"),
            model_info: IntGaugeVec::new(
                Opts::new("turnover_model_info", "The model bundle being served (1)"),
                &["version"],
            )
            .expect("static"),
            amqp_connected: IntGauge::new(
                "turnover_amqp_connected",
                "1 when connected to RabbitMQ",
            )
            .expect("static"),
            postgres_connected: IntGauge::new(
                "turnover_postgres_connected",
                "1 when Postgres answers",
            )
            .expect("static"),
            queue_depth: IntGaugeVec::new(
                Opts::new("turnover_queue_depth", "Messages ready in a queue (polled)"),
                &["queue"],
            )
            .expect("static"),
            model_live_metric: GaugeVec::new(
                Opts::new(
                    "turnover_model_live_metric",
                    "A model version's figures on real outcomes (view model_performance)",
                ),
                &["model_version", "metric", "role"],
            )
            .expect("static"),
            model_holdout_metric: GaugeVec::new(
                Opts::new(
                    "turnover_model_holdout_metric",
                    "A model version's holdout figures and 95% interval, from its manifest",
                ),
                &["model_version", "metric", "bound"],
            )
            .expect("static"),
            feature_psi: GaugeVec::new(
                Opts::new(
                    "turnover_feature_psi",
                    "Population stability index of recent records against the training data",
                ),
                &["feature"],
            )
            .expect("static"),
            model_reloads: IntCounterVec::new(
                Opts::new(
                    "turnover_model_reloads_total",
                    "Model bundle reloads (SIGHUP), by outcome",
                ),
                &["outcome"],
            )
            .expect("static"),
            model_group_metric: GaugeVec::new(
                Opts::new(
                    "turnover_model_group_metric",
                    "Figures of a model version per group of employees, on outcomes \
                     (model_performance_by_group)",
                ),
                &["model_version", "role", "attribute", "group", "metric"],
            )
            .expect("static"),
            model_reload_last_success: IntGauge::new(
                "turnover_model_reload_last_success",
                "1 after a start or a successful bundle reload, 0 after a refused one",
            )
            .expect("static"),
            shadow_disagreements: IntCounter::new(
                "turnover_shadow_disagreements_total",
                "Records the shadow bundle classed otherwise than the live one",
            )
            .expect("static"),
            shadow_probability: Histogram::with_opts(
                HistogramOpts::new(
                    "turnover_shadow_probability",
                    "Probability of leaving given by the shadow bundle",
                )
                .buckets((1..=10).map(|i| f64::from(i) / 10.0).collect()),
            )
            .expect("static"),
            limiter_clients: IntGaugeVec::new(
                Opts::new(
                    "turnover_http_limiter_clients",
                    "Clients each HTTP limiter tracks now (bounded by http.limiter_max_clients)",
                ),
                &["limiter"],
            )
            .expect("static"),
            retention_deleted: IntCounterVec::new(
                Opts::new(
                    "turnover_retention_deleted_total",
                    "Rows deleted because they were older than their retention period, by table",
                ),
                &["table"],
            )
            .expect("static"),
            registry,
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 14] = [
            Box::new(m.jobs.clone()),
            Box::new(m.job_duration.clone()),
            Box::new(m.batch_size.clone()),
            Box::new(m.predictions.clone()),
            Box::new(m.probability.clone()),
            Box::new(m.http_requests.clone()),
            Box::new(m.http_duration.clone()),
            Box::new(m.model_info.clone()),
            Box::new(m.amqp_connected.clone()),
            Box::new(m.postgres_connected.clone()),
            Box::new(m.queue_depth.clone()),
            Box::new(m.model_reloads.clone()),
            Box::new(m.shadow_disagreements.clone()),
            Box::new(m.shadow_probability.clone()),
        ];
        for c in collectors {
            m.registry.register(c).expect("each metric registered once");
        }
        // The model-over-time gauges (issue 13), registered apart from the list above.
        let over_time: [Box<dyn prometheus::core::Collector>; 5] = [
            Box::new(m.model_reload_last_success.clone()),
            Box::new(m.model_group_metric.clone()),
            Box::new(m.model_live_metric.clone()),
            Box::new(m.model_holdout_metric.clone()),
            Box::new(m.feature_psi.clone()),
        ];
        for c in over_time {
            m.registry.register(c).expect("each metric registered once");
        }
        for c in [
            Box::new(m.limiter_clients.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(m.retention_deleted.clone()),
            Box::new(crate::trace::export::spans_dropped().clone()),
        ] {
            m.registry.register(c).expect("each metric registered once");
        }
        // Only where spans are exported: an alert on a 0 must not fire where no collector is
        // meant to be.
        if crate::trace::gate::exporting() {
            let up = Box::new(crate::trace::gate::collector_up().clone());
            m.registry
                .register(up)
                .expect("each metric registered once");
        }
        // Labelled series exist from the start, so dashboards and rate() see zeros, not gaps.
        for outcome in ["scored", "rejected", "expired", "failed", "dead_lettered"] {
            m.jobs.with_label_values(&[outcome]);
        }
        for level in ["Low", "Medium", "High"] {
            m.predictions.with_label_values(&[level]);
        }
        for outcome in ["success", "failure"] {
            m.model_reloads.with_label_values(&[outcome]);
        }
        // A process that runs has loaded its bundles: a start that cannot load them exits.
        m.model_reload_last_success.set(1);
        m
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Counts one job outcome.
    pub fn job(&self, outcome: &str) {
        self.jobs.with_label_values(&[outcome]).inc();
    }

    /// Records a stage's duration.
    pub fn stage(&self, stage: &str, seconds: f64) {
        self.job_duration
            .with_label_values(&[stage])
            .observe(seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contract_metric_is_exported() {
        let m = Metrics::new();
        m.job("scored");
        m.stage("total", 0.002);
        m.batch_size.observe(3.0);
        m.probability.observe(0.42);
        m.http_requests
            .with_label_values(&["/predict", "200"])
            .inc();
        m.http_duration
            .with_label_values(&["/predict"])
            .observe(0.001);
        m.model_info.with_label_values(&["xgb-1"]).set(1);
        m.queue_depth
            .with_label_values(&["turnover.requests"])
            .set(0);
        m.model_live_metric
            .with_label_values(&["xgb-1", "f1", "live"])
            .set(0.5);
        m.model_holdout_metric
            .with_label_values(&["xgb-1", "f1", "lower"])
            .set(0.43);
        m.feature_psi.with_label_values(&["age"]).set(0.01);
        let text = m.render();
        for name in [
            "turnover_jobs_total{outcome=\"scored\"} 1",
            "turnover_jobs_total{outcome=\"expired\"} 0",
            "turnover_job_duration_seconds_bucket{stage=\"total\"",
            "turnover_batch_size_count 1",
            "turnover_predictions_total{risk_level=\"High\"} 0",
            "turnover_prediction_probability_bucket{le=\"0.5\"} 1",
            "turnover_http_requests_total{route=\"/predict\",status=\"200\"} 1",
            "turnover_http_request_duration_seconds_count{route=\"/predict\"} 1",
            "turnover_model_info{version=\"xgb-1\"} 1",
            "turnover_amqp_connected 0",
            "turnover_postgres_connected 0",
            "turnover_queue_depth{queue=\"turnover.requests\"} 0",
            "turnover_model_live_metric{metric=\"f1\",model_version=\"xgb-1\",role=\"live\"} 0.5",
            "turnover_model_holdout_metric{bound=\"lower\",metric=\"f1\",model_version=\"xgb-1\"} 0.43",
            "turnover_feature_psi{feature=\"age\"} 0.01",
            "turnover_model_reload_last_success 1",
            "turnover_model_reloads_total{outcome=\"failure\"} 0",
            "turnover_model_reloads_total{outcome=\"success\"} 0",
            "turnover_shadow_disagreements_total 0",
            "turnover_shadow_probability_count 0",
        ] {
            assert!(text.contains(name), "missing {name} in\n{text}");
        }
    }
}
