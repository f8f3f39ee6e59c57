//! The examples of the AsyncAPI document, made from the crate's own types and rules: the
//! record is [`sample::example`], the refusals are what the validator says. tests/it/asyncapi.rs
//! publishes every request example against the real broker and database and checks that it
//! gets the result its summary states, and that the replies are the reply examples.

use serde_json::{json, Map, Value};

use crate::model::{Contribution, RiskLevel};
use crate::record::{sample, validate};
use crate::wire::{
    Envelope, ErrorReply, ScoreReply, ENQUEUED_AT_HEADER, PREDICTION_HEADER, PROBABILITY_HEADER,
    REPLAYED_HEADER, SOURCE_HEADER, STATUS_HEADER, TRACEPARENT_HEADER,
};

/// The `request_id` of the scored example (and of its replay and its conflict).
pub const SCORED_ID: &str = "hr-2026-11-24-000123";
/// The `request_id` of the refused example.
pub const INVALID_ID: &str = "hr-2026-11-24-000124";
/// The `request_id` `POST /predict` made up in its example.
pub const PREDICT_ID: &str = "5f0c1b7e-8d44-4c2e-9a51-3b8e2f6d9c10";
/// The `employee_id` of the scored example.
pub const EMPLOYEE_ID: i64 = 123;

/// An example's publish time: 2026-11-24 09:00:00 UTC.
const ENQUEUED_AT_MS: i64 = 1_795_510_800_000;
/// A caller's W3C trace context (the specification's own example).
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn example(name: &str, summary: &str, headers: Value, payload: impl serde::Serialize) -> Value {
    json!({
        "name": name,
        "summary": summary,
        "headers": headers,
        "payload": serde_json::to_value(payload).expect("an example serializes"),
    })
}

fn request_headers() -> Value {
    json!({ENQUEUED_AT_HEADER: ENQUEUED_AT_MS, TRACEPARENT_HEADER: TRACEPARENT})
}

fn with(field: &str, value: Value) -> Map<String, Value> {
    let mut record = sample::example();
    record.insert(field.to_owned(), value);
    record
}

fn scored() -> Envelope {
    Envelope {
        request_id: Some(SCORED_ID.to_owned()),
        employee_id: Some(EMPLOYEE_ID),
        explain: true,
        ..Envelope::new(sample::example())
    }
}

fn invalid() -> Envelope {
    Envelope {
        request_id: Some(INVALID_ID.to_owned()),
        ..Envelope::new(with("age", json!(15)))
    }
}

/// The examples of the envelope message, published in this order.
pub fn envelopes() -> Vec<Value> {
    vec![
        example(
            "scored",
            "A valid envelope: one `predictions` row keyed hr-2026-11-24-000123 with employee_id \
             123 and source `queue`; with `reply_to`, the reply `x-status: 200` holding the \
             score and its explanation (scoreReply example `scored`).",
            request_headers(),
            scored(),
        ),
        example(
            "replayed",
            "The same message again (a redelivery or a producer's retry): no second row; the \
             reply is the stored result, with `x-idempotent-replayed: 1` (scoreReply example \
             `replayed`).",
            request_headers(),
            scored(),
        ),
        example(
            "conflict",
            "The same request_id with another record: the stored row is unchanged; one \
             `rejected_messages` row with reason `request_id_conflict`; the reply `x-status: \
             409` (errorReply example `conflict`).",
            request_headers(),
            Envelope {
                request_id: Some(SCORED_ID.to_owned()),
                ..Envelope::new(with("age", json!(42)))
            },
        ),
        example(
            "invalid",
            "A record that breaks a rule (age 15): no prediction; one `rejected_messages` row \
             with reason `invalid_record` and every error; the reply `x-status: 422` (errorReply \
             example `invalid`).",
            request_headers(),
            invalid(),
        ),
    ]
}

/// The examples of the bare record message.
pub fn bare_records() -> Vec<Value> {
    vec![example(
        "bare-record",
        "A bare record without `message_id`: one `predictions` row keyed `sha256:` and the \
         first 32 hex digits of the sha256 of the body bytes, with source `queue`.",
        json!({ENQUEUED_AT_HEADER: ENQUEUED_AT_MS}),
        sample::example(),
    )]
}

/// The examples of the `/predict` request message.
pub fn predict_requests() -> Vec<Value> {
    vec![example(
        "predict",
        "What `POST /predict` publishes (the record in canonical form, its request_id): one \
         `predictions` row with source `http`; the reply `x-status: 200` with the score.",
        json!({ENQUEUED_AT_HEADER: ENQUEUED_AT_MS, SOURCE_HEADER: "http", TRACEPARENT_HEADER: TRACEPARENT}),
        Envelope {
            request_id: Some(PREDICT_ID.to_owned()),
            ..Envelope::new(sample::example())
        },
    )]
}

fn score() -> ScoreReply {
    ScoreReply {
        request_id: SCORED_ID.to_owned(),
        prediction: 1,
        probability_0: 0.31,
        probability_1: 0.69,
        risk_level: RiskLevel::Medium,
        model_version: "xgb-8b3cf4a7e7ba".to_owned(),
        explanation: Some(vec![
            Contribution {
                field: "heure_supplementaires".to_owned(),
                contribution: 0.84,
            },
            Contribution {
                field: "age".to_owned(),
                contribution: 0.41,
            },
        ]),
    }
}

/// The examples of the score reply (figures depend on the bundle in service).
pub fn score_replies() -> Vec<Value> {
    vec![
        example(
            "scored",
            "The reply to the envelope example `scored`.",
            json!({STATUS_HEADER: 200, PREDICTION_HEADER: 1, PROBABILITY_HEADER: 0.69}),
            score(),
        ),
        example(
            "replayed",
            "The reply to the envelope example `replayed`: the stored result.",
            json!({STATUS_HEADER: 200, REPLAYED_HEADER: 1, PREDICTION_HEADER: 1, PROBABILITY_HEADER: 0.69}),
            score(),
        ),
    ]
}

/// The examples of the error reply.
pub fn error_replies() -> Vec<Value> {
    let errors = validate(&invalid().employee).expect_err("age 15 is refused");
    vec![
        example(
            "invalid",
            "The reply to the envelope example `invalid`: every broken rule.",
            json!({STATUS_HEADER: 422}),
            ErrorReply {
                request_id: Some(INVALID_ID.to_owned()),
                detail: errors,
            },
        ),
        example(
            "conflict",
            "The reply to the envelope example `conflict`.",
            json!({STATUS_HEADER: 409}),
            json!({
                "request_id": SCORED_ID,
                "detail": [{
                    "field": "request_id",
                    "message": "was already used with a different record; send a new request_id for a new request",
                    "value": SCORED_ID,
                }],
            }),
        ),
    ]
}
