//! Why training (or scoring a bundle's holdout again) failed: each variant names the file,
//! field or rule at fault, for `turnover train` and `turnover model-card` to print.

use std::path::PathBuf;

use super::{card, split};
use crate::extracts::ExtractError;
use crate::model::{xgb, ModelError};

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
    #[error(
        "--exclude-features: {0:?} is not a record field any feature is made from (for example \
         genre, statut_marital, age)"
    )]
    UnknownExclusion(String),
    #[error(
        "the extracts in {data} (sha256 {sha}) are not the bundle's training data (data_sha256 \
         {want}): its holdout cannot be scored again from them"
    )]
    OtherData {
        data: PathBuf,
        sha: String,
        want: String,
    },
    #[error(transparent)]
    Card(#[from] card::CardError),
}
