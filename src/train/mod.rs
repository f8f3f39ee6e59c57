//! `turnover train`: from the three labelled extracts to a model bundle.
//!
//! 1. A stratified 80/20 split with the seed (42 unless told otherwise). The split is fixed,
//!    never searched: a lucky split is not a better model.
//! 2. A random search of hyper-parameters, each judged by the out-of-fold ROC AUC of a
//!    stratified k-fold cross-validation on the 80%. AUC ranks models by how well they order
//!    employees, which is stable across folds; F1 depends on a threshold and is noisy.
//! 3. The decision threshold that maximises F1 of "leaves" on the winner's out-of-fold
//!    predictions.
//! 4. Repeated stratified cross-validation of the winner (mean ± sd), then a refit on the 80%
//!    and the metrics on the untouched 20%.
//!
//! Everything runs on one thread with seeded randomness, so the same data and seed give the
//! same `model.json` bytes.

pub mod metrics;
pub mod report;
pub mod rng;
pub mod search;
pub mod split;

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::extracts::{self, ExtractError};
use crate::features;
use crate::model::bundle::sha256_hex;
use crate::model::{xgb, Bundle, Manifest, ModelError};
use metrics::{best_f1_threshold, mean_sd, Confusion, Metrics};
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
    #[error("the extracts in {0} have no label column (a_quitte_l_entreprise): nothing to learn from")]
    NoLabels(PathBuf),
    #[error(transparent)]
    Split(#[from] split::SplitError),
    #[error(transparent)]
    Xgb(#[from] xgb::XgbError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("no usable threshold: the out-of-fold predictions are empty or not numbers")]
    NoThreshold,
}

/// The outcome of a training run.
#[derive(Debug, Clone)]
pub struct Trained {
    pub manifest: Manifest,
    pub holdout: Metrics,
    pub cv: CrossValidation,
    pub search_best_auc: f64,
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
    let labels: Vec<bool> = rows.iter().map(|(row, _)| row.label == Some(true)).collect();
    let x = features::matrix(rows.iter().map(|(_, record)| record));
    let data = Data { x: &x, y: &labels };
    let seed = options.seed;

    let (train_idx, test_idx) = split::stratified_split(&labels, 0.2, seed)?;
    let train_labels: Vec<bool> = train_idx.iter().map(|&i| labels[i]).collect();
    let folds = split::stratified_kfold(&train_labels, options.folds, seed)?;

    let bar = progress(options, (options.trials * options.folds) as u64, "search");
    let mut rng = rng::Rng::new(seed);
    let mut best: Option<(f64, Params, Vec<f32>)> = None;
    for _ in 0..options.trials {
        let params = Params::sample(&mut rng);
        let oof = search::out_of_fold(&data, &train_idx, &folds, &params, seed, || bar.inc(1))?;
        let auc = metrics::roc_auc(&train_labels, &oof);
        if best.as_ref().is_none_or(|(b, _, _)| auc > *b) {
            bar.set_message(format!("best out-of-fold ROC AUC {auc:.4}"));
            best = Some((auc, params, oof));
        }
    }
    bar.finish();
    let (search_best_auc, params, oof) = best.ok_or(TrainError::NoThreshold)?;
    let (threshold, _) = best_f1_threshold(&train_labels, &oof).ok_or(TrainError::NoThreshold)?;

    let cv = repeated_cv(&data, &train_idx, &train_labels, &params, threshold, options)?;

    let booster = search::fit(&data, &train_idx, &params, seed)?;
    let test_labels: Vec<bool> = test_idx.iter().map(|&i| labels[i]).collect();
    let test_scores = search::predict(&booster, &data, &test_idx)?;
    let holdout = Metrics::compute(&test_labels, &test_scores, threshold);

    let model_json = booster.to_json()?;
    let manifest = Manifest {
        version: format!("xgb-{}", &sha256_hex(&model_json)[..12]),
        threshold: f64::from(threshold),
        features: features::names(),
        risk_cuts: [0.3, 0.7],
        xgboost_version: xgb::version(),
        params: json!({"search": &params, "xgboost": params.xgb(seed).into_iter().collect::<std::collections::BTreeMap<_, _>>(),
            "seed": seed, "split": {"test_fraction": 0.2, "stratified": true},
            "search_space": {"trials": options.trials, "folds": options.folds, "objective": "out-of-fold ROC AUC"},
            "threshold_rule": "maximise out-of-fold F1 of the leaving class"}),
        data_sha256: data_sha256(&options.data)?,
        created_at: now_rfc3339(),
        metrics: json!({"holdout": &holdout, "cv": &cv,
            "rows": {"train": train_idx.len(), "holdout": test_idx.len(), "leavers": labels.iter().filter(|l| **l).count()}}),
    };
    Bundle::write(&options.out, &manifest, &model_json)?;
    Ok(Trained { manifest, holdout, cv, search_best_auc })
}

fn repeated_cv(
    data: &Data,
    train_idx: &[usize],
    train_labels: &[bool],
    params: &Params,
    threshold: f32,
    options: &Options,
) -> Result<CrossValidation, TrainError> {
    let bar = progress(options, (options.repeats * options.folds) as u64, "repeated cv");
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
    Ok(CrossValidation { f1_mean, f1_sd, roc_auc_mean, roc_auc_sd, folds: options.folds, repeats: options.repeats })
}

fn progress(options: &Options, len: u64, what: &'static str) -> ProgressBar {
    if !options.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len).with_prefix(what);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} fits, {elapsed} elapsed, ~{eta} left  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

/// sha256 of the three extracts' bytes, in file-name order.
fn data_sha256(dir: &Path) -> Result<String, TrainError> {
    let mut all = Vec::new();
    for name in ["extrait_eval.csv", "extrait_sirh.csv", "extrait_sondage.csv"] {
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
