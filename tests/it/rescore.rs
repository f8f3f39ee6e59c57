//! `turnover enqueue` as an operator runs it after a promotion: the same extract sent again is
//! a replay of the old rows, and `--rescore` scores every employee with the bundle now serving.
//! A clean run logs no ERROR.

use std::path::Path;

use turnover::config::Settings;
use turnover::extracts::{labelled_population, write_dir};

use crate::app::{model_path, test_settings};
use crate::helpers::TestDb;
use crate::model_swap::{bundle_dir, candidate_path, install, start, version_of};
use crate::spawn;

/// Runs `turnover enqueue --data DIR EXTRA...` against the test's broker names; its success
/// and everything it printed (logs included).
fn enqueue(settings: &Settings, data: &Path, extra: &[&str]) -> (bool, String) {
    let out = spawn::command(settings, &["enqueue", "--data"])
        .arg(data)
        .args(extra)
        .env("TURNOVER_LOG__LEVEL", "info")
        .output()
        .expect("run turnover enqueue");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn enqueue_rescore_after_a_swap_scores_every_employee_with_the_new_version() {
    let served = bundle_dir(&model_path());
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.model.path = served.path().to_owned();
    let (app, ctx) = start(db, settings.clone()).await;
    let data = tempfile::tempdir().expect("temp dir");
    write_dir(data.path(), &labelled_population(41, 30)).expect("extracts");
    let (version_a, version_b) = (version_of(&model_path()), version_of(&candidate_path()));

    let (ok, log) = enqueue(&settings, data.path(), &[]);
    assert!(ok, "{log}");
    assert!(log.contains("30 published: 30 confirmed"), "{log}");
    assert!(
        !log.contains("ERROR"),
        "a clean enqueue logged an error:\n{log}"
    );
    app.wait_for_predictions(30).await;

    install(&candidate_path(), served.path());
    ctx.reload().await.expect("the candidate is swapped in");

    // Sent again as it is: every message is a replay of a stored row, nothing new is scored.
    // Then with --rescore: 30 new rows, all by the new version. The queue is consumed in order,
    // so once the rescored rows are in, the replays were handled before them.
    let (ok, log) = enqueue(&settings, data.path(), &[]);
    assert!(ok && !log.contains("ERROR"), "{log}");
    let (ok, log) = enqueue(&settings, data.path(), &["--rescore"]);
    assert!(ok && !log.contains("ERROR"), "{log}");
    app.wait_for_predictions(60).await;

    let client = app.db.client().await;
    let by_version: Vec<(String, String, i64, i64)> = client
        .query(
            "SELECT model_version, left(request_id, 8), count(*), count(DISTINCT employee_id) \
             FROM predictions GROUP BY 1, 2 ORDER BY 1, 2",
            &[],
        )
        .await
        .expect("query")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    // The first run's ids are derived by the worker from the body: not rescore ids.
    assert!(
        by_version
            .iter()
            .all(|r| r.0 != version_a || !r.1.starts_with("rescore:")),
        "{by_version:?}"
    );
    let first_run: i64 = by_version
        .iter()
        .filter(|r| r.0 == version_a)
        .map(|r| r.2)
        .sum();
    assert_eq!(first_run, 30, "{by_version:?}");
    let rescored: Vec<_> = by_version.iter().filter(|r| r.0 == version_b).collect();
    let want = (version_b.clone(), "rescore:".to_owned(), 30, 30);
    assert_eq!(rescored, [&want], "{by_version:?}");
    let sample: String = client
        .query_one(
            "SELECT request_id FROM predictions WHERE model_version = $1 ORDER BY employee_id \
             LIMIT 1",
            &[&version_b],
        )
        .await
        .expect("a rescored row")
        .get(0);
    assert!(
        sample.starts_with(&format!("rescore:{version_b}:")),
        "{sample}"
    );
    app.finish().await;
}
