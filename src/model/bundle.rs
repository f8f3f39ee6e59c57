//! Reading and writing a model bundle folder: `model.json` + `manifest.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::drift::Bins;
use super::identity::{self, Identity};
use super::xgb::XgbError;
use super::Calibration;
use crate::digest::sha256_hex;
use crate::features;

/// Why a bundle cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid manifest: {source}")]
    Manifest {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "model bundle {path} does not match this build's features: {detail}. Retrain it with \
         `turnover train` or deploy the bundle made for this version"
    )]
    FeatureMismatch { path: PathBuf, detail: String },
    #[error("model bundle {path}: {detail}")]
    Invalid { path: PathBuf, detail: String },
    #[error(transparent)]
    Xgb(#[from] XgbError),
}

/// `manifest.json`: what the model is, how it was made and how well it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Names the bundle; every score carries it as `model_version`.
    pub version: String,
    /// Decision threshold on the (calibrated) probability of leaving.
    pub threshold: f64,
    /// Feature names in the order the model takes them.
    pub features: Vec<String>,
    /// Risk band cut points (`[0.3, 0.7]`).
    pub risk_cuts: [f64; 2],
    pub xgboost_version: String,
    /// The chosen hyper-parameters.
    pub params: serde_json::Value,
    /// sha256 of the training data (the three extracts, concatenated in name order).
    pub data_sha256: String,
    /// RFC 3339.
    pub created_at: String,
    /// `{"holdout": {...}, "holdout_ci": {...}, "cv": {...}, "baseline_logreg": {...}, ...}`.
    pub metrics: serde_json::Value,
    /// The map from the booster's raw probability to the served one; absent in bundles made
    /// before calibration existed, which are served uncalibrated.
    #[serde(default)]
    pub calibration: Calibration,
    /// Each feature's training distribution, by feature name, for drift detection; empty in
    /// bundles made before it existed.
    #[serde(default)]
    pub drift_reference: BTreeMap<String, Bins>,
    /// sha256 of `model.ubj`, the same model in XGBoost's binary JSON, which the service loads
    /// instead of `model.json` when present (several times faster to parse). Absent in bundles
    /// without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_ubj_sha256: Option<String>,
    /// sha256 of `model.json`, so a changed model file is named as such; absent in bundles
    /// made before it existed, whose `version` still covers the model's bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_json_sha256: Option<String>,
    /// Record fields the model was trained without (`turnover train --exclude-features`):
    /// their feature columns are masked when scoring, as they were in training.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_features: Vec<String>,
    /// Per-group figures on the holdout ([`crate::fairness::Fairness`]); absent in bundles
    /// made before they existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fairness: Option<crate::fairness::Fairness>,
    /// Salted hashes of the training employees' ids, so live figures can set apart the
    /// employees the model learned from; absent in bundles made before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_employees: Option<super::TrainingEmployees>,
}

impl Manifest {
    /// What this manifest says a score depends on, with the model files' digests.
    pub fn identity<'a>(
        &'a self,
        model_json_sha256: &'a str,
        model_ubj_sha256: Option<&'a str>,
    ) -> Identity<'a> {
        Identity {
            model_json_sha256,
            model_ubj_sha256,
            threshold: self.threshold,
            risk_cuts: self.risk_cuts,
            calibration: &self.calibration,
        }
    }
}

/// A bundle read from disk.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub manifest: Manifest,
    /// `model.json`, as stored: the model's reference form, named by `sha256`.
    pub model_json: Vec<u8>,
    /// `model.ubj`, as stored, when the bundle has one that matches its manifest.
    pub model_ubj: Option<Vec<u8>>,
    /// sha256 of `model.json`, hex.
    pub sha256: String,
    pub path: PathBuf,
}

fn read(path: &Path) -> Result<Vec<u8>, ModelError> {
    std::fs::read(path).map_err(|source| ModelError::Read {
        path: path.to_owned(),
        source,
    })
}

