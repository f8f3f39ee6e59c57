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
use turnover::record::sample;
use turnover::startup::Roles;
use turnover::storage::{self, Performance, PredictionRow, Source};
use turnover::wire::Envelope;

use crate::app::{model_path, TestApp};
use crate::helpers::{self, wait_until, TestDb};

mod files;
mod gauges;
mod post;
mod view;

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
        input: json!({}).into(),
        record_sha256: format!("sha-{request_id}"),
        explanation: None,
        enqueued_at: None,
        scored_at,
        trace_id: None,
        groups: None,
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
