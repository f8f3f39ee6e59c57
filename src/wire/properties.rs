//! The AMQP properties of a scoring request (docs/contract.md#messages): one builder for every
//! publisher of the project (`turnover enqueue`, `/predict/batch`, `/predict`), so they cannot
//! disagree on the content type, the delivery mode or the enqueue-time header.

use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;

use super::{ENQUEUED_AT_HEADER, JSON};

/// How long the broker keeps a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// `delivery_mode = 2`: queued work, kept across a broker restart.
    Persistent,
    /// `delivery_mode = 1`: a `/predict` request, which lives only as long as its caller waits.
    Transient,
}

/// The properties of a request published at `now_ms` (milliseconds since the epoch):
/// `content_type: application/json`, the delivery mode, `timestamp` (seconds), the header
/// `x-enqueued-at-ms` (a 64-bit integer) and `headers` as strings. Callers add what is theirs
/// (`message_id`, `expiration`, `reply_to`, `correlation_id`).
pub fn request_properties<'a>(
    delivery: Delivery,
    now_ms: u64,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BasicProperties {
    let mut table = FieldTable::default();
    table.insert(
        ENQUEUED_AT_HEADER.into(),
        AMQPValue::LongLongInt(now_ms as i64),
    );
    for (name, value) in headers {
        table.insert(name.into(), AMQPValue::LongString(value.into()));
    }
    BasicProperties::default()
        .with_content_type(JSON.into())
        .with_delivery_mode(match delivery {
            Delivery::Persistent => 2,
            Delivery::Transient => 1,
        })
        .with_timestamp(now_ms / 1000)
        .with_headers(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::SOURCE_HEADER;

    #[test]
    fn a_request_carries_json_its_delivery_mode_and_its_enqueue_time() {
        let properties = request_properties(
            Delivery::Transient,
            1_700_000_123_456,
            [(SOURCE_HEADER, "http")],
        );
        assert_eq!(properties.content_type().as_ref().unwrap().as_str(), JSON);
        assert_eq!(*properties.delivery_mode(), Some(1));
        assert_eq!(*properties.timestamp(), Some(1_700_000_123));
        let headers = properties.headers().as_ref().unwrap().inner();
        assert_eq!(
            headers.get(ENQUEUED_AT_HEADER),
            Some(&AMQPValue::LongLongInt(1_700_000_123_456))
        );
        assert_eq!(
            headers.get(SOURCE_HEADER),
            Some(&AMQPValue::LongString("http".into()))
        );
        let persistent = request_properties(Delivery::Persistent, 0, []);
        assert_eq!(*persistent.delivery_mode(), Some(2));
    }
}
