//! `turnover enqueue` inside a caller's trace: `TRACEPARENT` in its environment goes on every
//! message, so every job's row names that trace; a malformed one stops the run unsent.

use std::io::Write as _;

use serde_json::Value;
use turnover::record::sample;

use super::{CALLER_SPAN, CALLER_TRACE};
use crate::app::TestApp;
use crate::spawn;

fn jsonl(lines: usize) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for age in 30..30 + lines {
        let mut record = sample::example();
        record.insert("age".into(), Value::from(age));
        writeln!(file, "{}", Value::Object(record)).unwrap();
    }
    file
}

/// `turnover enqueue --jsonl FILE` with the test's broker names and database.
fn enqueue(app: &TestApp, file: &tempfile::NamedTempFile) -> std::process::Command {
    let mut command = spawn::command(&app.settings, &["enqueue", "--jsonl"]);
    command.arg(file.path());
    command
}

#[tokio::test]
async fn an_enqueue_run_continues_the_trace_of_its_environment_into_every_row() {
    let app = TestApp::spawn().await;
    let file = jsonl(3);
    let out = enqueue(&app, &file)
        .env("TRACEPARENT", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .env("TRACESTATE", "scheduler=nightly")
        .output()
        .expect("run turnover enqueue");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(printed.contains("3 published: 3 confirmed"), "{printed}");
    app.wait_for_predictions(3).await;
    let traces: Vec<Option<String>> = app
        .db
        .client()
        .await
        .query("SELECT trace_id FROM predictions", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(traces, vec![Some(CALLER_TRACE.to_owned()); 3]);
    app.finish().await;
}

#[tokio::test]
async fn a_malformed_traceparent_stops_enqueue_before_anything_is_sent() {
    let app = TestApp::spawn().await;
    let file = jsonl(2);
    let out = enqueue(&app, &file)
        .env(
            "TRACEPARENT",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        )
        .env("TURNOVER_LOG__LEVEL", "info")
        .output()
        .expect("run turnover enqueue");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    // Refused before the broker: a run that connected logs it at info.
    assert!(!stderr.contains("connected to RabbitMQ"), "{stderr}");
    assert!(
        stderr.contains("TRACEPARENT: not a W3C traceparent"),
        "{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("published"),
        "nothing was published"
    );
    app.finish().await;
}
