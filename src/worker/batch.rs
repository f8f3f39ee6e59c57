//! One micro-batch's life after decoding: score in one call, store in one transaction, reply,
//! then ack. The order is the delivery guarantee:
//!
//! - commit before ack: a crash before the commit loses nothing (the messages come back), and a
//!   crash after it makes a redelivery that the `request_id` conflict rule turns into a no-op;
//! - reply before ack: a crash between the two redelivers, re-replies (the caller drops an
//!   unknown correlation id), so a waiting caller is never left without an answer;
//! - a transient storage failure is retried here with capped backoff, messages unacked, so
//!   nothing is redelivered (and no delivery count burnt) while Postgres is away;
//! - a permanent one is narrowed to the row Postgres refuses (`isolate`): the others commit,
//!   the culprit is a `storage_refused` rejection; nothing of the batch is requeued for it.
//!
//! The bundles are taken once per batch ([`crate::serving::ServingSlot::current`]): a reload
//! that lands mid-batch serves from the next batch on, and every row and reply of this batch
//! names the version that scored it. The shadow bundle, when one serves, scores the same
//! records right after the live one; its rows go into the same transaction and it never
//! changes a reply.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::Channel;
use serde_json::json;
use time::OffsetDateTime;
use tracing::Instrument as _;

use super::isolate;
use super::job::{Job, Rejected};
use super::reply::{self, Answer};
use crate::app::AppContext;
use crate::config::QueueType;
use crate::model::{sha256_hex, ErrorReply, LoadedModel, Scored, Serving};
use crate::storage::{
    self, PredictionRow, RejectedRow, ShadowRow, StorageError, StoredBatch, Written,
};
use crate::trace;

/// What became of a batch, for the caller's bookkeeping.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchOutcome {
    pub scored: usize,
    pub rejected: usize,
    pub expired: usize,
    /// Nacked with requeue: they come back (and, after the delivery limit, go to the dead queue).
    pub failed: usize,
}

