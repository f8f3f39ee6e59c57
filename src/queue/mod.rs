//! RabbitMQ: connecting with backoff, the topology (docs/contract.md#queues), publishing with
//! confirms, and the direct reply-to client behind `/predict`.
//!
//! Automatic recovery in lapin is off on purpose: after a connection loss the worker rebuilds
//! everything itself (connection, topology, prefetch, consumers), which is one code path that
//! tests exercise, instead of two that could disagree (lapin's recovery does not restore
//! `basic_qos`).

pub(crate) mod broker;
pub(crate) mod dead;
pub mod publisher;
pub mod resend;
pub(crate) mod rpc;
pub mod topology;

use std::time::Duration;

use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::Connection;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::config::{redact_url, Amqp};

pub use broker::{Brokers, ConnectError};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Connects once to the first broker of `url` that accepts (a comma-separated list, tried in
/// order), with no TLS file: `amqps://` URLs are checked against the system's roots only.
/// Tools and tests use it; the service uses [`connect_with`].
///
/// # Errors
/// When no broker accepts: unreachable, TLS refused, credentials refused.
pub async fn connect(url: &str, name: &str) -> Result<Connection, ConnectError> {
    let amqp = Amqp {
        url: url.to_owned(),
        ..Amqp::default()
    };
    connect_with(&amqp, name).await
}

/// Connects once to the first broker of `amqp.url` that accepts, with the `amqp.tls_*` files.
///
/// # Errors
/// As [`connect`], and [`ConnectError::Config`] when a URL or TLS file is unusable.
pub async fn connect_with(amqp: &Amqp, name: &str) -> Result<Connection, ConnectError> {
    Brokers::new(amqp)?.connect(name).await
}

/// Connects, retrying with capped exponential backoff (100 ms doubling to 5 s) over the whole
/// list of `amqp.url` until a broker accepts or `stop` is cancelled (then `None`).
pub async fn connect_with_backoff(
    amqp: &Amqp,
    name: &str,
    stop: &CancellationToken,
) -> Option<Connection> {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        let delay = backoff.next_delay();
        match connect_with(amqp, name).await {
            Ok(connection) => return Some(connection),
            Err(error) => {
                tracing::warn!(amqp.url = %redact_url(&amqp.url), error.message = %error, retry_in_ms = delay.as_millis() as u64, "cannot connect to RabbitMQ");
            }
        }
        tokio::select! {
            () = stop.cancelled() => return None,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// Closes a connection without waiting more than a moment: closing one whose broker died
/// waits for an answer that never comes, and a client moving to the next node must not wait
/// for the one it leaves.
pub async fn close_quietly(connection: &Connection, code: u16, reason: &str) {
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        connection.close(code, reason.into()),
    )
    .await;
}

/// The start-up check of `amqp.url`: a URL or TLS file that cannot be used, or a broker whose
/// TLS handshake fails (untrusted or misnamed certificate, no TLS on the port), stops the
/// service at start-up with one line, instead of a warning repeated forever. A broker that is
/// merely down is not an error here: the worker waits for it, and `/ready` reports it.
///
/// # Errors
/// A [`ConnectError`] that only an operator can fix.
pub async fn check_at_startup(amqp: &Amqp) -> Result<(), ConnectError> {
    let brokers = Brokers::new(amqp)?;
    if !brokers.uses_tls() {
        return Ok(());
    }
    match brokers.connect("turnover-startup-check").await {
        Ok(connection) => {
            let _ = connection.close(200, "start-up check".into()).await;
            Ok(())
        }
        Err(error) if error.needs_operator() => Err(error),
        Err(error) => {
            tracing::warn!(error.message = %error, "RabbitMQ not reachable at start-up; the worker keeps trying");
            Ok(())
        }
    }
}

/// A floating-point header value (AMQP `d` or `f`).
pub fn header_f64(headers: Option<&FieldTable>, name: &str) -> Option<f64> {
    match headers?.inner().get(&ShortString::from(name))? {
        AMQPValue::Double(x) => Some(*x),
        AMQPValue::Float(x) => Some(f64::from(*x)),
        _ => None,
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
