//! `turnover dead list | replay | purge` against real dead letters: messages the request queue
//! dead-lettered itself (taken and rejected, so RabbitMQ adds `x-death` as for any death).
//! A replayed batch job completes its batch with one row; a replayed job already stored is a
//! replay, not a second row.

use std::time::Duration;

use lapin::options::{BasicGetOptions, BasicRejectOptions};
use reqwest::StatusCode;
use serde_json::Value;
use turnover::config::Settings;
use turnover::queue::{self, publisher::Outgoing};
use turnover::record::sample;
use turnover::startup::Roles;

use crate::app::TestApp;
use crate::cli::{printed, turnover};
use crate::helpers::wait_until;
use crate::http::batch::{extract_files, form};
use crate::http::{client, wait_ready};

/// Takes `n` messages from the request queue and rejects them without requeue: the queue
/// dead-letters them (reason `rejected`) into the dead-letter queue.
async fn dead_letter(app: &TestApp, n: u32) {
    let amqp = &app.settings.amqp;
    let connection = queue::connect_with(amqp, "test-dead-letter").await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    for _ in 0..n {
        let message = wait_until(
            "a message in the request queue",
            Duration::from_secs(10),
            || {
                let (channel, queue) = (&channel, amqp.queue.clone());
                async move {
                    channel
                        .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
                        .await
                        .ok()
                        .flatten()
                }
            },
        )
        .await;
        message
            .delivery
            .acker
            .reject(BasicRejectOptions { requeue: false })
            .await
            .unwrap();
    }
    let dead = amqp.dead_letter_queue.clone();
    wait_until("the dead letters", Duration::from_secs(10), || async {
        (app.queue_state(&dead).await.0 == n).then_some(())
    })
    .await;
    let _ = connection.close(200, "".into()).await;
}

fn bare_record(message_id: &str) -> Outgoing {
    Outgoing {
        body: serde_json::to_vec(&sample::example()).unwrap(),
        message_id: Some(message_id.to_owned()),
        ..Default::default()
    }
}

/// Restarts the test's service with other roles (same database and names).
async fn restart(app: &mut TestApp, roles: Roles) {
    app.stop().await.expect("clean stop");
    app.shutdown = tokio_util::sync::CancellationToken::new();
    app.run(roles).await;
}

async fn request_ids(app: &TestApp) -> Vec<(String, Option<uuid::Uuid>)> {
    let client = app.db.client().await;
    client
        .query(
            "SELECT request_id, batch_id FROM predictions ORDER BY request_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test]
async fn replayed_dead_letters_complete_their_batch_and_make_no_second_row() {
    // A bare record whose id comes from its message_id, scored once.
    let mut app = TestApp::spawn().await;
    app.publish([bare_record("employee-7-march")]).await;
    app.wait_for_predictions(1).await;

    // The same request again, and a one-employee batch, both dead before any worker sees them.
    restart(
        &mut app,
        Roles {
            worker: false,
            http: true,
        },
    )
    .await;
    wait_ready(&app, false).await;
    let http = client();
    let accepted: Value = http
        .post(app.url("/predict/batch"))
        .multipart(form(extract_files(1), None))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let status_path = accepted["status_url"].as_str().unwrap().to_owned();
    app.publish([bare_record("employee-7-march")]).await;
    dead_letter(&app, 2).await;

    let listed = turnover(&app.settings, &["dead", "list"]).await;
    let (stdout, stderr) = printed(&listed);
    assert!(listed.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines
            .iter()
            .all(|l| l.split('\t').nth(1) == Some("rejected")
                && l.split('\t').nth(2) == Some(app.settings.amqp.queue.as_str())),
        "{stdout}"
    );
    assert!(stdout.contains("employee-7-march\t"), "{stdout}");
    assert_eq!(
        app.queue_state(&app.settings.amqp.dead_letter_queue)
            .await
            .0,
        2,
        "list leaves them"
    );
    let one = turnover(&app.settings, &["dead", "list", "--limit", "1"]).await;
    assert_eq!(
        printed(&one).0.lines().count(),
        2,
        "a header and one line: {:?}",
        printed(&one)
    );

    // A dry run and a reason that matches nothing publish nothing and remove nothing.
    for args in [
        &["dead", "replay", "--dry-run"][..],
        &["dead", "replay", "--reason", "delivery_limit"][..],
    ] {
        let run = turnover(&app.settings, args).await;
        assert!(run.status.success(), "{:?}", printed(&run));
        assert_eq!(
            app.queue_state(&app.settings.amqp.dead_letter_queue)
                .await
                .0,
            2,
            "{args:?}"
        );
        assert_eq!(
            app.queue_state(&app.settings.amqp.queue).await.0,
            0,
            "{args:?}"
        );
    }

    restart(&mut app, Roles::ALL).await;
    let replayed = turnover(&app.settings, &["dead", "replay", "--reason", "rejected"]).await;
    let (_, stderr) = printed(&replayed);
    assert!(replayed.status.success(), "{stderr}");
    assert!(stderr.contains("2 dead letter(s) replayed"), "{stderr}");
    assert_eq!(
        app.queue_state(&app.settings.amqp.dead_letter_queue)
            .await
            .0,
        0
    );

    // The sidecar restarted on another port.
    let status_url = app.url(&status_path);
    let done: Value = wait_until("the batch to complete", Duration::from_secs(20), || {
        let (http, url) = (http.clone(), status_url.clone());
        async move {
            let response = http.get(url).send().await.ok()?;
            assert_eq!(response.status(), StatusCode::OK);
            let body: Value = response.json().await.ok()?;
            (body["status"] == "complete").then_some(body)
        }
    })
    .await;
    assert_eq!(
        done["predictions"].as_array().map(Vec::len),
        Some(1),
        "{done}"
    );
    // The replay of the stored request is handled (the request queue drains) without a row.
    wait_until(
        "the request queue to drain",
        Duration::from_secs(10),
        || async { (app.queue_state(&app.settings.amqp.queue).await.0 == 0).then_some(()) },
    )
    .await;
    let rows = request_ids(&app).await;
    let batch: uuid::Uuid = accepted["batch_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows.iter()
            .filter(|(id, _)| id == "employee-7-march")
            .count(),
        1,
        "{rows:?}"
    );
    assert_eq!(
        rows.iter().filter(|(_, b)| *b == Some(batch)).count(),
        1,
        "{rows:?}"
    );
    app.finish().await;
}

#[tokio::test]
async fn purge_asks_for_yes() {
    let mut app = TestApp::spawn_with(
        |_| {},
        Roles {
            worker: false,
            http: true,
        },
    )
    .await;
    app.publish([bare_record("a"), bare_record("b")]).await;
    dead_letter(&app, 2).await;
    let settings: &Settings = &app.settings;
    let refused = turnover(settings, &["dead", "purge"]).await;
    assert_eq!(refused.status.code(), Some(1), "{:?}", printed(&refused));
    assert!(printed(&refused).1.contains("--yes"));
    assert_eq!(app.queue_state(&settings.amqp.dead_letter_queue).await.0, 2);
    let purged = turnover(settings, &["dead", "purge", "--yes"]).await;
    assert!(purged.status.success(), "{:?}", printed(&purged));
    assert!(printed(&purged).1.contains("2 dead letter(s) deleted"));
    assert_eq!(app.queue_state(&settings.amqp.dead_letter_queue).await.0, 0);
    app.stop().await.unwrap();
    crate::app::delete_topology(&app.settings).await;
}
