//! The live-performance summary (migration V12) against the real Postgres: after every kind of
//! change (new scores, a late outcome, a changed outcome, an erasure, retention), refreshed or
//! not, `model_performance`, `model_performance_by_group`, `_unjudged` and `_unseen` give the
//! rows the views of V5 and V10 give by judging every score on each read; and two processes
//! refreshing at once neither both refresh nor lose a change.

use std::time::Duration;

use deadpool_postgres::GenericClient;
use turnover::storage::{self, Retained, SummaryRefresh};

use crate::helpers::{wait_until, TestDb};

/// Each new view and the old one it must equal.
const VIEWS: [(&str, &str); 4] = [
    ("model_performance", "old_model_performance"),
    (
        "model_performance_by_group",
        "old_model_performance_by_group",
    ),
    (
        "model_performance_unjudged",
        "old_model_performance_unjudged",
    ),
    ("model_performance_unseen", "old_model_performance_unseen"),
];

/// The views as V5 and V10 defined them, as temporary views `old_*` of this session.
async fn create_old_views(client: &impl GenericClient) {
    let v5 = include_str!("../../migrations/V5__outcomes.sql");
    let v10 = include_str!("../../migrations/V10__fairness.sql");
    let from = |sql: &'static str, start: &str| &sql[sql.find(start).expect(start)..];
    let old = format!(
        "{}\n{}",
        from(v5, "CREATE VIEW model_performance AS"),
        from(v10, "CREATE VIEW model_judged AS")
    )
    .replace("CREATE VIEW model_", "CREATE TEMP VIEW old_model_")
    .replace("FROM model_judged", "FROM old_model_judged");
    client.batch_execute(&old).await.expect("old views");
}

/// Every view equals its old computation, row for row and to the last bit.
async fn assert_same(client: &impl GenericClient, when: &str) {
    for (new, old) in VIEWS {
        let row = client
            .query_one(
                &format!(
                    "SELECT (SELECT count(*) FROM {new}), (SELECT count(*) FROM {old}),
                            (SELECT count(*) FROM (SELECT * FROM {new} EXCEPT ALL
                                                   SELECT * FROM {old}) d),
                            (SELECT count(*) FROM (SELECT * FROM {old} EXCEPT ALL
                                                   SELECT * FROM {new}) d)"
                ),
                &[],
            )
            .await
            .expect(new);
        let counts: (i64, i64, i64, i64) = (row.get(0), row.get(1), row.get(2), row.get(3));
        assert_eq!(counts.0, counts.1, "{when}: {new} has {counts:?} rows");
        assert_eq!(
            (counts.2, counts.3),
            (0, 0),
            "{when}: {new} differs: {counts:?}"
        );
    }
}

async fn one(client: &impl GenericClient, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.expect(sql).get(0)
}

async fn refresh(client: &impl GenericClient) -> SummaryRefresh {
    storage::refresh_performance_summary(client)
        .await
        .expect("refresh")
        .expect("no other refresh runs")
}

