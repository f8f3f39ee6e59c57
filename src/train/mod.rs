//! `turnover train`: from the three labelled extracts to a model bundle.
//!
//! 1. A stratified 80/20 split with the seed (42 unless told otherwise). The split is fixed,
//!    never searched: a lucky split is not a better model.
//! 2. A random search of hyper-parameters. Each point is judged by the mean out-of-fold ROC AUC
//!    of three repeats of a stratified k-fold cross-validation on the 80% (three fold
//!    assignments, so that a lucky assignment does not pick the winner), and its number of
//!    rounds is read off the cross-validation curve (every 50 rounds), not sampled. AUC ranks
//!    models by how well they order employees; F1 depends on a threshold and is noisy.
//! 3. Calibration (none, Platt or isotonic), chosen by cross-validated Brier score on the
//!    winner's out-of-fold predictions of all three repeats ([`calibrate`]), then the decision
//!    threshold that maximises F1 of "leaves" on those predictions, calibrated.
//! 4. Repeated stratified cross-validation of the winner on fresh fold assignments (mean ± sd),
//!    then a refit on the 80%.
//! 5. A logistic-regression baseline chosen the same way on the same folds ([`baseline`]).
//! 6. Both judged once on the untouched 20%, every metric with a bootstrap interval and the
//!    AUC difference with a paired one ([`holdout`]); each feature's training distribution is
//!    stored for drift detection.
//!
//! 7. The served model's figures per group of `genre`, `statut_marital` and age band on the
//!    holdout, with bootstrap intervals ([`fairness`], docs/model.md#fairness).
//!
//! `Options::exclude_features` masks the columns of some record fields in training (and, by the
//! manifest's `excluded_features`, in serving); the report then compares with the same model
//! refit on every feature, on the same split.
//!
//! Everything runs on one thread with seeded randomness, so the same data and seed give the
//! same `model.json` bytes.

mod baseline;
mod bootstrap;
mod calibrate;
pub(crate) mod card;
mod cv;
mod error;
mod fairness;
mod holdout;
mod logreg;
mod manifest;
mod metrics;
mod progress;
pub(crate) mod report;
mod search;
mod split;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fairness;

use std::path::{Path, PathBuf};

use crate::digest::sha256_hex;
use crate::extracts;
use crate::fairness::Fairness;
use crate::features;
use crate::model::{xgb, Bins, Bundle, Manifest, TrainingEmployees, MAX_BINS};
pub use baseline::Baseline;
pub use calibrate::Choice;
pub use cv::CrossValidation;
pub use error::TrainError;
pub use holdout::Assessment;
use metrics::best_f1_threshold;
use progress::Phase;
pub use progress::Progress;
use search::Data;

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
    /// How progress is shown on stderr.
    pub progress: Progress,
    /// Record fields to train without (`--exclude-features`).
    pub exclude_features: Vec<String>,
}

/// What a training run produced.
#[derive(Debug, Clone)]
pub struct Trained {
    pub manifest: Manifest,
    pub cv: CrossValidation,
    pub search_best_auc: f64,
    pub calibration: Choice,
    pub baseline: Baseline,
    /// Both models on the holdout.
    pub assessment: Assessment,
    /// The served model per group on the holdout.
    pub fairness: Fairness,
    /// With `exclude_features`: the same model refit with every feature, on the same split.
    pub with_every_feature: Option<Comparison>,
}

/// The model refit with every feature (same parameters, calibration and threshold), judged on
/// the same holdout rows as the model trained without the excluded ones.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub holdout: metrics::Evaluation,
    pub fairness: Fairness,
}

