//! The model bundle (docs/contract.md#model-bundle) and scoring (docs/contract.md#score).
//!
//! A bundle is a folder with `model.json` (XGBoost's JSON model) and `manifest.json`. Loading
//! refuses a bundle whose feature list is not the code's ([`crate::features`]), so a model can
//! never be fed columns in an order it was not trained on. [`Model`] scores a batch of records
//! in one libxgboost call, maps the raw probabilities through the bundle's [`Calibration`]
//! before the threshold and the risk bands, and explains records by SHAP contributions mapped
//! back to fields. The manifest also carries each feature's training distribution ([`Bins`],
//! compared with incoming values by [`psi`]).
//! This module does no I/O besides reading the bundle, and never runs on an async thread.

mod bundle;
mod calibration;
mod drift;
mod explain;
mod identity;
mod seen;
mod summary;
pub(crate) mod xgb;

use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use bundle::{Bundle, Manifest, ModelError};
pub use calibration::Calibration;
pub(crate) use calibration::{logit, sigmoid};
pub use drift::{psi, psi_table, Bins, FeatureDrift, MAX_BINS, PSI_EPSILON, PSI_MAJOR};
pub use explain::Contribution;
pub use identity::Identity;
pub use seen::{id_hash, TrainingEmployees};
pub use summary::{EmployeeScore, Summary};

use crate::features;
use crate::record::Record;

/// The risk band of a probability of leaving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum RiskLevel {
    Low,
    Medium,
    High,
}

impl RiskLevel {
    /// `Low` below `cuts[0]`, `Medium` below `cuts[1]`, `High` from `cuts[1]`.
    pub fn of(probability: f64, cuts: [f64; 2]) -> Self {
        if probability < cuts[0] {
            RiskLevel::Low
        } else if probability < cuts[1] {
            RiskLevel::Medium
        } else {
            RiskLevel::High
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "Low",
            RiskLevel::Medium => "Medium",
            RiskLevel::High => "High",
        }
    }

    pub const ALL: [RiskLevel; 3] = [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High];
}

impl FromStr for RiskLevel {
    type Err = UnknownRiskLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|level| level.as_str() == s)
            .ok_or_else(|| UnknownRiskLevel(s.to_owned()))
    }
}

impl std::fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A risk level that is not `Low`, `Medium` or `High`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown risk level {0:?}: expected Low, Medium or High")]
pub struct UnknownRiskLevel(pub String);

/// The score of one record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// Probability that the employee leaves (`probability_1`), calibrated.
    pub probability: f64,
    /// 1 when `probability >= threshold`.
    pub prediction: u8,
    pub risk_level: RiskLevel,
}

/// A loaded model, ready to score on the thread that owns it.
pub struct Model {
    booster: xgb::Booster,
    calibration: Calibration,
    threshold: f64,
    cuts: [f64; 2],
    /// Columns of the fields the bundle was trained without, masked before scoring as in
    /// training (empty for a bundle trained on every feature).
    masked: Vec<usize>,
}

impl Model {
    /// A scoring model from a bundle, single-threaded (one model per scoring thread).
    ///
    /// # Errors
    /// When libxgboost cannot load the bundle's model.
    pub fn new(bundle: &Bundle, cuts: Option<[f64; 2]>) -> Result<Self, ModelError> {
        let booster = xgb::Booster::load(bundle.model_bytes())?;
        let takes = booster.num_features()?;
        if takes != features::COUNT {
            return Err(ModelError::FeatureMismatch {
                path: bundle.path.clone(),
                detail: format!(
                    "{} takes {takes} features, the code builds {}",
                    bundle.model_file(),
                    features::COUNT
                ),
            });
        }
        // One thread per booster: the worker parallelises across batches, and OpenMP threads
        // spinning between small batches would steal the core the broker and database need.
        booster.set_param("nthread", "1")?;
        let masked = features::columns_of(&bundle.manifest.excluded_features).map_err(|name| {
            ModelError::FeatureMismatch {
                path: bundle.path.clone(),
                detail: format!("excluded feature {name:?} is not a model input field"),
            }
        })?;
        Ok(Model {
            masked,
            booster,
            calibration: bundle.manifest.calibration.clone(),
            threshold: bundle.manifest.threshold,
            cuts: cuts.unwrap_or(bundle.manifest.risk_cuts),
        })
    }

    /// Scores every record in one libxgboost call.
    ///
    /// # Errors
    /// When libxgboost fails (never for a validated record).
    pub fn score(&self, records: &[&Record]) -> Result<Vec<Score>, ModelError> {
        self.score_features(&features::matrix(records.iter().copied()), records.len())
    }

    /// Scores `rows` rows of features built by [`features::matrix`], in one libxgboost call.
    ///
    /// # Errors
    /// When libxgboost fails or the matrix is not `rows` × [`features::COUNT`].
    pub fn score_features(&self, data: &[f32], rows: usize) -> Result<Vec<Score>, ModelError> {
        if data.len() != rows * features::COUNT {
            return Err(xgb::XgbError(format!("{} values for {rows} rows", data.len())).into());
        }
        let probabilities = self.booster.predict(&self.masked(data), rows)?;
        Ok(probabilities
            .into_iter()
            .map(|p| self.score_of(f64::from(p)))
            .collect())
    }

