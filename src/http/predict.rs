//! `POST /predict`: validate at the edge, then a RabbitMQ request-reply through the request
//! queue, so that HTTP scores take the same path (and land in the same table) as queued ones.
//!
//! Nothing invalid is published: a record that breaks a rule is a 422 here, with every error.
//! The envelope published carries the canonical record (defaults filled in, the raise as a
//! number) and a `request_id`, the client's or a fresh uuid, which is the `predictions` row's.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::errors::ApiError;
use super::log::LogFields;
use super::openapi::{ErrorBody, PredictRequest, ValidationErrors};
use crate::queue::rpc::RpcError;
use crate::record::ids::check_id;
use crate::record::FieldError;
use crate::wire::{
    decode_request, DecodeError, Request, ScoreReply, IDEMPOTENCY_KEY_HEADER,
    IDEMPOTENT_REPLAYED_HEADER, SOURCE_HEADER,
};
use tracing::Instrument as _;

/// Scores one employee.
///
/// The `request_id` (the envelope's, else the `Idempotency-Key` header, else a fresh uuid) is an
/// idempotency key: sent again with the same record, the stored result is answered with
/// `Idempotent-Replayed: true`; sent with another record, the request is refused with a 409.
#[utoipa::path(post, path = "/predict", tag = "scoring",
    params(
        ("explain" = Option<bool>, Query, description = "Add the top contributions (SHAP) to the answer"),
        ("Idempotency-Key" = Option<String>, Header, description = "The request's id, when the envelope has no request_id: 1 to 200 bytes of UTF-8 with no control characters (else a 422 on the field Idempotency-Key)", min_length = 1, max_length = 200),
    ),
    request_body(content = PredictRequest, description = "A bare record, or an envelope around one"),
    responses(
        (status = 200, description = "The score; with `Idempotent-Replayed: true` when it is the stored result of an earlier request with the same id and record", body = ScoreReply,
            headers(("Idempotent-Replayed" = String, description = "`true` on a replayed result"))),
        (status = 400, description = "The body is not a JSON object, or a query parameter is malformed", body = ValidationErrors),
        (status = 401, description = "Missing or wrong X-API-Key", body = ErrorBody),
        (status = 403, description = "The key lacks the score scope", body = ErrorBody),
        (status = 404, description = "No such route", body = ErrorBody),
        (status = 405, description = "Method not allowed (POST only)", body = ErrorBody),
        (status = 409, description = "The request_id was used before with a different record", body = ValidationErrors),
        (status = 408, description = "The body did not arrive within http.read_timeout_ms", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody),
        (status = 422, description = "The record breaks rules, or an id (request_id, Idempotency-Key) breaks the id rule; every error is listed", body = ValidationErrors),
        (status = 429, description = "Over the rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "The worker sent a reply the sidecar cannot read (a bug; logged)", body = ErrorBody),
        (status = 503, description = "RabbitMQ is unreachable", body = ErrorBody),
        (status = 504, description = "No reply within http.predict_timeout_ms", body = ErrorBody),
    ),
    security((), ("api_key" = [])))]
pub async fn predict(
    State(state): State<super::Shared>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let query_explain = explain_param(query.as_deref())?;
    let key = idempotency_key(&headers)?;
    let request = decode_request(&body).map_err(|e| match e {
        DecodeError::Invalid(errors) => ApiError::invalid(errors),
        other => ApiError::malformed(other.errors()),
    })?;

    let request_id = match (request.request_id.clone(), key) {
        (Some(id), Some(key)) if id != key => {
            return Err(ApiError::invalid(vec![FieldError::new(
                "request_id",
                "differs from the Idempotency-Key header; send one id",
                json!(id),
            )]))
        }
        (Some(id), _) | (None, Some(id)) => id,
        (None, None) => uuid::Uuid::new_v4().to_string(),
    };
    let bytes = Request {
        request_id: Some(request_id.clone()),
        explain: request.explain || query_explain,
        ..request
    }
    .envelope_bytes();
    let timeout = Duration::from_millis(state.ctx.settings.http.predict_timeout_ms.get());

    let log = LogFields {
        request_id: Some(request_id.clone()),
        ..Default::default()
    };
    // The request's trace goes on through the broker: the worker's span is the publish's child.
    let publish = crate::trace::amqp::publish(&state.ctx.settings.amqp.rpc_queue);
    let headers = [
        (SOURCE_HEADER, "http"),
        (
            crate::trace::TRACEPARENT_HEADER,
            publish.traceparent.as_str(),
        ),
    ];
    let reply = match state
        .rpc
        .call(&bytes, &headers, timeout)
        .instrument(publish.span.clone())
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
    // The worker's body is the answer, forwarded as it came; what the log needs is in the
    // reply's headers.
    let response = match reply.status {
        200 => {
            let log = LogFields {
                prediction: reply.prediction,
                probability: reply.probability,
                ..log
            };
            let mut response = json_response(StatusCode::OK, reply.body);
            if reply.replayed {
                response
                    .headers_mut()
                    .insert(IDEMPOTENT_REPLAYED_HEADER, HeaderValue::from_static("true"));
            }
            with_log(response, log)
        }
        // The worker's verdict on a record the edge accepted, `{"request_id", "detail": [...]}`:
        // 409 for a request_id stored with another record, 422 for a rule.
        409 => with_log(json_response(StatusCode::CONFLICT, reply.body), log),
        422 => with_log(
            json_response(StatusCode::UNPROCESSABLE_ENTITY, reply.body),
            log,
        ),
        status => {
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
                return Err(ApiError::malformed(vec![FieldError::new(
                    "explain",
                    "query parameter must be true or false",
                    json!(other),
                )]))
            }
        };
    }
    Ok(explain)
}

/// The `Idempotency-Key` header, under the rule of every id (`record::ids`); a refused one is a
/// 422 naming the header and the rule, and never becomes a key.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY_HEADER) else {
        return Ok(None);
    };
    match check_id("Idempotency-Key", value.as_bytes()) {
        Ok(key) => Ok(Some(key.to_owned())),
        Err(error) => Err(ApiError::invalid(vec![error])),
    }
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
