//! `turnover train`: from the three labelled extracts to a model bundle.
//!
//! 1. A stratified 80/20 split with the seed (42 unless told otherwise). The split is fixed,
//!    never searched: a lucky split is not a better model.
//! 2. A random search of hyper-parameters. Each point is judged by the mean out-of-fold ROC AUC
//!    of three repeats of a stratified k-fold cross-validation on the 80% (three fold
//!    assignments, so that a lucky assignment does not pick the winner), and its number of
//!    rounds is read off the cross-validation curve (every 50 rounds), not sampled. AUC ranks
//!    models by how well they order employees; F1 depends on a threshold and is noisy.
//! 3. The decision threshold that maximises F1 of "leaves" on the winner's out-of-fold
//!    predictions of all three repeats.
//! 4. Repeated stratified cross-validation of the winner on fresh fold assignments (mean ± sd),
//!    then a refit on the 80% and the metrics on the untouched 20%.
//!
//! Everything runs on one thread with seeded randomness, so the same data and seed give the
//! same `model.json` bytes.

mod metrics;
pub(crate) mod report;
mod search;
mod split;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::extracts::{self, ExtractError};
use crate::features;
use crate::model::sha256_hex;
use crate::model::{xgb, Bundle, Manifest, ModelError};
use metrics::{best_f1_threshold, mean_sd, Confusion, Evaluation};
use search::{Data, Params};

/// What `turnover train` is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    pub data: PathBuf,
    pub out: PathBuf,
    pub seed: u64,
    /// Points of the hyper-parameter search.
    pub trials: usize,
    /// Folds of each cross-validation.
    pub folds: usize,
    /// Repeats of the final cross-validation.
    pub repeats: usize,
    pub progress: bool,
}

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error(
        "the extracts in {0} have no label column (a_quitte_l_entreprise): nothing to learn from"
    )]
    NoLabels(PathBuf),
    #[error(transparent)]
    Split(#[from] split::SplitError),
    #[error(transparent)]
    Xgb(#[from] xgb::XgbError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no usable threshold: the out-of-fold predictions are empty or not numbers")]
    NoThreshold,
}

/// The outcome of a training run.
#[derive(Debug, Clone)]
pub struct Trained {
    pub manifest: Manifest,
    pub holdout: Evaluation,
    pub cv: CrossValidation,
    pub search_best_auc: f64,
}

/// Repeats of the k-fold cross-validation that judges each search point (fewer when
/// `Options::repeats` is smaller). Averaging the out-of-fold ROC AUC of three fold assignments
/// keeps the search from rewarding a lucky assignment.
const SEARCH_REPEATS: usize = 3;

/// The best search point so far: its mean out-of-fold ROC AUC, its parameters (rounds set to
/// the best point of its curve), and its out-of-fold predictions of every repeat, end to end.
struct Best {
    auc: f64,
    params: Params,
    oof: Vec<f32>,
}

/// Repeated stratified cross-validation on the 80%, at the chosen threshold.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CrossValidation {
    pub f1_mean: f64,
    pub f1_sd: f64,
    pub roc_auc_mean: f64,
    pub roc_auc_sd: f64,
    pub folds: usize,
    pub repeats: usize,
}

