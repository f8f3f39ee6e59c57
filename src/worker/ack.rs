//! Settling a batch's deliveries with the broker once its rows are committed and its replies
//! sent: one `multiple` ack when nothing failed, else each ack and nack on its own.

use std::collections::HashSet;

use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::Channel;

use super::job::{Job, Rejected};
use crate::app::AppContext;
use crate::config::QueueType;

/// Acks what was handled. Every earlier delivery of this channel is settled before a batch
/// starts, so when nothing failed one `multiple` ack up to the highest tag settles exactly
/// this batch.
pub async fn ack(
    ctx: &AppContext,
    channel: &Channel,
    jobs: &[Job<'_>],
    rejected: &[Rejected],
    failed: &[u64],
    redelivered: &HashSet<u64>,
) -> Result<(), lapin::Error> {
    let done = jobs
        .iter()
        .map(|j| j.tag)
        .chain(rejected.iter().map(|r| r.tag));
    if failed.is_empty() {
        if let Some(max) = done.max() {
            channel
                .basic_ack(max, BasicAckOptions { multiple: true })
                .await?;
        }
        return Ok(());
    }
    for tag in done {
        channel
            .basic_ack(tag, BasicAckOptions { multiple: false })
            .await?;
    }
    requeue(ctx, channel, failed, redelivered).await
}

/// Gives messages back to the queue; each return counts towards the delivery limit. A classic
/// queue has no delivery limit: there a message that fails again on a redelivery is rejected
/// without requeue, which dead-letters it (issue 23), and counted `dead_lettered`.
pub async fn requeue(
    ctx: &AppContext,
    channel: &Channel,
    tags: &[u64],
    redelivered: &HashSet<u64>,
) -> Result<(), lapin::Error> {
    let classic = ctx.settings.amqp.queue_type == QueueType::Classic;
    for &tag in tags {
        let again = classic && redelivered.contains(&tag);
        if again {
            tracing::warn!(
                delivery_tag = tag,
                "failed again on a redelivery from a classic queue; dead-lettered"
            );
            ctx.metrics.jobs.with_label_values(&["dead_lettered"]).inc();
        }
        let options = BasicNackOptions {
            requeue: !again,
            multiple: false,
        };
        channel.basic_nack(tag, options).await?;
    }
    Ok(())
}
