//! The model over time (issue 13): bundles swapped on reload while jobs flow, a broken bundle
//! refused, the shadow bundle's rows, the registry, and a real SIGHUP to `turnover serve`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::BasicProperties;
use serde_json::Value;
use time::OffsetDateTime;
use turnover::app::AppContext;
use turnover::config::Settings;
use turnover::model::{Bundle, Model, Score};
use turnover::queue::{self, topology};
use turnover::record::{sample, validate};
use turnover::startup::Roles;
use turnover::wire::Envelope;

use crate::app::{model_path, test_settings, TestApp};
use crate::helpers::{wait_until, TestDb};
use crate::spawn;

mod flow;
mod registry;
mod reload;
mod shadow;

/// The second committed bundle: same features, another seed and search.
pub(crate) fn candidate_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/candidate")
}

/// Jobs of the swap test; `TURNOVER_TEST_SWAP_JOBS` changes it (docs/model.md).
fn swap_jobs() -> usize {
    std::env::var("TURNOVER_TEST_SWAP_JOBS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000)
}

/// Copies a bundle's two files into `dir`, the way an operator replaces a mounted bundle.
pub(crate) fn install(bundle: &Path, dir: &Path) {
    for file in ["manifest.json", "model.json"] {
        let tmp = dir.join(format!(".{file}.tmp"));
        std::fs::copy(bundle.join(file), &tmp).expect("copy the bundle");
        std::fs::rename(&tmp, dir.join(file)).expect("rename into place");
    }
}

/// A bundle folder holding a copy of `bundle`.
pub(crate) fn bundle_dir(bundle: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    install(bundle, dir.path());
    dir
}

pub(crate) fn version_of(bundle: &Path) -> String {
    Bundle::load(bundle).expect("bundle").manifest.version
}

/// Starts worker and sidecar, keeping the shared context to call `reload` in-process.
pub(crate) async fn start(db: TestDb, settings: Settings) -> (TestApp, Arc<AppContext>) {
    let mut app = TestApp::idle(db, settings);
    let ctx = app.run_keeping_context(Roles::ALL).await;
    (app, ctx)
}

/// Offline scores of `records` by the bundle in `dir`, the way `turnover score` computes them.
fn offline(dir: &Path, records: &[serde_json::Map<String, Value>]) -> Vec<Score> {
    let model = Model::new(&Bundle::load(dir).expect("bundle"), None).expect("model");
    let typed: Vec<_> = records
        .iter()
        .map(|r| validate(r).expect("valid"))
        .collect();
    model
        .score(&typed.iter().collect::<Vec<_>>())
        .expect("scored")
}

fn request_id(i: usize) -> String {
    format!("j-{i:05}")
}

/// A reply queue of the test's own (exclusive, auto-deleted) and a no-ack consumer on it; the
/// connection must live as long as the queue is used.
async fn reply_queue(
    settings: &Settings,
    name: &str,
) -> (lapin::Connection, lapin::Queue, lapin::Consumer) {
    let connection = queue::connect_with(&settings.amqp, name)
        .await
        .expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    let replies = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("reply queue");
    let consumer = channel
        .basic_consume(
            replies.name().clone(),
            "".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("consume replies");
    (connection, replies, consumer)
}

/// Publishes one envelope per record with confirms; every `reply_every`-th asks for a reply
/// on `reply_to`.
async fn publish(
    settings: &Settings,
    records: &[serde_json::Map<String, Value>],
    reply_to: &str,
    reply_every: usize,
) {
    let amqp = &settings.amqp;
    let connection = queue::connect_with(amqp, "test-swap-producer")
        .await
        .expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    topology::declare(&connection, amqp)
        .await
        .expect("topology");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let mut confirms = Vec::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let body = Envelope {
            request_id: Some(request_id(i)),
            employee_id: Some(i as i64),
            ..Envelope::new(record.clone())
        }
        .to_bytes();
        let mut properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(2);
        if i % reply_every == 0 {
            properties = properties
                .with_reply_to(reply_to.into())
                .with_correlation_id(request_id(i).into());
        }
        let confirm = channel
            .basic_publish(
                amqp.exchange.as_str().into(),
                amqp.routing_key.as_str().into(),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await
            .expect("publish");
        confirms.push(confirm);
    }
    for confirm in confirms {
        assert!(confirm.await.expect("confirm").is_ack(), "a publish nacked");
    }
    let _ = connection.close(200, "".into()).await;
}

/// `(request_id, model_version, probability, prediction, risk_level, scored_at)` of every row.
type Row = (String, String, f64, i16, String, OffsetDateTime);

async fn rows(app: &TestApp, table: &str) -> Vec<Row> {
    let sql = format!(
        "SELECT request_id, model_version, probability, prediction, risk_level, scored_at \
         FROM {table} ORDER BY request_id"
    );
    app.db
        .client()
        .await
        .query(&sql, &[])
        .await
        .expect("query")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect()
}

/// `(first_served_at, last_served_at, sha256, manifest version)` of a registry row.
async fn registry(
    app: &TestApp,
    version: &str,
) -> Option<(OffsetDateTime, OffsetDateTime, String, String)> {
    app.db
        .client()
        .await
        .query_opt(
            "SELECT first_served_at, last_served_at, sha256, manifest->>'version' \
             FROM model_versions WHERE version = $1",
            &[&version],
        )
        .await
        .expect("query")
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// A reply's probability is its row's: equal but for the last bit that JSON parsing may round.
fn assert_close(reply: &Value, stored: f64, what: &str) {
    let sent = reply.as_f64().unwrap_or(f64::NAN);
    assert!(
        (sent - stored).abs() <= 1e-12,
        "{what}: the reply says {sent}, the row {stored}"
    );
}

fn assert_same_score(what: &str, row: &Row, score: &Score) {
    assert!(
        (row.2 - score.probability).abs() < 1e-6,
        "{what} {}: stored {} but offline {}",
        row.0,
        row.2,
        score.probability
    );
    assert_eq!(row.3, i16::from(score.prediction), "{what} {}", row.0);
    assert_eq!(row.4, score.risk_level.as_str(), "{what} {}", row.0);
}
