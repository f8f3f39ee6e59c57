//! A batch's scores: every job's features are built once, into one matrix that the live
//! bundle, the shadow bundle and the drift window all read (each job keeps its row in it).

use std::sync::Arc;

use super::job::Job;
use crate::app::AppContext;
use crate::features;
use crate::serving::{LoadedModel, Scored, Serving};

/// The scores of a batch's jobs, aligned with the jobs that scored.
pub struct Scores {
    /// The features of every job decoded, `Job::row` is the row of each.
    pub matrix: Arc<[f32]>,
    pub live: Vec<Scored>,
    /// Empty when no shadow bundle serves, or when it failed this batch.
    pub shadow: Vec<Scored>,
}

impl Scores {
    /// The feature row of `job`.
    pub fn features_of(&self, job: &Job<'_>) -> &[f32] {
        &self.matrix[job.row * features::COUNT..(job.row + 1) * features::COUNT]
    }
}

/// Scores the jobs with the live bundle then, when one serves, the shadow bundle, from one
/// feature matrix. Returns the jobs that scored, their scores, and the tags of those that
/// failed (to nack).
pub async fn score<'a>(
    ctx: &AppContext,
    serving: &Serving,
    mut jobs: Vec<Job<'a>>,
) -> (Vec<Job<'a>>, Scores, Vec<u64>) {
    for (i, job) in jobs.iter_mut().enumerate() {
        job.row = i;
    }
    let matrix: Arc<[f32]> = features::matrix(jobs.iter().map(|j| &j.record)).into();
    let (jobs, live, failed) = live(ctx, &serving.live, jobs, &matrix).await;
    let shadow = match &serving.shadow {
        Some(shadow) => shadow_scores(shadow, &jobs, &matrix).await,
        None => Vec::new(),
    };
    let scores = Scores {
        matrix,
        live,
        shadow,
    };
    (jobs, scores, failed)
}

/// The rows of `jobs`: the whole matrix when every job is there (the usual case), else a copy
/// of theirs.
fn rows_of(matrix: &Arc<[f32]>, jobs: &[Job<'_>]) -> Arc<[f32]> {
    if jobs.len() * features::COUNT == matrix.len() {
        return Arc::clone(matrix);
    }
    jobs.iter()
        .flat_map(|j| &matrix[j.row * features::COUNT..(j.row + 1) * features::COUNT])
        .copied()
        .collect()
}

/// Scores the batch in one call. If that fails (it should not for valid records), each job is
/// scored alone so one bad job fails alone; the failed ones come back as tags to nack.
async fn live<'a>(
    ctx: &AppContext,
    live: &LoadedModel,
    jobs: Vec<Job<'a>>,
    matrix: &Arc<[f32]>,
) -> (Vec<Job<'a>>, Vec<Scored>, Vec<u64>) {
    let top_k = ctx.settings.model.explain_top_k;
    let explain: Vec<bool> = jobs.iter().map(|j| j.explain).collect();
    match live
        .scorer
        .score_matrix(Arc::clone(matrix), jobs.len(), &explain, top_k)
        .await
    {
        Ok(scores) => return (jobs, scores, Vec::new()),
        Err(error) => {
            tracing::error!(error.message = %error, batch.size = jobs.len(), "batch scoring failed; scoring one by one")
        }
    }
    let (mut ok, mut scores, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for job in jobs {
        let row = rows_of(matrix, std::slice::from_ref(&job));
        match live
            .scorer
            .score_matrix(row, 1, &[job.explain], top_k)
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
async fn shadow_scores(shadow: &LoadedModel, jobs: &[Job<'_>], matrix: &Arc<[f32]>) -> Vec<Scored> {
    if jobs.is_empty() {
        return Vec::new();
    }
    match shadow
        .scorer
        .score_matrix(
            rows_of(matrix, jobs),
            jobs.len(),
            &vec![false; jobs.len()],
            0,
        )
        .await
    {
        Ok(scores) if scores.len() == jobs.len() => scores,
        other => {
            tracing::error!(error.message = %other.err().map_or_else(|| "not one score per record".to_owned(), |e| e.to_string()), model_version = %shadow.version, batch.size = jobs.len(), "shadow scoring failed; this batch has no shadow rows");
            Vec::new()
        }
    }
}
