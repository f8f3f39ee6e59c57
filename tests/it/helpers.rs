//! Shared fixtures of the integration tests: a fresh database per test, and polling with a
//! deadline.
//!
//! Owns creating and dropping test databases. It must not hold anything test-specific: tests
//! build their rows and apps themselves.

#![allow(dead_code)] // Each helper is used by some test modules, not necessarily all.

use std::future::Future;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use deadpool_postgres::GenericClient;
use tokio::sync::OnceCell;
use turnover::storage::{self, Pool, RejectedRow};

/// Prefix of every database these tests create; anything with it may be dropped.
pub const TEST_DB_PREFIX: &str = "turnover_test_";

/// The Postgres server the tests use, as a URL without a database path.
#[must_use]
pub fn server_url() -> String {
    std::env::var("TURNOVER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// The URL of database `name` on the test server.
#[must_use]
pub fn database_url(name: &str) -> String {
    format!("{}/{name}", server_url())
}

/// A fresh database name: `turnover_test_<uuid>`.
#[must_use]
pub fn unique_db_name() -> String {
    format!("{TEST_DB_PREFIX}{}", uuid::Uuid::new_v4().simple())
}

/// A database of its own for one test, dropped when this value is dropped (also when the test
/// panics). Set `TURNOVER_TEST_KEEP_DB=1` to keep it for inspection.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: Pool,
    _guard: DropDatabaseOnDrop,
}

impl TestDb {
    /// A new database with every migration applied, and a pool of 8 connections to it.
    pub async fn new() -> Self {
        let db = Self::unmigrated().await;
        let mut client = db.client().await;
        storage::migrate(&mut client).await.expect("migrate");
        db
    }

    /// A new, empty database (created with `ensure_database`, no migration applied).
    pub async fn unmigrated() -> Self {
        sweep_stale_databases().await;
        let name = unique_db_name();
        let url = database_url(&name);
        storage::ensure_database(&url)
            .await
            .expect("create test database");
        let guard = DropDatabaseOnDrop(name.clone());
        let pool = storage::pool(&url, NonZeroUsize::new(8).expect("8 connections")).expect("pool");
        Self {
            name,
            url,
            pool,
            _guard: guard,
        }
    }

    /// A connection from the pool.
    pub async fn client(&self) -> storage::Client {
        self.pool.get().await.expect("postgres connection")
    }
}

/// Drops database `.0` when dropped, as in [`TestDb`]. Usable on its own for a test that creates
/// a database by other means.
pub struct DropDatabaseOnDrop(pub String);

impl Drop for DropDatabaseOnDrop {
    fn drop(&mut self) {
        if std::env::var_os("TURNOVER_TEST_KEEP_DB").is_some() {
            eprintln!("keeping test database {}", self.0);
            return;
        }
        let name = std::mem::take(&mut self.0);
        // Drop cannot await, and the test's runtime may be the one we are dropped on: do the
        // async work on a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(drop_database(&name)))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop a test database; the next run's sweep will");
        }
    }
}

/// A connection to the server's `postgres` maintenance database.
pub async fn admin_client() -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(&database_url("postgres"), tokio_postgres::NoTls)
            .await
            .expect("connect to the postgres maintenance database");
    tokio::spawn(connection);
    client
}

/// Whether database `name` exists on the test server.
pub async fn database_exists(name: &str) -> bool {
    admin_client()
        .await
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .expect("query pg_database")
        .is_some()
}

/// Drops database `name`, disconnecting whoever is still connected to it. Only test databases.
pub async fn drop_database(name: &str) {
    assert!(name.starts_with(TEST_DB_PREFIX), "refusing to drop {name}");
    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    if let Err(e) = admin_client().await.batch_execute(&sql).await {
        eprintln!("dropping {name}: {e:?}");
    }
}

