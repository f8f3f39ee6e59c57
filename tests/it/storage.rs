//! Storage against the real Postgres: migrations, database creation, the idempotent batch
//! write, rejected messages, HTTP batches.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use serde_json::json;
use time::OffsetDateTime;
use turnover::model::RiskLevel;
use turnover::storage::{
    self, InsertCounts, PredictionRow, RejectedRow, Source, Written, MIGRATIONS,
};
use uuid::Uuid;

use crate::helpers::{
    self, database_exists, database_url, unique_db_name, DropDatabaseOnDrop, TestDb,
};

pub(crate) fn prediction(
    request_id: &str,
    employee_id: Option<i64>,
    batch_id: Option<Uuid>,
) -> PredictionRow {
    PredictionRow {
        request_id: request_id.to_owned(),
        employee_id,
        batch_id,
        source: if batch_id.is_some() {
            Source::Batch
        } else {
            Source::Queue
        },
        model_version: "test-1".to_owned(),
        prediction: 1,
        probability: 0.8125,
        risk_level: RiskLevel::High,
        input: json!({"age": 41, "genre": "F", "poste": "Tech Lead"}).into(),
        record_sha256: "sha-of-the-record".to_owned(),
        explanation: Some(json!([{"field": "age", "contribution": -0.25}])),
        enqueued_at: Some(OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("ts")),
        // Postgres keeps microseconds; a whole second round-trips exactly.
        scored_at: OffsetDateTime::from_unix_timestamp(1_700_000_001).expect("ts"),
        trace_id: None,
        groups: None,
    }
}

pub(crate) fn rejected(request_id: Option<&str>, payload: &[u8]) -> RejectedRow {
    RejectedRow {
        request_id: request_id.map(str::to_owned),
        reason: "validation".to_owned(),
        errors: json!([{"field": "age", "message": "must be between 18 and 70", "value": 12}]),
        payload: payload.to_vec(),
        payload_sha256: turnover::digest::sha256_hex(payload),
        received_at: OffsetDateTime::from_unix_timestamp(1_700_000_002).expect("ts"),
        trace_id: None,
    }
}

async fn applied_versions(db: &TestDb) -> Vec<i32> {
    db.client()
        .await
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("schema_migrations")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn migrating_twice_is_a_no_op() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let again = storage::migrate(&mut client).await.expect("second migrate");
    assert!(again.is_empty(), "{again:?}");
    let all: Vec<i32> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(applied_versions(&db).await, all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_apply_each_file_once() {
    let db = TestDb::unmigrated().await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let pool = db.pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = pool.get().await.expect("connection");
            storage::migrate(&mut client).await
        }));
    }
    let mut applied = Vec::new();
    for task in tasks {
        applied.extend(task.await.expect("join").expect("migrate"));
    }
    applied.sort();
    let mut expected: Vec<String> = MIGRATIONS.iter().map(|m| m.file_stem()).collect();
    expected.sort();
    assert_eq!(
        applied, expected,
        "every migration applied by exactly one starter"
    );
    assert_eq!(applied_versions(&db).await.len(), MIGRATIONS.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ensure_database_creates_a_missing_database_even_when_racing() {
    let name = unique_db_name();
    let _cleanup = DropDatabaseOnDrop(name.clone());
    assert!(!database_exists(&name).await);
    let url = database_url(&name);
    let racers: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { storage::ensure_database(&url).await })
        })
        .collect();
    for racer in racers {
        racer.await.expect("join").expect("ensure_database");
    }
    assert!(database_exists(&name).await);
    storage::ensure_database(&url)
        .await
        .expect("existing database is fine");
}

