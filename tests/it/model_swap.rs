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
use turnover::config::{LogFormat, Settings};
use turnover::model::{Bundle, Model, Score};
use turnover::queue::{self, topology};
use turnover::record::{sample, validate};
use turnover::startup::{self, Roles};
use turnover::wire::Envelope;

use crate::app::{model_path, test_settings, TestApp};
use crate::helpers::{wait_until, TestDb};

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
    turnover::telemetry::init(LogFormat::Pretty, "warn");
    let mut app = TestApp::idle(db, settings);
    let built = startup::build(app.settings.clone(), Roles::ALL)
        .await
        .expect("the app builds");
    let ctx = Arc::clone(&built.ctx);
    app.addr = built.http_addr();
    app.task = Some(tokio::spawn(built.run_until_stopped(app.shutdown.clone())));
    app.wait_for_consumer().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_flowing_through_two_swaps_and_a_refused_bundle_are_each_scored_once_by_a_named_version(
) {
    let n = swap_jobs();
    let (a, b) = (model_path(), candidate_path());
    let (version_a, version_b) = (version_of(&a), version_of(&b));
    assert_ne!(version_a, version_b, "the two committed bundles differ");
    let served = bundle_dir(&a);
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.model.path = served.path().to_owned();
    let (app, ctx) = start(db, settings).await;
    let started = Instant::now();

    // Replies to every 10th job come to a queue of the test's own.
    let (connection, replies, mut consumer) = reply_queue(&app.settings, "test-swap-replies").await;
    let reply_every = 10;
    let expected_replies = n.div_ceil(reply_every);
    let collect = tokio::spawn(async move {
        let mut answers: HashMap<String, Value> = HashMap::new();
        while answers.len() < expected_replies {
            let Ok(Some(Ok(delivery))) =
                tokio::time::timeout(Duration::from_secs(60), consumer.next()).await
            else {
                break;
            };
            let body: Value = serde_json::from_slice(&delivery.data).expect("json reply");
            let id = delivery
                .properties
                .correlation_id()
                .as_ref()
                .expect("correlation id")
                .to_string();
            answers.insert(id, body);
        }
        answers
    });

    let records = sample::many(1313, n);
    let producer = {
        let (settings, records, to) = (
            app.settings.clone(),
            records.clone(),
            replies.name().as_str().to_owned(),
        );
        tokio::spawn(async move { publish(&settings, &records, &to, reply_every).await })
    };

    let at = |share: u64| {
        let app = &app;
        async move {
            let target = n as u64 * share / 10;
            wait_until(
                &format!("{target} rows"),
                Duration::from_secs(120),
                || async move { (app.predictions().await >= target).then_some(()) },
            )
            .await;
        }
    };

    // First swap, to the candidate, while jobs flow.
    at(2).await;
    install(&b, served.path());
    let reloaded = ctx.reload().await.expect("the candidate is accepted");
    assert_eq!(reloaded.live.version, version_b);
    assert_eq!(ctx.model_version(), version_b);

    // A broken bundle (a feature list the code does not build) is refused; B serves on.
    at(4).await;
    let mut manifest: Value = serde_json::from_slice(
        &std::fs::read(served.path().join("manifest.json")).expect("read manifest"),
    )
    .expect("json");
    manifest["features"][0] = Value::from("shoe_size");
    std::fs::write(
        served.path().join("manifest.json"),
        serde_json::to_vec(&manifest).expect("json"),
    )
    .expect("write manifest");
    let refused = ctx
        .reload()
        .await
        .expect_err("the broken bundle is refused");
    assert!(refused.to_string().contains("shoe_size"), "{refused}");
    assert!(
        refused
            .to_string()
            .contains(&served.path().display().to_string()),
        "{refused}"
    );
    assert_eq!(ctx.model_version(), version_b);

    // Second swap, back to the committed bundle.
    at(6).await;
    install(&a, served.path());
    ctx.reload()
        .await
        .expect("the committed bundle is accepted");
    assert_eq!(ctx.model_version(), version_a);

    producer.await.expect("producer");
    app.wait_for_predictions(n as u64).await;
    let answers = collect.await.expect("replies");
    let elapsed = started.elapsed();
    eprintln!(
        "{n} jobs through two swaps in {:.1} s",
        elapsed.as_secs_f64()
    );

    // Every job once, scored by one of the two versions, exactly as that version scores offline.
    let stored = rows(&app, "predictions").await;
    assert_eq!(stored.len(), n);
    let ids: Vec<String> = (0..n).map(request_id).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(
        stored.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        sorted
    );
    let (scores_a, scores_b) = (offline(&a, &records), offline(&b, &records));
    let mut by_version: HashMap<&str, usize> = HashMap::new();
    for row in &stored {
        let i: usize = row.0[2..].parse().expect("index");
        let score = if row.1 == version_a {
            &scores_a[i]
        } else if row.1 == version_b {
            &scores_b[i]
        } else {
            panic!("{} names {}, neither bundle", row.0, row.1)
        };
        assert_same_score("prediction", row, score);
        *by_version.entry(row.1.as_str()).or_default() += 1;
    }
    assert!(
        by_version.get(version_a.as_str()) > Some(&0)
            && by_version.get(version_b.as_str()) > Some(&0),
        "both versions scored: {by_version:?}"
    );
    assert_eq!(app.rejected().await, 0);
    assert_eq!(app.queue_state(&app.settings.amqp.queue).await.0, 0);
    assert_eq!(
        app.queue_state(&app.settings.amqp.dead_letter_queue)
            .await
            .0,
        0
    );

    // Each reply is its row: same version, same probability.
    assert_eq!(answers.len(), expected_replies);
    let by_id: HashMap<&str, &Row> = stored.iter().map(|r| (r.0.as_str(), r)).collect();
    for (id, reply) in &answers {
        let row = by_id[id.as_str()];
        assert_eq!(reply["model_version"], row.1.as_str(), "{id}");
        assert_close(&reply["probability_1"], row.2, id);
        assert_eq!(reply["risk_level"], row.4.as_str(), "{id}");
    }

    // The metrics: two reloads accepted, one refused; only the live version is "info".
    let text = ctx.metrics.render();
    assert_eq!(
        metric(&text, "turnover_model_reloads_total{outcome=\"success\"}"),
        Some(2.0)
    );
    assert_eq!(
        metric(&text, "turnover_model_reloads_total{outcome=\"failure\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &text,
            &format!("turnover_model_info{{version=\"{version_a}\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &text,
            &format!("turnover_model_info{{version=\"{version_b}\"}}")
        ),
        None,
        "the swapped-out version is no longer exported"
    );

    // The registry: both versions, with the manifest and the time each served. B was swapped
    // out after its last row, so its last_served_at is no earlier than that row's scoring.
    let (first_a, last_a, sha_a, manifest_a) = registry(&app, &version_a).await.expect("row A");
    let (first_b, last_b, sha_b, manifest_b) = registry(&app, &version_b).await.expect("row B");
    assert_eq!(
        (manifest_a, manifest_b),
        (version_a.clone(), version_b.clone())
    );
    assert_eq!(sha_a, Bundle::load(&a).expect("a").sha256);
    assert_eq!(sha_b, Bundle::load(&b).expect("b").sha256);
    assert!(first_a < first_b && first_b <= last_b && first_a <= last_a);
    let last_b_row = stored
        .iter()
        .filter(|r| r.1 == version_b)
        .map(|r| r.5)
        .max()
        .expect("B rows");
    assert!(last_b >= last_b_row, "{last_b} < {last_b_row}");
    let _ = connection.close(200, "".into()).await;
    app.finish().await;
}

#[tokio::test]
async fn a_shadow_bundle_stores_its_own_scores_beside_every_live_row_and_changes_no_reply() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.model.shadow_path = Some(candidate_path());
    let (app, ctx) = start(db, settings).await;
    let (live, shadow) = (version_of(&model_path()), version_of(&candidate_path()));

    let n = 600;
    let records = sample::many(77, n);
    let (connection, replies, mut consumer) =
        reply_queue(&app.settings, "test-shadow-replies").await;
    publish(&app.settings, &records, replies.name().as_str(), 3).await;
    app.wait_for_predictions(n as u64).await;
    let mut answers = HashMap::new();
    while answers.len() < n.div_ceil(3) {
        let delivery = tokio::time::timeout(Duration::from_secs(20), consumer.next())
            .await
            .expect("replies within 20 s")
            .expect("a delivery")
            .expect("no error");
        let id = delivery
            .properties
            .correlation_id()
            .as_ref()
            .expect("id")
            .to_string();
        answers.insert(
            id,
            serde_json::from_slice::<Value>(&delivery.data).expect("json"),
        );
    }

    let live_rows = rows(&app, "predictions").await;
    // The shadow rows are committed with the live ones: no wait needed.
    let shadow_rows = rows(&app, "shadow_predictions").await;
    assert_eq!(shadow_rows.len(), live_rows.len());
    let (live_scores, shadow_scores) = (
        offline(&model_path(), &records),
        offline(&candidate_path(), &records),
    );
    let mut disagreements = 0;
    for (l, s) in live_rows.iter().zip(&shadow_rows) {
        assert_eq!(l.0, s.0, "one shadow row per live row");
        let i: usize = l.0[2..].parse().expect("index");
        assert_eq!(
            (l.1.as_str(), s.1.as_str()),
            (live.as_str(), shadow.as_str())
        );
        assert_same_score("live", l, &live_scores[i]);
        assert_same_score("shadow", s, &shadow_scores[i]);
        disagreements += usize::from(l.3 != s.3);
    }
    assert!(
        shadow_scores
            .iter()
            .zip(&live_scores)
            .any(|(s, l)| (s.probability - l.probability).abs() > 1e-3),
        "the shadow bundle scores differently, or this test proves nothing"
    );
    for (id, reply) in &answers {
        let i: usize = id[2..].parse().expect("index");
        assert_eq!(reply["model_version"], live.as_str(), "{id}");
        assert_close(&reply["probability_1"], live_rows[i].2, id);
    }
    let text = ctx.metrics.render();
    assert_eq!(
        metric(&text, "turnover_shadow_disagreements_total"),
        Some(disagreements as f64)
    );
    assert_eq!(
        metric(&text, "turnover_shadow_probability_count"),
        Some(n as f64)
    );

    // A redelivery (same request_id, same record) makes no second row, live or shadow.
    publish(&app.settings, &records[..1], replies.name().as_str(), 1).await;
    let replay = tokio::time::timeout(Duration::from_secs(20), consumer.next())
        .await
        .expect("reply")
        .expect("delivery")
        .expect("no error");
    let replay: Value = serde_json::from_slice(&replay.data).expect("json");
    assert_close(&replay["probability_1"], live_rows[0].2, "the replay");
    assert_eq!(rows(&app, "shadow_predictions").await.len(), n);

    // Both bundles are in the registry, and a reload reloads the shadow too.
    for version in [&live, &shadow] {
        let (first, last, _, _) = registry(&app, version).await.expect("registered");
        assert!(first <= last);
    }
    let reloaded = ctx.reload().await.expect("reload");
    assert_eq!(
        reloaded.shadow.as_ref().map(|s| s.version.as_str()),
        Some(shadow.as_str())
    );
    let _ = connection.close(200, "".into()).await;
    app.finish().await;
}

