//! Outcomes against the real Postgres (and, end to end, RabbitMQ): loading them from a file
//! and over HTTP, what the `model_performance` view makes of them, and the gauges the service
//! exports from it.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime};
use turnover::commands::load_outcomes_file;
use turnover::model::{Bundle, RiskLevel};
use turnover::queue::publisher::Outgoing;
use turnover::record::{sample, Envelope};
use turnover::startup::Roles;
use turnover::storage::{self, Performance, PredictionRow, Source};

use crate::app::{model_path, TestApp};
use crate::helpers::{self, wait_until, TestDb};

fn day(year: i32, month: Month, d: u8) -> OffsetDateTime {
    Date::from_calendar_date(year, month, d)
        .expect("date")
        .midnight()
        .assume_utc()
}

fn row(
    request_id: &str,
    employee_id: Option<i64>,
    prediction: i16,
    probability: f64,
    scored_at: OffsetDateTime,
) -> PredictionRow {
    PredictionRow {
        request_id: request_id.to_owned(),
        employee_id,
        batch_id: None,
        source: Source::Queue,
        model_version: "live-a".to_owned(),
        prediction,
        probability,
        risk_level: RiskLevel::of(probability, [0.3, 0.7]),
        input: json!({}),
        record_sha256: format!("sha-{request_id}"),
        explanation: None,
        enqueued_at: None,
        scored_at,
        trace_id: None,
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}

async fn outcome_rows(db: &TestDb) -> i64 {
    db.client()
        .await
        .query_one("SELECT count(*) FROM outcomes", &[])
        .await
        .expect("count")
        .get(0)
}

fn close(got: Option<f64>, want: f64) -> bool {
    got.is_some_and(|g| (g - want).abs() < 1e-12)
}

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

#[tokio::test]
async fn bad_outcome_files_are_refused_with_file_line_and_column_and_nothing_is_written() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        (
            "bool.csv",
            "employee_id,left,observed_at\n1,true,2026-09-30\n2,maybe,2026-09-30\n",
            "line 3, column left: expected true or false",
        ),
        (
            "date.csv",
            "employee_id,left,observed_at\n1,true,30/09/2026\n",
            "line 2, column observed_at: expected an RFC 3339 time",
        ),
        (
            "future.csv",
            "employee_id,left,observed_at\n1,true,2999-01-01\n",
            "line 2, column observed_at: is in the future",
        ),
        (
            "columns.csv",
            "employee_id,left\n1,true\n",
            "line 1: missing column observed_at; the header line has: employee_id, left",
        ),
        (
            "crlf.csv",
            "employee_id,left,observed_at\r\n1,true,2026-09-30\r\n2,false,2026-09-30\r\nE_3,true,2026-09-30\r\n",
            "line 4, column employee_id: expected a whole number",
        ),
        (
            "twice.csv",
            "employee_id,left,observed_at\n1,true,2026-09-30\n1,false,2026-09-30\n",
            "line 3, column employee_id: employee 1 already appears on line 2",
        ),
    ];
    for (name, text, want) in cases {
        let path = write(dir.path(), name, text);
        let err = load_outcomes_file(&db.url, &path)
            .await
            .expect_err(name)
            .to_string();
        assert!(
            err.starts_with(&format!("{}, {want}", path.display())),
            "{name}: {err}"
        );
    }
    assert_eq!(outcome_rows(&db).await, 0, "a refused file writes nothing");

    // The binary itself: exit status 1 and the message on stderr; the example file loads.
    let bad = write(dir.path(), "bad.csv", cases[0].1);
    let run = |file: &Path| {
        Command::new(env!("CARGO_BIN_EXE_turnover"))
            .args(["outcomes", "--csv"])
            .arg(file)
            .env_remove("TURNOVER_CONFIG")
            .env("TURNOVER_POSTGRES__URL", &db.url)
            .env("TURNOVER_LOG__LEVEL", "warn")
            .output()
            .expect("run turnover")
    };
    let out = run(&bad);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}, line 3, column left", bad.display())),
        "{stderr}"
    );
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/outcomes.csv");
    let out = run(&example);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("200 outcomes: 200 inserted, 0 updated, 0 unchanged"),
        "{stdout}"
    );
}

