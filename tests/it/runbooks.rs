//! The runbooks of docs/operations.md, run as written: every fenced block marked
//! `runbook=<id>` (```` ```sh runbook=dead-replay ````) is extracted and run against this
//! machine's services, with a database and queue names of its own: `sh` blocks by
//! `bash -euo pipefail` with the `turnover` binary on `PATH` and the test's `TURNOVER_*`
//! settings, `sql` blocks in the test's database. Each block has its scene (the rows or dead
//! letters it is meant for) and its check (what an operator would look at afterwards); a block
//! with no scene here, or a scene whose block is gone, fails the test.
//!
//! The one rewrite: the sidecar's documented address `127.0.0.1:8080` becomes the test's.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use lapin::options::BasicPublishOptions;
use lapin::BasicProperties;
use serde_json::json;
use time::OffsetDateTime;
use tokio_postgres::SimpleQueryMessage;
use turnover::queue;
use turnover::record::sample;
use turnover::storage::RejectedRow;

use crate::app::{body, TestApp};
use crate::cli::{configure, printed};
use crate::helpers::{insert_batch, wait_until};

const KEY: &str = "runbook-key";

struct Block {
    lang: String,
    id: String,
    code: String,
}

/// The `runbook=` blocks of docs/operations.md, indented ones (in list items) included.
fn blocks() -> Vec<Block> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md"))
        .expect("docs/operations.md");
    let mut blocks = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let fence = line.trim_start();
        let Some(info) = fence.strip_prefix("```") else {
            continue;
        };
        let indent = line.len() - fence.len();
        let mut words = info.split_whitespace();
        let lang = words.next().unwrap_or_default().to_owned();
        let id = words.find_map(|w| w.strip_prefix("runbook="));
        let mut code = String::new();
        for inner in lines.by_ref() {
            if inner.trim() == "```" {
                break;
            }
            code.push_str(inner.get(indent..).unwrap_or(inner.trim_start()));
            code.push('\n');
        }
        if let Some(id) = id {
            blocks.push(Block {
                lang,
                id: id.to_owned(),
                code,
            });
        }
    }
    blocks
}

