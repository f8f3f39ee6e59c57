//! One micro-batch's life after decoding: score in one call, store (one statement for
//! predictions alone, else one transaction: `store`), reply, then ack. The order is the
//! delivery guarantee:
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
use std::time::Instant;

use futures_util::future::try_join_all;
use lapin::Channel;
use time::OffsetDateTime;
use tracing::Instrument as _;

use super::ack::{ack, requeue};
use super::isolate;
use super::job::{Job, Rejected, ReplyTo};
use super::reply::{self, Answer};
use super::score::score;
use super::store::{conflict_row, prediction_row, shadow_row, store, Committed};
use crate::app::AppContext;
use crate::serving::Serving;
use crate::storage::{PredictionRow, RejectedRow, ShadowRow, Written};
use crate::trace::{self, Traced};

/// How many messages of a batch went each way, for the caller's bookkeeping.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchTally {
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
    jobs: Vec<Job<'_>>,
    mut rejected: Vec<Rejected>,
    mut failed: Vec<u64>,
    redelivered: &HashSet<u64>,
    started: Instant,
) -> Result<BatchTally, lapin::Error> {
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
    let (mut jobs, mut scores, score_failed) = score(ctx, &serving, jobs)
        .instrument(trace::score_span(&batch_span))
        .await;
    failed.extend(score_failed);
    m.stage("score", t.elapsed().as_secs_f64());

    let now = OffsetDateTime::now_utc();
    let mut rows: Vec<PredictionRow> = jobs
        .iter()
        .zip(&scores.live)
        .map(|(job, s)| prediction_row(&live.version, job, s, now))
        .collect();
    // storage.store_inputs = false: the explained fields only (docs/privacy.md).
    if !ctx.settings.storage.store_inputs {
        for ((row, s), job) in rows.iter_mut().zip(&scores.live).zip(&jobs) {
            let minimal =
                crate::privacy::minimal_input(&job.record.to_json(), s.explanation.as_deref());
            row.input = minimal.into();
        }
    }
    let mut shadow_rows: Vec<ShadowRow> = match &serving.shadow {
        Some(shadow) => jobs
            .iter()
            .zip(&scores.shadow)
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

    let t = Instant::now();
    let ids = || {
        jobs.iter()
            .map(|j| j.request_id.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let conflict = |i: usize| conflict_row(&jobs[i], now);
    let mut refused = Vec::new();
    // Each job's share of the transaction, in its own trace: open while the batch is stored.
    let writes: Vec<tracing::Span> = jobs.iter().map(|j| trace::write_span(&j.trace)).collect();
    let transaction = trace::transaction_span(&batch_span);
    let stored = match store(ctx, &rows, &shadow_rows, &rejected_rows, &conflict)
        .instrument(transaction.clone())
        .await
    {
        Ok(Committed { stored, conflicts }) => {
            Ok((stored.written.into_iter().map(Some).collect(), conflicts))
        }
        Err(error) if !error.is_transient() => {
            // A batch is an optimisation, never a fate: the refused row is narrowed down and
            // the rest committed.
            tracing::warn!(error.message = %error, sqlstate = error.refusal().map_or("", |r| r.0), batch.size = total, request_ids = %ids(), "Postgres refused the batch; storing its rows apart");
            isolate::store_apart(ctx, &rows, &shadow_rows, &rejected_rows, &conflict)
                .instrument(transaction.clone())
                .await
                .map(|apart| {
                    refused = apart.refused;
                    (apart.written, apart.conflicts)
                })
        }
        Err(error) => Err(error),
    };
    let (written, conflicts) = match stored {
        Ok(stored) => stored,
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
            return Ok(BatchTally {
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
            scores: &mut scores.live,
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
    let mut answers: Vec<(&ReplyTo, Answer, &Traced)> = Vec::new();
    let mut conflicts = conflicts.iter();
    for ((job, s), written) in jobs.iter().zip(&scores.live).zip(&written) {
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
                // Its row holds the error list the reply carries: made once, in `store`.
                let detail = conflicts
                    .next()
                    .map_or_else(|| reply::conflict_errors(job), |row| row.errors.clone());
                Answer::Refused(409, reply::refusal(Some(&job.request_id), &detail))
            }
        });
        if let Some(to) = &job.reply {
            answers.push((to, answer, &job.trace));
        }
    }
    for r in rejected.iter().filter(|r| !r.expired) {
        if let Some(to) = &r.reply {
            let body = reply::refusal(r.row.request_id.as_deref(), &r.row.errors);
            answers.push((to, Answer::Refused(422, body), &r.trace));
        }
        let _in_trace = r.trace.span.enter();
        let errors = r.row.errors.as_array().map_or(0, Vec::len);
        tracing::info!(request_id = r.row.request_id.as_deref().unwrap_or(""), reason = %r.row.reason, errors, "message rejected");
    }
    // Every reply is handed to the connection at once and written in one go: one wait for
    // lapin's I/O thread per batch, not one per reply. The ack waits until they are written
    // (lapin sends acks ahead of publishes still queued), so replies still go before it.
    try_join_all(answers.iter().map(|(to, answer, traced)| {
        reply::publish(channel, to, answer, traced).instrument(trace::amqp::reply_span(traced))
    }))
    .await?;

    ack(ctx, channel, &jobs, &rejected, &failed, redelivered).await?;

    let tally = count(ctx, &jobs, &rejected, failed.len(), &written);
    // A replay is a record seen before: only new rows join the drift window, by the feature
    // rows they were scored from.
    ctx.drift.observe_rows(
        jobs.iter()
            .zip(&written)
            .filter(|(_, w)| **w == Written::Inserted)
            .map(|(job, _)| scores.features_of(job)),
    );
    for (s, _) in scores
        .live
        .iter()
        .zip(&written)
        .filter(|(_, w)| **w == Written::Inserted)
    {
        m.predictions
            .with_label_values(&[s.score.risk_level.as_str()])
            .inc();
        m.probability.observe(s.score.probability);
    }
    let new_shadow = shadow_rows
        .iter()
        .zip(&rows)
        .zip(&written)
        .filter(|(_, w)| **w == Written::Inserted);
    let mut disagreements = 0;
    for ((shadow, live), _) in new_shadow {
        m.shadow_probability.observe(shadow.probability);
        disagreements += u64::from(live.prediction != shadow.prediction);
    }
    m.shadow_disagreements.inc_by(disagreements);
    let done = Instant::now();
    for job in &jobs {
        if let Some(at) = job.enqueued_at {
            let waited = (OffsetDateTime::now_utc() - at).as_seconds_f64().max(0.0);
            m.stage("queue_wait", waited);
        }
        m.stage("total", (done - started).as_secs_f64());
    }
    Ok(tally)
}

/// Counts the batch's messages by fate into `turnover_jobs_total`.
fn count(
    ctx: &AppContext,
    jobs: &[Job<'_>],
    rejected: &[Rejected],
    failed: usize,
    written: &[Written],
) -> BatchTally {
    let conflicts = written.iter().filter(|w| **w == Written::Conflict).count();
    let expired = rejected.iter().filter(|r| r.expired).count();
    let tally = BatchTally {
        scored: jobs.len() - conflicts,
        rejected: rejected.len() - expired + conflicts,
        expired,
        failed,
    };
    for (name, n) in [
        ("scored", tally.scored),
        ("rejected", tally.rejected),
        ("expired", tally.expired),
        ("failed", tally.failed),
    ] {
        ctx.metrics.jobs.with_label_values(&[name]).inc_by(n as u64);
    }
    tally
}