/// A port free now, for a child process's sidecar.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[tokio::test]
async fn sighup_makes_a_running_turnover_serve_swap_its_bundle_or_refuse_a_broken_one() {
    let db = TestDb::new().await;
    let settings = test_settings(&db);
    let served = bundle_dir(&model_path());
    let logs = tempfile::NamedTempFile::new().expect("log file");
    let port = free_port();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_turnover"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("TURNOVER_")) {
        command.env_remove(name);
    }
    let amqp = &settings.amqp;
    let mut child = command
        .arg("serve")
        .env_remove("TURNOVER_CONFIG")
        .env("TURNOVER_AMQP__URL", &amqp.url)
        .env("TURNOVER_AMQP__EXCHANGE", &amqp.exchange)
        .env("TURNOVER_AMQP__QUEUE", &amqp.queue)
        .env("TURNOVER_AMQP__RPC_QUEUE", &amqp.rpc_queue)
        .env(
            "TURNOVER_AMQP__DEAD_LETTER_EXCHANGE",
            &amqp.dead_letter_exchange,
        )
        .env("TURNOVER_AMQP__DEAD_LETTER_QUEUE", &amqp.dead_letter_queue)
        .env("TURNOVER_POSTGRES__URL", &db.url)
        .env("TURNOVER_HTTP__ADDR", format!("127.0.0.1:{port}"))
        .env("TURNOVER_MODEL__PATH", served.path())
        .env("TURNOVER_LOG__FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .stderr(logs.reopen().expect("log file"))
        .spawn()
        .expect("spawn turnover serve");
    let pid = child.id().to_string();
    let http = reqwest::Client::new();
    let get = |path: &'static str| {
        let http = http.clone();
        async move {
            http.get(format!("http://127.0.0.1:{port}{path}"))
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()
        }
    };
    let health_version = || async {
        let body: Value = serde_json::from_str(&get("/health").await?).ok()?;
        body["model_version"].as_str().map(str::to_owned)
    };
    let (version_a, version_b) = (version_of(&model_path()), version_of(&candidate_path()));
    let first = wait_until("turnover serve to answer", Duration::from_secs(60), || {
        health_version()
    })
    .await;
    assert_eq!(first, version_a);
    let hangup = || {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
    };

    install(&candidate_path(), served.path());
    hangup();
    wait_until(
        "the candidate to serve",
        Duration::from_secs(30),
        || async { (health_version().await? == version_b).then_some(()) },
    )
    .await;
    let text = get("/metrics").await.expect("metrics");
    assert_eq!(
        metric(&text, "turnover_model_reload_last_success"),
        Some(1.0)
    );

    std::fs::write(served.path().join("model.json"), b"{\"learner\": {").expect("corrupt");
    hangup();
    let metrics = wait_until(
        "the refusal to be counted",
        Duration::from_secs(30),
        || async {
            let text = get("/metrics").await?;
            (metric(&text, "turnover_model_reloads_total{outcome=\"failure\"}") == Some(1.0))
                .then_some(text)
        },
    )
    .await;
    assert_eq!(
        metric(
            &metrics,
            "turnover_model_reloads_total{outcome=\"success\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&metrics, "turnover_model_reload_last_success"),
        Some(0.0),
        "the last reload was refused"
    );
    assert_eq!(health_version().await.as_deref(), Some(version_b.as_str()));
    assert!(child.try_wait().expect("wait").is_none(), "still running");

    let log = std::fs::read_to_string(logs.path()).expect("logs");
    let refusal = log
        .lines()
        .find(|l| l.contains("model bundle refused"))
        .unwrap_or_else(|| panic!("no refusal line in\n{log}"));
    assert!(refusal.contains("ERROR"), "{refusal}");
    assert!(
        refusal.contains(&served.path().join("model.json").display().to_string())
            || refusal.contains(&served.path().display().to_string()),
        "{refusal}"
    );

    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(exit.success(), "{exit:?}\n{log}");
    crate::app::delete_topology(&settings).await;
}

