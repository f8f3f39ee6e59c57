//! Trace context on messages: the `traceparent` / `tracestate` headers of a delivery (AMQP
//! long or short strings, as any client sends them), the consumer's span of each message, and
//! the header of a reply.
//!
//! A header that is missing or breaks the W3C rules starts a new trace: a message is never
//! refused for its trace context.

use lapin::types::{AMQPValue, FieldTable, ShortString};
use tracing::Span;

use super::{TraceParent, Traced, TRACEPARENT_HEADER, TRACESTATE_HEADER};

/// The caller's position, from a delivery's headers.
#[must_use]
pub fn parent(headers: Option<&FieldTable>) -> Option<TraceParent> {
    let text = |name: &str| -> Option<String> {
        match headers?.inner().get(&ShortString::from(name))? {
            AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok().map(str::to_owned),
            AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
            _ => None,
        }
    };
    TraceParent::parse(
        &text(TRACEPARENT_HEADER)?,
        text(TRACESTATE_HEADER).as_deref(),
    )
}

/// The consumer's span of one message, started when it is decoded: a child of the producer's
/// `traceparent`, or the root of a new trace. Every log line about the message is inside it.
#[must_use]
pub fn consume(request_id: &str, headers: Option<&FieldTable>) -> Traced {
    let span = tracing::info_span!(
        parent: None,
        "job",
        otel.kind = "consumer",
        messaging.system = "rabbitmq",
        request_id = %request_id,
        trace_id = tracing::field::Empty,
        model_version = tracing::field::Empty,
    );
    Traced::start(span, parent(headers).as_ref())
}

/// The producer's span of a request published from inside the current span (an HTTP
/// request's), to `queue`: its `traceparent` goes on the message.
#[must_use]
pub fn publish(queue: &str) -> Traced {
    let span = tracing::info_span!(
        "publish",
        otel.kind = "producer",
        messaging.system = "rabbitmq",
        messaging.destination.name = queue,
        trace_id = tracing::field::Empty,
    );
    Traced::start(span, None)
}

/// The span of the reply to one message.
#[must_use]
pub fn reply_span(job: &Traced) -> Span {
    tracing::info_span!(
        parent: &job.span,
        "reply",
        otel.kind = "producer",
        messaging.system = "rabbitmq"
    )
}

/// Adds `traceparent` to a message's headers: the position of `traced`'s span.
pub fn insert(headers: &mut FieldTable, traced: &Traced) {
    headers.insert(
        TRACEPARENT_HEADER.into(),
        AMQPValue::LongString(traced.traceparent.as_str().into()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, AMQPValue)]) -> FieldTable {
        let mut table = FieldTable::default();
        for (name, value) in pairs {
            table.insert((*name).into(), value.clone());
        }
        table
    }

    #[test]
    fn a_message_with_a_traceparent_continues_its_trace_and_one_without_starts_one() {
        let given = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let table = headers(&[(TRACEPARENT_HEADER, AMQPValue::LongString(given.into()))]);
        let job = consume("r1", Some(&table));
        assert_eq!(job.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(job
            .traceparent
            .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(
            !job.traceparent.contains("00f067aa0ba902b7"),
            "a span of its own"
        );

        let (a, b) = (consume("r2", None), consume("r3", None));
        assert_eq!(a.trace_id.len(), 32);
        assert!(a
            .trace_id
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a.trace_id, b.trace_id);
    }

    #[test]
    fn a_malformed_or_mistyped_header_starts_a_new_trace() {
        let table = headers(&[(TRACEPARENT_HEADER, AMQPValue::LongInt(7))]);
        assert_eq!(parent(Some(&table)), None);
        let table = headers(&[(TRACEPARENT_HEADER, AMQPValue::LongString("00-zz".into()))]);
        assert_eq!(parent(Some(&table)), None);
        assert_ne!(consume("r", Some(&table)).trace_id.len(), 0);
    }

    #[test]
    fn a_reply_carries_the_jobs_position() {
        let job = consume("r", None);
        let mut table = FieldTable::default();
        insert(&mut table, &job);
        let back = parent(Some(&table)).unwrap();
        assert_eq!(back.trace_id_hex(), job.trace_id);
    }
}