/// Once per test process: drops test databases left over for more than an hour by runs that
/// were killed before their cleanup ran. Best effort: a failure is only reported.
async fn sweep_stale_databases() {
    static SWEPT: OnceCell<()> = OnceCell::const_new();
    SWEPT
        .get_or_init(|| async {
            // A database's PG_VERSION file is written when it is created. Reading it needs
            // superuser (or pg_read_server_files), which the test role has on this machine.
            let stale = admin_client()
                .await
                .query(
                    "SELECT datname FROM pg_database \
                     WHERE datname LIKE 'turnover\\_test\\_%' \
                       AND (pg_stat_file('base/' || oid || '/PG_VERSION')).modification \
                           < now() - interval '1 hour'",
                    &[],
                )
                .await;
            match stale {
                Ok(rows) => {
                    for row in rows {
                        drop_database(row.get(0)).await;
                    }
                }
                Err(e) => eprintln!("sweeping stale test databases: {e:?}"),
            }
        })
        .await;
}

/// Polls `check` until it returns `Some`, at most `timeout`; panics naming `what` otherwise.
/// Use instead of fixed sleeps.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// [`storage::insert_batch`] then its commit, for tests that write rows directly: a
/// conflicting `request_id` is recorded as the worker records it, with an empty payload.
///
/// # Errors
///
/// As [`storage::insert_batch`].
pub async fn insert_batch(
    client: &mut deadpool_postgres::Client,
    predictions: &[storage::PredictionRow],
    rejected: &[RejectedRow],
) -> Result<storage::InsertCounts, storage::StorageError> {
    let pending = storage::insert_batch(client, predictions, &[]).await?;
    let conflicts: Vec<RejectedRow> = pending
        .found()
        .iter()
        .zip(predictions)
        .filter(|(found, _)| **found == storage::Written::Conflict)
        .map(|(_, p)| RejectedRow {
            request_id: Some(p.request_id.clone()),
            reason: "request_id_conflict".to_owned(),
            errors: serde_json::json!([]),
            payload: Vec::new(),
            payload_sha256: turnover::digest::sha256_hex(b""),
            received_at: time::OffsetDateTime::now_utc(),
            trace_id: None,
        })
        .collect();
    let rows: Vec<&RejectedRow> = rejected.iter().chain(&conflicts).collect();
    Ok(pending.commit(&rows).await?.counts)
}

// Reads that only tests need: the service never counts or lists rows.

/// Number of `predictions` rows.
///
/// # Errors
///
/// [`storage::StorageError`] when the query fails.
pub async fn count_predictions(client: &impl GenericClient) -> Result<u64, storage::StorageError> {
    let row = client
        .query_one("SELECT count(*) FROM predictions", &[])
        .await?;
    Ok(u64::try_from(row.try_get::<_, i64>(0)?).expect("a count is never negative"))
}

/// Number of `rejected_messages` rows.
///
/// # Errors
///
/// [`storage::StorageError`] when the query fails.
pub async fn count_rejected(client: &impl GenericClient) -> Result<u64, storage::StorageError> {
    let row = client
        .query_one("SELECT count(*) FROM rejected_messages", &[])
        .await?;
    Ok(u64::try_from(row.try_get::<_, i64>(0)?).expect("a count is never negative"))
}

/// The most recent `limit` rejected messages, oldest first.
///
/// # Errors
///
/// [`storage::StorageError`] when the query fails.
pub async fn recent_rejected(
    client: &impl GenericClient,
    limit: u32,
) -> Result<Vec<RejectedRow>, storage::StorageError> {
    let statement = client
        .prepare_cached(
            "SELECT request_id, reason, errors, payload, received_at, payload_sha256, trace_id FROM ( \
                 SELECT * FROM rejected_messages ORDER BY id DESC LIMIT $1 \
             ) r ORDER BY id",
        )
        .await?;
    client
        .query(&statement, &[&i64::from(limit)])
        .await?
        .iter()
        .map(|row| {
            Ok(RejectedRow {
                request_id: row.try_get(0)?,
                reason: row.try_get(1)?,
                errors: row.try_get(2)?,
                payload: row.try_get(3)?,
                received_at: row.try_get(4)?,
                payload_sha256: row.try_get(5)?,
                trace_id: row.try_get(6)?,
            })
        })
        .collect()
}
