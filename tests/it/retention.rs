//! Retention (issue 19 item 2): rows older than their table's period are deleted in bounded
//! batches by one process at a time, while jobs flow; younger rows and new jobs are kept, and
//! `turnover_retention_deleted_total{table}` counts what went.

use std::num::NonZero;

use turnover::record::sample;
use turnover::retention;
use turnover::startup::Roles;
use turnover::storage;

use crate::app::{body, TestApp};

const OLD: i64 = 2_500;
const RECENT: i64 = 100;

/// `n` rows per table dated `days` ago, with ids prefixed by `tag`.
async fn seed(app: &TestApp, tag: &str, n: i64, days: i32, first_employee: i64) {
    app.db
        .client()
        .await
        .execute(
            "WITH g AS (SELECT i, now() - make_interval(days => $3) AS at
                          FROM generate_series(1, $2::bigint) i),
                  p AS (INSERT INTO predictions (request_id, employee_id, source, model_version,
                                                 prediction, probability, risk_level, input,
                                                 scored_at)
                        SELECT $1 || i, $4 + i, 'queue', 'v-test', 0, 0.1, 'Low', '{}', at
                          FROM g),
                  s AS (INSERT INTO shadow_predictions (request_id, model_version, probability,
                                                        prediction, risk_level, scored_at)
                        SELECT $1 || i, 'v-shadow', 0.1, 0, 'Low', at FROM g),
                  r AS (INSERT INTO rejected_messages (request_id, reason, errors, payload,
                                                       payload_sha256, received_at)
                        SELECT $1 || i, 'validation', '[]', '\\x7b7d',
                               encode(sha256(convert_to($1 || i, 'UTF8')), 'hex'), at FROM g)
             INSERT INTO outcomes (employee_id, \"left\", observed_at, source, recorded_at)
             SELECT $4 + i, false, at, 'test', at FROM g",
            &[&tag, &n, &days, &first_employee],
        )
        .await
        .expect("seed");
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.db
        .client()
        .await
        .query_one(sql, &[])
        .await
        .expect(sql)
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_rows_go_in_batches_while_jobs_flow_and_the_rest_stays() {
    let app = TestApp::spawn_with(
        |s| {
            s.retention.predictions_days = Some(NonZero::new(30).unwrap());
            s.retention.shadow_days = Some(NonZero::new(30).unwrap());
            s.retention.rejected_days = Some(NonZero::new(30).unwrap());
            s.retention.outcomes_days = Some(NonZero::new(30).unwrap());
            s.retention.batch_rows = NonZero::new(500).unwrap();
            // The test runs the rounds itself; the service's own would race it.
            s.retention.interval_secs = NonZero::new(86_400).unwrap();
        },
        Roles::ALL,
    )
    .await;
    seed(&app, "old-", OLD, 40, 0).await;
    seed(&app, "recent-", RECENT, 10, 1_000_000).await;

    // Jobs flow while the rules apply.
    let jobs: Vec<_> = sample::many(23, 300)
        .into_iter()
        .map(|r| body(&serde_json::Value::Object(r)))
        .collect();
    let publishing = app.publish(jobs);
    let (published, applied) = tokio::join!(publishing, async {
        // One round holds the lock: a second process finds it taken and skips.
        let other = app.db.client().await;
        assert!(storage::try_retention_lock(&other).await.expect("lock"));
        let skipped = retention::apply_once(
            &app.db.pool,
            &app.settings.retention,
            &turnover::metrics::Metrics::new(),
        )
        .await
        .expect("round");
        storage::release_retention_lock(&other)
            .await
            .expect("unlock");
        assert_eq!(skipped, None, "another process holds the lock");
        let metrics = turnover::metrics::Metrics::new();
        let deleted = retention::apply_once(&app.db.pool, &app.settings.retention, &metrics)
            .await
            .expect("round")
            .expect("the lock is free");
        (deleted, metrics)
    });
    assert_eq!(published.confirmed, 300);
    let (deleted, metrics) = applied;
    assert_eq!(
        deleted,
        [
            ("predictions", OLD as u64),
            ("shadow_predictions", OLD as u64),
            ("rejected_messages", OLD as u64),
            ("outcomes", OLD as u64),
        ]
    );
    for table in [
        "predictions",
        "shadow_predictions",
        "rejected_messages",
        "outcomes",
    ] {
        assert_eq!(
            metrics.retention_deleted.with_label_values(&[table]).get(),
            OLD as u64,
            "{table}"
        );
    }

    app.wait_for_predictions((RECENT + 300) as u64).await;
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM predictions WHERE request_id LIKE 'old-%'"
        )
        .await,
        0
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM predictions").await,
        RECENT + 300,
        "recent rows and every new job are kept"
    );
    for table in ["shadow_predictions", "rejected_messages", "outcomes"] {
        assert_eq!(
            count(&app, &format!("SELECT count(*) FROM {table}")).await,
            RECENT,
            "{table}"
        );
    }
    app.finish().await;
}
