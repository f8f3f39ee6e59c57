//! `turnover` scores employee-turnover risk: RabbitMQ requests in, XGBoost scores, Postgres
//! rows out, with an HTTP sidecar. The data flows one way through these modules:
//!
//! ```text
//! queue (consume) ─► worker::job (decode, id, expiry) ─► record (validate) ─► features
//!      ─► model (score, one libxgboost call per batch) ─► storage (one transaction)
//!      ─► worker (reply, then ack)                          http ─► queue::rpc ─┘
//! ```
//!
//! - `commands`: the binary's subcommands, one file each (serve, train, score, enqueue, migrate,
//!   outcomes, drift, dead, reload);
//! - `config`, `telemetry`, `startup`, `app`: settings, logs, build and run until stopped, and
//!   the context the worker and the sidecar share; `serving`: the bundles in service, their
//!   reload on SIGHUP and their registry rows;
//! - `record`, `extracts`, `features`: the input, its wire format and the one feature function;
//! - `model`, `train`: the bundle, scoring, replies and summaries; training; `fairness`: the
//!   groups (gender, marital status, age band) the model is judged on, and their figures;
//! - `queue`, `worker`, `storage`: delivery, batching, the system of record;
//! - `http`, `metrics`: the sidecar and Prometheus; `rng`: reproducible randomness;
//! - `tls`: what the broker and database connections share about TLS;
//! - `trace`: W3C trace context in and out, the spans of a job and their OTLP export;
//! - `retention`, `privacy`: old rows deleted by the `retention.*` rules, and what of a record
//!   is stored (docs/privacy.md);
//! - `outcomes`, `monitor`: who actually left, and the gauges that watch the model in service
//!   (its figures on outcomes, the drift of its inputs).
//!
//! The wire formats are written once: [`record::Envelope`] for requests,
//! [`model::ScoreReply`] and [`model::ErrorReply`] for replies (docs/contract.md).
pub mod app;
pub mod commands;
pub mod config;
pub mod extracts;
pub mod fairness;
pub mod features;
pub mod http;
pub mod metrics;
pub mod model;
pub mod monitor;
pub mod outcomes;
pub mod privacy;
pub mod queue;
pub mod record;
pub mod retention;
pub mod rng;
pub mod serving;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod tls;
pub mod trace;
pub mod train;
pub mod worker;
