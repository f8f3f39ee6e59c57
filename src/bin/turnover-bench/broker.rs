//! The broker side: the ceiling measurement (publish with pipelined confirms into a fresh quorum
//! queue, consume with manual acks, no work in between), message bodies, and queue clean-up.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, ExchangeDeleteOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::Connection;
use turnover::config::Amqp;
use turnover::queue::publisher::{Outgoing, PublishReport, Publisher};
use turnover::queue::{self, topology};
use turnover::record::sample;
use turnover::wire::Envelope;

/// Unconfirmed publishes allowed in flight, and the ceiling consumer's prefetch and ack step.
pub struct Knobs {
    pub in_flight: usize,
    pub prefetch: u16,
    pub ack_every: u64,
}

/// `n` distinct valid requests (envelopes around generated records, about 1 KiB each).
pub fn requests(tag: &str, seed: u64, n: usize) -> Vec<Outgoing> {
    sample::many(seed, n)
        .into_iter()
        .enumerate()
        .map(|(i, record)| {
            let envelope = Envelope {
                request_id: Some(format!("bench-{tag}-{seed}-{i}")),
                employee_id: Some(i as i64),
                ..Envelope::new(record)
            };
            Outgoing {
                body: envelope.to_bytes(),
                ..Default::default()
            }
        })
        .collect()
}

/// `n` opaque bodies of `len` bytes, for the ceiling (the broker never looks inside).
pub fn opaque(n: usize, len: usize) -> Vec<Outgoing> {
    (0..n)
        .map(|i| {
            let mut body = format!("{{\"i\":{i},\"pad\":\"").into_bytes();
            body.resize(len.saturating_sub(2), b'x');
            body.extend_from_slice(b"\"}");
            Outgoing {
                body,
                ..Default::default()
            }
        })
        .collect()
}

/// Publishes with pipelined confirms on a fresh connection; fails unless every message was
/// confirmed (none returned, none nacked).
pub async fn publish(
    url: &str,
    exchange: &str,
    routing_key: &str,
    messages: Vec<Outgoing>,
    in_flight: usize,
    rate: Option<u32>,
) -> anyhow::Result<PublishReport> {
    let total = messages.len() as u64;
    let connection = queue::connect(url, "turnover-bench-publisher")
        .await
        .context("cannot connect to RabbitMQ")?;
    let publisher = Publisher::new(&connection, exchange, routing_key).await?;
    let report = publisher
        .publish_all(messages, in_flight, rate, |_| {})
        .await?;
    let _ = connection.close(200, "done".into()).await;
    if !report.all_confirmed(total) {
        bail!("publish incomplete: {report:?} of {total}");
    }
    Ok(report)
}

/// The broker ceiling: msg/s from the first publish to the last ack of `n` persistent messages
/// of `len` bytes through a fresh quorum queue, publisher and consumer on their own connections.
pub async fn ceiling(
    url: &str,
    queue_name: &str,
    n: usize,
    len: usize,
    knobs: &Knobs,
) -> anyhow::Result<f64> {
    let consumer_connection = queue::connect(url, "turnover-bench-consumer")
        .await
        .context("cannot connect to RabbitMQ")?;
    let channel = consumer_connection.create_channel().await?;
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    channel
        .queue_declare(
            queue_name.into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        )
        .await?;
    channel
        .basic_qos(knobs.prefetch, BasicQosOptions::default())
        .await?;
    let mut consumer = channel
        .basic_consume(
            queue_name.into(),
            "turnover-bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let messages = opaque(n, len);
    let ack_every = knobs.ack_every.max(1);
    let drain = tokio::spawn(async move {
        let mut seen = 0u64;
        while let Some(delivery) = consumer.next().await {
            let delivery = delivery?;
            seen += 1;
            if seen.is_multiple_of(ack_every) || seen == n as u64 {
                delivery
                    .acker
                    .ack(BasicAckOptions { multiple: true })
                    .await?;
            }
            if seen == n as u64 {
                return Ok::<_, anyhow::Error>(Instant::now());
            }
        }
        bail!("the ceiling consumer ended after {seen} of {n} messages")
    });
    let started = Instant::now();
    publish(url, "", queue_name, messages, knobs.in_flight, None).await?;
    let finished = tokio::time::timeout(Duration::from_secs(300), drain)
        .await
        .context("ceiling consumer timed out")???;
    let _ = channel
        .queue_delete(queue_name.into(), QueueDeleteOptions::default())
        .await;
    let _ = consumer_connection.close(200, "done".into()).await;
    Ok(n as f64 / (finished - started).as_secs_f64())
}

/// Messages ready in `queue` (0 when it does not exist).
pub async fn depth(url: &str, queue_name: &str) -> anyhow::Result<u32> {
    let connection = queue::connect(url, "turnover-bench-probe").await?;
    let channel = connection.create_channel().await?;
    let depth = topology::depth(&channel, queue_name)
        .await
        .map(|(ready, _)| ready)
        .unwrap_or(0);
    let _ = connection.close(200, "".into()).await;
    Ok(depth)
}

/// Consumers on `queue` (0 when it does not exist).
pub async fn consumers(connection: &Connection, queue_name: &str) -> u32 {
    // A fresh channel per look: a passive declare of a missing queue closes its channel.
    let Ok(channel) = connection.create_channel().await else {
        return 0;
    };
    let n = topology::depth(&channel, queue_name)
        .await
        .map(|(_, c)| c)
        .unwrap_or(0);
    let _ = channel.close(200, "".into()).await;
    n
}

/// Deletes the service's queues and exchanges (best effort).
pub async fn delete_topology(amqp: &Amqp, extra_queues: &[String]) {
    let Ok(connection) = queue::connect(&amqp.url, "turnover-bench-cleanup").await else {
        return;
    };
    if let Ok(channel) = connection.create_channel().await {
        for q in [&amqp.queue, &amqp.dead_letter_queue, &amqp.rpc_queue]
            .into_iter()
            .chain(extra_queues)
        {
            let _ = channel
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        for e in [&amqp.exchange, &amqp.dead_letter_exchange] {
            let _ = channel
                .exchange_delete(e.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
    }
    let _ = connection.close(200, "".into()).await;
}
