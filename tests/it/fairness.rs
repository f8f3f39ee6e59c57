//! The model judged per group on real outcomes: employees scored by the worker, outcomes
//! posted, and `model_performance_by_group`, its gauges, the unjudged count and the figures on
//! employees never seen in training, each checked against a count made here from the records.

use std::collections::BTreeMap;
use std::num::NonZero;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use turnover::fairness::{groups, ATTRIBUTES};
use turnover::model::Bundle;
use turnover::queue::publisher::Outgoing;
use turnover::record::{sample, validate};
use turnover::startup::Roles;
use turnover::storage::{self, GroupPerformance};
use turnover::wire::Envelope;

use crate::app::{model_path, TestApp};
use crate::helpers::wait_until;
use crate::outcomes::{gauge, metrics_text, post};

/// (count, leavers, flagged, true positives, false positives) of one group.
type Tally = (i64, i64, i64, i64, i64);

fn ratio(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

#[tokio::test]
async fn the_by_group_view_and_its_gauges_equal_a_count_by_hand() {
    let app = TestApp::spawn_with(
        |s| s.metrics.performance_refresh_secs = NonZero::new(1).unwrap(),
        Roles::ALL,
    )
    .await;
    let records = sample::many(17, 80);
    let report = app
        .publish(records.iter().enumerate().map(|(i, r)| {
            Outgoing {
                body: Envelope {
                    request_id: Some(format!("g-{i}")),
                    employee_id: Some(i as i64 + 1),
                    ..Envelope::new(r.clone())
                }
                .to_bytes(),
                ..Default::default()
            }
        }))
        .await;
    assert!(report.all_confirmed(80), "{report:?}");
    app.wait_for_predictions(80).await;

    // Every third employee left, observed now (after every score); employee 81 was never
    // scored: stored, but not judged, and the reply says so.
    let now = OffsetDateTime::now_utc().format(&Rfc3339).expect("format");
    let outcomes: Vec<Value> = (1..=81)
        .map(|e| json!({"employee_id": e, "left": e % 3 == 0, "observed_at": now}))
        .collect();
    let (status, body) = post(&app, None, Value::Array(outcomes).to_string().into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["inserted"], 81, "{body}");
    assert_eq!(body["unjudged"], 1, "{body}");

    // The count by hand: each employee's groups from the record, the prediction from its row.
    let client = app.db.client().await;
    let predicted: BTreeMap<i64, i16> = client
        .query("SELECT employee_id, prediction FROM predictions", &[])
        .await
        .expect("rows")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut tally: BTreeMap<(&str, &str), Tally> = BTreeMap::new();
    for (i, map) in records.iter().enumerate() {
        let employee = i as i64 + 1;
        let (left, flagged) = (employee % 3 == 0, predicted[&employee] == 1);
        let record = validate(map).expect("valid");
        for (attribute, group) in ATTRIBUTES.iter().zip(groups(&record)) {
            let t = tally.entry((attribute, group)).or_default();
            t.0 += 1;
            t.1 += i64::from(left);
            t.2 += i64::from(flagged);
            t.3 += i64::from(left && flagged);
            t.4 += i64::from(!left && flagged);
        }
    }
    let version = Bundle::load(&model_path())
        .expect("bundle")
        .manifest
        .version;
    let want: Vec<GroupPerformance> = tally
        .iter()
        .map(
            |(&(attribute, group), &(n, leavers, flagged, tp, fp))| GroupPerformance {
                role: "live".into(),
                model_version: version.clone(),
                attribute: attribute.into(),
                group_value: group.into(),
                count: n,
                leavers,
                selection_rate: ratio(flagged, n),
                tpr: ratio(tp, leavers),
                fpr: ratio(fp, n - leavers),
                precision: ratio(tp, tp + fp),
            },
        )
        .collect();
    let mut got = storage::model_performance_by_group(&client)
        .await
        .expect("view");
    got.sort_by(|a, b| (&a.attribute, &a.group_value).cmp(&(&b.attribute, &b.group_value)));
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (g, w) in got.iter().zip(&want) {
        let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-12,
            (a, b) => a == b,
        };
        assert!(
            (
                &g.role,
                &g.model_version,
                &g.attribute,
                &g.group_value,
                g.count,
                g.leavers
            ) == (
                &w.role,
                &w.model_version,
                &w.attribute,
                &w.group_value,
                w.count,
                w.leavers
            ) && close(g.selection_rate, w.selection_rate)
                && close(g.tpr, w.tpr)
                && close(g.fpr, w.fpr)
                && close(g.precision, w.precision),
            "view {g:?}\nby hand {w:?}"
        );
    }

    // The same figures as gauges.
    let first = &want[0];
    let labels = [
        ("model_version", version.as_str()),
        ("role", "live"),
        ("attribute", first.attribute.as_str()),
        ("group", first.group_value.as_str()),
        ("metric", "count"),
    ];
    let (app_ref, labels_ref) = (&app, &labels);
    let text = wait_until("the group gauges", Duration::from_secs(10), || async move {
        let text = metrics_text(app_ref).await;
        gauge(&text, "turnover_model_group_metric", labels_ref).map(|_| text)
    })
    .await;
    assert_eq!(
        gauge(&text, "turnover_model_group_metric", &labels),
        Some(first.count as f64)
    );
    let mut rate = labels;
    rate[4] = ("metric", "selection_rate");
    let got_rate = gauge(&text, "turnover_model_group_metric", &rate).expect("a selection rate");
    assert!((got_rate - first.selection_rate.expect("rate")).abs() < 1e-12);

    // The employees the committed bundle never saw in training, apart: the view's hashes
    // agree with the manifest's, read here in Rust.
    let bundle = Bundle::load(&model_path()).expect("bundle");
    let unseen: Vec<(i64, i64)> = client
        .query(
            "SELECT count, leavers FROM model_performance_unseen WHERE role = 'live'",
            &[],
        )
        .await
        .expect("unseen")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    match &bundle.manifest.training_employees {
        Some(seen) => {
            let never: Vec<i64> = (1..=80).filter(|e| !seen.contains(*e)).collect();
            let leavers = never.iter().filter(|e| *e % 3 == 0).count() as i64;
            let want = if never.is_empty() {
                vec![]
            } else {
                vec![(never.len() as i64, leavers)]
            };
            assert_eq!(unseen, want);
        }
        None => assert!(unseen.is_empty(), "no hashes, no unseen figures"),
    }
    app.finish().await;
}
