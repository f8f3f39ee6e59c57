//! The `model_performance` view against figures counted by hand.

use super::*;

#[tokio::test]
async fn the_performance_view_gives_the_figures_counted_by_hand() {
    let db = TestDb::new().await;
    let june = day(2026, Month::June, 1);
    // employee: live prediction, probability, and (below) whether they left.
    //   1: 1 0.90 left    TP        5: 1 0.70 left    TP
    //   2: 1 0.80 stayed  FP        6: 0 0.20 stayed  TN
    //   3: 0 0.35 left    FN        7: 1 0.60 stayed  FP
    //   4: 0 0.10 stayed  TN        8: 1 0.65 left    TP
    let live = [
        (1, 1, 0.90),
        (2, 1, 0.80),
        (3, 0, 0.35),
        (4, 0, 0.10),
        (5, 1, 0.70),
        (6, 0, 0.20),
        (7, 1, 0.60),
        (8, 1, 0.65),
    ];
    let mut rows: Vec<PredictionRow> = live
        .iter()
        .map(|&(e, p, q)| row(&format!("r-{e}"), Some(e), p, q, june))
        .collect();
    // Left out by the view's rules: an older score of employee 1 (the latest before the
    // outcome counts), a score of employee 4 made after the outcome was observed, an employee
    // without outcome, a request without employee.
    rows.push(row("old-1", Some(1), 0, 0.05, day(2026, Month::March, 1)));
    rows.push(row(
        "late-4",
        Some(4),
        1,
        0.99,
        day(2026, Month::October, 15),
    ));
    rows.push(row("r-9", Some(9), 1, 0.95, june));
    rows.push(row("anonymous", None, 1, 0.95, june));
    let mut client = db.client().await;
    helpers::insert_batch(&mut client, &rows, &[])
        .await
        .expect("insert predictions");
    // A shadow version scored employees 1-4 in the same requests, with a tie between a leaver
    // and a stayer: 1: 1 0.5 left TP, 2: 1 0.5 stayed FP, 3: 1 0.7 left TP, 4: 0 0.2 stayed TN.
    for (e, p, q) in [(1, 1i16, 0.5f64), (2, 1, 0.5), (3, 1, 0.7), (4, 0, 0.2)] {
        client
            .execute(
                "INSERT INTO shadow_predictions (request_id, model_version, probability, prediction, risk_level, scored_at) \
                 VALUES ($1, 'shadow-b', $2, $3, 'Medium', $4)",
                &[&format!("r-{e}"), &q, &p, &june],
            )
            .await
            .expect("shadow row");
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "q3.csv",
        "employee_id,left,observed_at,source\n\
         1,true,2026-09-30,hr\n2,false,2026-09-30,hr\n3,yes,2026-09-30T12:00:00Z,hr\n\
         4,no,2026-09-30,hr\n5,1,2026-09-30,hr\n6,0,2026-09-30,hr\n7,false,2026-09-30,hr\n\
         8,oui,2026-09-30,hr\n10,true,2026-09-30,hr\n",
    );
    let (read, counts) = load_outcomes_file(&db.url, &file).await.expect("loads");
    assert_eq!(read, 9);
    assert_eq!(
        (counts.inserted, counts.updated, counts.unchanged),
        (9, 0, 0)
    );
    // Employee 10 has an outcome and no score: stored, not judged, and counted as such.
    assert_eq!(counts.unjudged, 1);

    let view = storage::model_performance(&db.client().await)
        .await
        .expect("view");
    let [live, shadow]: [Performance; 2] = view.try_into().expect("one live, one shadow version");
    assert_eq!(
        (live.role.as_str(), live.model_version.as_str()),
        ("live", "live-a")
    );
    // TP 3 (1, 5, 8), FP 2 (2, 7), FN 1 (3), TN 2 (4, 6).
    assert_eq!((live.count, live.leavers), (8, 4));
    assert!(close(live.precision, 3.0 / 5.0), "{live:?}");
    assert!(close(live.recall, 3.0 / 4.0), "{live:?}");
    assert!(close(live.f1, 6.0 / 9.0), "{live:?}");
    // Leavers 0.90, 0.35, 0.70, 0.65 against stayers 0.80, 0.10, 0.20, 0.60: 4 + 2 + 3 + 3
    // pairs of 16 are ordered right.
    assert!(close(live.roc_auc, 12.0 / 16.0), "{live:?}");

    assert_eq!(
        (shadow.role.as_str(), shadow.model_version.as_str()),
        ("shadow", "shadow-b")
    );
    assert_eq!((shadow.count, shadow.leavers), (4, 2));
    assert!(close(shadow.precision, 2.0 / 3.0), "{shadow:?}");
    assert!(close(shadow.recall, 1.0), "{shadow:?}");
    assert!(close(shadow.f1, 4.0 / 5.0), "{shadow:?}");
    // 0.5 vs 0.5 is a tie (one half), 0.5 > 0.2, 0.7 > both: 3.5 of 4.
    assert!(close(shadow.roc_auc, 3.5 / 4.0), "{shadow:?}");

    // Loading the same file again changes nothing; a corrected line replaces one outcome.
    let (_, again) = load_outcomes_file(&db.url, &file).await.expect("loads");
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, 9));
    let fix = write(
        dir.path(),
        "fix.csv",
        "employee_id,left,observed_at\n3,false,2026-09-30T12:00:00Z\n",
    );
    let (_, fixed) = load_outcomes_file(&db.url, &fix).await.expect("loads");
    assert_eq!((fixed.inserted, fixed.updated, fixed.unchanged), (0, 1, 0));
    let source: String = db
        .client()
        .await
        .query_one("SELECT source FROM outcomes WHERE employee_id = 3", &[])
        .await
        .expect("row")
        .get(0);
    assert_eq!(source, "fix.csv", "the file's name is the default source");
    assert_eq!(outcome_rows(&db).await, 9);
}
