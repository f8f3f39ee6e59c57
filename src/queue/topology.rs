//! Declares the exchanges and queues (docs/contract.md#queues), idempotently, at every (re)connect.
//!
//! One argument is only a creation setting: `x-quorum-initial-group-size`. RabbitMQ still
//! compares it when a queue is declared again, and refuses a different value (or its absence)
//! with PRECONDITION_FAILED, which closes the channel. A queue created before the setting
//! existed, or with another size, is used as it is, with a warning, rather than stopping
//! start-up over a number that can no longer change anything.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ExchangeKind};

use crate::config::{Amqp, QueueType};

/// Declares the durable topology: the direct exchange, the request queue (quorum by default,
/// with a delivery limit and dead-lettering) bound with the routing key, and the fanout
/// dead-letter exchange with its queue. The transient queue of synchronous requests is
/// declared apart, by [`declare_rpc_queue`], because it can be missing while this is not.
///
/// Opens its own channels (a refused declaration closes the channel it was made on) and
/// closes them when done.
///
/// # Errors
/// When the broker refuses a declaration, e.g. a queue that exists with another type.
pub async fn declare(connection: &Connection, amqp: &Amqp) -> Result<(), lapin::Error> {
    let channel = connection.create_channel().await?;
    let channel = match declare_on(&channel, amqp, true).await {
        Err(error) if amqp.queue_type == QueueType::Quorum && refuses_group_size(&error) => {
            tracing::warn!(
                queue = %amqp.queue,
                error.message = %error,
                "the request queue exists with another x-quorum-initial-group-size; \
                 it is used as it is (the setting only applies when a queue is created)"
            );
            let channel = connection.create_channel().await?;
            declare_on(&channel, amqp, false).await?;
            channel
        }
        other => {
            other?;
            channel
        }
    };
    let _ = channel.close(200, "declared".into()).await;
    Ok(())
}

/// Declares the transient queue of synchronous requests (`amqp.rpc_queue`): classic, not
/// durable, with no dead-lettering, published to through the default exchange. Its caller holds
/// the deadline and retries, so a request nobody waits for any more is dropped, never kept for
/// an operator to replay.
///
/// Being classic and transient, it lives on one node of a cluster: while that node is down the
/// broker refuses to declare it (NOT_FOUND, "process is stopped by supervisor"), and when the
/// node comes back the queue is gone. Callers therefore treat a failure here as temporary and
/// try again, and never let it stop the durable path.
///
/// # Errors
/// When the broker refuses the declaration.
pub async fn declare_rpc_queue(connection: &Connection, amqp: &Amqp) -> Result<(), lapin::Error> {
    let channel = connection.create_channel().await?;
    channel
        .queue_declare(
            amqp.rpc_queue.as_str().into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let _ = channel.close(200, "declared".into()).await;
    Ok(())
}

/// Whether the broker refused a declaration over `x-quorum-initial-group-size` alone.
fn refuses_group_size(error: &lapin::Error) -> bool {
    match error.kind() {
        lapin::ErrorKind::ProtocolError(e) => {
            matches!(
                e.kind(),
                AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED)
            ) && e
                .get_message()
                .as_str()
                .contains("'x-quorum-initial-group-size'")
        }
        _ => false,
    }
}

async fn declare_on(
    channel: &Channel,
    amqp: &Amqp,
    with_group_size: bool,
) -> Result<(), lapin::Error> {
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
    channel
        .queue_declare(
            amqp.dead_letter_queue.as_str().into(),
            queue_options,
            dead_letter_queue_args(amqp),
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
            amqp.queue.as_str().into(),
            queue_options,
            queue_args(amqp, with_group_size),
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

const GROUP_SIZE: &str = "x-quorum-initial-group-size";

/// The dead-letter queue's arguments: the request queue's type and, when set, a TTL. Dead
/// letters are request bodies, personal data: the TTL lets the broker drop them once they are
/// older than the deployment may keep them (docs/privacy.md).
pub fn dead_letter_queue_args(amqp: &Amqp) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(queue_type(amqp.queue_type).into()),
    );
    if let Some(ttl) = amqp.dead_letter_ttl_ms {
        args.insert("x-message-ttl".into(), AMQPValue::LongUInt(ttl.get()));
    }
    args
}

/// The request queue's arguments. A quorum queue counts deliveries and dead-letters a
/// message redelivered more than `delivery_limit` times: a poison message cannot loop forever.
/// It is created on `quorum_initial_group_size` nodes (RabbitMQ takes them all when the
/// cluster has fewer), so losing a minority of them loses no confirmed message.
pub fn request_queue_args(amqp: &Amqp) -> FieldTable {
    queue_args(amqp, true)
}

fn queue_args(amqp: &Amqp, with_group_size: bool) -> FieldTable {
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
        if with_group_size {
            args.insert(
                GROUP_SIZE.into(),
                AMQPValue::LongInt(amqp.quorum_initial_group_size.get() as i32),
            );
        }
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
