//! `turnover` scores employee-turnover risk: RabbitMQ requests in, XGBoost scores, Postgres
//! rows out, with an HTTP sidecar. The data flows one way through these modules:
//!
//! ```text
//! queue (consume) ─► worker::job (decode, id, expiry) ─► record (validate) ─► features
//!      ─► model (score, one libxgboost call per batch) ─► storage (one transaction)
//!      ─► worker::batch (reply, then ack)                       http ─► queue::rpc ─┘
//! ```
//!
//! - `config`, `telemetry`, `startup`: settings, logs, build and run until stopped;
//! - `record`, `extracts`, `features`: the input and the one feature function;
//! - `model`, `train`, `offline`: the bundle, training and offline scoring;
//! - `queue`, `worker`, `storage`: delivery, batching, the system of record;
//! - `http`, `metrics`: the sidecar and Prometheus; `cli`, `commands`, `enqueue`: the binary;
//! - `tls`: what the broker and database connections share about TLS.
pub mod cli;
pub mod commands;
pub mod config;
pub mod enqueue;
pub mod extracts;
pub mod features;
pub mod http;
pub mod metrics;
pub mod model;
pub mod offline;
pub mod queue;
pub mod record;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod tls;
pub mod train;
pub mod worker;
