//! The direct reply-to client behind `POST /predict`: publish a request with
//! `reply_to = amq.rabbitmq.reply-to` and a fresh `correlation_id`, await the worker's reply.
//!
//! One long-lived connection and ONE channel, used both to consume `amq.rabbitmq.reply-to` and
//! to publish: RabbitMQ delivers direct replies only to the channel that published the request,
//! and only if that channel consumes the pseudo-queue (no-ack) before publishing. A map from
//! correlation id to a waiting oneshot routes each reply to its caller; a reply with an unknown
//! id (its caller timed out, or a worker re-replied after a redelivery) is dropped.
//!
//! The client reconnects in the background with capped backoff. While it has no channel,
//! [`RpcClient::call`] fails at once with [`RpcError::Unavailable`] (HTTP 503) rather than
//! making callers wait for a broker that may not come back. When the channel is lost, every
//! waiting caller is woken: their replies would go to a channel that no longer exists. Each
//! sends its request again on the next connection (the next node of `amqp.url`) if it comes
//! before the caller's deadline, and fails with `Unavailable` otherwise.
//!
//! It must not decide what a reply means: the HTTP handler maps its status header.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer};
use prometheus::IntGauge;
use tokio_util::sync::CancellationToken;

use super::{close_quietly, connect_with_backoff, header_f64, header_u64, now_ms, topology};
use crate::config::Amqp;
use crate::wire::{
    request_properties, Delivery, DIRECT_REPLY_TO, PREDICTION_HEADER, PROBABILITY_HEADER,
    REPLAYED_HEADER, STATUS_HEADER,
};
use pending::Pending;

mod pending;

/// Why a call got no reply.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// No connection to the broker, or it was lost while waiting.
    #[error("RabbitMQ is unreachable")]
    Unavailable,
    /// The broker took the connection but refused the message (nacked, or no queue bound).
    #[error("RabbitMQ refused the request: {0}")]
    Refused(&'static str),
    /// No reply within the deadline.
    #[error("no reply within {0} ms")]
    Timeout(u64),
}

/// A worker's reply: the HTTP status it stands for (`x-status`) and the JSON body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// The stored result of an earlier request with the same id and record (`x-idempotent-replayed`).
    pub replayed: bool,
    /// A score's `prediction` and `probability_1`, from the reply's headers (for the log).
    pub prediction: Option<u8>,
    pub probability: Option<f64>,
}

/// The live connection and its one channel.
#[derive(Clone)]
struct Link {
    connection: Arc<Connection>,
    channel: Channel,
}

struct Inner {
    amqp: Amqp,
    link: RwLock<Option<Link>>,
    pending: Pending,
    connected: IntGauge,
}

/// A cheap handle on the shared client.
#[derive(Clone)]
pub struct RpcClient {
    inner: Arc<Inner>,
}

impl RpcClient {
    /// A client with no connection yet; [`RpcClient::maintain`] connects it. `connected` is set to
    /// 1 while the channel is up.
    pub fn new(amqp: Amqp, connected: IntGauge) -> Self {
        RpcClient {
            inner: Arc::new(Inner {
                amqp,
                link: RwLock::new(None),
                pending: Pending::default(),
                connected,
            }),
        }
    }

    /// The broker connection, while up: for batch publishing and readiness probes. Never
    /// declare passively on this client's own channel: a 404 would close it.
    pub fn connection(&self) -> Option<Arc<Connection>> {
        self.link().map(|l| l.connection)
    }

    fn link(&self) -> Option<Link> {
        let link = self
            .inner
            .link
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        link.filter(|l| l.connection.status().connected() && l.channel.status().connected())
    }

    fn set_link(&self, link: Option<Link>) {
        self.inner.connected.set(i64::from(link.is_some()));
        *self
            .inner
            .link
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = link;
    }

