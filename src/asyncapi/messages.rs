//! The messages of the AsyncAPI document: their AMQP headers and properties (as JSON Schema,
//! the header names taken from [`crate::wire`]) and their payloads, which refer to the schemas
//! of the OpenAPI document.

use serde_json::{json, Value};

use super::examples;
use crate::wire::{
    BATCH_HEADER, DIRECT_REPLY_TO, ENQUEUED_AT_HEADER, JSON, PREDICTION_HEADER, PROBABILITY_HEADER,
    REPLAYED_HEADER, SOURCE_HEADER, STATUS_HEADER, TRACEPARENT_HEADER, TRACESTATE_HEADER,
};

/// `{"$ref": "#/components/schemas/<name>"}`.
pub fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn trace_context(on: &str) -> [(&'static str, Value); 2] {
    [
        (
            TRACEPARENT_HEADER,
            json!({
                "type": "string",
                "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                "description": format!("Optional W3C trace context (https://www.w3.org/TR/trace-context/) {on}: continue the caller's trace; replies carry `traceparent`."),
            }),
        ),
        (
            TRACESTATE_HEADER,
            json!({
                "type": "string",
                "maxLength": 512,
                "description": "Optional W3C trace context: vendor state that travels with `traceparent`.",
            }),
        ),
    ]
}

/// The header schemas and the AMQP property schemas, by name, for `components.schemas`.
pub fn header_schemas() -> Vec<(&'static str, Value)> {
    let mut request = serde_json::Map::new();
    request.insert(ENQUEUED_AT_HEADER.into(), json!({
        "description": "Publish time in milliseconds since the Unix epoch: queue-wait metric, expiry, `predictions.enqueued_at`. An integer is best; a floating-point number (its fraction dropped) or a numeric string is accepted; anything else rejects the message (`invalid_header`). Without it, the `timestamp` property (seconds) is used.",
        "anyOf": [
            {"type": "integer", "minimum": 0, "maximum": 253_402_300_799_999_i64},
            {"type": "number", "minimum": 0, "maximum": 253_402_300_799_999_i64},
            {"type": "string", "pattern": "^[0-9]+$"},
        ],
    }));
    request.insert(SOURCE_HEADER.into(), json!({
        "type": "string",
        "enum": ["http", "batch"],
        "description": "Set by the project's own producers only (`POST /predict`: `http`, `POST /predict/batch`: `batch`); absent or anything else means `queue`. Stored in `predictions.source`.",
    }));
    request.insert(BATCH_HEADER.into(), json!({
        "type": "string",
        "format": "uuid",
        "description": "Set by `POST /predict/batch` only: the batch's UUID, stored in `predictions.batch_id`. A value that is not a UUID string rejects the message (`invalid_id`).",
    }));
    request.extend(trace_context("on a request").map(|(k, v)| (k.to_owned(), v)));

    let mut reply = serde_json::Map::new();
    reply.insert(STATUS_HEADER.into(), json!({
        "type": "integer",
        "enum": [200, 409, 422],
        "description": "The HTTP status the reply stands for (AMQP type `I`, 32-bit signed integer): 200 a score, 409 a request_id already used with another record, 422 a refused request.",
    }));
    reply.insert(REPLAYED_HEADER.into(), json!({
        "type": "integer",
        "const": 1,
        "description": "On a 200 reply that is the stored result of an earlier request with the same request_id and record (AMQP type `I`, not a boolean); absent otherwise.",
    }));
    reply.insert(PREDICTION_HEADER.into(), json!({
        "type": "integer",
        "enum": [0, 1],
        "description": "On a 200 reply only: the body's `prediction` (AMQP type `I`), so a consumer can log it without reading the body.",
    }));
    reply.insert(PROBABILITY_HEADER.into(), json!({
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "description": "On a 200 reply only: the body's `probability_1` (AMQP type `d`, 64-bit float).",
    }));
    reply.extend(trace_context("on a reply").map(|(k, v)| (k.to_owned(), v)));

    vec![
        (
            "RequestHeaders",
            json!({"type": "object", "properties": request}),
        ),
        (
            "ReplyHeaders",
            json!({"type": "object", "properties": reply, "required": [STATUS_HEADER]}),
        ),
        (
            "DeadLetterHeaders",
            json!({
                "type": "object",
                "description": "A dead letter keeps the request's headers, and RabbitMQ adds its own (`x-death`, `x-first-death-reason`, `x-first-death-queue`, ...), which `turnover dead list` shows.",
                "allOf": [
                    schema_ref("RequestHeaders"),
                    {"type": "object", "properties": {
                        "x-first-death-reason": {"type": "string", "description": "`delivery_limit`, `rejected` or `expired`"},
                        "x-first-death-queue": {"type": "string"},
                        "x-death": {"type": "array", "items": {"type": "object"}},
                    }},
                ],
            }),
        ),
        ("RequestProperties", request_properties()),
        (
            "ReplyProperties",
            json!({
                "type": "object",
                "description": "The AMQP properties of a reply, published through the default exchange to the request's `reply_to`; not persistent, not confirmed.",
                "properties": {
                    "content_type": {"const": JSON},
                    "correlation_id": {"type": "string", "description": "The request's `correlation_id`, when it had one. Drop replies whose id you no longer wait for: a redelivered request is answered again."},
                },
            }),
        ),
    ]
}

fn request_properties() -> Value {
    json!({
        "type": "object",
        "description": "The AMQP properties the worker reads (docs/contract.md#messages).",
        "properties": {
            "content_type": {"const": JSON},
            "delivery_mode": {"enum": [1, 2], "description": "2 (persistent) for queued work; `/predict` publishes 1."},
            "message_id": {"type": "string", "minLength": 1, "maxLength": 200, "description": "The request_id when the body has none: 1 to 200 bytes of UTF-8, no control characters (`invalid_id` otherwise)."},
            "expiration": {"type": "string", "pattern": "^[0-9]+$", "description": "Milliseconds: a request older than this when its turn comes is not scored (`expired`)."},
            "timestamp": {"type": "integer", "description": "Publish time in seconds, when `x-enqueued-at-ms` is absent."},
            "reply_to": {"type": "string", "description": format!("Where to publish the reply (through the default exchange); `POST /predict` uses `{DIRECT_REPLY_TO}`.")},
            "correlation_id": {"type": "string", "description": "Carried back on the reply."},
        },
    })
}

fn message(
    title: &str,
    summary: &str,
    headers: &str,
    properties: &str,
    payload: Value,
    examples: Vec<Value>,
) -> Value {
    json!({
        "title": title,
        "summary": summary,
        "contentType": JSON,
        "headers": schema_ref(headers),
        "payload": payload,
        "correlationId": {
            "description": "The AMQP `correlation_id` property: a reply carries the request's.",
            "location": "$message.header#/correlation_id",
        },
        "x-amqp-properties": schema_ref(properties),
        "examples": examples,
    })
}

/// `components.messages`.
pub fn messages() -> Value {
    json!({
        "envelope": message(
            "Scoring request (envelope)",
            "An employee record with its request_id, employee_id and whether to explain.",
            "RequestHeaders", "RequestProperties", schema_ref("Envelope"), examples::envelopes(),
        ),
        "bareRecord": message(
            "Scoring request (bare record)",
            "An employee record alone; its request_id is the message_id, else a hash of the body.",
            "RequestHeaders", "RequestProperties", schema_ref("EmployeeRecord"), examples::bare_records(),
        ),
        "predictRequest": message(
            "Synchronous scoring request",
            "What `POST /predict` publishes: a canonical envelope, transient, with `reply_to` = direct reply-to, a fresh `correlation_id` and `expiration` = what is left of the caller's deadline.",
            "RequestHeaders", "RequestProperties", schema_ref("Envelope"), examples::predict_requests(),
        ),
        "scoreReply": message(
            "Score",
            "`x-status: 200`: the score, byte for byte the body `POST /predict` answers.",
            "ReplyHeaders", "ReplyProperties", schema_ref("ScoreReply"), examples::score_replies(),
        ),
        "errorReply": message(
            "Refusal",
            "`x-status: 422` (every broken rule) or `409` (request_id already used with another record).",
            "ReplyHeaders", "ReplyProperties", schema_ref("ErrorReply"), examples::error_replies(),
        ),
        "deadLetter": {
            "title": "Dead letter",
            "summary": "A queued request RabbitMQ dead-lettered: past the delivery limit, rejected after a failed redelivery, or expired in the request queue. Its body and properties are the request's.",
            "contentType": JSON,
            "headers": schema_ref("DeadLetterHeaders"),
            "payload": {"description": "The request's bytes as published: normally an envelope or a bare record."},
            "x-amqp-properties": schema_ref("RequestProperties"),
        },
    })
}
