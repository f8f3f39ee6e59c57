//! The HTTP sidecar (docs/contract.md#http): health, readiness and metrics, synchronous scoring
//! over a RabbitMQ request-reply, CSV batches, API keys and rate limits, the OpenAPI document.
//!
//! It owns the HTTP edge: parsing, validating at the edge (nothing invalid is published),
//! mapping outcomes to status codes and JSON bodies, one log line and the metrics of each
//! request. It must not score or write predictions: the worker does both, whatever the source.
//!
//! - [`routes`]: the route table, the router and its layers,
//! - [`health`]: `/health`, `/ready`, `/metrics` and the queue-depth poller,
//! - [`predict`]: `POST /predict`; [`batch`]: `POST /predict/batch`, `GET /batches/{id}`,
//! - [`outcomes`]: `POST /outcomes`,
//! - [`auth`]: API keys and rate limits; [`log`]: per-request log line and metrics,
//! - [`errors`]: the error bodies; [`openapi`]: the document and its schemas.

pub(crate) mod auth;
mod batch;
mod employees;
mod errors;
mod health;
mod log;
mod openapi;
mod outcomes;
mod predict;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::AppContext;
use crate::queue::rpc::RpcClient;

pub use routes::{router, routes};

/// What every handler shares.
pub struct AppState {
    pub ctx: Arc<AppContext>,
    pub rpc: RpcClient,
    pub limiter: Option<auth::RateLimiter>,
    /// Missing or wrong API keys, per client address.
    pub auth_failures: auth::RateLimiter,
}

/// The state as handlers receive it.
pub type State = Arc<AppState>;

impl AppState {
    pub fn new(ctx: Arc<AppContext>, rpc: RpcClient) -> State {
        let limiter = ctx
            .settings
            .http
            .rate_limit_per_minute
            .map(auth::RateLimiter::new);
        let auth_failures = auth::RateLimiter::new(ctx.settings.http.auth_failures_per_minute);
        Arc::new(AppState {
            ctx,
            rpc,
            limiter,
            auth_failures,
        })
    }
}

/// Serves until `shutdown`, then finishes the requests in flight (a `/predict` waits at most
/// its deadline) before closing the broker connection they need.
///
/// # Errors
/// When the server fails.
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<AppContext>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let rpc = RpcClient::new(
        ctx.settings.amqp.clone(),
        ctx.metrics.amqp_connected.clone(),
    );
    // Not the shutdown token: in-flight calls still need their replies while HTTP drains.
    let rpc_stop = CancellationToken::new();
    let rpc_task = tokio::spawn(rpc.clone().maintain(rpc_stop.clone()));
    let poller = tokio::spawn(health::poll_queue_depth(
        Arc::clone(&ctx),
        rpc.clone(),
        rpc_stop.clone(),
    ));

    let app = router(AppState::new(ctx, rpc));
    // Answers are small and written as the handler finishes: without TCP_NODELAY, Nagle's
    // algorithm can hold a response's last segment until the client's delayed ACK (~40 ms).
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(error.message = %error, "cannot set TCP_NODELAY");
        }
    });
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned())
    .await
    .context("HTTP server");
    rpc_stop.cancel();
    let _ = tokio::join!(rpc_task, poller);
    served
}