#[tokio::test]
async fn a_changed_migration_is_refused() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    client
        .execute(
            "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1",
            &[],
        )
        .await
        .expect("tamper");
    let err = storage::migrate(&mut client)
        .await
        .expect_err("must refuse");
    assert!(
        matches!(
            err,
            storage::StorageError::ChecksumMismatch { version: 1, .. }
        ),
        "{err:?}"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn insert_batch_is_idempotent_by_request_id() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let rows: Vec<PredictionRow> = (0..300)
        .map(|i| prediction(&format!("req-{i}"), Some(i), None))
        .collect();

    let first = helpers::insert_batch(&mut client, &rows, &[])
        .await
        .expect("insert");
    assert_eq!(
        first,
        InsertCounts {
            inserted: 300,
            duplicates: 0,
            rejected: 0
        }
    );
    assert_eq!(
        helpers::count_predictions(&client).await.expect("count"),
        300
    );

    // A redelivery of the whole batch: nothing new.
    let again = helpers::insert_batch(&mut client, &rows, &[])
        .await
        .expect("reinsert");
    assert_eq!(
        again,
        InsertCounts {
            inserted: 0,
            duplicates: 300,
            rejected: 0
        }
    );

    // Half old, half new, and one request_id twice within the batch.
    let mut mixed: Vec<PredictionRow> = (150..450)
        .map(|i| prediction(&format!("req-{i}"), Some(i), None))
        .collect();
    mixed.push(prediction("req-449", Some(449), None));
    let third = helpers::insert_batch(&mut client, &mixed, &[])
        .await
        .expect("mixed");
    assert_eq!(
        third,
        InsertCounts {
            inserted: 150,
            duplicates: 151,
            rejected: 0
        }
    );
    assert_eq!(
        helpers::count_predictions(&client).await.expect("count"),
        450
    );

    let stored = storage::find_prediction(&client, "req-7")
        .await
        .expect("find");
    assert_eq!(stored, Some(rows[7].clone()), "every column round-trips");
}

#[tokio::test]
async fn rejected_rows_keep_their_exact_bytes_and_are_not_duplicated() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let not_utf8: &[u8] = &[0xff, 0xfe, 0x00, b'{', 0xc3, 0x28, b'}'];
    let rows = vec![
        rejected(Some("bad-1"), not_utf8),
        rejected(None, b"not json"),
        rejected(None, b"not json"),
    ];
    let good = [prediction("good-1", Some(1), None)];

    let first = helpers::insert_batch(&mut client, &good, &rows)
        .await
        .expect("insert");
    assert_eq!(
        first,
        InsertCounts {
            inserted: 1,
            duplicates: 0,
            rejected: 3
        }
    );
    let stored = helpers::recent_rejected(&client, 10).await.expect("read");
    assert_eq!(stored, rows, "payload bytes, errors and times round-trip");

    // Redelivered: the one with a request_id is recognised; those without cannot be.
    let again = helpers::insert_batch(&mut client, &[], &rows[..1])
        .await
        .expect("again");
    assert_eq!(again.rejected, 0);
    assert_eq!(helpers::count_rejected(&client).await.expect("count"), 3);
}

/// Whether `client`'s session is inside a transaction that wrote something, and how many
/// predictions it sees.
async fn session_state(client: &storage::Client) -> (Option<String>, i64) {
    let row = client
        .query_one(
            "SELECT pg_current_xact_id_if_assigned()::text, (SELECT count(*) FROM predictions)",
            &[],
        )
        .await
        .expect("the connection answers");
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn a_batch_given_up_before_its_commit_leaves_no_row_and_no_open_transaction() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    helpers::insert_batch(&mut client, &[prediction("kept", None, None)], &[])
        .await
        .expect("a first batch, which also prepares the statement on this connection");

    // Written and never committed: the pending batch is dropped.
    let pending = storage::insert_batch(&mut client, &[prediction("dropped-1", None, None)], &[])
        .await
        .expect("written");
    drop(pending);
    assert_eq!(
        session_state(&client).await,
        (None, 1),
        "the connection went on inside the dropped batch's transaction"
    );

    // Given up on while Postgres is still answering (a shutdown's deadline, a cancelled task):
    // `BEGIN` and the insert are sent on the first poll, then the future is dropped.
    let answered_at_once =
        storage::insert_batch(&mut client, &[prediction("dropped-2", None, None)], &[])
            .now_or_never()
            .is_some();
    assert!(!answered_at_once, "the batch was answered within one poll");
    assert_eq!(
        session_state(&client).await,
        (None, 1),
        "the connection went on inside the given-up batch's transaction"
    );
    // And the connection takes the next batch as usual.
    helpers::insert_batch(&mut client, &[prediction("after", None, None)], &[])
        .await
        .expect("the next batch");
    assert_eq!(session_state(&client).await, (None, 2));
}

