//! The holdout of an existing bundle, scored again: the extracts are split exactly as training
//! split them (the manifest's seed, stratified 80/20), the bundle scores the 20% as the service
//! would (calibration and masked fields included), and the logistic-regression baseline is
//! fitted again on the 80% the way training fitted it (deterministic). Extracts whose sha256 is
//! not the manifest's `data_sha256` are refused: the card would describe another holdout.

use std::path::Path;

use super::Holdout;
use crate::extracts;
use crate::features;
use crate::model::{Bundle, Model};
use crate::train::search::Data;
use crate::train::{baseline, data_sha256, split, TrainError};

/// The bundle's holdout scored again from the training extracts in `data`.
///
/// # Errors
/// [`TrainError`]: unreadable or unlabelled extracts, extracts that are not the bundle's
/// training data, or a model that does not load.
pub fn recompute(bundle: &Bundle, data: &Path) -> Result<Holdout, TrainError> {
    let manifest = &bundle.manifest;
    let sha = data_sha256(data)?;
    if sha != manifest.data_sha256 {
        return Err(TrainError::OtherData {
            data: data.to_owned(),
            sha,
            want: manifest.data_sha256.clone(),
        });
    }
    let extracts = extracts::read_dir(data)?;
    if !extracts.has_labels() {
        return Err(TrainError::NoLabels(data.to_owned()));
    }
    let rows = extracts::validate_rows(&extracts)?;
    let labels: Vec<bool> = rows.iter().map(|(r, _)| r.label == Some(true)).collect();
    let mut x = features::matrix(rows.iter().map(|(_, record)| record));
    let masked =
        features::columns_of(&manifest.excluded_features).map_err(TrainError::UnknownExclusion)?;
    features::mask(&mut x, &masked);
    let params = &manifest.params;
    let seed = params["seed"].as_u64().unwrap_or(42);
    let folds = params["search_space"]["folds"].as_u64().unwrap_or(5) as usize;
    let repeats = params["search_space"]["repeats"].as_u64().unwrap_or(3);
    let (train_idx, test_idx) = split::stratified_split(&labels, 0.2, seed)?;
    let train_labels: Vec<bool> = train_idx.iter().map(|&i| labels[i]).collect();
    let search_folds = (0..repeats)
        .map(|r| split::stratified_kfold(&train_labels, folds, seed.wrapping_add(r)))
        .collect::<Result<Vec<_>, _>>()?;
    let data = Data { x: &x, y: &labels };
    let base = baseline::fit(&data, &train_idx, &train_labels, &search_folds)?;
    let model = Model::new(bundle, None)?;
    let (test_x, _) = data.take(&test_idx);
    let scores = model.score_features(&test_x, test_idx.len())?;
    Ok(Holdout {
        labels: test_idx.iter().map(|&i| labels[i]).collect(),
        model: scores.iter().map(|s| s.probability as f32).collect(),
        baseline: base.predict(&data, &test_idx),
    })
}
