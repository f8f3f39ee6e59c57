//! The worker pool: consumers on `turnover.requests` (queued work) and `turnover.rpc`
//! (synchronous `/predict` requests) that gather deliveries into micro-batches
//! and hand each batch to [`batch::process`].
//!
//! A batch's steps are modules of their own: [`job`] decodes a delivery, [`score`] scores the
//! batch from one feature matrix, [`store`] builds its rows and writes them in one
//! transaction ([`isolate`] when Postgres refuses it), [`reply`] answers, [`ack`] settles,
//! and [`batch`] runs them in that order.
//!
//! One connection, `worker.consumers` channels, each with its own prefetch and consumer. A
//! batch closes at `worker.batch_size` deliveries or `worker.batch_wait_ms` after its first,
//! whichever comes first; after a small batch (light load) it closes as soon as the buffer is
//! empty instead, so single requests are not delayed. Within a channel, batches run one after another, which is what makes
//! the `multiple` ack safe; across channels they overlap, so one batch scores while another
//! writes. On connection loss everything is rebuilt from scratch with capped backoff.

mod ack;
mod batch;
mod isolate;
mod job;
mod reply;
mod score;
mod store;

use std::collections::{BTreeSet, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, Stream, StreamExt};
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::Connection;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::app::AppContext;
use crate::backoff::Backoff;
use crate::queue::{self, now_ms, topology};
use job::{Job, Rejected};
// The decoder is public for the fuzz target that drives it through to the rows it builds.
pub use job::{decode, Decoded};

/// Why a consumer stopped before being asked to.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error(transparent)]
    Amqp(#[from] lapin::Error),
    #[error("the broker ended the consumer (queue deleted or channel closed)")]
    Ended,
    #[error("a batch panicked; the channel is restarted to return its messages")]
    Panicked,
}