/// Trains, writes the bundle into `options.out`, and returns what it measured.
///
/// # Errors
/// [`TrainError`]: unreadable or unlabelled extracts, an invalid record (with file, line and
/// column), a class too small to split, or a libxgboost failure.
pub fn train(options: &Options) -> Result<Trained, TrainError> {
    let extracts = extracts::read_dir(&options.data)?;
    if !extracts.has_labels() {
        return Err(TrainError::NoLabels(options.data.clone()));
    }
    let rows = extracts::validate_rows(&extracts)?;
    let labels: Vec<bool> = rows
        .iter()
        .map(|(row, _)| row.label == Some(true))
        .collect();
    let x = features::matrix(rows.iter().map(|(_, record)| record));
    let data = Data { x: &x, y: &labels };
    let seed = options.seed;

    let (train_idx, test_idx) = split::stratified_split(&labels, 0.2, seed)?;
    let train_labels: Vec<bool> = train_idx.iter().map(|&i| labels[i]).collect();
    let search_repeats = options.repeats.min(SEARCH_REPEATS);
    let search_folds = (0..search_repeats as u64)
        .map(|r| split::stratified_kfold(&train_labels, options.folds, seed.wrapping_add(r)))
        .collect::<Result<Vec<_>, _>>()?;

    let fits = options.trials * search_repeats * options.folds;
    let bar = progress(options, fits as u64, "search");
    let mut rng = crate::rng::Rng::new(seed);
    let mut best: Option<Best> = None;
    for _ in 0..options.trials {
        let mut params = Params::sample(&mut rng);
        let curves = search_folds
            .iter()
            .map(|folds| search::cv_curve(&data, &train_idx, folds, &params, seed, || bar.inc(1)))
            .collect::<Result<Vec<_>, _>>()?;
        for point in 0..curves[0].len() {
            let auc = curves
                .iter()
                .map(|c| metrics::roc_auc(&train_labels, &c[point]))
                .sum::<f64>()
                / curves.len() as f64;
            if best.as_ref().is_none_or(|b| auc > b.auc) {
                params.num_rounds = (point as u32 + 1) * search::STEP;
                bar.set_message(format!("best out-of-fold ROC AUC {auc:.4}"));
                let oof = curves
                    .iter()
                    .flat_map(|c| c[point].iter().copied())
                    .collect();
                best = Some(Best {
                    auc,
                    params: params.clone(),
                    oof,
                });
            }
        }
    }
    bar.finish();
    let Best {
        auc: search_best_auc,
        params,
        oof,
    } = best.ok_or(TrainError::NoThreshold)?;
    let pooled_labels: Vec<bool> = train_labels
        .iter()
        .copied()
        .cycle()
        .take(oof.len())
        .collect();
    let (threshold, _) = best_f1_threshold(&pooled_labels, &oof).ok_or(TrainError::NoThreshold)?;

    let cv = repeated_cv(
        &data,
        &train_idx,
        &train_labels,
        &params,
        threshold,
        options,
    )?;

    let booster = search::fit(&data, &train_idx, &params, seed)?;
    let test_labels: Vec<bool> = test_idx.iter().map(|&i| labels[i]).collect();
    let test_scores = search::predict(&booster, &data, &test_idx)?;
    let holdout = Evaluation::compute(&test_labels, &test_scores, threshold);

    let model_json = booster.to_json()?;
    let manifest = Manifest {
        version: format!("xgb-{}", &sha256_hex(&model_json)[..12]),
        threshold: f64::from(threshold),
        features: features::names(),
        risk_cuts: [0.3, 0.7],
        xgboost_version: xgb::version(),
        params: json!({"search": &params, "xgboost": params.xgb(seed).into_iter().collect::<std::collections::BTreeMap<_, _>>(),
            "seed": seed, "split": {"test_fraction": 0.2, "stratified": true},
            "search_space": {"trials": options.trials, "folds": options.folds, "repeats": search_repeats,
                "rounds": format!("chosen by cross-validation every {} rounds up to {}", search::STEP, search::MAX_ROUNDS),
                "objective": "mean out-of-fold ROC AUC over the repeats"},
            "threshold_rule": "maximise F1 of the leaving class on the winner's out-of-fold predictions of every repeat"}),
        data_sha256: data_sha256(&options.data)?,
        created_at: now_rfc3339(),
        metrics: json!({"holdout": &holdout, "cv": &cv,
            "rows": {"train": train_idx.len(), "holdout": test_idx.len(), "leavers": labels.iter().filter(|l| **l).count()}}),
        calibration: crate::model::Calibration::None,
        drift_reference: std::collections::BTreeMap::new(),
    };
    Bundle::write(&options.out, &manifest, &model_json)?;
    Ok(Trained {
        manifest,
        holdout,
        cv,
        search_best_auc,
    })
}

fn repeated_cv(
    data: &Data<'_>,
    train_idx: &[usize],
    train_labels: &[bool],
    params: &Params,
    threshold: f32,
    options: &Options,
) -> Result<CrossValidation, TrainError> {
    let bar = progress(
        options,
        (options.repeats * options.folds) as u64,
        "repeated cv",
    );
    let (mut f1s, mut aucs) = (Vec::new(), Vec::new());
    for repeat in 0..options.repeats as u64 {
        let seed = options.seed.wrapping_add(1000 + repeat);
        for (train, valid) in split::stratified_kfold(train_labels, options.folds, seed)? {
            let to_rows = |pos: &[usize]| pos.iter().map(|&p| train_idx[p]).collect::<Vec<_>>();
            let booster = search::fit(data, &to_rows(&train), params, options.seed)?;
            let scores = search::predict(&booster, data, &to_rows(&valid))?;
            let labels: Vec<bool> = valid.iter().map(|&p| train_labels[p]).collect();
            f1s.push(Confusion::from_scores(&labels, &scores, threshold).f1());
            aucs.push(metrics::roc_auc(&labels, &scores));
            bar.inc(1);
        }
    }
    bar.finish();
    let ((f1_mean, f1_sd), (roc_auc_mean, roc_auc_sd)) = (mean_sd(&f1s), mean_sd(&aucs));
    Ok(CrossValidation {
        f1_mean,
        f1_sd,
        roc_auc_mean,
        roc_auc_sd,
        folds: options.folds,
        repeats: options.repeats,
    })
}

fn progress(options: &Options, len: u64, what: &'static str) -> ProgressBar {
    if !options.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len).with_prefix(what);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>12} [{bar:30}] {pos}/{len} fits, {elapsed} elapsed, ~{eta} left  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

/// sha256 of the three extracts' bytes, in file-name order.
fn data_sha256(dir: &Path) -> Result<String, TrainError> {
    let mut all = Vec::new();
    for name in [
        "extrait_eval.csv",
        "extrait_sirh.csv",
        "extrait_sondage.csv",
    ] {
        let path = dir.join(name);
        all.extend(std::fs::read(&path).map_err(|source| TrainError::Read { path, source })?);
    }
    Ok(sha256_hex(&all))
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