    /// Keeps the connection up until `stop` is cancelled: connect (capped backoff), declare the
    /// topology (idempotent; the sidecar may run without a worker, and publishing to a missing
    /// exchange would close the channel), consume direct replies, route them.
    pub async fn maintain(self, stop: CancellationToken) {
        loop {
            let Some(connection) =
                connect_with_backoff(&self.inner.amqp, "turnover-http", &stop).await
            else {
                return;
            };
            let connection = Arc::new(connection);
            match self.attach(&connection).await {
                Ok((channel, consumer)) => {
                    self.set_link(Some(Link {
                        connection: Arc::clone(&connection),
                        channel,
                    }));
                    tracing::info!("direct reply-to client connected");
                    self.dispatch(&connection, consumer, &stop).await;
                    self.set_link(None);
                    // Their replies would come to the channel just lost: fail them now (503).
                    self.inner.pending.fail_all();
                }
                Err(error) => {
                    tracing::warn!(error.message = %error, "cannot open the reply channel")
                }
            }
            close_quietly(&connection, 200, "closing").await;
            if stop.is_cancelled() {
                return;
            }
            tracing::warn!("direct reply-to client disconnected; reconnecting");
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }

    async fn attach(&self, connection: &Connection) -> Result<(Channel, Consumer), lapin::Error> {
        topology::declare(connection, &self.inner.amqp).await?;
        // Without it a /predict is answered 503 ("no queue bound") until a worker declares it
        // again; the other routes do not need it.
        if let Err(error) = topology::declare_rpc_queue(connection, &self.inner.amqp).await {
            tracing::warn!(error.message = %error, queue = %self.inner.amqp.rpc_queue, "cannot declare the synchronous queue; /predict answers 503 until a worker declares it");
        }

        let channel = connection.create_channel().await?;
        // Confirms tell a request the broker took from one it dropped (503 now, not 504 later).
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        // Consuming must start before the first publish with this reply_to, on this channel.
        let consumer = channel
            .basic_consume(
                DIRECT_REPLY_TO.into(),
                "".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        Ok((channel, consumer))
    }

    /// Routes replies to their callers until the consumer ends or the connection drops.
    async fn dispatch(
        &self,
        connection: &Connection,
        mut consumer: Consumer,
        stop: &CancellationToken,
    ) {
        // A safety net: the consumer stream ends on a channel error, and this also notices a
        // connection that died without one.
        let mut check = tokio::time::interval(Duration::from_secs(1));
        loop {
            let delivery = tokio::select! {
                () = stop.cancelled() => return,
                _ = check.tick() => {
                    if connection.status().connected() { continue } else { return }
                }
                next = consumer.next() => next,
            };
            let delivery = match delivery {
                Some(Ok(delivery)) => delivery,
                Some(Err(error)) => {
                    tracing::warn!(error.message = %error, "reply consumer failed");
                    return;
                }
                None => return,
            };
            let Some(id) = delivery
                .properties
                .correlation_id()
                .as_ref()
                .map(|c| c.as_str().to_owned())
            else {
                continue;
            };
            let headers = delivery.properties.headers().as_ref();
            let status = header_u64(headers, STATUS_HEADER).and_then(|s| u16::try_from(s).ok());
            let reply = Reply {
                status: status.unwrap_or(200),
                body: delivery.data,
                replayed: header_u64(headers, REPLAYED_HEADER) == Some(1),
                prediction: header_u64(headers, PREDICTION_HEADER)
                    .and_then(|p| u8::try_from(p).ok()),
                probability: header_f64(headers, PROBABILITY_HEADER),
            };
            if !self.inner.pending.settle(&id, reply) {
                tracing::debug!(correlation_id = %id, "reply for a caller that has gone; dropped");
            }
        }
    }

    /// Publishes `body` to the transient request queue (`amqp.rpc_queue`) with `headers`
    /// (strings), and waits for the reply at most `timeout`, which is also the message's
    /// `expiration`: a request nobody waits for any more is dropped, not scored.
    ///
    /// When the connection dies before the broker confirmed the request, or before its reply
    /// came (the reply would go to the channel just lost), the same bytes are published again
    /// on the next connection, as long as the deadline allows: the worker's keyed write makes
    /// a second copy a replay of the first, never a second row.
    ///
    /// # Errors
    /// [`RpcError::Unavailable`] without a broker (or when it is lost and not back before the
    /// deadline), [`RpcError::Refused`] when the broker nacks or cannot route it,
    /// [`RpcError::Timeout`].
    pub async fn call(
        &self,
        body: &[u8],
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Reply, RpcError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let timeout_ms = timeout.as_millis() as u64;
        let mut link = self.link().ok_or(RpcError::Unavailable)?;
        loop {
            match self
                .attempt(&link, body, headers, deadline, timeout_ms)
                .await
            {
                Err(Attempt::Lost) => {
                    link = self
                        .relink(&link, deadline)
                        .await
                        .ok_or(RpcError::Unavailable)?;
                    tracing::info!("request sent again after losing the broker connection");
                }
                Err(Attempt::Failed(error)) => return Err(error),
                Ok(reply) => return Ok(reply),
            }
        }
    }

    /// Waits until `deadline` for a link on another connection than `lost`'s (which may still
    /// look alive for a moment after its channel failed).
    async fn relink(&self, lost: &Link, deadline: tokio::time::Instant) -> Option<Link> {
        loop {
            if let Some(link) = self.link() {
                if !Arc::ptr_eq(&link.connection, &lost.connection) {
                    return Some(link);
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(
                Duration::from_millis(50)
                    .min(deadline.saturating_duration_since(tokio::time::Instant::now())),
            )
            .await;
        }
    }

    /// One publish and wait on `link`.
    async fn attempt(
        &self,
        link: &Link,
        body: &[u8],
        headers: &[(&str, &str)],
        deadline: tokio::time::Instant,
        timeout_ms: u64,
    ) -> Result<Reply, Attempt> {
        let id = uuid::Uuid::new_v4().to_string();
        let (_waiting, rx) = self.inner.pending.wait(id.clone());

        // What is left of the caller's deadline: the worker drops the request after it.
        let left_ms = deadline
            .saturating_duration_since(tokio::time::Instant::now())
            .as_millis()
            .max(1) as u64;
        // Not persistent: the request lives only as long as its caller waits (see topology).
        let properties = request_properties(Delivery::Transient, now_ms(), headers.iter().copied())
            .with_reply_to(DIRECT_REPLY_TO.into())
            .with_correlation_id(id.as_str().into())
            .with_expiration(left_ms.to_string().into());
        let amqp = &self.inner.amqp;
        let publish = async {
            let confirm = link
                .channel
                .basic_publish(
                    "".into(),
                    amqp.rpc_queue.as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    body,
                    properties,
                )
                .await?;
            confirm.await
        };
        match tokio::time::timeout_at(deadline, publish).await {
            Err(_) => return Err(Attempt::Failed(RpcError::Timeout(timeout_ms))),
            Ok(Err(error)) => {
                tracing::warn!(error.message = %error, "cannot publish a request");
                return Err(Attempt::Lost);
            }
            Ok(Ok(confirmation)) if confirmation.is_nack() => {
                return Err(Attempt::Failed(RpcError::Refused("nacked")))
            }
            // Published `mandatory`: a message no queue took comes back with the confirm.
            Ok(Ok(confirmation)) => {
                if confirmation.take_message().is_some() {
                    return Err(Attempt::Failed(RpcError::Refused("no queue bound")));
                }
            }
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            // The channel was lost while waiting: its reply can no longer come.
            Ok(Err(_)) => Err(Attempt::Lost),
            Err(_) => Err(Attempt::Failed(RpcError::Timeout(timeout_ms))),
        }
    }
}

/// How one attempt of a call ended without a reply.
enum Attempt {
    /// The connection died: worth sending again while the deadline allows.
    Lost,
    Failed(RpcError),
}
