//! Declares the exchanges and queues (docs/contract.md#queues), idempotently, at every (re)connect.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

use crate::config::{Amqp, QueueType};

/// Declares: the direct exchange, the request queue (quorum by default, with a delivery limit
/// and dead-lettering) bound with the routing key, the fanout dead-letter exchange with its
/// queue, and the transient queue of synchronous requests.
///
/// The synchronous queue (`amqp.rpc_queue`) is classic, not durable, with no dead-lettering,
/// and is published to through the default exchange: its caller holds the deadline and retries,
/// so a request nobody waits for any more is dropped, never kept for an operator to replay.
///
/// # Errors
/// When the broker refuses a declaration, e.g. a queue that exists with other arguments.
pub async fn declare(channel: &Channel, amqp: &Amqp) -> Result<(), lapin::Error> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .exchange_declare(
            amqp.exchange.as_str().into(),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await?;
    channel
        .exchange_declare(
            amqp.dead_letter_exchange.as_str().into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;

    let queue_options = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let mut dead_args = FieldTable::default();
    dead_args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(queue_type(amqp.queue_type).into()),
    );
    channel
        .queue_declare(
            amqp.dead_letter_queue.as_str().into(),
            queue_options,
            dead_args,
        )
        .await?;
    channel
        .queue_bind(
            amqp.dead_letter_queue.as_str().into(),
            amqp.dead_letter_exchange.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;

    channel
        .queue_declare(
            amqp.rpc_queue.as_str().into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await?;

    channel
        .queue_declare(
            amqp.queue.as_str().into(),
            queue_options,
            request_queue_args(amqp),
        )
        .await?;
    channel
        .queue_bind(
            amqp.queue.as_str().into(),
            amqp.exchange.as_str().into(),
            amqp.routing_key.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}

/// The request queue's arguments. A quorum queue counts deliveries and dead-letters a
/// message redelivered more than `delivery_limit` times: a poison message cannot loop forever.
pub fn request_queue_args(amqp: &Amqp) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(queue_type(amqp.queue_type).into()),
    );
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(amqp.dead_letter_exchange.as_str().into()),
    );
    if amqp.queue_type == QueueType::Quorum {
        args.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongInt(amqp.delivery_limit as i32),
        );
    }
    args
}

fn queue_type(t: QueueType) -> &'static str {
    match t {
        QueueType::Quorum => "quorum",
        QueueType::Classic => "classic",
    }
}

/// Messages ready in a queue, by passive declaration (no side effect).
///
/// # Errors
/// When the queue does not exist or the channel is closed.
pub async fn depth(channel: &Channel, queue: &str) -> Result<(u32, u32), lapin::Error> {
    let q = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok((q.message_count(), q.consumer_count()))
}
