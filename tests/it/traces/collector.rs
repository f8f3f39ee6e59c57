//! An OTLP/HTTP receiver of the test's own (what Jaeger or an OpenTelemetry Collector does on
//! port 4318: `POST /v1/traces`, protobuf `ExportTraceServiceRequest`), and `turnover serve`
//! run as a process pointed at it, since the span exporter is one per process.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use tokio::process::{Child, Command};

use crate::app::{test_settings, TestApp};
use crate::helpers::{wait_until, TestDb};

/// One span as the collector got it, ids in lower-case hex.
#[derive(Debug, Clone)]
pub struct Received {
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    /// (trace id, span id) of each link.
    pub links: Vec<(String, String)>,
}

/// The receiver: every span of every export it was sent.
pub struct Collector {
    pub addr: SocketAddr,
    spans: Arc<Mutex<Vec<Received>>>,
    exports: Arc<Mutex<u64>>,
}

type Shared = (Arc<Mutex<Vec<Received>>>, Arc<Mutex<u64>>);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn receive(State((spans, exports)): State<Shared>, body: Bytes) -> impl IntoResponse {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, Vec::new()).into_response();
    };
    *exports.lock().unwrap() += 1;
    let mut spans = spans.lock().unwrap();
    for span in request
        .resource_spans
        .into_iter()
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
    {
        spans.push(Received {
            name: span.name,
            trace_id: hex(&span.trace_id),
            span_id: hex(&span.span_id),
            parent_span_id: hex(&span.parent_span_id),
            links: span
                .links
                .iter()
                .map(|l| (hex(&l.trace_id), hex(&l.span_id)))
                .collect(),
        });
    }
    (
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
        .into_response()
}

impl Collector {
    pub async fn start() -> Self {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// A receiver on `addr` (a port a service was already pointed at, for a collector that
    /// comes up late).
    pub async fn start_on(addr: SocketAddr) -> Self {
        let shared: Shared = Default::default();
        let app = Router::new()
            .route("/v1/traces", post(receive))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Collector {
            addr,
            spans: shared.0,
            exports: shared.1,
        }
    }

    /// The spans received so far.
    pub fn spans(&self) -> Vec<Received> {
        self.spans.lock().unwrap().clone()
    }

    /// The export requests received so far.
    pub fn exports(&self) -> u64 {
        *self.exports.lock().unwrap()
    }
}

/// A `turnover serve` process on its own database and queues, exporting to `collector`.
pub struct Served {
    pub app: TestApp,
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Served {
    pub async fn start(collector: &Collector, sample_ratio: &str) -> Self {
        Self::start_to(collector.addr, sample_ratio).await
    }

    /// As [`Served::start`], exporting to `endpoint`, where a collector may or may not listen.
    pub async fn start_to(endpoint: SocketAddr, sample_ratio: &str) -> Self {
        let db = TestDb::new().await;
        let settings = test_settings(&db);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let a = &settings.amqp;
        let mut command = Command::new(env!("CARGO_BIN_EXE_turnover"));
        for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("TURNOVER_")) {
            command.env_remove(name);
        }
        let child = command
            .arg("serve")
            .env("TURNOVER_AMQP__URL", &a.url)
            .env("TURNOVER_AMQP__EXCHANGE", &a.exchange)
            .env("TURNOVER_AMQP__QUEUE", &a.queue)
            .env("TURNOVER_AMQP__RPC_QUEUE", &a.rpc_queue)
            .env(
                "TURNOVER_AMQP__DEAD_LETTER_EXCHANGE",
                &a.dead_letter_exchange,
            )
            .env("TURNOVER_AMQP__DEAD_LETTER_QUEUE", &a.dead_letter_queue)
            .env("TURNOVER_POSTGRES__URL", &db.url)
            .env("TURNOVER_HTTP__ADDR", format!("127.0.0.1:{port}"))
            .env("TURNOVER_MODEL__PATH", &settings.model.path)
            .env("TURNOVER_LOG__FORMAT", "json")
            .env(
                "TURNOVER_TELEMETRY__OTLP_ENDPOINT",
                format!("http://{endpoint}"),
            )
            .env("TURNOVER_TELEMETRY__SAMPLE_RATIO", sample_ratio)
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn turnover serve");
        let mut app = TestApp::idle(db, settings);
        app.addr = Some(SocketAddr::from(([127, 0, 0, 1], port)));
        Served { app, child, log }
    }

    /// What the process logged, for failure messages.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// SIGTERM, as an orchestrator stops it, and waits for the exit (the exporter's last
    /// flush included).
    pub async fn stop(mut self) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        let exited = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("turnover serve exits within 30 s of SIGTERM")
            .unwrap();
        assert!(exited.success(), "exit {exited:?}: {}", self.logs());
        crate::app::delete_topology(&self.app.settings).await;
    }
}

/// Waits until `collector` holds spans of `trace_id` with every name in `names`.
pub async fn wait_for_spans(
    collector: &Collector,
    trace_id: &str,
    names: &[&str],
) -> Vec<Received> {
    wait_until(
        &format!("spans {names:?} of trace {trace_id}"),
        Duration::from_secs(30),
        || async move {
            let spans: Vec<Received> = collector
                .spans()
                .into_iter()
                .filter(|s| s.trace_id == trace_id)
                .collect();
            names
                .iter()
                .all(|n| spans.iter().any(|s| s.name == *n))
                .then_some(spans)
        },
    )
    .await
}