/// Runs a `sh` block in `dir`; panics with its output unless it exits 0.
async fn sh(app: &TestApp, dir: &Path, block: &Block) -> Output {
    assert_eq!(block.lang, "sh", "{}", block.id);
    let code = block
        .code
        .replace("127.0.0.1:8080", &app.addr.expect("sidecar").to_string());
    let bin = Path::new(env!("CARGO_BIN_EXE_turnover")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = tokio::process::Command::new("bash");
    command
        .args(["-euo", "pipefail", "-c", &code])
        .current_dir(dir)
        .env("PATH", path)
        .env("API_KEY", KEY);
    configure(&mut command, &app.settings);
    let output = command.output().await.expect("bash runs");
    assert!(
        output.status.success(),
        "block {}: {:?}",
        block.id,
        printed(&output)
    );
    output
}

/// Runs a `sql` block in the test's database; returns its rows, statement after statement.
async fn sql(app: &TestApp, block: &Block) -> Vec<Vec<Option<String>>> {
    assert_eq!(block.lang, "sql", "{}", block.id);
    let client = app.db.client().await;
    let messages = client
        .simple_query(&block.code)
        .await
        .unwrap_or_else(|e| panic!("block {}: {e}", block.id));
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

async fn rejected_rows(app: &TestApp) -> Vec<(String, String)> {
    let client = app.db.client().await;
    let rows = client
        .query(
            "SELECT request_id, reason FROM rejected_messages ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

async fn has_prediction(app: &TestApp, request_id: &str) -> bool {
    let client = app.db.client().await;
    client
        .query_opt(
            "SELECT 1 FROM predictions WHERE request_id = $1",
            &[&request_id],
        )
        .await
        .unwrap()
        .is_some()
}

fn envelope(id: &str, age: i64) -> serde_json::Value {
    let mut record = sample::example();
    record.insert("age".into(), json!(age));
    json!({"request_id": id, "employee": record})
}

#[tokio::test]
async fn every_runbook_block_runs_against_the_real_services() {
    let app = TestApp::spawn_with(
        |s| s.auth.api_keys = vec![KEY.to_owned()],
        turnover::startup::Roles::ALL,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let all = blocks();
    let block = |id: &str| {
        all.iter()
            .find(|b| b.id == id)
            .unwrap_or_else(|| panic!("docs/operations.md has no runbook={id} block"))
    };
    let mut ran = BTreeSet::new();

    // Scene: a scored request, then the same request_id with another record (a conflict), and
    // a rejection whose cause has since been fixed (its bytes are now a valid request).
    app.publish([body(&envelope("r-dup", 35))]).await;
    app.wait_for_predictions(1).await;
    app.publish([body(&envelope("r-dup", 36))]).await;
    wait_until("the conflict row", Duration::from_secs(10), || async {
        (app.rejected().await == 1).then_some(())
    })
    .await;
    let payload = serde_json::to_vec(&envelope("r-fixed", 41)).unwrap();
    let fixed = RejectedRow {
        request_id: Some("r-fixed".to_owned()),
        reason: "validation".to_owned(),
        errors: json!([]),
        payload_sha256: turnover::digest::sha256_hex(&payload),
        payload,
        received_at: OffsetDateTime::now_utc(),
        trace_id: None,
    };
    insert_batch(&mut app.db.client().await, &[], &[fixed])
        .await
        .unwrap();

    // The read-only queries of the alerts: they run on this schema and find the scene's rows.
    let reasons = sql(&app, block("rejection-reasons")).await;
    let mut reasons: Vec<_> = reasons.into_iter().map(|r| r[0].clone().unwrap()).collect();
    reasons.sort();
    assert_eq!(reasons, ["request_id_conflict", "validation"]);
    assert_eq!(sql(&app, block("recent-inputs")).await.len(), 1);
    assert_eq!(sql(&app, block("traffic-by-source")).await.len(), 1);
    sql(&app, block("performance-and-outcomes")).await;
    ran.extend([
        "rejection-reasons",
        "recent-inputs",
        "traffic-by-source",
        "performance-and-outcomes",
    ]);

    // Re-scoring: the fixed rejection is scored under its own id; the clean-up then removes
    // its old row and keeps the conflict, the only copy of the refused record.
    sh(&app, dir.path(), block("rescore-export")).await;
    wait_until("r-fixed scored", Duration::from_secs(20), || async {
        has_prediction(&app, "r-fixed").await.then_some(())
    })
    .await;
    sql(&app, block("rescore-cleanup")).await;
    assert_eq!(
        rejected_rows(&app).await,
        [("r-dup".to_owned(), "request_id_conflict".to_owned())]
    );
    ran.extend(["rescore-export", "rescore-cleanup"]);

    // Dead letters: one waiting in the dead-letter queue is listed, replayed and scored.
    let amqp = &app.settings.amqp;
    let connection = queue::connect_with(amqp, "test-runbook").await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .basic_publish(
            amqp.dead_letter_exchange.as_str().into(),
            "".into(),
            BasicPublishOptions::default(),
            &serde_json::to_vec(&envelope("r-dead", 50)).unwrap(),
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let _ = connection.close(200, "".into()).await;
    let dead = amqp.dead_letter_queue.clone();
    wait_until("the dead letter", Duration::from_secs(10), || async {
        (app.queue_state(&dead).await.0 == 1).then_some(())
    })
    .await;
    let output = sh(&app, dir.path(), block("dead-replay")).await;
    assert!(
        printed(&output).0.contains("r-dead\t"),
        "{:?}",
        printed(&output)
    );
    wait_until("r-dead scored", Duration::from_secs(20), || async {
        has_prediction(&app, "r-dead").await.then_some(())
    })
    .await;
    assert_eq!(app.queue_state(&dead).await.0, 0);
    ran.insert("dead-replay");

    // Reload: the sidecar answers with the version it serves.
    let output = sh(&app, dir.path(), block("reload")).await;
    let answer: serde_json::Value = serde_json::from_str(printed(&output).0.trim()).unwrap();
    assert!(answer["model_version"].is_string(), "{answer}");
    ran.insert("reload");

    let documented: BTreeSet<&str> = all.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(
        documented, ran,
        "every runbook block has its scene here, and only those"
    );
    app.finish().await;
}