#[tokio::test]
async fn a_batch_of_predictions_alone_is_committed_when_written_with_no_transaction_left_open() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let other = db.client().await;

    let first = storage::insert_alone(
        &client,
        &[prediction("a", None, None), prediction("b", None, None)],
    )
    .await
    .expect("written");
    assert_eq!(
        first.counts,
        InsertCounts {
            inserted: 2,
            duplicates: 0,
            rejected: 0
        }
    );
    assert_eq!(first.written, [Written::Inserted, Written::Inserted]);
    assert_eq!(
        session_state(&client).await,
        (None, 2),
        "the insert left its connection inside a transaction"
    );
    assert_eq!(
        helpers::count_predictions(&other).await.expect("count"),
        2,
        "another connection does not see the rows: they are not committed"
    );

    // The same record again, another record under a stored id, and a new one.
    let mut changed = prediction("b", None, None);
    changed.record_sha256 = "sha-of-another-record".to_owned();
    changed.input = json!({"age": 42, "genre": "F", "poste": "Tech Lead"}).into();
    let again = storage::insert_alone(
        &client,
        &[
            prediction("a", None, None),
            changed,
            prediction("c", None, None),
        ],
    )
    .await
    .expect("written");
    assert_eq!(
        again.counts,
        InsertCounts {
            inserted: 1,
            duplicates: 2,
            rejected: 0
        }
    );
    assert!(
        matches!(again.written[0], Written::Replayed(ref s) if s.model_version == "test-1"),
        "the same record under a stored id is a replay of the stored score: {:?}",
        again.written[0]
    );
    assert_eq!(again.written[1..], [Written::Conflict, Written::Inserted]);

    // The conflict's row, committed by itself in turn.
    let conflict = rejected(Some("b"), b"{\"request_id\":\"b\"}");
    let written = storage::insert_rejected(&client, &[&conflict])
        .await
        .expect("written");
    assert_eq!(written, 1);
    assert_eq!(session_state(&client).await, (None, 3));
    assert_eq!(helpers::count_rejected(&other).await.expect("count"), 1);
    assert_eq!(helpers::count_predictions(&other).await.expect("count"), 3);
}

#[tokio::test]
async fn a_record_stored_from_its_canonical_bytes_is_the_record_and_is_compared_by_them() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let record = turnover::record::validate(&turnover::record::sample::many(5, 1)[0])
        .expect("a generated record is valid");
    let canonical = record.canonical_json();
    let mut row = prediction("written", None, None);
    row.record_sha256 = turnover::digest::sha256_hex(&canonical);
    row.input = storage::Document::Written(canonical.clone());
    let first = storage::insert_alone(&client, std::slice::from_ref(&row))
        .await
        .expect("written");
    assert_eq!(first.written, [Written::Inserted]);

    let stored = client
        .query_one(
            "SELECT input = $1::jsonb, genre, age_band FROM predictions WHERE request_id = 'written'",
            &[&record.to_json()],
        )
        .await
        .expect("read back");
    assert!(
        stored.get::<_, bool>(0),
        "the stored input is not the record's JSON"
    );
    let genre: Option<String> = stored.get(1);
    assert_eq!(genre.as_deref(), record.to_json()["genre"].as_str());
    assert!(
        stored.get::<_, Option<String>>(2).is_some(),
        "the age band is derived from the stored input"
    );

    // Rows from before the hash column are compared on their input: the written bytes too.
    client
        .execute(
            "UPDATE predictions SET record_sha256 = NULL WHERE request_id = 'written'",
            &[],
        )
        .await
        .expect("cleared");
    let again = storage::insert_alone(&client, &[row])
        .await
        .expect("written");
    assert!(
        matches!(again.written[0], Written::Replayed(_)),
        "the same bytes are not recognised as the stored record: {:?}",
        again.written[0]
    );
}

#[tokio::test]
async fn a_bad_row_fails_the_whole_batch_permanently() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let mut bad = prediction("bad", None, None);
    bad.probability = 1.5;
    let rows = [prediction("ok", None, None), bad];
    let err = helpers::insert_batch(&mut client, &rows, &[rejected(Some("r"), b"x")])
        .await
        .expect_err("check violation");
    assert!(!err.is_transient(), "{err:?}");
    assert_eq!(helpers::count_predictions(&client).await.expect("count"), 0);
    assert_eq!(helpers::count_rejected(&client).await.expect("count"), 0);
}