    /// `data` as the booster was trained on it: a copy with the excluded columns masked, or
    /// `data` itself when nothing was excluded (the common case pays nothing).
    fn masked<'a>(&self, data: &'a [f32]) -> std::borrow::Cow<'a, [f32]> {
        if self.masked.is_empty() {
            return std::borrow::Cow::Borrowed(data);
        }
        let mut copy = data.to_vec();
        features::mask(&mut copy, &self.masked);
        std::borrow::Cow::Owned(copy)
    }

    /// The score for the booster's raw probability of leaving: calibrated by the bundle's
    /// calibration, then classed by the bundle's threshold and banded by the cuts. The
    /// threshold was chosen on calibrated probabilities, so both sides speak of the same number.
    pub fn score_of(&self, raw_probability: f64) -> Score {
        // The booster's output is an f32; calibration works on that precision (see
        // `Calibration::apply`), so training and serving compare identical values.
        let probability = f64::from(self.calibration.apply(raw_probability as f32));
        Score {
            probability,
            prediction: u8::from(probability >= self.threshold),
            risk_level: RiskLevel::of(probability, self.cuts),
        }
    }

    /// The `top_k` largest contributions to each row's score, by record field.
    ///
    /// # Errors
    /// When libxgboost fails.
    pub fn explain_features(
        &self,
        data: &[f32],
        rows: usize,
        top_k: usize,
    ) -> Result<Vec<Vec<Contribution>>, ModelError> {
        if rows == 0 {
            return Ok(Vec::new());
        }
        let (values, per_row) = self.booster.contributions(&self.masked(data), rows)?;
        Ok(values
            .chunks(per_row)
            .map(|row| explain::by_field(row, top_k))
            .collect())
    }

    /// As [`Model::explain_features`], from records.
    ///
    /// # Errors
    /// When libxgboost fails.
    pub fn explain(
        &self,
        records: &[&Record],
        top_k: usize,
    ) -> Result<Vec<Vec<Contribution>>, ModelError> {
        self.explain_features(
            &features::matrix(records.iter().copied()),
            records.len(),
            top_k,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{sigmoid, Bundle, Calibration, Model, RiskLevel};

    #[test]
    fn scores_go_through_the_calibration_before_threshold_and_bands() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/turnover");
        let mut bundle = Bundle::load(&path).expect("the committed bundle loads");
        bundle.manifest.threshold = 0.5;
        bundle.manifest.calibration = Calibration::None;
        let raw = Model::new(&bundle, Some([0.3, 0.7])).expect("model");
        let s = raw.score_of(0.4);
        assert_eq!((s.prediction, s.risk_level), (0, RiskLevel::Medium));
        assert!((s.probability - 0.4).abs() < 1e-7);

        // logit(0.4) + 2 = 1.5945: the calibrated probability is 0.831.
        bundle.manifest.calibration = Calibration::Platt { a: 1.0, b: 2.0 };
        let calibrated = Model::new(&bundle, Some([0.3, 0.7])).expect("model");
        let s = calibrated.score_of(0.4);
        let want = sigmoid((0.4f64 / 0.6).ln() + 2.0);
        assert!((s.probability - want).abs() < 1e-6, "{}", s.probability);
        assert_eq!((s.prediction, s.risk_level), (1, RiskLevel::High));

        // A batch goes the same way as one probability at a time.
        let records: Vec<_> = crate::record::sample::many(5, 20)
            .iter()
            .map(|map| crate::record::validate(map).expect("valid"))
            .collect();
        let data = crate::features::matrix(records.iter());
        let raw_scores = raw.score_features(&data, records.len()).expect("score");
        let scores = calibrated
            .score_features(&data, records.len())
            .expect("score");
        for (r, s) in raw_scores.iter().zip(&scores) {
            assert_eq!(*s, calibrated.score_of(r.probability));
        }
    }

    #[test]
    fn risk_levels_read_back_what_they_write() {
        for level in RiskLevel::ALL {
            assert_eq!(level.as_str().parse::<RiskLevel>(), Ok(level));
        }
        let err = "low".parse::<RiskLevel>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown risk level \"low\": expected Low, Medium or High"
        );
    }

    #[test]
    fn risk_levels_follow_the_cuts() {
        let cuts = [0.3, 0.7];
        assert_eq!(RiskLevel::of(0.0, cuts), RiskLevel::Low);
        assert_eq!(RiskLevel::of(0.299, cuts), RiskLevel::Low);
        assert_eq!(RiskLevel::of(0.3, cuts), RiskLevel::Medium);
        assert_eq!(RiskLevel::of(0.699, cuts), RiskLevel::Medium);
        assert_eq!(RiskLevel::of(0.7, cuts), RiskLevel::High);
        assert_eq!(RiskLevel::of(0.5, [0.6, 0.9]), RiskLevel::Low);
    }
}
