//! RabbitMQ: connecting with backoff, the topology (docs/contract.md#queues), publishing with
//! confirms, and the direct reply-to client behind `/predict`.
//!
//! Automatic recovery in lapin is off on purpose: after a connection loss the worker rebuilds
//! everything itself (connection, topology, prefetch, consumers), which is one code path that
//! tests exercise, instead of two that could disagree (lapin's recovery does not restore
//! `basic_qos`).

pub mod publisher;
pub(crate) mod rpc;
pub mod topology;

use std::time::Duration;

use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Connection, ConnectionProperties};
use tokio_util::sync::CancellationToken;

use crate::config::redact_url;

/// Header carrying the publish time in milliseconds since the epoch: the AMQP `timestamp`
/// property has whole seconds only, too coarse for queue-wait latency.
pub const ENQUEUED_AT_HEADER: &str = "x-enqueued-at-ms";
/// Header of a reply: the HTTP status it stands for (200, 409 or 422).
pub const STATUS_HEADER: &str = "x-status";
/// Header of a reply (1) that carries the stored result of an earlier request with the same
/// `request_id` and the same record: an idempotent replay.
pub const REPLAYED_HEADER: &str = "x-idempotent-replayed";
/// Header naming where a request came from (`http`, `batch`); absent means `queue`.
pub const SOURCE_HEADER: &str = "x-source";
/// Header carrying the batch id of a `POST /predict/batch` employee.
pub const BATCH_HEADER: &str = "x-batch-id";

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Connects once.
///
/// # Errors
/// When the broker is unreachable or refuses the credentials.
pub async fn connect(url: &str, name: &str) -> Result<Connection, lapin::Error> {
    let properties =
        ConnectionProperties::default().with_client_property("connection_name".into(), name.into());
    Connection::connect(url, properties).await
}

/// Connects, retrying with capped exponential backoff (100 ms doubling to 5 s) until it
/// succeeds or `stop` is cancelled (then `None`).
pub async fn connect_with_backoff(
    url: &str,
    name: &str,
    stop: &CancellationToken,
) -> Option<Connection> {
    let mut delay = Duration::from_millis(100);
    loop {
        match connect(url, name).await {
            Ok(connection) => return Some(connection),
            Err(error) => {
                tracing::warn!(amqp.url = %redact_url(url), error.message = %error, retry_in_ms = delay.as_millis() as u64, "cannot connect to RabbitMQ");
            }
        }
        tokio::select! {
            () = stop.cancelled() => return None,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// A header value as a string or integer, whatever AMQP type the publisher used.
pub fn header_u64(headers: Option<&FieldTable>, name: &str) -> Option<u64> {
    let value = headers?.inner().get(&ShortString::from(name))?;
    match value {
        AMQPValue::LongLongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongUInt(n) => Some(u64::from(*n)),
        AMQPValue::ShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::ShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::Timestamp(n) => Some(*n),
        AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok()?.parse().ok(),
        AMQPValue::ShortString(s) => s.as_str().parse().ok(),
        _ => None,
    }
}
