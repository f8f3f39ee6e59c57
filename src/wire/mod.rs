//! The wire format (docs/contract.md#messages, #headers, #replies): the request envelope, the
//! replies, the names of every AMQP and HTTP header the project sets or reads, and the
//! properties of a request message. Producers, the worker, the sidecar, the OpenAPI document
//! and the AsyncAPI document all take them from here, so a name is spelled once.
//!
//! This module knows the format only: it does not connect, publish or store.

mod envelope;
mod properties;
mod reply;

pub use envelope::{decode_keyed, decode_request, DecodeError, Envelope, Request};
pub use properties::{request_properties, Delivery};
pub use reply::{ErrorReply, ScoreReply};

/// `content_type` of every request and reply.
pub const JSON: &str = "application/json";

/// RabbitMQ's pseudo-queue for direct replies: the `reply_to` of a `/predict` request.
pub const DIRECT_REPLY_TO: &str = "amq.rabbitmq.reply-to";

/// Request header carrying the publish time in milliseconds since the epoch: the AMQP
/// `timestamp` property has whole seconds only, too coarse for queue-wait latency.
pub const ENQUEUED_AT_HEADER: &str = "x-enqueued-at-ms";
/// Request header naming where a request came from (`http`, `batch`); absent means `queue`.
pub const SOURCE_HEADER: &str = "x-source";
/// Request header carrying the batch id of a `POST /predict/batch` employee.
pub const BATCH_HEADER: &str = "x-batch-id";
/// Reply header: the HTTP status the reply stands for (200, 409 or 422).
pub const STATUS_HEADER: &str = "x-status";
/// Reply header (1) on the stored result of an earlier request with the same `request_id` and
/// the same record: an idempotent replay.
pub const REPLAYED_HEADER: &str = "x-idempotent-replayed";
/// Header of a 200 reply: its `prediction` (0 or 1), so a consumer can log it without
/// reading the body.
pub const PREDICTION_HEADER: &str = "x-prediction";
/// Header of a 200 reply: its `probability_1`, likewise.
pub const PROBABILITY_HEADER: &str = "x-probability";
/// W3C trace context (AMQP header and HTTP header): the caller's trace and span.
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// W3C trace context (AMQP header and HTTP header): vendor state travelling with `traceparent`.
pub const TRACESTATE_HEADER: &str = "tracestate";

/// AMQP header RabbitMQ adds to a dead-lettered message: one entry per queue and reason, with
/// its `count`.
pub const DEATH_HEADER: &str = "x-death";
/// AMQP header RabbitMQ adds to a dead-lettered message: why it died first.
pub const FIRST_DEATH_REASON_HEADER: &str = "x-first-death-reason";
/// AMQP header RabbitMQ adds to a dead-lettered message: the queue it died in first.
pub const FIRST_DEATH_QUEUE_HEADER: &str = "x-first-death-queue";
/// Every header RabbitMQ adds when it dead-letters a message or counts its deliveries, by name
/// or prefix: what `turnover dead replay` leaves out of the copy it publishes again.
pub const DEATH_HEADERS: [&str; 4] = [
    DEATH_HEADER,
    "x-first-death-",
    "x-last-death-",
    "x-delivery-count",
];

/// HTTP request header holding an API key.
pub const API_KEY_HEADER: &str = "x-api-key";
/// HTTP header: the caller's request id, echoed on the response (made up when absent).
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// HTTP request header of `POST /predict`: the request's id when the envelope has none.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// HTTP response header of `POST /predict`: `true` on a replayed result.
pub const IDEMPOTENT_REPLAYED_HEADER: &str = "idempotent-replayed";
/// HTTP request header naming the client behind trusted proxies.
pub const FORWARDED_FOR_HEADER: &str = "x-forwarded-for";