/// Repeats of the k-fold cross-validation that judges each search point (fewer when
/// `Options::repeats` is smaller). Averaging the out-of-fold ROC AUC of three fold assignments
/// keeps the search from rewarding a lucky assignment.
const SEARCH_REPEATS: usize = 3;
/// The risk band cut points every trained bundle carries.
const RISK_CUTS: [f64; 2] = [0.3, 0.7];

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
    let full_x = features::matrix(rows.iter().map(|(_, record)| record));
    let masked =
        features::columns_of(&options.exclude_features).map_err(TrainError::UnknownExclusion)?;
    let mut x = full_x.clone();
    features::mask(&mut x, &masked);
    let data = Data { x: &x, y: &labels };
    let seed = options.seed;

    let (train_idx, test_idx) = split::stratified_split(&labels, 0.2, seed)?;
    let train_labels: Vec<bool> = train_idx.iter().map(|&i| labels[i]).collect();
    let search_repeats = options.repeats.min(SEARCH_REPEATS);
    let search_folds = (0..search_repeats as u64)
        .map(|r| split::stratified_kfold(&train_labels, options.folds, seed.wrapping_add(r)))
        .collect::<Result<Vec<_>, _>>()?;

    let fits = options.trials * search_repeats * options.folds;
    let phase = Phase::counted(options.progress, fits as u64, "search");
    let best = search::search(
        &data,
        &train_idx,
        &search_folds,
        options.trials,
        seed,
        &phase,
    )?;
    phase.finish();
    let search::Best { auc, params, oof } = best.ok_or(TrainError::NoThreshold)?;

    // Calibration, then the threshold on calibrated probabilities: both from the 80% only.
    let calibration =
        calibrate::choose(&train_labels, &oof, options.folds, seed.wrapping_add(3000))?;
    let served = &calibration.calibration;
    let pooled_labels: Vec<bool> = (0..oof.len())
        .map(|j| train_labels[j % train_labels.len()])
        .collect();
    let calibrated_oof: Vec<f32> = oof.iter().map(|&p| served.apply(p)).collect();
    let (threshold, _) =
        best_f1_threshold(&pooled_labels, &calibrated_oof).ok_or(TrainError::NoThreshold)?;

    let cv = cv::repeated(
        &data,
        &train_idx,
        &train_labels,
        (&params, served, threshold),
        options,
    )?;
    let phase = Phase::step(options.progress, "final fit and baseline");
    let booster = search::fit(&data, &train_idx, &params, seed)?;
    let baseline = baseline::fit(&data, &train_idx, &train_labels, &search_folds)?;
    phase.finish();

    let test_labels: Vec<bool> = test_idx.iter().map(|&i| labels[i]).collect();
    let raw = search::predict(&booster, &data, &test_idx)?;
    let calibrated: Vec<f32> = raw.iter().map(|&p| served.apply(p)).collect();
    let phase = Phase::step(options.progress, "holdout bootstrap and groups");
    let assessment = holdout::assess(
        &holdout::Scores {
            labels: &test_labels,
            raw: &raw,
            calibrated: &calibrated,
            threshold,
            baseline: &baseline.predict(&data, &test_idx),
            baseline_threshold: baseline.threshold,
        },
        seed.wrapping_add(2000),
    );
    let (group_figures, with_every_feature) = fairness::judge(
        &fairness::Holdout {
            rows: &rows,
            labels: &labels,
            test_idx: &test_idx,
            calibrated: &calibrated,
            threshold,
            seed,
        },
        (!masked.is_empty()).then_some((full_x.as_slice(), train_idx.as_slice(), &params, served)),
    )?;
    phase.finish();

    let data_sha256 = data_sha256(&options.data)?;
    let model_json = booster.to_json()?;
    let model_ubj = booster.to_ubj()?;
    let manifest = Manifest {
        version: manifest::version(&model_json, &model_ubj, served, threshold, RISK_CUTS),
        threshold: f64::from(threshold),
        features: features::names(),
        risk_cuts: RISK_CUTS,
        xgboost_version: xgb::version(),
        params: manifest::params_json(&params, seed, options, search_repeats),
        data_sha256: data_sha256.clone(),
        created_at: now_rfc3339(),
        metrics: manifest::with_comparison(
            manifest::metrics_json(
                &assessment,
                &cv,
                &calibration,
                &baseline,
                &manifest::Rows {
                    train: train_idx.len(),
                    holdout: test_idx.len(),
                    leavers: labels.iter().filter(|l| **l).count(),
                },
            ),
            with_every_feature.as_ref(),
        ),
        calibration: served.clone(),
        drift_reference: features::names()
            .into_iter()
            .enumerate()
            .map(|(j, name)| {
                let column: Vec<f32> = train_idx
                    .iter()
                    .map(|&i| full_x[i * features::COUNT + j])
                    .collect();
                (name, Bins::fit(&column, MAX_BINS))
            })
            .collect(),
        model_ubj_sha256: Some(sha256_hex(&model_ubj)),
        model_json_sha256: Some(sha256_hex(&model_json)),
        excluded_features: options.exclude_features.clone(),
        fairness: Some(group_figures.clone()),
        training_employees: Some(TrainingEmployees::new(
            training_salt(&data_sha256, seed),
            train_idx.iter().map(|&i| rows[i].0.employee_id),
        )),
    };
    let phase = Phase::step(options.progress, "bundle and model card");
    Bundle::write(&options.out, &manifest, &model_json, &model_ubj)?;
    // What was written must load as the service will load it.
    Bundle::load(&options.out)?.check_with_xgboost_rs()?;
    card::write_into_bundle(
        &options.out,
        &manifest,
        &card::Holdout {
            labels: test_labels.clone(),
            model: calibrated.clone(),
            baseline: baseline.predict(&data, &test_idx),
        },
    )?;
    phase.finish();
    Ok(Trained {
        manifest,
        cv,
        search_best_auc: auc,
        calibration,
        baseline,
        assessment,
        fairness: group_figures,
        with_every_feature,
    })
}

/// The salt of the training ids' hashes: fixed by the data and the seed, so retraining the
/// same data gives the same manifest, and different for other data.
fn training_salt(data_sha256: &str, seed: u64) -> String {
    sha256_hex(format!("training-employees:{data_sha256}:{seed}").as_bytes())[..16].to_owned()
}

/// sha256 of the three extracts' bytes, in file-name order.
pub(crate) fn data_sha256(dir: &Path) -> Result<String, TrainError> {
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
