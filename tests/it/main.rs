//! Integration tests: one binary, run against this machine's real Postgres (and, for the
//! modules that need it, RabbitMQ). Every test gets its own database (see `helpers`), so the
//! tests run in parallel and never see each other's rows.
//!
//! Postgres is found at `TURNOVER_TEST_POSTGRES_URL` (a server URL without a database path),
//! default `postgres://postgres@127.0.0.1:5432`.

// A failed unwrap is a failed test here, with its message.
#![allow(clippy::unwrap_used)]

mod admin_reload;
mod app;
mod asyncapi;
mod auth;
mod bundle_proof;
mod cli;
mod dead;
mod drift;
mod erasure;
mod failover;
mod fairness;
mod helpers;
mod http;
mod idempotency;
mod insert_costs;
mod least_privilege;
mod model_swap;
mod outcomes;
mod performance_summary;
mod pg_password;
mod poison;
mod primary;
mod proxy;
mod rescore;
mod retention;
mod runbooks;
mod spawn;
mod storage;
mod tls;
mod tls_servers;
mod traces;
mod worker;
