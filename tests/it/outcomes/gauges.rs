//! End to end: scored requests and posted outcomes become the live metric gauges.

use std::num::NonZero;

use super::*;

#[tokio::test]
async fn scored_requests_and_posted_outcomes_become_live_metric_gauges() {
    let app = TestApp::spawn_with(
        |s| s.metrics.performance_refresh_secs = NonZero::new(1).unwrap(),
        Roles::ALL,
    )
    .await;
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
