//! The body deadline: a request's body must arrive whole within `http.read_timeout_ms` of its
//! headers, or the answer is a 408 JSON error (the header deadline is [`super::server`]'s).
//!
//! A slow client otherwise holds a connection, a batch slot and its buffer for as long as it
//! likes. The deadline is on the whole body, not between reads: one byte every few seconds
//! would pass a per-read timeout forever.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use tokio::time::Sleep;

use super::errors::ApiError;

/// The error a body yields once its deadline has passed.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within http.read_timeout_ms ({0} ms)")]
pub struct BodyTimedOut(pub u64);

/// A body that fails with [`BodyTimedOut`] once its deadline has passed, and says so in
/// `fired` so that the middleware can answer 408 whatever the handler made of the failure.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
    timeout_ms: u64,
    fired: Arc<AtomicBool>,
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.fired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut(this.timeout_ms)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Puts the deadline on the request's body; answers 408 when it passed before the handler
/// had the body.
pub async fn limit_body_time(
    State(state): State<super::Shared>,
    request: Request,
    next: Next,
) -> Response {
    let timeout_ms = state.ctx.settings.http.read_timeout_ms.get();
    let fired = Arc::new(AtomicBool::new(false));
    let request = request.map(|inner| {
        Body::new(DeadlineBody {
            inner,
            deadline: Box::pin(tokio::time::sleep(Duration::from_millis(timeout_ms))),
            timeout_ms,
            fired: Arc::clone(&fired),
        })
    });
    let response = next.run(request).await;
    if fired.load(Ordering::Relaxed) {
        return ApiError::request_timeout(timeout_ms).into_response();
    }
    response
}
