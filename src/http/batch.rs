//! `POST /predict/batch` (the three CSV extracts in, one queued request per employee) and
//! `GET /batches/{batch_id}` (progress, then results and summary).
//!
//! The extracts are checked whole before anything is published (all-or-nothing, as
//! `turnover score`): a bad cell is a 422 naming file, line and column, and nothing is queued.
//! Publishing uses pipelined confirms on a channel of its own, so a 202 means every employee
//! is safely in the queue. Progress is read back from `predictions`: no state lives here.
//!
//! Bounded (issue 17): at most `http.max_concurrent_batches` uploads are read at once (429
//! past it), an extract of more than `http.max_batch_rows` rows is refused as its reading
//! passes the limit, and each employee is held as its typed record only, never as a map of
//! its cells, so memory stays within a small multiple of the upload.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::errors::ApiError;
use super::openapi::{BatchUpload, ErrorBody};
use crate::extracts::{read_records, ExtractError};
use crate::model::{RiskLevel, Summary};
use crate::queue::publisher::{Outgoing, Publisher};
use crate::record::Record;
use crate::storage;
use crate::wire::{Request, BATCH_HEADER, SOURCE_HEADER};

/// The multipart parts, in the order the extracts are read.
pub const PARTS: [&str; 3] = ["sondage_file", "eval_file", "sirh_file"];

/// Publishes in flight at once: enough to keep the broker busy, bounded for memory.
const IN_FLIGHT: usize = 1000;

/// The `Retry-After` of a 429 when every batch slot is taken: an upload is read, checked and
/// queued in seconds.
const BUSY_RETRY_AFTER_SECS: u64 = 5;

/// A batch accepted for scoring.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAccepted {
    pub batch_id: uuid::Uuid,
    pub total_employees: u64,
    /// `/batches/<batch_id>`.
    pub status_url: String,
}

/// A batch: `running` with progress, or `complete` with every score and the summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchView {
    pub batch_id: uuid::Uuid,
    /// `running` or `complete`.
    pub status: &'static str,
    pub total_employees: u64,
    /// Employees scored so far.
    pub completed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predictions: Option<Vec<BatchScore>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
}

/// One employee's score in a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchScore {
    pub employee_id: Option<i64>,
    pub prediction: i16,
    pub probability_stay: f64,
    pub probability_leave: f64,
    pub risk_level: RiskLevel,
}

/// Scores the employees of three CSV extracts, asynchronously.
#[utoipa::path(post, path = "/predict/batch", tag = "scoring",
    request_body(content = BatchUpload, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Every employee is queued", body = BatchAccepted),
        (status = 400, description = "Not multipart, or a part is missing (named)", body = ErrorBody),
        (status = 401, description = "Missing or wrong X-API-Key", body = ErrorBody),
        (status = 403, description = "The key lacks the score scope", body = ErrorBody),
        (status = 408, description = "The upload did not arrive within http.read_timeout_ms", body = ErrorBody),
        (status = 413, description = "Larger than http.max_upload_bytes", body = ErrorBody),
        (status = 422, description = "A bad extract: file, line, column and value; or a file of more than http.max_batch_rows rows", body = ErrorBody),
        (status = 429, description = "Over the rate limit, or http.max_concurrent_batches uploads already in progress; see Retry-After", body = ErrorBody),
        (status = 500, description = "Reading the upload failed unexpectedly (a bug; logged)", body = ErrorBody),
        (status = 503, description = "RabbitMQ or Postgres unreachable", body = ErrorBody),
    ),
    security((), ("api_key" = [])))]
