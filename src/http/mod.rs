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
//! - [`outcomes`]: `POST /outcomes`; [`admin`]: `POST /admin/reload`,
//! - [`auth`]: API keys, scopes and rate limits; [`limiter`]: their bounded counts;
//!   [`client`]: who the client is (trusted proxies); [`log`]: per-request log line and metrics,
//! - [`errors`]: the error bodies; [`openapi`]: the document and its schemas,
//! - [`server`]: the accept loop (connection cap, header timeout); [`deadline`]: the body's.

mod admin;
pub(crate) mod auth;
mod batch;
mod client;
mod deadline;
mod employees;
mod errors;
mod health;
mod limiter;
mod log;
mod openapi;
mod outcomes;
mod predict;
mod routes;
mod server;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::app::AppContext;
use crate::queue::rpc::RpcClient;

pub use openapi::ApiDoc;
pub use routes::{router, routes};

/// What every handler shares.
pub struct AppState {
    pub ctx: Arc<AppContext>,
    pub rpc: RpcClient,
    pub limiter: Option<limiter::RateLimiter>,
    /// Missing or wrong API keys, per client address.
    pub auth_failures: limiter::RateLimiter,
    /// `POST /predict/batch` uploads in progress, at most `http.max_concurrent_batches`.
    pub batches: Arc<Semaphore>,
    /// The last readiness answer, reused for a second.
    pub ready: health::ReadyCache,
    /// `auth.api_keys`, parsed; empty: every route is open.
    pub keys: Vec<crate::config::keys::ApiKey>,
}

/// The state as handlers receive it (through axum's `State` extractor).
pub type Shared = Arc<AppState>;

impl AppState {
    pub fn new(ctx: Arc<AppContext>, rpc: RpcClient) -> Shared {
        let http = &ctx.settings.http;
        let tracked = |name: &str| ctx.metrics.limiter_clients.with_label_values(&[name]);
        let max_clients = http.limiter_max_clients;
        let limiter = http
            .rate_limit_per_minute
            .map(|limit| limiter::RateLimiter::new(limit, max_clients, tracked("rate_limit")));
        let auth_failures = limiter::RateLimiter::new(
            http.auth_failures_per_minute,
            max_clients,
            tracked("auth_failures"),
        );
        // Settings::check refused any entry that does not parse: none is dropped here.
        let keys = crate::config::keys::parse_all(&ctx.settings.auth.api_keys).unwrap_or_default();
        let batches = Arc::new(Semaphore::new(
            ctx.settings.http.max_concurrent_batches.get(),
        ));
        Arc::new(AppState {
            ctx,
            rpc,
            limiter,
            auth_failures,
            batches,
            ready: health::ReadyCache::default(),
            keys,
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

    let limits = server::Limits::of(&ctx.settings.http);
    let app = router(AppState::new(ctx, rpc));
    let served = server::run(listener, app, limits, shutdown).await;
    rpc_stop.cancel();
    let _ = tokio::join!(rpc_task, poller);
    served
}
