//! Publishing that outlives its broker node: every message stays in hand until the broker
//! confirms it. When the connection dies, whatever was sent but not confirmed is sent again
//! on a new connection (the next node of `amqp.url` that accepts), before the rest.
//!
//! A message the dead node had stored but not yet confirmed is then published twice. That is
//! safe because it is sent again byte for byte: same envelope, same `request_id` (or, without
//! one, the same body hash the worker falls back on), so the worker's keyed write turns the
//! second copy into a replay of the first. Publishing without confirms could not do this: it
//! cannot know what to send again.
//!
//! It must not re-send a message the broker answered: a nack or a return is the broker's
//! verdict, counted and left to the caller.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use lapin::Connection;
use tokio_util::sync::CancellationToken;

use super::publisher::{tally, Outgoing, PublishReport, Publisher};
use super::{connect_with, connect_with_backoff, topology, ConnectError};
use crate::config::Amqp;

/// What a publishing run did, connection losses included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResendReport {
    /// The broker's answers, one per message.
    pub report: PublishReport,
    /// Publishes sent again after their connection died before confirming them.
    pub resent: u64,
    /// New connections made after a loss.
    pub reconnections: u32,
}

/// How to publish.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Publishes awaiting their confirm, at most.
    pub in_flight: usize,
    /// Publishes per second at most (re-sends included).
    pub rate: Option<u32>,
    /// How long to keep trying to reconnect after a loss before giving up.
    pub reconnect_for: Duration,
}

/// Why a run stopped before every message got an answer.
#[derive(Debug, thiserror::Error)]
pub enum ResendError {
    /// No broker accepted the first connection: nothing was published.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The topology could not be declared on a fresh connection.
    #[error("cannot declare the queues: {0}")]
    Declare(lapin::Error),
    /// The connection was lost and no broker of `amqp.url` accepted a new one in time.
    #[error("lost RabbitMQ ({cause}) and no broker of amqp.url accepted a connection within {} s; {unanswered} message(s) unconfirmed", .waited.as_secs())]
    GaveUp {
        cause: String,
        waited: Duration,
        unanswered: usize,
        /// The answers received until then.
        so_far: ResendReport,
    },
}

/// Publishes every message with confirms, re-sending after a connection loss what was not
/// confirmed, and calls `progress` with the running tally after each answer.
///
/// # Errors
/// [`ResendError`]: no broker at the start, a topology refused, or no broker within
/// `pace.reconnect_for` after a loss.
pub async fn publish_resending(
    amqp: &Amqp,
    name: &str,
    messages: &[Outgoing],
    pace: Pace,
    mut progress: impl FnMut(&PublishReport),
) -> Result<ResendReport, ResendError> {
    let mut run = ResendReport::default();
    let mut to_send: VecDeque<usize> = (0..messages.len()).collect();
    let mut connection = connect_with(amqp, name).await?;
    let started = Instant::now();
    let mut sent = 0_u64;
    loop {
        let lost = match session(
            &connection,
            amqp,
            messages,
            &mut to_send,
            pace,
            (started, &mut sent),
            &mut run.report,
            &mut progress,
        )
        .await
        {
            Ok(()) => {
                let _ = connection.close(200, "done".into()).await;
                return Ok(run);
            }
            Err(Lost::Declare(error)) => return Err(ResendError::Declare(error)),
            Err(Lost::Connection { cause, unconfirmed }) => {
                // Sent again first, in their original order, before anything new.
                for index in unconfirmed.iter().rev() {
                    to_send.push_front(*index);
                }
                run.resent += unconfirmed.len() as u64;
                tracing::warn!(
                    amqp.connection = name,
                    error.message = %cause,
                    unconfirmed = unconfirmed.len(),
                    "lost RabbitMQ while publishing; reconnecting to send the unconfirmed again"
                );
                cause
            }
        };
        let _ = connection.close(320, "reconnecting".into()).await;
        let never = CancellationToken::new();
        match tokio::time::timeout(pace.reconnect_for, connect_with_backoff(amqp, name, &never))
            .await
        {
            Ok(Some(fresh)) => {
                connection = fresh;
                run.reconnections += 1;
            }
            Ok(None) | Err(_) => {
                return Err(ResendError::GaveUp {
                    cause: lost,
                    waited: pace.reconnect_for,
                    unanswered: to_send.len(),
                    so_far: run,
                })
            }
        }
    }
}

/// Why one connection's session ended early.
enum Lost {
    Declare(lapin::Error),
    /// The channel or connection failed; these indices were sent without an answer.
    Connection {
        cause: String,
        unconfirmed: Vec<usize>,
    },
}

/// Publishes from `to_send` on one connection until it is empty and answered (`Ok`), or the
/// connection fails.
#[allow(clippy::too_many_arguments)]
async fn session(
    connection: &Connection,
    amqp: &Amqp,
    messages: &[Outgoing],
    to_send: &mut VecDeque<usize>,
    pace: Pace,
    (started, sent): (Instant, &mut u64),
    report: &mut PublishReport,
    progress: &mut impl FnMut(&PublishReport),
) -> Result<(), Lost> {
    topology::declare(connection, amqp).await.map_err(|e| {
        if connection.status().connected() {
            Lost::Declare(e)
        } else {
            Lost::Connection {
                cause: e.to_string(),
                unconfirmed: Vec::new(),
            }
        }
    })?;
    let publisher = Publisher::new(connection, &amqp.exchange, &amqp.routing_key)
        .await
        .map_err(|e| Lost::Connection {
            cause: e.to_string(),
            unconfirmed: Vec::new(),
        })?;
    // Sent and not answered yet; what is left here when the connection fails is re-sent.
    let mut unanswered = BTreeSet::new();
    let mut pending = FuturesUnordered::new();
    let lost = |cause: lapin::Error, unanswered: &BTreeSet<usize>| Lost::Connection {
        cause: cause.to_string(),
        unconfirmed: unanswered.iter().copied().collect(),
    };
    while let Some(&index) = to_send.front() {
        if let Some(rate) = pace.rate.filter(|r| *r > 0) {
            let due = started + Duration::from_secs_f64(*sent as f64 / f64::from(rate));
            tokio::time::sleep_until(due.into()).await;
        }
        while pending.len() >= pace.in_flight.max(1) {
            if let Some((done, confirm)) = pending.next().await {
                if let Err(error) = tally(report, confirm) {
                    return Err(lost(error, &unanswered));
                }
                unanswered.remove(&done);
                progress(report);
            }
        }
        match publisher.send(&messages[index]).await {
            Ok(confirm) => {
                to_send.pop_front();
                *sent += 1;
                unanswered.insert(index);
                pending.push(confirm.map(move |c| (index, c)));
            }
            Err(error) => return Err(lost(error, &unanswered)),
        }
    }
    while let Some((done, confirm)) = pending.next().await {
        if let Err(error) = tally(report, confirm) {
            return Err(lost(error, &unanswered));
        }
        unanswered.remove(&done);
        progress(report);
    }
    Ok(())
}
