//! What the worker answers a producer that set `reply_to` (docs/contract.md#replies): the
//! body, its status header, and whether it replays a stored result.

use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel};
use serde_json::json;

use super::job::{Job, ReplyTo};
use crate::model::{Contribution, ErrorReply, ScoreReply, Scored};
use crate::queue::{REPLAYED_HEADER, STATUS_HEADER};
use crate::record::FieldError;
use crate::storage::StoredScore;
use crate::trace::Traced;

/// One answer: a score (replayed or not), or a refusal with its HTTP status (409, 422).
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Score(ScoreReply, bool),
    Refused(u16, ErrorReply),
}

/// The reply to a request scored now.
pub fn score(model_version: &str, job: &Job, s: &Scored) -> ScoreReply {
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
pub fn stored(job: &Job, stored: &StoredScore) -> ScoreReply {
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

/// The refusal of a `request_id` already stored with another record.
pub fn conflict(job: &Job) -> ErrorReply {
    ErrorReply {
        request_id: Some(job.request_id.clone()),
        detail: vec![FieldError::new(
            "request_id",
            "was already used with a different record; send a new request_id for a new request",
            json!(job.request_id),
        )],
    }
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
            (200, serde_json::to_vec(body))
        }
        Answer::Refused(status, body) => (*status, serde_json::to_vec(body)),
    };
    headers.insert(STATUS_HEADER.into(), AMQPValue::LongInt(i32::from(status)));
    let bytes = bytes.expect("a reply always serializes");
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