/// Employees 1-60 scored 5 times each, 100 to 60 days ago: the first three by `v1` (the
/// second also by `s1` in shadow), the last two by `v2`; ties on probability, all three groups.
/// Outcomes: 1-40 observed 65 days ago, 41-50 95 days ago (so `v2` never scored them before).
/// `v1` was trained on employees 1-20 (its manifest's salted hashes).
async fn seed(client: &impl GenericClient) {
    client
        .batch_execute(
            "INSERT INTO predictions (request_id, employee_id, source, model_version, prediction,
                                      probability, risk_level, input, scored_at, genre,
                                      statut_marital, age_band)
             SELECT 'r-' || e || '-' || k, e, 'queue', CASE WHEN k < 3 THEN 'v1' ELSE 'v2' END,
                    ((e * 7 + k * 3) % 10 >= 5)::int, ((e * 7 + k * 3) % 10) / 10.0 + 0.05,
                    'Low', '{}', now() - make_interval(days => 100 - k * 10 - e % 5),
                    CASE WHEN e % 2 = 0 THEN 'F' ELSE 'M' END,
                    (ARRAY['Célibataire', 'Marié(e)', 'Divorcé(e)'])[e % 3 + 1],
                    (ARRAY['<30', '30-39', '40-49', '50+'])[e % 4 + 1]
               FROM generate_series(1, 60) e, generate_series(0, 4) k;
             INSERT INTO shadow_predictions (request_id, model_version, probability, prediction,
                                             risk_level, scored_at)
             SELECT request_id, 's1', 1 - probability, 1 - prediction, 'Low', scored_at
               FROM predictions WHERE request_id LIKE 'r-%-1';
             INSERT INTO model_versions (version, manifest)
             SELECT 'v1', jsonb_build_object('training_employees', jsonb_build_object(
                        'salt', 's', 'hashes', jsonb_agg(left(encode(sha256(convert_to(
                            's:' || e, 'UTF8')), 'hex'), 16))))
               FROM generate_series(1, 20) e;
             INSERT INTO outcomes (employee_id, \"left\", observed_at, source)
             SELECT e, e % 3 = 0,
                    now() - make_interval(days => CASE WHEN e <= 40 THEN 65 ELSE 95 END), 'hr'
               FROM generate_series(1, 50) e;",
        )
        .await
        .expect("seed");
}

