//! Least privilege (issue 19 item 5): `serve` with `postgres.migrate_on_start = false` scores
//! with a role that holds only the row privileges docs/operations.md grants, refuses to start
//! naming a privilege that is missing, and migrations wait on a lock only as long as
//! `lock_timeout` allows, then succeed on a retry.

use std::time::{Duration, Instant};

use turnover::record::sample;
use turnover::startup::{self, Roles};
use turnover::storage::{self, Migration, MigrationOptions};

use crate::app::{body, test_settings, TestApp};
use crate::helpers::{admin_client, wait_until, TestDb};

/// A login role of the test's own with the GRANTs of docs/operations.md#least-privilege.
async fn row_privileges_role(db: &TestDb) -> String {
    let role = format!(
        "turnover_rw_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    admin_client()
        .await
        .batch_execute(&format!("CREATE ROLE {role} LOGIN"))
        .await
        .expect("create role");
    db.client()
        .await
        .batch_execute(&format!(
            "GRANT CONNECT ON DATABASE {db} TO {role};
             GRANT USAGE ON SCHEMA public TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
             GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role};",
            db = db.name
        ))
        .await
        .expect("grant");
    role
}

async fn drop_role(db: &TestDb, role: &str) {
    db.client()
        .await
        .batch_execute(&format!("DROP OWNED BY {role}"))
        .await
        .expect("drop owned");
    let _ = admin_client()
        .await
        .batch_execute(&format!("DROP ROLE {role}"))
        .await;
}

fn url_as(db: &TestDb, role: &str) -> String {
    db.url.replacen("postgres@", &format!("{role}@"), 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_scores_with_row_privileges_only_and_names_a_missing_one() {
    let db = TestDb::new().await;
    let role = row_privileges_role(&db).await;
    assert!(
        db.url.contains("postgres@"),
        "the test server URL names the postgres user"
    );

    // Missing INSERT on predictions: start-up stops naming it.
    db.client()
        .await
        .batch_execute(&format!("REVOKE INSERT ON predictions FROM {role}"))
        .await
        .expect("revoke");
    let mut settings = test_settings(&db);
    settings.postgres.url = url_as(&db, &role);
    settings.postgres.migrate_on_start = false;
    let Err(error) = startup::build(settings.clone(), Roles::ALL).await else {
        panic!("started without INSERT on predictions");
    };
    let text = format!("{error:#}");
    assert!(text.contains("INSERT on table predictions"), "{text}");

    // With it, the role that cannot create anything scores and stores.
    db.client()
        .await
        .batch_execute(&format!("GRANT INSERT ON predictions TO {role}"))
        .await
        .expect("grant");
    let can_create: bool = db
        .client()
        .await
        .query_one(
            "SELECT has_schema_privilege($1, 'public', 'CREATE') \
                    OR has_database_privilege($1, current_database(), 'CREATE')",
            &[&role],
        )
        .await
        .expect("privilege")
        .get(0);
    assert!(!can_create, "the role must not own its schema");
    let app = TestApp::start(db, settings, Roles::ALL).await;
    let records: Vec<_> = sample::many(19, 5)
        .into_iter()
        .map(|r| body(&serde_json::Value::Object(r)))
        .collect();
    app.publish(records).await;
    app.wait_for_predictions(5).await;
    let stored = app.predictions().await;
    assert_eq!(stored, 5);
    let db = {
        let mut app = app;
        app.stop().await.expect("clean stop");
        crate::app::delete_topology(&app.settings).await;
        app.db
    };
    drop_role(&db, &role).await;
}

/// A migration that needs an ACCESS EXCLUSIVE lock on `predictions`.
const ALTER: Migration = Migration {
    version: 1000,
    name: "lock_test",
    sql: "ALTER TABLE predictions ADD COLUMN lock_test integer NULL",
};

/// Whether a session waits for a lock on `predictions`.
async fn someone_waits(db: &TestDb) -> bool {
    db.client()
        .await
        .query_one(
            "SELECT count(*) > 0 FROM pg_locks \
             WHERE relation = 'predictions'::regclass AND NOT granted",
            &[],
        )
        .await
        .expect("pg_locks")
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_waiting_on_a_reader_fails_fast_then_succeeds_on_retry() {
    let db = TestDb::new().await;
    // A reader holding predictions, as a long dashboard query would.
    let mut reader = db.client().await;
    let tx = reader.transaction().await.expect("begin");
    tx.batch_execute("LOCK TABLE predictions IN ACCESS SHARE MODE")
        .await
        .expect("lock");

    let fast = MigrationOptions {
        lock_timeout_ms: 200,
        statement_timeout_ms: 60_000,
        retries: 0,
    };
    let mut client = db.client().await;
    let started = Instant::now();
    let err = storage::migrate_with(&mut client, &[ALTER], &fast)
        .await
        .expect_err("the lock is held");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited {:?}",
        started.elapsed()
    );
    assert!(format!("{err:?}").contains("lock timeout"), "{err:?}");

    // With retries: the reader lets go once the first attempt has given up; a retry applies it.
    let patient = MigrationOptions { retries: 5, ..fast };
    let migrating = {
        let mut client = db.client().await;
        tokio::spawn(async move { storage::migrate_with(&mut client, &[ALTER], &patient).await })
    };
    wait_until("the migration to wait", Duration::from_secs(10), || async {
        someone_waits(&db).await.then_some(())
    })
    .await;
    wait_until(
        "the first attempt to give up",
        Duration::from_secs(10),
        || async { (!someone_waits(&db).await).then_some(()) },
    )
    .await;
    tx.commit().await.expect("the reader ends");
    let applied = migrating.await.expect("join").expect("applied on a retry");
    assert_eq!(applied, ["V1000__lock_test"]);
    let column: i64 = db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_name = 'predictions' AND column_name = 'lock_test'",
            &[],
        )
        .await
        .expect("columns")
        .get(0);
    assert_eq!(column, 1);
}
