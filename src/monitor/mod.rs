//! The gauges that watch the model in service (docs/contract.md#metrics, issue 13):
//!
//! - [`performance`]: every `metrics.performance_refresh_secs`, `turnover_model_live_metric`
//!   from the `model_performance` view (scores judged against real outcomes) and
//!   `turnover_model_holdout_metric` from the manifests of the registered versions, which the
//!   alert on live F1 compares; with them `turnover_model_group_metric` from
//!   `model_performance_by_group` ([`groups`]), which `TurnoverFairnessGap` reads;
//! - [`drift`]: the worker's sliding window of recent records ([`DriftWindow`]) and, every
//!   `drift.refresh_secs`, `turnover_feature_psi` against the bundle's `drift_reference`.
//!
//! It only reads and sets gauges: a failed refresh is logged and the previous values stay. Its
//! tasks are handed what they watch (the pool, the metrics, the window) and are started by
//! [`crate::startup`].

pub mod drift;
mod groups;
pub mod performance;

pub use drift::DriftWindow;
