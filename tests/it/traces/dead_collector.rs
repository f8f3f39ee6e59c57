//! A collector that is down: the service stops recording spans (so it stops paying for them),
//! keeps storing and replying trace ids, and records again once the collector is back.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

use super::collector::{wait_for_spans, Collector, Served};
use super::{predict_request, stored_trace, trace_of};
use crate::app::TestApp;
use crate::helpers::wait_until;
use crate::http::wait_ready;
use crate::outcomes::{gauge, metrics_text};

/// A trace sent while the collector is down, and one sent after it is back.
const WHILE_DOWN: &str = "0af7651916cd43dd8448eb211c80319c";
const AFTER: &str = "5b8efff798038103d269b633813fc60c";

/// The export runs every second: two of its rounds, for spans that would be queued to fail.
const TWO_EXPORT_ROUNDS: Duration = Duration::from_millis(2500);

fn collector_up(metrics: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("turnover_trace_collector_up ")?.parse().ok())
}

fn export_failed(metrics: &str) -> f64 {
    gauge(
        metrics,
        "turnover_trace_spans_dropped_total",
        &[("reason", "export_failed")],
    )
    .expect("the export_failed series")
}

async fn wait_for_collector_up(app: &TestApp, up: f64, within: Duration) {
    wait_until(
        &format!("turnover_trace_collector_up {up}"),
        within,
        || async move { (collector_up(&metrics_text(app).await) == Some(up)).then_some(()) },
    )
    .await;
}

async fn predict(app: &TestApp, trace: &str) -> String {
    let response = predict_request(app, Some(trace)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let replied = response.headers()["traceparent"].to_str().unwrap();
    assert_eq!(
        trace_of(replied),
        trace,
        "the reply continues the caller's trace"
    );
    let body: Value = response.json().await.unwrap();
    body["request_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_dead_collector_stops_span_recording_until_it_is_back_and_rows_keep_their_traces() {
    // A port nobody listens on yet: the collector comes up there later.
    let endpoint: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let served = Served::start_to(endpoint, "1.0").await;
    let app = &served.app;
    wait_ready(app, true).await;

    // The first export fails (refused at connect): the gate closes.
    predict(app, WHILE_DOWN).await;
    wait_for_collector_up(app, 0.0, Duration::from_secs(30)).await;
    // Spans recorded before it closed fail in the next round or two; after that, none queue.
    tokio::time::sleep(TWO_EXPORT_ROUNDS).await;
    let failed_before = export_failed(&metrics_text(app).await);

    let mut rows = Vec::new();
    for _ in 0..5 {
        rows.push(predict(app, WHILE_DOWN).await);
    }
    tokio::time::sleep(TWO_EXPORT_ROUNDS).await;
    let metrics = metrics_text(app).await;
    assert_eq!(
        export_failed(&metrics),
        failed_before,
        "five /predict with the collector down built no span to fail: {}",
        served.logs()
    );
    assert_eq!(collector_up(&metrics), Some(0.0));
    for request_id in &rows {
        assert_eq!(
            stored_trace(app, "predictions", request_id)
                .await
                .as_deref(),
            Some(WHILE_DOWN),
            "the row still names the caller's trace"
        );
    }
    assert!(
        served
            .logs()
            .contains("spans are not recorded until the trace collector"),
        "the change is logged: {}",
        served.logs()
    );

    // The collector comes up: the probe (every 5 s) finds it, and spans flow again.
    let collector = Collector::start_on(endpoint).await;
    wait_for_collector_up(app, 1.0, Duration::from_secs(30)).await;
    let request_id = predict(app, AFTER).await;
    wait_for_spans(
        &collector,
        AFTER,
        &["POST /predict", "publish", "job", "reply"],
    )
    .await;
    assert_eq!(
        stored_trace(app, "predictions", &request_id)
            .await
            .as_deref(),
        Some(AFTER)
    );
    served.stop().await;
    assert!(
        collector.spans().iter().all(|s| s.trace_id != WHILE_DOWN),
        "no span of the requests served while it was down reached it"
    );
}