#[tokio::test]
async fn batch_status_counts_scored_rows_and_results_are_ordered() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let batch = Uuid::new_v4();
    assert_eq!(
        storage::batch_status(&client, batch).await.expect("status"),
        None
    );

    storage::create_batch(&client, batch, 3)
        .await
        .expect("create");
    storage::create_batch(&client, batch, 3)
        .await
        .expect("create is idempotent");
    let status = storage::batch_status(&client, batch)
        .await
        .expect("status")
        .expect("some");
    assert_eq!((status.total, status.done), (3, 0));

    let rows = [
        prediction("b-30", Some(30), Some(batch)),
        prediction("b-10", Some(10), Some(batch)),
        prediction("other", Some(20), None),
    ];
    helpers::insert_batch(&mut client, &rows, &[])
        .await
        .expect("insert");
    let status = storage::batch_status(&client, batch)
        .await
        .expect("status")
        .expect("some");
    assert_eq!((status.total, status.done), (3, 2));

    let results = storage::batch_results(&client, batch)
        .await
        .expect("results");
    let ids: Vec<Option<i64>> = results.iter().map(|r| r.employee_id).collect();
    assert_eq!(ids, [Some(10), Some(30)]);
    assert_eq!(results[0].risk_level, RiskLevel::High);
    assert!((results[0].probability - 0.8125).abs() < f64::EPSILON);
}

#[tokio::test]
async fn a_known_version_with_other_files_is_refused_and_its_row_kept() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let manifest = json!({"version": "v1"});
    let model = |sha256, metrics| storage::RegisteredModel {
        version: "v1",
        sha256,
        manifest: &manifest,
        metrics,
    };
    let (first_metrics, reload_metrics) = (json!({"f1": 0.5}), json!({"f1": 0.6}));
    storage::register_model(&client, model("aa", &first_metrics))
        .await
        .expect("first load");
    storage::register_model(&client, model("aa", &first_metrics))
        .await
        .expect("the same files load again");
    let err = storage::register_model(&client, model("bb", &reload_metrics))
        .await
        .expect_err("other files under v1 are refused");
    let text = err.to_string();
    assert!(
        text.contains("v1") && text.contains("aa") && text.contains("bb"),
        "{text}"
    );
    let row = client
        .query_one(
            "SELECT count(*) OVER (), sha256, metrics FROM model_versions",
            &[],
        )
        .await
        .expect("row");
    assert_eq!(row.get::<_, i64>(0), 1);
    assert_eq!(row.get::<_, &str>(1), "aa");
    assert_eq!(row.get::<_, serde_json::Value>(2), first_metrics);

    // Nor can any client rewrite or delete it behind the service's back.
    for sql in [
        "UPDATE model_versions SET sha256 = 'cc'",
        "UPDATE model_versions SET manifest = '{}'",
        "UPDATE model_versions SET last_served_at = last_served_at - interval '1 day'",
        "DELETE FROM model_versions",
    ] {
        let err = client.batch_execute(sql).await.expect_err(sql);
        assert!(format!("{err:?}").contains("append-only"), "{sql}: {err:?}");
    }
    client
        .batch_execute("UPDATE model_versions SET last_served_at = now() + interval '1 s'")
        .await
        .expect("last_served_at moves forward");
}

#[tokio::test]
async fn a_down_database_fails_fast_and_transiently() {
    // Nothing listens on port 1.
    let pool = storage::pool(
        "postgres://postgres:secret@127.0.0.1:1/turnover",
        NonZeroUsize::new(2).expect("2 connections"),
    )
    .expect("pool");
    let started = Instant::now();
    let err = pool
        .get()
        .await
        .map(|_| ())
        .map_err(storage::StorageError::from)
        .expect_err("down");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(err.is_transient(), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("secret"));
}

#[tokio::test]
async fn ping_answers() {
    let db = TestDb::new().await;
    storage::ping(&db.client().await).await.expect("ping");
}