pub async fn submit(
    State(state): State<super::Shared>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<BatchAccepted>), ApiError> {
    let http = &state.ctx.settings.http;
    // Held until the batch is queued or refused: the upload, its rows and its publishing
    // are what the slot bounds.
    let _slot = Arc::clone(&state.batches)
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::batches_busy(BUSY_RETRY_AFTER_SECS, http.max_concurrent_batches.get())
        })?;
    let limit = http.max_upload_bytes;
    let too_large = || ApiError::too_large("http.max_upload_bytes", limit);
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if length.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut multipart = multipart.map_err(|e| {
        ApiError::bad_request(format!(
            "{}; send multipart/form-data with parts {}",
            e.body_text(),
            PARTS.join(", ")
        ))
    })?;
    let mut files: [Option<Bytes>; 3] = [None, None, None];
    let upload_error = |e: MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::bad_request(format!("cannot read the upload: {}", e.body_text()))
        }
    };
    while let Some(field) = multipart.next_field().await.map_err(upload_error)? {
        let slot = field
            .name()
            .and_then(|n| PARTS.iter().position(|p| *p == n));
        let bytes = field.bytes().await.map_err(upload_error)?;
        if let Some(i) = slot {
            files[i] = Some(bytes);
        }
    }
    let missing: Vec<&str> = PARTS
        .iter()
        .zip(&files)
        .filter(|(_, f)| f.is_none())
        .map(|(p, _)| *p)
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::bad_request(format!(
            "missing part{} {}",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", ")
        )));
    }
    let [Some(sondage), Some(eval), Some(sirh)] = files else {
        return Err(ApiError::internal("parts checked above"));
    };

    // CSV parsing and validation of thousands of rows is CPU work: off the async threads.
    let max_rows = http.max_batch_rows.get();
    let parsed = tokio::task::spawn_blocking(move || {
        let (rows, orphans) = read_records(&sondage[..], &eval[..], &sirh[..], max_rows)?;
        Ok::<_, ExtractError>((rows, (!orphans.is_empty()).then(|| orphans.to_string())))
    })
    .await
    .map_err(|e| ApiError::internal(format!("reading the extracts failed: {e}")))?;
    let (rows, orphans): (Vec<(i64, Record)>, _) = parsed.map_err(|e| match e {
        ExtractError::TooManyRows { .. } => ApiError::unprocessable(format!(
            "{e} (http.max_batch_rows); split the extracts into several batches"
        )),
        e => ApiError::unprocessable(e.to_string()),
    })?;
    if let Some(orphans) = orphans {
        // As `turnover score`: employees missing from a file cannot be scored, the rest can.
        tracing::warn!(orphans = %orphans, "batch: employees not in all three extracts are skipped");
    }
    if rows.is_empty() {
        return Err(ApiError::unprocessable(
            "the extracts hold no employee present in all three files",
        ));
    }
    let total = rows.len();

    let connection = state
        .rpc
        .connection()
        .ok_or_else(|| ApiError::unavailable("RabbitMQ is unreachable; retry later"))?;
    let batch_id = uuid::Uuid::new_v4();
    {
        let client = state
            .ctx
            .pool
            .get()
            .await
            .map_err(storage::StorageError::from)?;
        storage::create_batch(&client, batch_id, u32::try_from(total).unwrap_or(u32::MAX)).await?;
    }
    let amqp = &state.ctx.settings.amqp;
    let batch = batch_id.to_string();
    // Every row of the upload continues the request's trace.
    let traceparent = crate::trace::current_traceparent();
    let messages = rows.into_iter().map(|(employee_id, record)| Outgoing {
        body: Request {
            request_id: Some(format!("{batch}:{employee_id}")),
            employee_id: Some(employee_id),
            explain: false,
            record,
        }
        .envelope_bytes(),
        headers: [
            (SOURCE_HEADER.to_owned(), "batch".to_owned()),
            (BATCH_HEADER.to_owned(), batch.clone()),
        ]
        .into_iter()
        .chain(
            traceparent
                .clone()
                .map(|t| (crate::trace::TRACEPARENT_HEADER.to_owned(), t)),
        )
        .collect(),
        ..Default::default()
    });
    let published = async {
        let publisher = Publisher::new(&connection, &amqp.exchange, &amqp.routing_key).await?;
        publisher
            .publish_all(messages, IN_FLIGHT, None, |_| {})
            .await
    };
    match published.await {
        Ok(report) if report.all_confirmed(total as u64) => {}
        Ok(report) => {
            tracing::error!(batch_id = %batch_id, ?report, total, "batch only partly accepted by the broker");
            return Err(ApiError::unavailable(format!(
                "the broker accepted {} of {total} employees; submit again",
                report.confirmed
            )));
        }
        Err(error) => {
            tracing::error!(batch_id = %batch_id, error.message = %error, "batch publishing failed");
            return Err(ApiError::unavailable(
                "RabbitMQ failed while queueing the batch; submit again",
            ));
        }
    }
    tracing::info!(batch_id = %batch_id, total_employees = total, "batch queued");
    let accepted = BatchAccepted {
        batch_id,
        total_employees: total as u64,
        status_url: format!("/batches/{batch_id}"),
    };
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

/// A batch's progress, then its results.
#[utoipa::path(get, path = "/batches/{batch_id}", tag = "scoring",
    params(("batch_id" = String, Path, description = "The id returned by POST /predict/batch")),
    responses(
        (status = 200, description = "Running (with progress) or complete (with results)", body = BatchView),
        (status = 401, description = "Missing or wrong X-API-Key", body = ErrorBody),
        (status = 403, description = "The key lacks the score scope", body = ErrorBody),
        (status = 404, description = "No such batch", body = ErrorBody),
        (status = 429, description = "Over the rate limit; see Retry-After", body = ErrorBody),
        (status = 503, description = "Postgres unreachable", body = ErrorBody),
    ),
    security((), ("api_key" = [])))]
pub async fn status(
    State(state): State<super::Shared>,
    Path(batch_id): Path<String>,
) -> Result<Json<BatchView>, ApiError> {
    let not_found = || ApiError::not_found(format!("no batch {batch_id}"));
    let id: uuid::Uuid = batch_id.parse().map_err(|_| not_found())?;
    let client = state
        .ctx
        .pool
        .get()
        .await
        .map_err(storage::StorageError::from)?;
    let progress = storage::batch_status(&client, id)
        .await?
        .ok_or_else(not_found)?;
    let mut view = BatchView {
        batch_id: id,
        status: "running",
        total_employees: progress.total,
        completed: progress.done,
        predictions: None,
        summary: None,
    };
    if progress.done < progress.total {
        return Ok(Json(view));
    }
    let rows = storage::batch_results(&client, id).await?;
    let mut summary = Summary::default();
    let scores = rows
        .into_iter()
        .map(|r| {
            summary.add(u8::try_from(r.prediction).unwrap_or(0), r.risk_level);
            BatchScore {
                employee_id: r.employee_id,
                prediction: r.prediction,
                probability_stay: 1.0 - r.probability,
                probability_leave: r.probability,
                risk_level: r.risk_level,
            }
        })
        .collect();
    view.status = "complete";
    view.predictions = Some(scores);
    view.summary = Some(summary);
    Ok(Json(view))
}