#[tokio::test]
async fn the_summary_views_equal_the_full_computation_after_every_kind_of_change() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    create_old_views(&client).await;
    seed(&client).await;
    assert_same(&client, "before any refresh").await;

    let first = refresh(&client).await;
    assert!(
        first.full_rebuild,
        "the first refresh rebuilds everything: {first:?}"
    );
    assert!(first.rows > 0, "{first:?}");
    assert_eq!(
        one(&client, "SELECT count(*) FROM performance_dirty").await,
        0
    );
    assert_same(&client, "after the first refresh").await;

    // New scores: v2 after the outcomes of 1-20, a new version v3 before those of 21-30.
    client
        .batch_execute(
            "INSERT INTO predictions (request_id, employee_id, source, model_version, prediction,
                                      probability, risk_level, input, scored_at)
             SELECT 'n-' || e, e, 'queue', CASE WHEN e <= 20 THEN 'v2' ELSE 'v3' END, 1, 0.55,
                    'Medium', '{}',
                    now() - make_interval(days => CASE WHEN e <= 20 THEN 10 ELSE 70 END)
               FROM generate_series(1, 30) e",
        )
        .await
        .expect("new scores");
    assert_same(&client, "new scores, not refreshed").await;
    let next = refresh(&client).await;
    assert!(!next.full_rebuild, "{next:?}");
    assert_same(&client, "new scores, refreshed").await;

    // A late outcome for an employee scored long ago, and a changed one.
    let judged_v1 =
        "SELECT count FROM model_performance WHERE role = 'live' AND model_version = 'v1'";
    let before = one(&client, judged_v1).await;
    client
        .batch_execute(
            "INSERT INTO outcomes (employee_id, \"left\", observed_at, source)
             VALUES (55, true, now(), 'late');
             UPDATE outcomes SET \"left\" = NOT \"left\" WHERE employee_id = 1",
        )
        .await
        .expect("outcomes");
    assert_eq!(
        one(&client, judged_v1).await,
        before + 1,
        "the late outcome is judged"
    );
    assert_same(&client, "late and changed outcomes, not refreshed").await;
    refresh(&client).await;
    assert_eq!(one(&client, judged_v1).await, before + 1);
    assert_same(&client, "late and changed outcomes, refreshed").await;

    // Erasure: the employee leaves the summary in the erasure's own transaction.
    let erased = storage::erase_employee(
        &mut client,
        3,
        &storage::employee_hash("salt-for-tests", 3),
        "cli",
    )
    .await
    .expect("erase");
    assert_eq!(erased.outcomes, 1);
    assert_eq!(
        one(
            &client,
            "SELECT count(*) FROM performance_judged WHERE employee_id = 3"
        )
        .await,
        0
    );
    assert_same(&client, "erasure, not refreshed").await;
    refresh(&client).await;
    assert_same(&client, "erasure, refreshed").await;

    // Retention: the oldest scores go (some were the judged ones), then shadow rows.
    let gone = storage::delete_expired(&client, Retained::Predictions, 90, 50)
        .await
        .expect("retention");
    assert_eq!(gone, 50, "one batch of the oldest scores");
    storage::delete_expired(&client, Retained::ShadowPredictions, 88, 1_000)
        .await
        .expect("retention");
    assert_same(&client, "retention, not refreshed").await;
    refresh(&client).await;
    assert_same(&client, "retention, refreshed").await;

    // A TRUNCATE marks the whole summary stale.
    client
        .batch_execute("TRUNCATE shadow_predictions")
        .await
        .expect("truncate");
    assert_same(&client, "truncated, not refreshed").await;
    assert!(refresh(&client).await.full_rebuild);
    assert_same(&client, "truncated, refreshed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_refreshes_at_a_time_and_an_erasure_waits_for_it() {
    let db = TestDb::new().await;
    let checker = db.client().await;
    create_old_views(&checker).await;
    seed(&checker).await;

    // A refresh in progress (its transaction open) holds the lock: another process skips.
    let mut first = db.client().await;
    let tx = first.transaction().await.expect("begin");
    let held = storage::refresh_performance_summary(&tx)
        .await
        .expect("refresh");
    assert!(held.is_some_and(|r| r.full_rebuild), "{held:?}");
    let other = db.client().await;
    assert_eq!(
        storage::refresh_performance_summary(&other)
            .await
            .expect("refresh"),
        None,
        "a second process skips while the first refreshes"
    );

    // An erasure meanwhile waits for the refresh to end, so the refresh cannot write the
    // employee's rows back after the erasure removed them.
    let mut eraser = db.client().await;
    let erase = tokio::spawn(async move {
        storage::erase_employee(
            &mut eraser,
            6,
            &storage::employee_hash("salt-for-tests", 6),
            "cli",
        )
        .await
    });
    wait_until("the erasure to wait on the refresh lock", Duration::from_secs(10), || async {
        let waiting = one(
            &checker,
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory' AND datname = current_database()",
        )
        .await;
        (waiting > 0).then_some(())
    })
    .await;
    tx.commit().await.expect("commit");
    erase.await.expect("task").expect("erase");
    assert_eq!(
        one(
            &checker,
            "SELECT count(*) FROM performance_judged WHERE employee_id = 6"
        )
        .await,
        0,
        "no row of the erased employee in the summary"
    );
    assert_same(&checker, "after a refresh and an erasure at once").await;

    // Two refreshes at once, with changes marked: at most one skips, and nothing is lost.
    checker
        .batch_execute(
            "INSERT INTO predictions (request_id, employee_id, source, model_version, prediction,
                                      probability, risk_level, input, scored_at)
             SELECT 'm-' || e, e, 'queue', 'v3', 0, 0.25, 'Low', '{}', now() - interval '80 days'
               FROM generate_series(1, 45) e",
        )
        .await
        .expect("new scores");
    let (a, b) = tokio::join!(
        storage::refresh_performance_summary(&first),
        storage::refresh_performance_summary(&other)
    );
    let ran = [a.expect("refresh a"), b.expect("refresh b")];
    assert!(ran.iter().any(Option::is_some), "{ran:?}");
    assert_same(&checker, "two refreshes at once").await;
    refresh(&checker).await;
    assert_eq!(
        one(&checker, "SELECT count(*) FROM performance_dirty").await,
        0
    );
    assert_same(&checker, "refreshed again").await;
}
