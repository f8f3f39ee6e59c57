//! The accept loop: at most `http.max_connections` connections at once, TCP_NODELAY on each,
//! a deadline for a request's headers, and a graceful stop.
//!
//! `axum::serve` has none of these bounds, so the loop is written out on hyper's HTTP/1.1
//! connection, as axum does inside. HTTP/1.1 only: hyper's automatic HTTP/2 detection first
//! waits for the client's opening bytes with no deadline, which would let an idle connection
//! hold its slot forever. It must not read bodies: their deadline is [`super::deadline`]'s.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use crate::config::Http;

/// The bounds of the loop, from the `http` settings.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub read_timeout: Duration,
}

impl Limits {
    pub fn of(http: &Http) -> Self {
        Limits {
            max_connections: http.max_connections.get(),
            read_timeout: Duration::from_millis(http.read_timeout_ms.get()),
        }
    }
}

/// Serves `app` on `listener` until `shutdown`, then waits for the connections in flight to
/// finish their requests.
///
/// # Errors
/// Never today; the result leaves room for a listener that can fail for good.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // A permit per open connection: at the cap, the loop stops accepting and new connections
    // wait in the kernel's listen backlog, costing this process nothing.
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The header deadline also runs while a kept-alive connection waits for its next
    // request, so an idle client gives its slot back after `read_timeout`.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.read_timeout);
    loop {
        let slot = tokio::select! {
            () = shutdown.cancelled() => break,
            slot = Arc::clone(&slots).acquire_owned() => slot?,
        };
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors or a connection reset before accept: the
                    // listener itself is fine, so pause briefly rather than spin or stop.
                    tracing::warn!(error.message = %error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Answers are small and written as the handler finishes: without TCP_NODELAY, Nagle's
        // algorithm can hold a response's last segment until the client's delayed ACK (~40 ms).
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(error.message = %error, "cannot set TCP_NODELAY");
        }
        let app = app.clone();
        let service = TowerToHyperService::new(tower::service_fn(
            move |mut request: hyper::Request<Incoming>| {
                // What `into_make_service_with_connect_info` would add: the auth throttle
                // and the log read the client address from it.
                request.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(request.map(axum::body::Body::new))
            },
        ));
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // A client gone mid-request or past the header deadline: its business.
                tracing::debug!(client.address = %peer, error.message = %error, "connection ended");
            }
            drop(slot);
        });
    }
    graceful.shutdown().await;
    Ok(())
}
