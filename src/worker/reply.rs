//! What the worker answers a producer that set `reply_to` (docs/contract.md#replies): the
//! body, its status header, whether it replays a stored result, and on a score the prediction
//! and probability again as headers, so the HTTP sidecar can forward the body untouched and
//! still log them.

use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel};
use serde::Serialize;
use serde_json::json;

use super::job::{Job, ReplyTo};
use crate::model::Contribution;
use crate::record::FieldError;
use crate::serving::Scored;
use crate::storage::StoredScore;
use crate::trace::Traced;
use crate::wire::{
    ScoreReply, PREDICTION_HEADER, PROBABILITY_HEADER, REPLAYED_HEADER, STATUS_HEADER,
};

/// One answer: a score (replayed or not), or a refusal with its HTTP status (409, 422) and
/// its body already written (see [`refusal`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Score(ScoreReply, bool),
    Refused(u16, Vec<u8>),
}

/// The reply to a request scored now.
pub fn score(model_version: &str, job: &Job<'_>, s: &Scored) -> ScoreReply {
    ScoreReply {
        request_id: job.request_id.clone(),
        prediction: s.score.prediction,
        probability_0: 1.0 - s.score.probability,
        probability_1: s.score.probability,
        risk_level: s.score.risk_level,
        model_version: model_version.to_owned(),
        explanation: s.explanation.clone(),
    }
}

/// The reply to a request answered from its stored row: the caller gets what the database
/// holds, not what this delivery's scoring computed.
pub fn stored(job: &Job<'_>, stored: &StoredScore) -> ScoreReply {
    ScoreReply {
        request_id: job.request_id.clone(),
        prediction: u8::from(stored.prediction == 1),
        probability_0: 1.0 - stored.probability,
        probability_1: stored.probability,
        risk_level: stored.risk_level,
        model_version: stored.model_version.clone(),
        explanation: stored
            .explanation
            .clone()
            .and_then(|e| serde_json::from_value::<Vec<Contribution>>(e).ok()),
    }
}

/// The errors of a `request_id` already stored with another record, as JSON: built once, for
/// both the `rejected_messages` row and the reply's `detail`.
pub fn conflict_errors(job: &Job<'_>) -> serde_json::Value {
    let error = FieldError::new(
        "request_id",
        "was already used with a different record; send a new request_id for a new request",
        json!(job.request_id),
    );
    json!([error])
}

/// The body of a refusal (docs/contract.md#replies), `{"request_id", "detail": [...]}`, from
/// the errors as they are stored: the same JSON as [`crate::model::ErrorReply`] writes.
pub fn refusal(request_id: Option<&str>, detail: &serde_json::Value) -> Vec<u8> {
    #[derive(Serialize)]
    struct Body<'a> {
        request_id: Option<&'a str>,
        detail: &'a serde_json::Value,
    }
    serde_json::to_vec(&Body { request_id, detail }).expect("a refusal always serializes")
}

/// Publishes `answer` to the producer's reply queue with its correlation id, and the
/// `traceparent` of the message's span (`trace`).
///
/// # Errors
/// When the channel fails.
pub async fn publish(
    channel: &Channel,
    to: &ReplyTo,
    answer: &Answer,
    trace: &Traced,
) -> Result<(), lapin::Error> {
    let mut headers = FieldTable::default();
    crate::trace::amqp::insert(&mut headers, trace);
    let (status, bytes) = match answer {
        Answer::Score(body, replayed) => {
            if *replayed {
                headers.insert(REPLAYED_HEADER.into(), AMQPValue::LongInt(1));
            }
            headers.insert(
                PREDICTION_HEADER.into(),
                AMQPValue::LongInt(i32::from(body.prediction)),
            );
            headers.insert(
                PROBABILITY_HEADER.into(),
                AMQPValue::Double(body.probability_1),
            );
            let bytes = serde_json::to_vec(body).expect("a reply always serializes");
            (200, std::borrow::Cow::Owned(bytes))
        }
        Answer::Refused(status, body) => (*status, std::borrow::Cow::Borrowed(body.as_slice())),
    };
    headers.insert(STATUS_HEADER.into(), AMQPValue::LongInt(i32::from(status)));
    let mut properties = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_headers(headers);
    if let Some(id) = &to.correlation_id {
        properties = properties.with_correlation_id(id.as_str().into());
    }
    // Replies are not confirmed: a lost reply costs the caller a 504, never a result (the row
    // is committed), and waiting for a confirm would put a round trip on every batch.
    channel
        .basic_publish(
            "".into(),
            to.queue.as_str().into(),
            BasicPublishOptions::default(),
            &bytes,
            properties,
        )
        .await?;
    Ok(())
}