#[tokio::test]
async fn the_registry_sets_first_served_once_and_only_moves_last_served_forward() {
    use turnover::storage::{self, RegisteredModel};
    let db = TestDb::new().await;
    let client = db.client().await;
    let manifest = serde_json::json!({"version": "v1", "threshold": 0.3});
    let metrics = serde_json::json!({"holdout": {"f1": 0.5}});
    let model = RegisteredModel {
        version: "v1",
        sha256: "aa",
        manifest: &manifest,
        metrics: &metrics,
    };
    let read = || async {
        let row = client
            .query_one(
                "SELECT first_served_at, last_served_at, loaded_at, manifest, sha256 \
                 FROM model_versions WHERE version = 'v1'",
                &[],
            )
            .await
            .expect("row");
        let times: (OffsetDateTime, OffsetDateTime, OffsetDateTime) =
            (row.get(0), row.get(1), row.get(2));
        (times, row.get::<_, Value>(3), row.get::<_, String>(4))
    };
    storage::register_model(&client, model)
        .await
        .expect("register");
    let ((first, last, loaded), stored, sha) = read().await;
    assert_eq!((stored, sha.as_str()), (manifest.clone(), "aa"));
    assert!(first <= last);

    // A heartbeat moves last_served_at only.
    tokio::time::sleep(Duration::from_millis(20)).await;
    storage::touch_models(&client, &[model])
        .await
        .expect("touch");
    let ((first2, last2, loaded2), _, _) = read().await;
    assert_eq!((first2, loaded2), (first, loaded));
    assert!(last2 > last);

    // A reload of the same files moves last_served_at only; other files under the same
    // version are refused and the row keeps what it said.
    tokio::time::sleep(Duration::from_millis(20)).await;
    storage::register_model(&client, model)
        .await
        .expect("register again");
    let ((first3, last3, loaded3), _, _) = read().await;
    assert_eq!((first3, loaded3), (first, loaded));
    assert!(last3 > last2);
    let reloaded = RegisteredModel {
        sha256: "bb",
        ..model
    };
    storage::register_model(&client, reloaded)
        .await
        .expect_err("other files under v1 are refused");
    let ((_, last4, _), stored4, sha4) = read().await;
    assert_eq!(
        (stored4, sha4.as_str(), last4),
        (manifest.clone(), "aa", last3)
    );

    // A heartbeat for a version whose load was never recorded records it in full.
    let other = RegisteredModel {
        version: "v2",
        ..model
    };
    storage::touch_models(&client, &[other])
        .await
        .expect("touch v2");
    let row = client
        .query_one(
            "SELECT first_served_at IS NOT NULL, manifest FROM model_versions WHERE version = 'v2'",
            &[],
        )
        .await
        .expect("v2");
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, Value>(1), manifest);
}

