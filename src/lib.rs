//! `turnover` scores employee-turnover risk: RabbitMQ requests in, XGBoost scores, Postgres
//! rows out, with an HTTP sidecar. The data flows one way through these modules:
//!
//! ```text
//! queue (consume) ─► worker::job (decode, id, expiry) ─► record (validate) ─► features
//!      ─► serving (its scoring threads: one libxgboost call per batch, through model)
//!      ─► storage (one statement, or one transaction when rejections or shadow rows join)
//!      ─► worker (reply, then ack)                          http ─► queue::rpc ─┘
//! ```
//!
//! - `commands`: the binary's subcommands, one file each (serve, train, score, enqueue, migrate,
//!   outcomes, drift, dead, reload);
//! - `config`, `telemetry`, `startup`, `app`: settings, logs, build and run until stopped
//!   (which hands each task the parts it watches), and the context the worker and the sidecar
//!   share; `serving`: the bundles in service (scoring threads, the live and shadow pair), their
//!   reload (SIGHUP, admin route, file watch) and their registry rows;
//! - `record`, `extracts`, `features`: the input and its rules, and the one feature function;
//! - `wire`, `asyncapi`: the messages as they travel (envelope, replies, header names, request
//!   properties) and the AsyncAPI document generated from them;
//! - `model`, `train`: the pure parts of a model (bundle, libxgboost wrapper, calibration,
//!   explanations, PSI and summaries); training; `fairness`: the groups (gender,
//!   marital status, age band) the model is judged on, and their figures;
//! - `digest`, `csvfile`, `backoff`: hex SHA-256, the CSV reader of the files people hand over
//!   (extracts, outcomes), capped exponential backoff;
//! - `queue`, `worker`, `storage`: delivery, batching, the system of record;
//! - `http`, `metrics`: the sidecar and Prometheus; `rng`: reproducible randomness;
//! - `tls`: what the broker and database connections share about TLS;
//! - `trace`: W3C trace context in and out, the spans of a job and their OTLP export;
//! - `retention`, `privacy`: old rows deleted by the `retention.*` rules, and what of a record
//!   is stored (docs/privacy.md);
//! - `outcomes`, `monitor`: who actually left, and the gauges that watch the model in service
//!   (its figures on outcomes, the drift of its inputs).
//!
//! The public modules are the library's API: what the binaries (`src/main.rs`, `src/bin/`),
//! the integration tests, the benchmark, the example and the fuzz targets use. `backoff`,
//! `csvfile`, `monitor`, `outcomes`, `privacy`, `serving`, `tls` and `trace` are the crate's
//! own (`pub(crate)`): the service runs them, nothing outside calls them, and they may change
//! without a caller to update.
//!
//! Imports go one way: `app` holds what `serving` and `monitor` use and neither imports it;
//! `record` does not import `model`.
//!
//! The wire formats are written once, in `wire`: [`wire::Envelope`] for requests,
//! [`wire::ScoreReply`] and [`wire::ErrorReply`] for replies (docs/contract.md).
pub mod app;
pub mod asyncapi;
pub(crate) mod backoff;
pub mod commands;
pub mod config;
pub(crate) mod csvfile;
pub mod digest;
pub mod extracts;
pub mod fairness;
pub mod features;
pub mod http;
pub mod metrics;
pub mod model;
pub(crate) mod monitor;
pub(crate) mod outcomes;
pub(crate) mod privacy;
pub mod queue;
pub mod record;
pub mod retention;
pub mod rng;
pub(crate) mod serving;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub(crate) mod tls;
pub(crate) mod trace;
pub mod train;
pub mod wire;
pub mod worker;