/// Scores, stores, replies and acks one batch of decoded deliveries from `channel`.
///
/// # Errors
/// When the channel fails while replying or acking: the unacked messages return to the queue
/// by themselves, and the caller reconnects.
pub async fn process(
    ctx: &AppContext,
    channel: &Channel,
    jobs: Vec<Job>,
    mut rejected: Vec<Rejected>,
    mut failed: Vec<u64>,
    redelivered: &HashSet<u64>,
    started: Instant,
) -> Result<BatchOutcome, lapin::Error> {
    let m = &ctx.metrics;
    let total = jobs.len() + rejected.len() + failed.len();
    m.batch_size.observe(total as f64);
    // The batch serves many traces: each job's span links to it, its steps are its children.
    let batch_span = trace::batch_span(total);
    for job in &jobs {
        job.trace.link_to(&batch_span);
    }

    let serving: Arc<Serving> = ctx.models.current();
    let live = &serving.live;
    let t = Instant::now();
    let (mut jobs, mut scores, score_failed) = score(ctx, live, jobs)
        .instrument(trace::score_span(&batch_span))
        .await;
    failed.extend(score_failed);
    let shadow_scores = match &serving.shadow {
        Some(shadow) => shadow_score(shadow, &jobs).await,
        None => Vec::new(),
    };
    m.stage("score", t.elapsed().as_secs_f64());

    let now = OffsetDateTime::now_utc();
    let mut rows: Vec<PredictionRow> = jobs
        .iter()
        .zip(&scores)
        .map(|(job, s)| prediction_row(&live.version, job, s, now))
        .collect();
    // storage.store_inputs = false: the explained fields only (docs/privacy.md).
    if !ctx.settings.storage.store_inputs {
        for (row, s) in rows.iter_mut().zip(&scores) {
            row.input = crate::privacy::minimal_input(&row.input, s.explanation.as_deref());
        }
    }
    let mut shadow_rows: Vec<ShadowRow> = match &serving.shadow {
        Some(shadow) => jobs
            .iter()
            .zip(&shadow_scores)
            .map(|(job, s)| shadow_row(&shadow.version, job, s, now))
            .collect(),
        None => Vec::new(),
    };
    let stored_rejected: Vec<usize> = (0..rejected.len())
        .filter(|&k| rejected[k].stored)
        .collect();
    let rejected_rows: Vec<RejectedRow> = stored_rejected
        .iter()
        .map(|&k| rejected[k].row.clone())
        .collect();

    let conflict = |i: usize| conflict_row(&jobs[i], now);
    let t = Instant::now();
    let ids = || {
        jobs.iter()
            .map(|j| j.request_id.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut refused = Vec::new();
    // Each job's share of the transaction, in its own trace: open while the batch is stored.
    let writes: Vec<tracing::Span> = jobs.iter().map(|j| trace::write_span(&j.trace)).collect();
    let transaction = trace::transaction_span(&batch_span);
    let stored = match store(ctx, &rows, &shadow_rows, &rejected_rows, conflict)
        .instrument(transaction.clone())
        .await
    {
        Ok(stored) => Ok(stored.written.into_iter().map(Some).collect()),
        Err(error) if !error.is_transient() => {
            // A batch is an optimisation, never a fate: the refused row is narrowed down and
            // the rest committed.
            tracing::warn!(error.message = %error, sqlstate = error.refusal().map_or("", |r| r.0), batch.size = total, request_ids = %ids(), "Postgres refused the batch; storing its rows apart");
            let conflict = |i: usize| conflict_row(&jobs[i], now);
            match isolate::store_apart(ctx, &rows, &shadow_rows, &rejected_rows, &conflict)
                .instrument(transaction.clone())
                .await
            {
                Ok(apart) => {
                    refused = apart.refused;
                    Ok(apart.written)
                }
                Err(error) => Err(error),
            }
        }
        Err(error) => Err(error),
    };
    let written = match stored {
        Ok(written) => written,
        Err(error) => {
            // Only reached on shutdown while Postgres is still away: give every message back;
            // what was committed is a replay on redelivery.
            tracing::error!(error.message = %error, batch.size = total, request_ids = %ids(), "batch not stored; messages returned to the queue");
            let tags = jobs
                .iter()
                .map(|j| j.tag)
                .chain(rejected.iter().map(|r| r.tag))
                .chain(failed.iter().copied());
            requeue(ctx, channel, &tags.collect::<Vec<_>>(), redelivered).await?;
            m.jobs.with_label_values(&["failed"]).inc_by(total as u64);
            return Ok(BatchOutcome {
                failed: total,
                ..Default::default()
            });
        }
    };
    let written = isolate::settle(
        ctx,
        refused,
        isolate::Batch {
            jobs: &mut jobs,
            scores: &mut scores,
            rows: &mut rows,
            shadow: &mut shadow_rows,
            rejected: &mut rejected,
            stored_rejected: &stored_rejected,
            failed: &mut failed,
        },
        written,
    )
    .await;
    drop((writes, transaction));
    m.stage("store", t.elapsed().as_secs_f64());

    // Every answer is what the database holds: a new row's score, the stored result of an
    // earlier request with the same id and record, or a refusal.
    let mut conflicts = 0;
    for ((job, s), written) in jobs.iter().zip(&scores).zip(&written) {
        let span = &job.trace.span;
        span.record("model_version", live.version.as_str());
        let answer = span.in_scope(|| match written {
            Written::Inserted => {
                tracing::debug!(
                    prediction = s.score.prediction,
                    probability = s.score.probability,
                    "scored"
                );
                Answer::Score(reply::score(&live.version, job, s), false)
            }
            Written::Replayed(stored) => {
                tracing::debug!("request_id known with the same record; stored result replayed");
                Answer::Score(reply::stored(job, stored), true)
            }
            Written::Conflict => {
                tracing::info!("request_id reused with another record; refused");
                Answer::Refused(409, reply::conflict(job))
            }
        });
        conflicts += usize::from(*written == Written::Conflict);
        if let Some(to) = &job.reply {
            reply::publish(channel, to, &answer, &job.trace)
                .instrument(trace::amqp::reply_span(&job.trace))
                .await?;
        }
    }
    for r in rejected.iter().filter(|r| !r.expired) {
        if let Some(to) = &r.reply {
            let body = ErrorReply {
                request_id: r.row.request_id.clone(),
                detail: r.errors.clone(),
            };
            reply::publish(channel, to, &Answer::Refused(422, body), &r.trace)
                .instrument(trace::amqp::reply_span(&r.trace))
                .await?;
        }
        let _in_trace = r.trace.span.enter();
        tracing::info!(request_id = r.row.request_id.as_deref().unwrap_or(""), reason = %r.row.reason, errors = r.errors.len(), "message rejected");
    }

    ack(ctx, channel, &jobs, &rejected, &failed, redelivered).await?;

    let expired = rejected.iter().filter(|r| r.expired).count();
    let outcome = BatchOutcome {
        scored: jobs.len() - conflicts,
        rejected: rejected.len() - expired + conflicts,
        expired,
        failed: failed.len(),
    };
    for (name, n) in [
        ("scored", outcome.scored),
        ("rejected", outcome.rejected),
        ("expired", outcome.expired),
        ("failed", outcome.failed),
    ] {
        m.jobs.with_label_values(&[name]).inc_by(n as u64);
    }
    let new = scores
        .iter()
        .zip(&written)
        .filter(|(_, w)| **w == Written::Inserted);
    for (s, _) in new {
        m.predictions
            .with_label_values(&[s.score.risk_level.as_str()])
            .inc();
        m.probability.observe(s.score.probability);
    }
    // A replay is a record seen before: only new rows join the drift window.
    ctx.drift.observe(
        jobs.iter()
            .zip(&written)
            .filter(|(_, w)| **w == Written::Inserted)
            .map(|(job, _)| &job.record),
    );
    for (shadow, _) in shadow_rows
        .iter()
        .zip(&written)
        .filter(|(_, w)| **w == Written::Inserted)
    {
        m.shadow_probability.observe(shadow.probability);
    }
    let disagreements = rows
        .iter()
        .zip(&shadow_rows)
        .zip(&written)
        .filter(|((l, s), w)| **w == Written::Inserted && l.prediction != s.prediction)
        .count();
    m.shadow_disagreements.inc_by(disagreements as u64);
    let done = Instant::now();
    for job in &jobs {
        if let Some(at) = job.enqueued_at {
            let waited = (OffsetDateTime::now_utc() - at).as_seconds_f64().max(0.0);
            m.stage("queue_wait", waited);
        }
        m.stage("total", (done - started).as_secs_f64());
    }
    Ok(outcome)
}

/// Scores the batch in one call. If that fails (it should not for valid records), each job is
/// scored alone so one bad job fails alone; the failed ones come back as tags to nack.
async fn score(
    ctx: &AppContext,
    live: &LoadedModel,
    jobs: Vec<Job>,
) -> (Vec<Job>, Vec<Scored>, Vec<u64>) {
    let top_k = ctx.settings.model.explain_top_k;
    let records: Vec<_> = jobs.iter().map(|j| &j.record).collect();
    let explain: Vec<bool> = jobs.iter().map(|j| j.explain).collect();
    match live.scorer.score(&records, &explain, top_k).await {
        Ok(scores) => return (jobs, scores, Vec::new()),
        Err(error) => {
            tracing::error!(error.message = %error, batch.size = jobs.len(), "batch scoring failed; scoring one by one")
        }
    }
    let (mut ok, mut scores, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for job in jobs {
        match live
            .scorer
            .score(&[&job.record], &[job.explain], top_k)
            .await
        {
            Ok(mut s) if s.len() == 1 => {
                scores.push(s.remove(0));
                ok.push(job);
            }
            other => {
                let _in_trace = job.trace.span.enter();
                tracing::error!(request_id = %job.request_id, error.message = %other.err().map_or_else(|| "not one score for one record".to_owned(), |e| e.to_string()), "scoring failed");
                failed.push(job.tag);
            }
        }
    }
    (ok, scores, failed)
}

/// The shadow bundle's scores of the jobs the live one scored, in one call, without
/// explanations. A failure costs the batch its shadow rows only: the shadow never holds up or
/// changes the live path.
async fn shadow_score(shadow: &LoadedModel, jobs: &[Job]) -> Vec<Scored> {
    if jobs.is_empty() {
        return Vec::new();
    }
    let records: Vec<_> = jobs.iter().map(|j| &j.record).collect();
    match shadow
        .scorer
        .score(&records, &vec![false; jobs.len()], 0)
        .await
    {
        Ok(scores) if scores.len() == jobs.len() => scores,
        other => {
            tracing::error!(error.message = %other.err().map_or_else(|| "not one score per record".to_owned(), |e| e.to_string()), model_version = %shadow.version, batch.size = jobs.len(), "shadow scoring failed; this batch has no shadow rows");
            Vec::new()
        }
    }
}

/// Writes the batch, retrying transient failures with capped backoff until it succeeds or the
/// shutdown deadline passes.
pub(super) async fn store(
    ctx: &AppContext,
    rows: &[PredictionRow],
    shadow: &[ShadowRow],
    rejected: &[RejectedRow],
    conflict: impl Fn(usize) -> RejectedRow,
) -> Result<StoredBatch, StorageError> {
    let mut delay = Duration::from_millis(50);
    loop {
        let attempt = async {
            let mut client = ctx.pool.get().await?;
            storage::insert_batch_with_shadow(&mut client, rows, shadow, rejected, &conflict).await
        };
        match attempt.await {
            Ok(stored) => {
                ctx.metrics.postgres_connected.set(1);
                return Ok(stored);
            }
            Err(error) if error.is_transient() && !ctx.hard_stop.is_cancelled() => {
                ctx.metrics.postgres_connected.set(0);
                tracing::warn!(error.message = %error, retry_in_ms = delay.as_millis() as u64, "cannot store the batch; retrying");
                tokio::select! {
                    () = ctx.hard_stop.cancelled() => {}
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(error) => return Err(error),
        }
    }
}

/// The `rejected_messages` row of a request whose `request_id` was stored with another record.
fn conflict_row(job: &Job, now: OffsetDateTime) -> RejectedRow {
    RejectedRow {
        request_id: Some(job.request_id.clone()),
        reason: "request_id_conflict".to_owned(),
        errors: serde_json::to_value(reply::conflict(job).detail).unwrap_or_default(),
        payload: job.payload.clone(),
        payload_sha256: sha256_hex(&job.payload),
        received_at: now,
        trace_id: Some(job.trace.trace_id.clone()),
    }
}

fn prediction_row(version: &str, job: &Job, s: &Scored, now: OffsetDateTime) -> PredictionRow {
    PredictionRow {
        request_id: job.request_id.clone(),
        employee_id: job.employee_id,
        batch_id: job.batch_id,
        source: job.source,
        model_version: version.to_owned(),
        prediction: i16::from(s.score.prediction),
        probability: s.score.probability,
        risk_level: s.score.risk_level,
        input: job.record.to_json(),
        record_sha256: job.record.sha256(),
        explanation: s.explanation.as_ref().map(|e| json!(e)),
        enqueued_at: job.enqueued_at,
        scored_at: now,
        trace_id: Some(job.trace.trace_id.clone()),
    }
}

fn shadow_row(version: &str, job: &Job, s: &Scored, now: OffsetDateTime) -> ShadowRow {
    ShadowRow {
        request_id: job.request_id.clone(),
        model_version: version.to_owned(),
        probability: s.score.probability,
        prediction: i16::from(s.score.prediction),
        risk_level: s.score.risk_level,
        scored_at: now,
    }
}

/// Acks what was handled. Every earlier delivery of this channel is settled before a batch
/// starts, so when nothing failed one `multiple` ack up to the highest tag settles exactly
/// this batch.
async fn ack(
    ctx: &AppContext,
    channel: &Channel,
    jobs: &[Job],
    rejected: &[Rejected],
    failed: &[u64],
    redelivered: &HashSet<u64>,
) -> Result<(), lapin::Error> {
    let done = jobs
        .iter()
        .map(|j| j.tag)
        .chain(rejected.iter().map(|r| r.tag));
    if failed.is_empty() {
        if let Some(max) = done.max() {
            channel
                .basic_ack(max, BasicAckOptions { multiple: true })
                .await?;
        }
        return Ok(());
    }
    for tag in done {
        channel
            .basic_ack(tag, BasicAckOptions { multiple: false })
            .await?;
    }
    requeue(ctx, channel, failed, redelivered).await
}

/// Gives messages back to the queue; each return counts towards the delivery limit. A classic
/// queue has no delivery limit: there a message that fails again on a redelivery is rejected
/// without requeue, which dead-letters it (issue 23), and counted `dead_lettered`.
async fn requeue(
    ctx: &AppContext,
    channel: &Channel,
    tags: &[u64],
    redelivered: &HashSet<u64>,
) -> Result<(), lapin::Error> {
    let classic = ctx.settings.amqp.queue_type == QueueType::Classic;
    for &tag in tags {
        let again = classic && redelivered.contains(&tag);
        if again {
            tracing::warn!(
                delivery_tag = tag,
                "failed again on a redelivery from a classic queue; dead-lettered"
            );
            ctx.metrics.jobs.with_label_values(&["dead_lettered"]).inc();
        }
        let options = BasicNackOptions {
            requeue: !again,
            multiple: false,
        };
        channel.basic_nack(tag, options).await?;
    }
    Ok(())
}
