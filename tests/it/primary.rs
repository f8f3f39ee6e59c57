//! Following the primary (issue 21): the pool drops a connection whose server stopped taking
//! writes and writes through a fresh one, moves past a lost first host of a multi-host URL,
//! and `/ready` reports the database not ready while no server accepts writes.
//!
//! A server "turning read-only" is made with `default_transaction_read_only`, on one session or
//! on the test's own database: what a client sees of a demoted or fenced primary (every write
//! refused with SQLSTATE 25006), without touching the server other tests share.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use turnover::model::RiskLevel;
use turnover::startup::Roles;
use turnover::storage::{self, PredictionRow, Source};

use crate::app::TestApp;
use crate::helpers::{self, admin_client, count_predictions, wait_until, TestDb};
use crate::proxy::Proxy;

fn row(request_id: &str) -> PredictionRow {
    PredictionRow {
        request_id: request_id.to_owned(),
        employee_id: Some(7),
        batch_id: None,
        source: Source::Queue,
        model_version: "test-1".to_owned(),
        prediction: 0,
        probability: 0.25,
        risk_level: RiskLevel::Low,
        input: json!({"age": 41}).into(),
        record_sha256: "sha-of-the-record".to_owned(),
        explanation: None,
        enqueued_at: None,
        scored_at: OffsetDateTime::from_unix_timestamp(1_700_000_001).expect("ts"),
        trace_id: None,
        groups: None,
    }
}

async fn backend_pid(client: &storage::Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_connection_whose_server_turned_read_only_is_replaced_and_the_write_lands() {
    let db = TestDb::new().await;
    // One connection: the write after the failure can only succeed through a new one.
    let pool = storage::pool(&db.url, NonZeroUsize::MIN).unwrap();
    let mut client = pool.get().await.unwrap();
    let read_only_pid = backend_pid(&client).await;
    client
        .batch_execute("SET SESSION default_transaction_read_only = on")
        .await
        .unwrap();

    let error = helpers::insert_batch(&mut client, &[row("ro-1")], &[])
        .await
        .expect_err("a read-only server refuses the write");
    assert_eq!(
        error.code(),
        Some(&SqlState::READ_ONLY_SQL_TRANSACTION),
        "{error:?}"
    );
    assert!(
        error.is_transient(),
        "a write refused by a read-only server is retried, not rejected: {error:?}"
    );
    drop(client);

    let mut client = pool.get().await.expect("a fresh connection");
    assert_ne!(
        backend_pid(&client).await,
        read_only_pid,
        "the pool handed out the read-only connection again"
    );
    helpers::insert_batch(&mut client, &[row("ro-1")], &[])
        .await
        .expect("the retried write lands");
    assert_eq!(count_predictions(&client).await.unwrap(), 1);
}

#[tokio::test]
async fn the_pool_moves_past_a_lost_first_host_to_the_next() {
    let db = TestDb::new().await;
    // Host 1 is a proxy to the real server that dies; host 2 is the real server.
    let proxy = Proxy::start(SocketAddr::from(([127, 0, 0, 1], 5432))).await;
    let url = format!(
        "postgres://postgres@{},127.0.0.1:5432/{}?target_session_attrs=read-write",
        proxy.addr, db.name
    );
    let pool = storage::pool(&url, NonZeroUsize::new(2).expect("2 connections")).unwrap();
    let mut client = pool.get().await.unwrap();
    helpers::insert_batch(&mut client, &[row("before")], &[])
        .await
        .unwrap();
    drop(client);

    proxy.down();
    // The worker's loop, in small: transient failures are retried until a write lands.
    wait_until(
        "a write through the second host",
        Duration::from_secs(10),
        || async {
            let mut client = pool.get().await.ok()?;
            match helpers::insert_batch(&mut client, &[row("after")], &[]).await {
                Ok(_) => Some(()),
                Err(e) if e.is_transient() => None,
                Err(e) => panic!("a lost host must be a transient failure: {e:?}"),
            }
        },
    )
    .await;
    let client = db.client().await;
    assert_eq!(count_predictions(&client).await.unwrap(), 2);
}

async fn ready(app: &TestApp) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .get(app.url("/ready"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// Makes every new session of the database read-only, or writable again, and closes its open
/// sessions so that the change reaches the pool at once.
async fn set_read_only(name: &str, on: bool) {
    let admin = admin_client().await;
    let setting = if on {
        format!("ALTER DATABASE \"{name}\" SET default_transaction_read_only = on")
    } else {
        format!("ALTER DATABASE \"{name}\" RESET default_transaction_read_only")
    };
    admin.batch_execute(&setting).await.unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn ready_says_the_database_is_not_ready_while_no_server_accepts_writes() {
    let app = TestApp::spawn_with(|_| {}, Roles::HTTP_ONLY).await;
    set_read_only(&app.db.name, true).await;

    let body = wait_until(
        "/ready to report Postgres read-only",
        Duration::from_secs(15),
        || async {
            let (status, body) = ready(&app).await;
            // A connection closed under the pool may first show as unreachable; the state
            // that lasts names the reason.
            let named = body["checks"]["postgres"]
                .as_str()
                .is_some_and(|p| p.contains("accepts no writes"));
            (status == StatusCode::SERVICE_UNAVAILABLE && named).then_some(body)
        },
    )
    .await;
    assert_eq!(body["status"], "not ready", "{body}");

    set_read_only(&app.db.name, false).await;
    wait_until(
        "/ready to report Postgres ok again",
        Duration::from_secs(15),
        || async { (ready(&app).await.1["checks"]["postgres"] == "ok").then_some(()) },
    )
    .await;
    app.finish().await;
}