impl Bundle {
    /// Loads and checks a bundle: manifest fields, feature list against the code's, threshold
    /// and cuts in range, calibration and drift reference well-formed, `model.ubj` the one the
    /// manifest names. The model itself is parsed by [`super::Model::new`] (once), which checks
    /// its feature count; [`Bundle::check_with_xgboost_rs`] adds an independent check.
    ///
    /// # Errors
    /// [`ModelError`] naming the file and what is wrong.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let manifest_path = dir.join("manifest.json");
        let manifest: Manifest =
            serde_json::from_slice(&read(&manifest_path)?).map_err(|source| {
                ModelError::Manifest {
                    path: manifest_path.clone(),
                    source,
                }
            })?;
        let model_json = read(&dir.join("model.json"))?;
        let ubj_path = dir.join("model.ubj");
        let model_ubj = match std::fs::read(&ubj_path) {
            Ok(bytes) => Some(bytes),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(ModelError::Read {
                    path: ubj_path,
                    source,
                })
            }
        };
        let bundle = Bundle {
            sha256: sha256_hex(&model_json),
            manifest,
            model_json,
            model_ubj,
            path: dir.to_owned(),
        };
        bundle.check()?;
        Ok(bundle)
    }

    /// The bytes libxgboost loads: `model.ubj` when the bundle has it, else `model.json`.
    pub fn model_bytes(&self) -> &[u8] {
        self.model_ubj.as_deref().unwrap_or(&self.model_json)
    }

    fn check(&self) -> Result<(), ModelError> {
        self.check_identity()?;
        let expected = features::names();
        let got = &self.manifest.features;
        if *got != expected {
            let detail = match got.iter().zip(&expected).position(|(a, b)| a != b) {
                Some(i) => format!(
                    "feature {i} is {:?} in the manifest but {:?} in the code",
                    got[i], expected[i]
                ),
                None => format!(
                    "the manifest lists {} features, the code {}",
                    got.len(),
                    expected.len()
                ),
            };
            return Err(ModelError::FeatureMismatch {
                path: self.path.clone(),
                detail,
            });
        }
        let invalid = |detail: String| {
            Err(ModelError::Invalid {
                path: self.path.clone(),
                detail,
            })
        };
        let t = self.manifest.threshold;
        if !(0.0..=1.0).contains(&t) {
            return invalid(format!("threshold {t} is not a probability"));
        }
        let [low, high] = self.manifest.risk_cuts;
        if !(0.0 <= low && low <= high && high <= 1.0) {
            return invalid(format!(
                "risk_cuts [{low}, {high}] must be increasing probabilities"
            ));
        }
        if let Some(problem) = self.manifest.calibration.problem() {
            return invalid(problem);
        }
        if let Err(name) = features::columns_of(&self.manifest.excluded_features) {
            return invalid(format!(
                "excluded_features names {name:?}, which is not a record field any feature is \
                 made from"
            ));
        }
        for (name, bins) in &self.manifest.drift_reference {
            if !expected.contains(name) || !bins.is_valid() {
                return invalid(format!(
                    "drift_reference[{name:?}] is not one of the features' bins and shares"
                ));
            }
        }
        Ok(())
    }

    /// The files are the ones the version names (docs/contract.md#model-bundle): `model.ubj`
    /// is the one the manifest names, and model, threshold, cuts and calibration hash to the
    /// manifest's `version`. Checked first, so no other message hides a changed file.
    fn check_identity(&self) -> Result<(), ModelError> {
        // A model.ubj left from another training run must not be served in place of model.json.
        if let Some(ubj) = &self.model_ubj {
            let sha = sha256_hex(ubj);
            if self.manifest.model_ubj_sha256.as_deref() != Some(sha.as_str()) {
                return Err(ModelError::Invalid {
                    path: self.path.clone(),
                    detail: format!(
                        "model.ubj has sha256 {sha} but manifest.json's model_ubj_sha256 is \
                         {}: rebuild the bundle, or delete model.ubj to serve model.json",
                        self.manifest
                            .model_ubj_sha256
                            .as_deref()
                            .unwrap_or("absent")
                    ),
                });
            }
        }
        let m = &self.manifest;
        identity::verify(
            &self.path,
            &m.version,
            m.model_json_sha256.as_deref(),
            &m.identity(&self.sha256, m.model_ubj_sha256.as_deref()),
        )
    }

    /// The file libxgboost loads, for messages.
    pub fn model_file(&self) -> &'static str {
        if self.model_ubj.is_some() {
            "model.ubj"
        } else {
            "model.json"
        }
    }

    /// A second opinion on the model file from the xgboost-rs safe layer: it loads, and the
    /// learner's own feature count is the code's. [`Bundle::load`] leaves the model to
    /// [`super::Model::new`], which checks the count through the scoring wrapper; this check is
    /// made where a wrong bundle costs most and a second parse costs least: on every bundle the
    /// service loads to serve, and on every bundle `turnover train` writes.
    ///
    /// # Errors
    /// [`ModelError`] naming the folder and the file.
    pub fn check_with_xgboost_rs(&self) -> Result<(), ModelError> {
        let expected = features::COUNT;
        let file = self.model_file();
        let booster = xgboost_rs::Booster::load_buffer(self.model_bytes()).map_err(|e| {
            ModelError::Invalid {
                path: self.path.clone(),
                detail: format!("{file}: {e}"),
            }
        })?;
        let config: serde_json::Value =
            serde_json::from_str(&booster.save_config()).unwrap_or_default();
        let num_feature = config["learner"]["learner_model_param"]["num_feature"]
            .as_str()
            .and_then(|n| n.parse::<usize>().ok());
        match num_feature {
            Some(n) if n == expected => Ok(()),
            other => Err(ModelError::FeatureMismatch {
                path: self.path.clone(),
                detail: match other {
                    Some(n) => format!("{file} takes {n} features, the code builds {expected}"),
                    None => format!(
                        "{file} does not say how many features it takes (learner_model_param.\
                         num_feature); the code builds {expected}"
                    ),
                },
            }),
        }
    }

    /// Writes `model.json`, `model.ubj` and `manifest.json` into `dir` (created if missing).
    /// The manifest's `model_ubj_sha256` must name `model_ubj`.
    ///
    /// # Errors
    /// When the folder or a file cannot be written.
    pub fn write(
        dir: &Path,
        manifest: &Manifest,
        model_json: &[u8],
        model_ubj: &[u8],
    ) -> Result<(), ModelError> {
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).map_err(|source| ModelError::Write { path, source })
        };
        std::fs::create_dir_all(dir).map_err(|source| ModelError::Write {
            path: dir.to_owned(),
            source,
        })?;
        let mut text = serde_json::to_vec_pretty(manifest).expect("a manifest serialises");
        text.push(b'\n');
        write("model.json", model_json)?;
        write("model.ubj", model_ubj)?;
        write("manifest.json", &text)
    }
}

#[cfg(test)]
mod tests;
