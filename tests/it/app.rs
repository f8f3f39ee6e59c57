//! Spawning the whole service against the machine's real RabbitMQ and Postgres, on port 0,
//! with its own database and its own exchange and queue names, so tests run in parallel.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::num::NonZero;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{
    BasicConsumeOptions, ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{FieldTable, ShortString};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use turnover::app::AppContext;
use turnover::config::{Amqp, LogFormat, Settings};
use turnover::queue::publisher::{Outgoing, PublishReport, Publisher};
use turnover::queue::{self, topology};
use turnover::startup;
use turnover::startup::Roles;

use crate::helpers::{wait_until, TestDb};

/// The bundle committed with the code.
pub fn model_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/turnover")
}

/// Settings for one test: its own database and broker names, HTTP on an ephemeral port.
pub fn test_settings(db: &TestDb) -> Settings {
    let mut s = Settings::default();
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
    s.amqp.url = std::env::var("TURNOVER_TEST_AMQP_URL").unwrap_or_else(|_| s.amqp.url.clone());
    s.amqp.exchange = format!("test.{tag}");
    s.amqp.queue = format!("test.{tag}.requests");
    s.amqp.dead_letter_exchange = format!("test.{tag}.dlx");
    s.amqp.dead_letter_queue = format!("test.{tag}.dead");
    s.amqp.rpc_queue = format!("test.{tag}.rpc");
    s.postgres.url = db.url.clone();
    s.postgres.pool_size = NonZero::new(4).unwrap();
    s.http.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    s.model.path = model_path();
    s.log.format = LogFormat::Pretty;
    s.worker.shutdown_timeout_ms = 5_000;
    s
}

/// A running service.
pub struct TestApp {
    pub db: TestDb,
    pub settings: Settings,
    pub addr: Option<SocketAddr>,
    pub shutdown: CancellationToken,
    pub task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// Worker and sidecar with the default test settings.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}, Roles::ALL).await
    }

    /// As [`TestApp::spawn`], after `adjust` has changed the settings.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings), roles: Roles) -> Self {
        let db = TestDb::new().await;
        let mut settings = test_settings(&db);
        adjust(&mut settings);
        Self::start(db, settings, roles).await
    }

    /// Starts a service on an existing database and settings (e.g. a second worker).
    pub async fn start(db: TestDb, settings: Settings, roles: Roles) -> Self {
        let mut this = Self::idle(db, settings);
        this.run(roles).await;
        this
    }

    /// The test's database and names, with no service running yet (publish first, then
    /// [`TestApp::run`]).
    pub fn idle(db: TestDb, settings: Settings) -> Self {
        TestApp {
            db,
            settings,
            addr: None,
            shutdown: CancellationToken::new(),
            task: None,
        }
    }

    /// Builds and starts the service for these settings.
    pub async fn run(&mut self, roles: Roles) {
        self.run_keeping_context(roles).await;
    }

    /// As [`TestApp::run`], and returns the shared context (to call `reload` in-process).
    pub async fn run_keeping_context(&mut self, roles: Roles) -> Arc<AppContext> {
        turnover::telemetry::init(LogFormat::Pretty, "warn");
        let app = startup::build(self.settings.clone(), roles)
            .await
            .expect("the app builds");
        let ctx = Arc::clone(&app.ctx);
        self.addr = app.http_addr();
        self.task = Some(tokio::spawn(app.run_until_stopped(self.shutdown.clone())));
        if roles.worker {
            self.wait_for_consumer().await;
        }
        ctx
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr.expect("the sidecar runs"))
    }

    /// Waits until the request queue has a consumer (the worker is ready).
    pub async fn wait_for_consumer(&self) {
        let connection = queue::connect_with(&self.settings.amqp, "test-probe")
            .await
            .expect("broker");
        wait_until(
            "a consumer on the request queue",
            Duration::from_secs(10),
            || {
                let queue = self.settings.amqp.queue.clone();
                let connection = &connection;
                // A fresh channel per look: a passive declare of a missing queue closes its channel.
                async move {
                    let channel = connection.create_channel().await.ok()?;
                    topology::depth(&channel, &queue)
                        .await
                        .ok()
                        .filter(|(_, consumers)| *consumers > 0)
                }
            },
        )
        .await;
        let _ = connection.close(200, "".into()).await;
    }

    /// Publishes bodies with confirms, as a producer would.
    pub async fn publish(&self, bodies: impl IntoIterator<Item = Outgoing>) -> PublishReport {
        let amqp = &self.settings.amqp;
        let connection = queue::connect_with(amqp, "test-producer")
            .await
            .expect("broker");
        topology::declare(&connection, amqp)
            .await
            .expect("topology");
        let publisher = Publisher::new(&connection, &amqp.exchange, &amqp.routing_key)
            .await
            .expect("publisher");
        let report = publisher
            .publish_all(bodies, 500, None, |_| {})
            .await
            .expect("published");
        let _ = connection.close(200, "".into()).await;
        report
    }

    /// Rows in `predictions`.
    pub async fn predictions(&self) -> u64 {
        crate::helpers::count_predictions(&self.db.client().await)
            .await
            .expect("count")
    }

    /// Rows in `rejected_messages`.
    pub async fn rejected(&self) -> u64 {
        crate::helpers::count_rejected(&self.db.client().await)
            .await
            .expect("count")
    }

    /// Waits until `predictions` holds `n` rows (at most 20 s).
    pub async fn wait_for_predictions(&self, n: u64) {
        wait_until(
            &format!("{n} prediction rows"),
            Duration::from_secs(20),
            || async move { (self.predictions().await >= n).then_some(()) },
        )
        .await;
    }

    /// Messages ready and consumers on a queue.
    pub async fn queue_state(&self, queue: &str) -> (u32, u32) {
        let connection = queue::connect_with(&self.settings.amqp, "test-probe")
            .await
            .expect("broker");
        let channel = connection.create_channel().await.expect("channel");
        let state = topology::depth(&channel, queue)
            .await
            .expect("queue exists");
        let _ = connection.close(200, "".into()).await;
        state
    }

    /// Stops the service (as SIGTERM would) and waits for it to finish.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        match self.task.take() {
            Some(task) => task.await.expect("the app task does not panic"),
            None => Ok(()),
        }
    }

    /// Stops the service and deletes the test's queues and exchanges.
    pub async fn finish(mut self) {
        self.stop().await.expect("clean stop");
        delete_topology(&self.settings).await;
    }
}