pub(crate) async fn post(
    app: &TestApp,
    key: Option<&str>,
    body: reqwest::Body,
) -> (StatusCode, Value) {
    let mut request = crate::http::client()
        .post(app.url("/outcomes"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn post_outcomes_checks_every_outcome_and_stores_all_or_nothing() {
    let app = TestApp::spawn_with(
        |s| {
            s.auth.api_keys = vec!["k1".into()];
            s.http.max_outcomes_bytes = 64 * 1024;
        },
        Roles::HTTP_ONLY,
    )
    .await;
    let good = json!([
        {"employee_id": 1, "left": true, "observed_at": "2026-09-30"},
        {"employee_id": 2, "left": false, "observed_at": "2026-09-30T17:00:00+02:00", "source": "hr"}
    ]);
    let (status, body) = post(&app, None, good.to_string().into()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["detail"], "missing or invalid X-API-Key header");

    let (status, body) = post(&app, Some("k1"), "{not json".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["detail"][0]["field"], "body");

    let bad = json!([
        {"employee_id": 1, "left": true, "observed_at": "2026-09-30"},
        {"employee_id": 2, "left": "maybe", "observed_at": "2999-01-01", "extra": 1}
    ]);
    let (status, body) = post(&app, Some("k1"), bad.to_string().into()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["detail"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| e["field"].as_str().expect("field"))
        .collect();
    assert_eq!(
        fields,
        ["[1].extra", "[1].left", "[1].observed_at"],
        "{body}"
    );
    assert_eq!(body["detail"][1]["value"], "maybe");
    assert!(body["detail"][2]["message"]
        .as_str()
        .expect("message")
        .contains("future"));
    assert_eq!(outcome_rows(&app.db).await, 0, "nothing stored on a 422");

    // A NUL cannot be stored in Postgres text: refused as a rule, not a database failure.
    let nul = json!([{"employee_id": 3, "left": false, "observed_at": "2026-09-30", "source": "hr\u{0}x"}]);
    let (status, body) = post(&app, Some("k1"), nul.to_string().into()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["field"], "[0].source", "{body}");
    assert_eq!(
        body["detail"][0]["message"],
        "must not contain control characters"
    );
    let many: Vec<Value> = (0..2000)
        .map(|e| json!({"employee_id": e, "left": false, "observed_at": "2026-09-30"}))
        .collect();
    let (status, body) = post(&app, Some("k1"), Value::Array(many).to_string().into()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(
        body["detail"],
        "the body is larger than http.max_outcomes_bytes (65536 bytes)"
    );

    let (status, body) = post(&app, Some("k1"), good.to_string().into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Nobody was scored in this database: no outcome can be judged yet, and the reply says so.
    assert_eq!(
        body,
        json!({"inserted": 2, "updated": 0, "unchanged": 0, "unjudged": 2})
    );
    let one = json!({"employee_id": 2, "left": true, "observed_at": "2026-10-31"});
    let (status, body) = post(&app, Some("k1"), one.to_string().into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"inserted": 0, "updated": 1, "unchanged": 0, "unjudged": 1})
    );
    let stored: (bool, String) = {
        let r = app
            .db
            .client()
            .await
            .query_one(
                "SELECT \"left\", source FROM outcomes WHERE employee_id = 2",
                &[],
            )
            .await
            .expect("row");
        (r.get(0), r.get(1))
    };
    assert_eq!(stored, (true, "http".to_owned()));
    app.finish().await;
}

/// The value of a series in a Prometheus text exposition, whatever the order of its labels.
pub(crate) fn gauge(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix('{')?;
        let (inner, value) = rest.split_once("} ")?;
        let pairs: Vec<(&str, &str)> = inner
            .split(',')
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some((k, v.trim_matches('"')))
            })
            .collect();
        labels
            .iter()
            .all(|l| pairs.contains(l))
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

pub(crate) async fn metrics_text(app: &TestApp) -> String {
    crate::http::client()
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

#[tokio::test]
async fn scored_requests_and_posted_outcomes_become_live_metric_gauges() {
    let app = TestApp::spawn_with(|s| s.metrics.performance_refresh_secs = 1, Roles::ALL).await;
    let records = sample::many(5, 60);
    let report = app
        .publish(records.iter().enumerate().map(|(i, r)| {
            Outgoing {
                body: Envelope {
                    request_id: Some(format!("e-{i}")),
                    employee_id: Some(i as i64 + 1),
                    ..Envelope::new(r.clone())
                }
                .to_bytes(),
                ..Default::default()
            }
        }))
        .await;
    assert!(report.all_confirmed(60), "{report:?}");
    app.wait_for_predictions(60).await;

    // Every third employee left; the outcome is observed now, after every score.
    let now = OffsetDateTime::now_utc().format(&Rfc3339).expect("format");
    let outcomes: Vec<Value> = (1..=60)
        .map(|e| json!({"employee_id": e, "left": e % 3 == 0, "observed_at": now}))
        .collect();
    let (status, body) = post(&app, None, Value::Array(outcomes).to_string().into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Counted here from the stored rows.
    let rows = app
        .db
        .client()
        .await
        .query("SELECT employee_id, prediction FROM predictions", &[])
        .await
        .expect("rows");
    let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    for r in &rows {
        let (e, p): (i64, i16) = (r.get(0), r.get(1));
        match (e % 3 == 0, p == 1) {
            (true, true) => tp += 1.0,
            (false, true) => fp += 1.0,
            (true, false) => fn_ += 1.0,
            (false, false) => {}
        }
    }
    let version = Bundle::load(&model_path())
        .expect("bundle")
        .manifest
        .version;
    let live = |metric: &'static str| {
        [
            ("model_version", version.as_str()),
            ("metric", metric),
            ("role", "live"),
        ]
    };
    let (app_ref, count) = (&app, live("count"));
    let text = wait_until(
        "the live metric gauges",
        Duration::from_secs(10),
        || async move {
            let text = metrics_text(app_ref).await;
            gauge(&text, "turnover_model_live_metric", &count)
                .filter(|n| *n == 60.0)
                .map(|_| text)
        },
    )
    .await;
    let f1 = gauge(&text, "turnover_model_live_metric", &live("f1")).expect("f1");
    assert!(
        (f1 - 2.0 * tp / (2.0 * tp + fp + fn_)).abs() < 1e-9,
        "{f1} {tp} {fp} {fn_}"
    );
    if tp + fp > 0.0 {
        let precision = gauge(&text, "turnover_model_live_metric", &live("precision"));
        assert!(close(precision, tp / (tp + fp)), "{precision:?}");
    }
    let recall = gauge(&text, "turnover_model_live_metric", &live("recall"));
    assert!(close(recall, tp / (tp + fn_)), "{recall:?}");
    assert!(gauge(&text, "turnover_model_live_metric", &live("roc_auc")).is_some());

    // The manifest's holdout interval, for the alert to compare with.
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(model_path().join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    let lower = gauge(
        &text,
        "turnover_model_holdout_metric",
        &[
            ("model_version", version.as_str()),
            ("metric", "f1"),
            ("bound", "lower"),
        ],
    );
    assert_eq!(lower, manifest["metrics"]["holdout_ci"]["f1"][0].as_f64());
    app.finish().await;
}
