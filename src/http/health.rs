//! `/health` (liveness), `/ready` (readiness: broker, database, a consumer), `/metrics`, and
//! the background poller of `turnover_queue_depth`.
//!
//! Queue depth is polled on an interval rather than per scrape: a passive declare per scrape
//! would put broker round trips on every Prometheus poll, from every replica. For the same
//! reason `/ready` answers from a check at most [`READY_MAX_AGE`] old: the open route cannot
//! be made to open a broker channel and take a pool connection per request (issue 17).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

use crate::app::AppContext;
use crate::queue::rpc::RpcClient;
use crate::queue::topology;
use crate::storage;

/// How long one readiness check may take: a probe must answer fast even when a dependency hangs.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a readiness answer is reused.
pub const READY_MAX_AGE: Duration = Duration::from_secs(1);

/// The last readiness answer and when it was checked. The lock is held while a check runs,
/// so probes that arrive meanwhile wait for that one check instead of starting their own.
#[derive(Default)]
pub struct ReadyCache(tokio::sync::Mutex<Option<(Instant, bool, Ready)>>);

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "healthy")]
    pub status: &'static str,
    pub model_loaded: bool,
    #[schema(example = "xgboost")]
    pub model_type: &'static str,
    pub model_version: String,
    /// The service's version.
    pub version: &'static str,
    /// `true` when no API key is configured: every route is open to whoever reaches it.
    pub anonymous_access: bool,
}

/// Readiness, with each dependency's state (`ok` or what is wrong).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ready {
    /// `ready` or `not ready`.
    pub status: &'static str,
    pub checks: ReadyChecks,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadyChecks {
    pub rabbitmq: String,
    pub postgres: String,
    /// Whether the request queue has a consumer (a worker somewhere).
    pub consumers: String,
}

/// The process is up and the model is loaded.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, description = "Alive", body = Health)))]
pub async fn health(State(state): State<super::Shared>) -> Json<Health> {
    Json(Health {
        status: "healthy",
        model_loaded: true,
        model_type: "xgboost",
        model_version: state.ctx.model_version(),
        version: env!("CARGO_PKG_VERSION"),
        anonymous_access: state.keys.is_empty(),
    })
}

/// Ready to score: RabbitMQ connected, Postgres answers, the request queue has a consumer,
/// as checked at most a second ago.
#[utoipa::path(get, path = "/ready", tag = "operations", responses(
    (status = 200, description = "Ready", body = Ready),
    (status = 503, description = "Not ready; `checks` names what is not", body = Ready),
))]
pub async fn ready(State(state): State<super::Shared>) -> (StatusCode, Json<Ready>) {
    let mut last = state.ready.0.lock().await;
    let (all, body) = match &*last {
        Some((at, all, body)) if at.elapsed() < READY_MAX_AGE => (*all, body.clone()),
        _ => {
            let (all, body) = check(&state).await;
            *last = Some((Instant::now(), all, body.clone()));
            (all, body)
        }
    };
    drop(last);
    let status = if all {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// Checks the dependencies now; whether all are fine, and the body that says so.
async fn check(state: &super::AppState) -> (bool, Ready) {
    // Both at once: the probe's answer takes the slower check's time, not the sum.
    let ((rabbitmq, consumers), postgres) = tokio::join!(
        check_broker(&state.ctx, &state.rpc),
        check_postgres(&state.ctx)
    );
    let m = &state.ctx.metrics;
    m.amqp_connected.set(i64::from(rabbitmq.is_ok()));
    m.postgres_connected.set(i64::from(postgres.is_ok()));
    let all = rabbitmq.is_ok() && postgres.is_ok() && consumers.is_ok();
    let text = |r: Result<(), String>| r.err().unwrap_or_else(|| "ok".to_owned());
    let body = Ready {
        status: if all { "ready" } else { "not ready" },
        checks: ReadyChecks {
            rabbitmq: text(rabbitmq),
            postgres: text(postgres),
            consumers: text(consumers),
        },
    };
    (all, body)
}

async fn check_broker(
    ctx: &AppContext,
    rpc: &RpcClient,
) -> (Result<(), String>, Result<(), String>) {
    let Some(connection) = rpc.connection() else {
        return (
            Err("unreachable".into()),
            Err("unknown: RabbitMQ is unreachable".into()),
        );
    };
    let queue = &ctx.settings.amqp.queue;
    // A channel of its own: a passive declare that fails closes its channel.
    let probe = async {
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| e.to_string())?;
        let depth = topology::depth(&channel, queue).await;
        let _ = channel.close(200, "probed".into()).await;
        depth.map_err(|e| format!("queue {queue}: {e}"))
    };
    match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(Ok((_, consumers))) if consumers > 0 => (Ok(()), Ok(())),
        Ok(Ok(_)) => (Ok(()), Err(format!("no consumer on {queue}"))),
        Ok(Err(e)) => (Ok(()), Err(e)),
        Err(_) => (Err("no answer within 2 s".into()), Err("unknown".into())),
    }
}

async fn check_postgres(ctx: &AppContext) -> Result<(), String> {
    let round_trip = async {
        let client = ctx.pool.get().await.map_err(|e| e.to_string())?;
        storage::ping(&client).await.map_err(|e| e.to_string())
    };
    match tokio::time::timeout(CHECK_TIMEOUT, round_trip).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("unreachable: {e}")),
        Err(_) => Err("no answer within 2 s".into()),
    }
}

/// Prometheus text format (docs/contract.md#metrics).
#[utoipa::path(get, path = "/metrics", tag = "operations", responses(
    (status = 200, description = "Prometheus text exposition", content_type = "text/plain; version=0.0.4", body = String),
))]
pub async fn metrics(State(state): State<super::Shared>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.ctx.metrics.render(),
    )
}

/// Sets `turnover_queue_depth{queue}` for the request, synchronous and dead-letter queues
/// every `metrics.queue_depth_interval_ms`, on a channel of its own, until `stop`. The first
/// poll runs as soon as the broker link is up, so the gauge is there from the first scrape
/// that follows.
pub async fn poll_queue_depth(ctx: Arc<AppContext>, rpc: RpcClient, stop: CancellationToken) {
    let amqp = &ctx.settings.amqp;
    let interval = Duration::from_millis(ctx.settings.metrics.queue_depth_interval_ms.max(100));
    let mut channel: Option<lapin::Channel> = None;
    loop {
        if channel.as_ref().is_none_or(|c| !c.status().connected()) {
            channel = match rpc.connection() {
                Some(connection) => connection.create_channel().await.ok(),
                None => None,
            };
        }
        // Without a link, look again soon: the gauge should follow the link's return at once.
        let wait = match &channel {
            None => Duration::from_millis(100),
            Some(ch) => {
                for queue in [&amqp.queue, &amqp.rpc_queue, &amqp.dead_letter_queue] {
                    match topology::depth(ch, queue).await {
                        Ok((ready, _)) => ctx
                            .metrics
                            .queue_depth
                            .with_label_values(&[queue.as_str()])
                            .set(i64::from(ready)),
                        Err(error) => {
                            tracing::debug!(queue = %queue, error.message = %error, "cannot read the queue depth");
                            break;
                        }
                    }
                }
                interval
            }
        };
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
    }
    if let Some(ch) = channel {
        let _ = ch.close(200, "stopping".into()).await;
    }
}
