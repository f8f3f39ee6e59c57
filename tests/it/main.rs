//! Integration tests: one binary, run against this machine's real Postgres (and, for the
//! modules that need it, RabbitMQ). Every test gets its own database (see `helpers`), so the
//! tests run in parallel and never see each other's rows.
//!
//! Postgres is found at `TURNOVER_TEST_POSTGRES_URL` (a server URL without a database path),
//! default `postgres://postgres@127.0.0.1:5432`.

// A failed unwrap is a failed test here, with its message.
#![allow(clippy::unwrap_used)]

mod app;
mod drift;
mod failover;
mod fairness;
mod helpers;
mod http;
mod idempotency;
mod model_swap;
mod outcomes;
mod proxy;
mod rescore;
mod storage;
mod tls;
mod tls_servers;
mod worker;