#[tokio::test]
async fn with_a_watch_interval_a_changed_bundle_folder_is_reloaded_without_a_signal() {
    let served = bundle_dir(&model_path());
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.model.path = served.path().to_owned();
    settings.model.watch_interval_ms = Some(50);
    let (app, ctx) = start(db, settings).await;
    let (version_a, version_b) = (version_of(&model_path()), version_of(&candidate_path()));
    assert_eq!(ctx.model_version(), version_a);

    install(&candidate_path(), served.path());
    wait_until(
        "the candidate to serve",
        Duration::from_secs(10),
        || async { (ctx.model_version() == version_b).then_some(()) },
    )
    .await;

    // A broken change is refused once, and not retried while the files stay the same.
    std::fs::write(served.path().join("model.json"), b"{}").expect("break");
    let failures = || {
        metric(
            &ctx.metrics.render(),
            "turnover_model_reloads_total{outcome=\"failure\"}",
        )
    };
    wait_until("the refusal", Duration::from_secs(10), || async {
        (failures() == Some(1.0)).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(failures(), Some(1.0));
    assert_eq!(ctx.model_version(), version_b);
    let text = ctx.metrics.render();
    assert_eq!(
        metric(&text, "turnover_model_reloads_total{outcome=\"success\"}"),
        Some(1.0)
    );
    app.finish().await;
}