/// Runs the consumers until `stop` is cancelled, reconnecting after any broker failure.
/// On stop, each consumer finishes the batch in hand (commit, reply, ack) and returns.
pub async fn run_consumers(ctx: Arc<AppContext>, stop: CancellationToken) {
    let amqp = &ctx.settings.amqp;
    let mut backoff = RECONNECT;
    loop {
        let Some(connection) = queue::connect_with_backoff(amqp, "turnover-worker", &stop).await
        else {
            return;
        };
        let mut consumed = false;
        match consume(&ctx, &connection, &stop, &mut consumed).await {
            Ok(()) => {
                let _ = connection.close(200, "shutdown".into()).await;
                ctx.metrics.amqp_connected.set(0);
                return;
            }
            Err(error) => {
                // A connection that got as far as consuming was healthy: the next failure is
                // a new incident, not the same one again, so the backoff starts over.
                if consumed {
                    backoff = RECONNECT;
                }
                let delay = backoff.next_delay();
                ctx.metrics.amqp_connected.set(0);
                tracing::warn!(error.message = %error, retry_in_ms = delay.as_millis() as u64, "lost RabbitMQ; reconnecting");
                queue::close_quietly(&connection, 320, "reconnecting").await;
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// The waits between reconnections after the worker's connection fails.
const RECONNECT: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));

/// Declares the topology, starts the consumers and waits for them. `Ok` on a clean stop;
/// `consumed` tells whether the consumers were started (a healthy connection).
async fn consume(
    ctx: &Arc<AppContext>,
    connection: &Connection,
    stop: &CancellationToken,
    consumed: &mut bool,
) -> Result<(), ConsumerError> {
    let amqp = &ctx.settings.amqp;
    topology::declare(connection, amqp).await?;

    let (needs_rpc, mut rpc_wanted) = mpsc::unbounded_channel::<usize>();
    let mut consumers = JoinSet::new();
    let mut rpc_feeds = Vec::with_capacity(ctx.settings.worker.consumers.get());
    for i in 0..ctx.settings.worker.consumers.get() {
        let channel = connection.create_channel().await?;
        // Re-applied on every (re)connect: prefetch is per channel and lost with it.
        channel
            .basic_qos(amqp.prefetch, BasicQosOptions::default())
            .await?;
        // Both queues on one channel: queued work and synchronous requests share the batches,
        // and one delivery-tag sequence keeps the `multiple` ack exact. The request queue's
        // consumer ending is an error (the channel is rebuilt); the synchronous queue's
        // consumers arrive through `feed` (see `attach_rpc`), one after another.
        let request = channel
            .basic_consume(
                amqp.queue.as_str().into(),
                format!("turnover-worker-{i}:{}", amqp.queue).into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?
            .map(|d| d.map_err(ConsumerError::from))
            .chain(futures_util::stream::once(std::future::ready(Err(
                ConsumerError::Ended,
            ))));
        let (feed, mut fed) = mpsc::unbounded_channel::<RpcDeliveries>();
        let rpc = futures_util::stream::poll_fn(move |cx| fed.poll_recv(cx)).flatten();
        let deliveries = futures_util::stream::select(request, rpc);
        rpc_feeds.push((channel.clone(), feed));
        let _ = needs_rpc.send(i);
        let (ctx, stop) = (Arc::clone(ctx), stop.clone());
        consumers
            .spawn(async move { consume_loop(&ctx, &channel, Box::pin(deliveries), &stop).await });
    }
    ctx.metrics.amqp_connected.set(1);
    *consumed = true;
    tracing::info!(queue = %amqp.queue, rpc_queue = %amqp.rpc_queue, consumers = ctx.settings.worker.consumers, prefetch = amqp.prefetch, "consuming");

    // The synchronous queue is transient and lives on one node: while that node is down it
    // cannot be declared, and when the node returns it is gone. Queued work must not wait on
    // it, so its consumers are attached here, retried every second, and attached again when
    // one ends (the queue was deleted), while the request queue's consumers run.
    let mut wanted: BTreeSet<usize> = BTreeSet::new();
    let mut retry = tokio::time::interval(Duration::from_secs(1));
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rpc_down = false;
    let mut result = Ok(());
    loop {
        tokio::select! {
            joined = consumers.join_next() => {
                let Some(joined) = joined else { break };
                match joined {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        // One consumer's channel died: the others are restarted with it, on a
                        // fresh connection, rather than limping on with fewer consumers.
                        if result.is_ok() {
                            result = Err(error);
                        }
                        consumers.abort_all();
                    }
                    Err(join) if join.is_cancelled() => {}
                    Err(join) => tracing::error!(error.message = %join, "consumer task panicked"),
                }
            }
            Some(i) = rpc_wanted.recv() => {
                wanted.insert(i);
            }
            _ = retry.tick(), if !wanted.is_empty() && result.is_ok() && !stop.is_cancelled() => {
                match attach_rpc(connection, amqp, &rpc_feeds, &mut wanted, &needs_rpc).await {
                    Ok(()) if rpc_down => {
                        rpc_down = false;
                        tracing::info!(rpc_queue = %amqp.rpc_queue, "consuming the synchronous queue again");
                    }
                    Ok(()) => {}
                    Err(error) if !rpc_down => {
                        rpc_down = true;
                        tracing::warn!(error.message = %error, rpc_queue = %amqp.rpc_queue, "cannot consume the synchronous queue (its node may be down); queued work goes on, retrying every second");
                    }
                    Err(_) => {}
                }
            }
        }
    }
    result
}

/// A synchronous queue consumer's deliveries, followed (when it ends) by a request to attach
/// a new one.
type RpcDeliveries =
    std::pin::Pin<Box<dyn Stream<Item = Result<Delivery, ConsumerError>> + Send + 'static>>;

/// Declares the synchronous queue and starts a consumer on it on each channel in `wanted`,
/// handing it to that channel's batch loop. When such a consumer ends (the broker cancelled
/// it), its index is sent on `needs_rpc` to be attached again.
async fn attach_rpc(
    connection: &Connection,
    amqp: &crate::config::Amqp,
    feeds: &[(lapin::Channel, mpsc::UnboundedSender<RpcDeliveries>)],
    wanted: &mut BTreeSet<usize>,
    needs_rpc: &mpsc::UnboundedSender<usize>,
) -> Result<(), lapin::Error> {
    topology::declare_rpc_queue(connection, amqp).await?;
    while let Some(&i) = wanted.iter().next() {
        let (channel, feed) = &feeds[i];
        let consumer = channel
            .basic_consume(
                amqp.rpc_queue.as_str().into(),
                format!("turnover-worker-{i}:{}", amqp.rpc_queue).into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let again = needs_rpc.clone();
        let deliveries = consumer.map(|d| d.map_err(ConsumerError::from)).chain(
            futures_util::stream::once(async move {
                let _ = again.send(i);
            })
            .filter_map(|()| std::future::ready(None)),
        );
        let _ = feed.send(Box::pin(deliveries));
        wanted.remove(&i);
    }
    Ok(())
}

/// Gathers batches and processes them until stopped or the channel fails.
async fn consume_loop(
    ctx: &AppContext,
    channel: &lapin::Channel,
    mut consumer: impl Stream<Item = Result<Delivery, ConsumerError>> + Unpin,
    stop: &CancellationToken,
) -> Result<(), ConsumerError> {
    let size = ctx.settings.worker.batch_size.get();
    let wait = Duration::from_millis(ctx.settings.worker.batch_wait_ms);
    let mut previous = 0;
    loop {
        let first = tokio::select! {
            () = stop.cancelled() => return Ok(()),
            next = consumer.next() => next,
        };
        let started = Instant::now();
        let mut deliveries = match first {
            Some(delivery) => vec![delivery?],
            None => return Err(ConsumerError::Ended),
        };
        // Under light load (the last batch was under a quarter full) nobody is about to join
        // this batch: take what is already buffered and go, so a lone /predict does not pay
        // the wait. Under load, wait up to `batch_wait_ms` so batches fill and transactions
        // stay few.
        if previous * 4 >= size && !wait.is_zero() {
            let deadline = tokio::time::Instant::now() + wait;
            while deliveries.len() < size {
                match tokio::time::timeout_at(deadline, consumer.next()).await {
                    Ok(Some(delivery)) => deliveries.push(delivery?),
                    Ok(None) | Err(_) => break,
                }
            }
        } else {
            // What the buffer holds now, without a timer: tokio's timers tick in whole
            // milliseconds, so even a deadline of "now" would hold a lone request until the
            // next tick (about 1 ms of a /predict's latency at one connection).
            while deliveries.len() < size {
                match consumer.next().now_or_never() {
                    Some(Some(delivery)) => deliveries.push(delivery?),
                    Some(None) | None => break,
                }
            }
        }
        previous = deliveries.len();

        let t = Instant::now();
        let now = now_ms();
        let (mut jobs, mut rejected, mut failed) =
            (Vec::<Job<'_>>::new(), Vec::<Rejected>::new(), Vec::new());
        // A classic queue has no delivery limit: what fails again on a redelivery is
        // dead-lettered instead of requeued (`batch::requeue`).
        let redelivered: HashSet<u64> = deliveries
            .iter()
            .filter(|d| d.redelivered)
            .map(|d| d.delivery_tag)
            .collect();
        let max_bytes = ctx.settings.amqp.max_message_bytes;
        for d in &deliveries {
            // A panic while decoding one message fails that message only.
            match std::panic::catch_unwind(AssertUnwindSafe(|| {
                job::decode(d.delivery_tag, &d.data, &d.properties, now, max_bytes)
            })) {
                Ok(Decoded::Job(j)) => jobs.push(*j),
                Ok(Decoded::Rejected(r)) => rejected.push(*r),
                Err(_) => {
                    tracing::error!(
                        delivery_tag = d.delivery_tag,
                        "panic while decoding a message"
                    );
                    failed.push(d.delivery_tag);
                }
            }
        }
        ctx.metrics.stage("validate", t.elapsed().as_secs_f64());

        let processed = AssertUnwindSafe(batch::process(
            ctx,
            channel,
            jobs,
            rejected,
            failed,
            &redelivered,
            started,
        ))
        .catch_unwind()
        .await;
        match processed {
            Ok(result) => {
                result?;
            }
            Err(_) => {
                // Unacked messages come back when the channel closes; restarting the channel
                // is the only way to settle them without knowing which step panicked.
                tracing::error!("panic while processing a batch; restarting the channel");
                return Err(ConsumerError::Panicked);
            }
        }
        // The jobs borrowed their bodies from the deliveries: released with the batch.
        drop(deliveries);
    }
}
