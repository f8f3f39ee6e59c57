//! Scoring off the async threads: a few dedicated threads, each owning its own [`Model`], fed
//! through a bounded channel.
//!
//! Why not `spawn_blocking`: its pool grows to hundreds of threads, and each would need its own
//! booster. A fixed set of scoring threads bounds CPU use and memory, and the bounded queue in
//! front of them pushes back on the consumers when scoring falls behind.

use std::num::NonZeroUsize;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::panic_message;
use crate::features;
use crate::model::{Bundle, Contribution, Model, ModelError, Score};
use crate::record::Record;

/// A score and, when asked, its explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub score: Score,
    pub explanation: Option<Vec<Contribution>>,
}

/// Why a batch was not scored.
#[derive(Debug, thiserror::Error)]
pub enum ScorerError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("scoring thread panicked: {0}")]
    Panicked(String),
    #[error("scoring threads have stopped")]
    Stopped,
}

struct ScoringRequest {
    /// Shared, not copied: the live and the shadow bundle score the same rows.
    data: Arc<[f32]>,
    rows: usize,
    explain: Vec<usize>,
    top_k: usize,
    reply: oneshot::Sender<Result<Vec<Scored>, ScorerError>>,
}

/// A handle to the scoring threads; cheap to clone.
#[derive(Clone)]
pub struct Scorer {
    jobs: mpsc::Sender<ScoringRequest>,
}

impl Scorer {
    /// Starts `threads` scoring threads, each with its own copy of the model.
    ///
    /// # Errors
    /// When the model cannot be loaded.
    pub fn start(
        bundle: &Bundle,
        threads: NonZeroUsize,
        cuts: Option<[f64; 2]>,
    ) -> Result<Self, ModelError> {
        Self::start_with(Model::new(bundle, cuts)?, bundle, threads, cuts)
    }

    /// As [`Scorer::start`], with `first` (a model of `bundle` already parsed, e.g. to check
    /// it) as the first thread's copy, so that it is not parsed again.
    ///
    /// # Errors
    /// When the model cannot be loaded.
    pub fn start_with(
        first: Model,
        bundle: &Bundle,
        threads: NonZeroUsize,
        cuts: Option<[f64; 2]>,
    ) -> Result<Self, ModelError> {
        let (jobs, rx) = mpsc::channel::<ScoringRequest>(threads.get() * 2);
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let mut first = Some(first);
        for i in 0..threads.get() {
            let model = match first.take() {
                Some(model) => model,
                None => Model::new(bundle, cuts)?,
            };
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("scorer-{i}"))
                .spawn(move || loop {
                    // The lock is held only while waiting for the next job, so threads take
                    // turns picking jobs and score in parallel.
                    let job = match rx.lock() {
                        Ok(mut rx) => rx.blocking_recv(),
                        Err(_) => None,
                    };
                    let Some(job) = job else { break };
                    let result =
                        std::panic::catch_unwind(AssertUnwindSafe(|| score_request(&model, &job)))
                            .unwrap_or_else(|panic| {
                                Err(ScorerError::Panicked(panic_message(&*panic)))
                            });
                    let _ = job.reply.send(result);
                })
                .map_err(|source| ModelError::Read {
                    path: "scoring thread".into(),
                    source,
                })?;
        }
        Ok(Scorer { jobs })
    }

    /// Scores `records` in one call; rows whose `explain` flag is set also get their top-k
    /// contributions.
    ///
    /// # Errors
    /// [`ScorerError`] when libxgboost fails, a scoring thread panics, or the threads stopped.
    pub async fn score(
        &self,
        records: &[&Record],
        explain: &[bool],
        top_k: usize,
    ) -> Result<Vec<Scored>, ScorerError> {
        let data = features::matrix(records.iter().copied());
        self.score_matrix(data.into(), records.len(), explain, top_k)
            .await
    }

    /// Scores `rows` rows of features built by [`features::matrix`] in one call; rows whose
    /// `explain` flag is set also get their top-k contributions. The matrix is shared, so the
    /// same one serves every bundle that scores a batch.
    ///
    /// # Errors
    /// As [`Scorer::score`].
    pub async fn score_matrix(
        &self,
        data: Arc<[f32]>,
        rows: usize,
        explain: &[bool],
        top_k: usize,
    ) -> Result<Vec<Scored>, ScorerError> {
        let explain = explain
            .iter()
            .enumerate()
            .filter(|(_, e)| **e)
            .map(|(i, _)| i)
            .collect();
        let (reply, answer) = oneshot::channel();
        let job = ScoringRequest {
            data,
            rows,
            explain,
            top_k,
            reply,
        };
        self.jobs
            .send(job)
            .await
            .map_err(|_| ScorerError::Stopped)?;
        answer.await.map_err(|_| ScorerError::Stopped)?
    }
}

fn score_request(model: &Model, job: &ScoringRequest) -> Result<Vec<Scored>, ScorerError> {
    let scores = model.score_features(&job.data, job.rows)?;
    let mut out: Vec<Scored> = scores
        .into_iter()
        .map(|score| Scored {
            score,
            explanation: None,
        })
        .collect();
    if !job.explain.is_empty() {
        let rows: Vec<f32> = job
            .explain
            .iter()
            .flat_map(|&i| {
                job.data[i * features::COUNT..(i + 1) * features::COUNT]
                    .iter()
                    .copied()
            })
            .collect();
        let explanations = model.explain_features(&rows, job.explain.len(), job.top_k)?;
        for (&i, e) in job.explain.iter().zip(explanations) {
            out[i].explanation = Some(e);
        }
    }
    Ok(out)
}
