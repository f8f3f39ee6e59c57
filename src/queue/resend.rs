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
//! A nack is sent again too, after a pause and a bounded number of times: a quorum queue nacks
//! what it cannot store while it has no leader, which is exactly the moment this module is
//! for. A return (no queue bound) is never sent again: routing does not heal by waiting.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use lapin::Connection;
use tokio_util::sync::CancellationToken;

use lapin::Confirmation;

use super::publisher::{Outgoing, PublishReport, Publisher};
use super::{close_quietly, connect_with, connect_with_backoff, topology, ConnectError};
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
    /// Publishes sent again because the broker nacked them, or was nacking when they were
    /// unanswered.
    pub resent_after_nack: u64,
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
    let mut connection = connect_with(amqp, name).await?;
    let mut state = State {
        run: ResendReport::default(),
        to_send: (0..messages.len()).collect(),
        nacks: vec![0; messages.len()],
        started: Instant::now(),
        sent: 0,
    };
    loop {
        let lost = match session(&connection, amqp, messages, pace, &mut state, &mut progress).await
        {
            Ok(()) => {
                close_quietly(&connection, 200, "done").await;
                return Ok(state.run);
            }
            Err(Lost::Declare(error)) => return Err(ResendError::Declare(error)),
            Err(Lost::Connection { cause, unconfirmed }) => {
                requeue(&mut state, &unconfirmed);
                state.run.resent += unconfirmed.len() as u64;
                tracing::warn!(
                    amqp.connection = name,
                    error.message = %cause,
                    unconfirmed = unconfirmed.len(),
                    "lost RabbitMQ while publishing; reconnecting to send the unconfirmed again"
                );
                cause
            }
            Err(Lost::Nacked { unconfirmed }) => {
                requeue(&mut state, &unconfirmed);
                state.run.resent_after_nack += unconfirmed.len() as u64;
                tracing::warn!(
                    amqp.connection = name,
                    unconfirmed = unconfirmed.len(),
                    "RabbitMQ nacked a publish; reconnecting to send it and the unconfirmed again"
                );
                // Time for a leader election to end.
                tokio::time::sleep(NACK_PAUSE).await;
                "nacked".to_owned()
            }
        };
        close_quietly(&connection, 320, "reconnecting").await;
        let never = CancellationToken::new();
        match tokio::time::timeout(pace.reconnect_for, connect_with_backoff(amqp, name, &never))
            .await
        {
            Ok(Some(fresh)) => {
                connection = fresh;
                state.run.reconnections += 1;
            }
            Ok(None) | Err(_) => {
                return Err(ResendError::GaveUp {
                    cause: lost,
                    waited: pace.reconnect_for,
                    unanswered: state.to_send.len(),
                    so_far: state.run,
                })
            }
        }
    }
}

/// Why one connection's session ended early.
enum Lost {
    Declare(lapin::Error),
    /// The broker nacked a publish; these indices (it included) are to be sent again.
    Nacked {
        unconfirmed: Vec<usize>,
    },
    /// The channel or connection failed; these indices were sent without an answer.
    Connection {
        cause: String,
        unconfirmed: Vec<usize>,
    },
}

/// Publishes from `to_send` on one connection until it is empty and answered (`Ok`), or the
/// connection fails.
async fn session(
    connection: &Connection,
    amqp: &Amqp,
    messages: &[Outgoing],
    pace: Pace,
    state: &mut State,
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
    loop {
        let next = state.to_send.front().copied();
        let window_full = pending.len() >= pace.in_flight.max(1);
        if let (Some(index), false) = (next, window_full) {
            if let Some(rate) = pace.rate.filter(|r| *r > 0) {
                let due =
                    state.started + Duration::from_secs_f64(state.sent as f64 / f64::from(rate));
                tokio::time::sleep_until(due.into()).await;
            }
            match publisher.send(&messages[index]).await {
                Ok(confirm) => {
                    state.to_send.pop_front();
                    state.sent += 1;
                    unanswered.insert(index);
                    pending.push(confirm.map(move |c| (index, c)));
                }
                Err(error) => return Err(lost(error, &unanswered)),
            }
            continue;
        }
        // The window is full, or everything is sent: wait for an answer.
        let Some((done, confirm)) = pending.next().await else {
            break;
        };
        let confirmation = match confirm {
            Ok(confirmation) => confirmation,
            Err(error) => return Err(lost(error, &unanswered)),
        };
        unanswered.remove(&done);
        if state.answer(done, confirmation) {
            // The channel that nacked keeps its view of the queue (a leader that is gone) and
            // may nack whatever follows: start over on a fresh connection, with this message
            // and everything unanswered.
            let mut unconfirmed: Vec<usize> = unanswered.iter().copied().collect();
            unconfirmed.push(done);
            unconfirmed.sort_unstable();
            return Err(Lost::Nacked { unconfirmed });
        }
        progress(&state.run.report);
    }
    publisher.close().await;
    Ok(())
}

/// Nacks of one message sent again, at most: a queue that keeps refusing it is the broker's
/// verdict, not a passing election.
const NACK_RESENDS: u8 = 20;
/// The pause before reconnecting after a nack, so a leader election can finish.
const NACK_PAUSE: Duration = Duration::from_millis(250);

/// Puts `unconfirmed` back at the head of the line, in their original order, before anything
/// new.
fn requeue(state: &mut State, unconfirmed: &[usize]) {
    for index in unconfirmed.iter().rev() {
        state.to_send.push_front(*index);
    }
}

/// A run's progress, across connections.
struct State {
    run: ResendReport,
    /// Indices still to publish, in order.
    to_send: VecDeque<usize>,
    /// Nacks so far, per message.
    nacks: Vec<u8>,
    started: Instant,
    /// Publishes sent (first sends and re-sends), for `--rate`.
    sent: u64,
}

impl State {
    /// Counts the broker's answer to message `index`; `true` for a nack to send again (up to
    /// [`NACK_RESENDS`] times). A nack says the broker did not take the message at that
    /// moment (a quorum queue whose leader is being replaced nacks what it cannot store), not
    /// that it never will.
    fn answer(&mut self, index: usize, confirmation: Confirmation) -> bool {
        let report = &mut self.run.report;
        if confirmation.is_nack() {
            if self.nacks[index] < NACK_RESENDS {
                self.nacks[index] += 1;
                return true;
            }
            report.nacked += 1;
        } else if confirmation.take_message().is_some() {
            report.returned += 1;
        } else {
            report.confirmed += 1;
        }
        false
    }
}