/// Deletes a test's queues and exchanges (best effort).
pub async fn delete_topology(settings: &Settings) {
    let amqp = &settings.amqp;
    let Ok(connection) = queue::connect_with(amqp, "test-cleanup").await else {
        return;
    };
    if let Ok(channel) = connection.create_channel().await {
        for q in [&amqp.queue, &amqp.dead_letter_queue, &amqp.rpc_queue] {
            let _ = channel
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        for e in [&amqp.exchange, &amqp.dead_letter_exchange] {
            let _ = channel
                .exchange_delete(e.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
    }
    let _ = connection.close(200, "".into()).await;
}

/// A body from JSON.
pub fn body(value: &Value) -> Outgoing {
    Outgoing {
        body: serde_json::to_vec(value).expect("json"),
        ..Default::default()
    }
}

/// The next reply `consumer` gets, within `within`: its correlation id, its properties and its
/// JSON body.
pub async fn next_reply(
    consumer: &mut lapin::Consumer,
    within: Duration,
) -> (String, lapin::BasicProperties, Value) {
    use futures_util::StreamExt;
    let delivery = tokio::time::timeout(within, consumer.next())
        .await
        .expect("a reply in time")
        .expect("a delivery")
        .expect("no error");
    let id = delivery
        .properties
        .correlation_id()
        .as_ref()
        .expect("a correlation id")
        .to_string();
    let body = serde_json::from_slice(&delivery.data).expect("a JSON reply");
    (id, delivery.properties, body)
}

/// What a producer that wants replies holds: a connection to the test's broker (topology
/// declared), a channel, an exclusive reply queue and a consumer of it that needs no acks.
pub struct ReplyClient {
    pub connection: lapin::Connection,
    pub channel: lapin::Channel,
    pub queue: ShortString,
    pub consumer: lapin::Consumer,
}

impl ReplyClient {
    /// The next reply, within `within`: its correlation id, its properties and its JSON body.
    pub async fn next_reply(
        &mut self,
        within: Duration,
    ) -> (String, lapin::BasicProperties, Value) {
        next_reply(&mut self.consumer, within).await
    }

    /// Publishes `bytes` as a request to `amqp`'s exchange and routing key, with `properties`
    /// and this client's reply queue as `reply_to`, and waits for the broker's confirm.
    pub async fn request(&self, amqp: &Amqp, bytes: &[u8], properties: lapin::BasicProperties) {
        self.channel
            .basic_publish(
                amqp.exchange.as_str().into(),
                amqp.routing_key.as_str().into(),
                lapin::options::BasicPublishOptions::default(),
                bytes,
                properties.with_reply_to(self.queue.clone()),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

impl TestApp {
    /// A [`ReplyClient`] on this app's broker, its connection named `name`.
    pub async fn reply_client(&self, name: &str) -> ReplyClient {
        let amqp = &self.settings.amqp;
        let connection = queue::connect(&amqp.url, name).await.unwrap();
        let channel = connection.create_channel().await.unwrap();
        topology::declare(&connection, amqp).await.unwrap();
        let exclusive = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        };
        let queue = channel
            .queue_declare("".into(), exclusive, FieldTable::default())
            .await
            .unwrap()
            .name()
            .clone();
        let no_ack = BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        };
        let consumer = channel
            .basic_consume(queue.clone(), "".into(), no_ack, FieldTable::default())
            .await
            .unwrap();
        ReplyClient {
            connection,
            channel,
            queue,
            consumer,
        }
    }
}
