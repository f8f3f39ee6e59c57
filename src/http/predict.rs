//! `POST /predict`: validate at the edge, then a RabbitMQ request-reply through the request
//! queue, so that HTTP scores take the same path (and land in the same table) as queued ones.
//!
//! Nothing invalid is published: a record that breaks a rule is a 422 here, with every error.
//! The envelope published carries the canonical record (defaults filled in, the raise as a
//! number) and a `request_id`, the client's or a fresh uuid, which is the `predictions` row's.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::errors::ApiError;
use super::log::LogFields;
use super::openapi::{ErrorBody, PredictRequest, ValidationErrors};
use crate::model::{ErrorReply, ScoreReply};
use crate::queue::rpc::RpcError;
use crate::queue::SOURCE_HEADER;
use crate::record::{decode_object, DecodeError, Request};

/// Scores one employee.
#[utoipa::path(post, path = "/predict", tag = "scoring",
    params(("explain" = Option<bool>, Query, description = "Add the top contributions (SHAP) to the answer")),
    request_body(content = PredictRequest, description = "A bare record, or an envelope around one"),
    responses(
        (status = 200, description = "The score", body = ScoreReply),
        (status = 400, description = "The body is not a JSON object", body = ValidationErrors),
        (status = 401, description = "Missing or wrong X-API-Key", body = ErrorBody),
        (status = 422, description = "The record breaks rules; every error is listed", body = ValidationErrors),
        (status = 429, description = "Over the rate limit; see Retry-After", body = ErrorBody),
        (status = 503, description = "RabbitMQ is unreachable", body = ErrorBody),
        (status = 504, description = "No reply within http.predict_timeout_ms", body = ErrorBody),
    ),
    security((), ("api_key" = [])))]
pub async fn predict(
    State(state): State<super::State>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let query_explain = explain_param(query.as_deref())?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::malformed(DecodeError::NotJson(e.to_string()).errors()))?;
    let Value::Object(map) = value else {
        return Err(ApiError::malformed(DecodeError::NotAnObject.errors()));
    };
    let request = decode_object(map).map_err(|e| match e {
        DecodeError::Invalid(errors) => ApiError::invalid(errors),
        other => ApiError::malformed(other.errors()),
    })?;

    let request_id = request
        .request_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let bytes = Request {
        request_id: Some(request_id.clone()),
        explain: request.explain || query_explain,
        ..request
    }
    .to_envelope()
    .to_bytes();
    let timeout = Duration::from_millis(state.ctx.settings.http.predict_timeout_ms);

    let log = LogFields {
        request_id: Some(request_id.clone()),
        ..Default::default()
    };
    let reply = match state
        .rpc
        .call(&bytes, &[(SOURCE_HEADER, "http")], timeout)
        .await
    {
        Ok(reply) => reply,
        Err(error) => {
            let e = match error {
                RpcError::Unavailable | RpcError::Refused(_) => {
                    ApiError::unavailable(format!("{error}; retry later"))
                }
                RpcError::Timeout(ms) => ApiError::timeout(format!(
                    "no score within {ms} ms; is a worker consuming the request queue?"
                )),
            };
            return Ok(with_log(e.into_response(), log));
        }
    };
    let score = (reply.status == 200)
        .then(|| serde_json::from_slice::<ScoreReply>(&reply.body).ok())
        .flatten();
    let response = match (reply.status, score) {
        (200, Some(score)) => {
            let log = LogFields {
                prediction: Some(score.prediction),
                probability: Some(score.probability_1),
                ..log
            };
            with_log(json_response(StatusCode::OK, reply.body), log)
        }
        // The worker's verdict on a record the edge accepted: `{"request_id", "detail": [...]}`.
        (422, _) if serde_json::from_slice::<ErrorReply>(&reply.body).is_ok() => with_log(
            json_response(StatusCode::UNPROCESSABLE_ENTITY, reply.body),
            log,
        ),
        (status, _) => {
            tracing::error!(request_id = %request_id, reply.status = status, "unexpected reply from the worker");
            with_log(
                ApiError::internal("the worker sent an unexpected reply").into_response(),
                log,
            )
        }
    };
    Ok(response)
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn with_log(mut response: Response, log: LogFields) -> Response {
    response.extensions_mut().insert(log);
    response
}

/// `?explain=true` (also `1`, `false`, `0`); anything else is a 400, not silently ignored.
fn explain_param(query: Option<&str>) -> Result<bool, ApiError> {
    let mut explain = false;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, "true"));
        if key != "explain" {
            continue;
        }
        explain = match value {
            "true" | "1" => true,
            "false" | "0" => false,
            other => {
                return Err(ApiError::bad_request(format!(
                    "query parameter explain must be true or false, got {other:?}"
                )))
            }
        };
    }
    Ok(explain)
}

#[cfg(test)]
mod tests {
    use super::explain_param;

    #[test]
    fn the_explain_parameter_is_strict() {
        assert!(!explain_param(None).unwrap());
        assert!(explain_param(Some("explain=true")).unwrap());
        assert!(explain_param(Some("a=b&explain")).unwrap());
        assert!(!explain_param(Some("explain=0")).unwrap());
        assert!(explain_param(Some("explain=yes")).is_err());
    }
}
