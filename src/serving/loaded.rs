//! A bundle made ready to serve: loaded, checked by scoring made-up records, and given its own
//! scoring threads. [`Serving`] pairs the live bundle with the optional shadow one; the worker
//! takes one `Arc<Serving>` per batch, so every row of a batch names the bundle that scored it.
//!
//! Loading is blocking work (file reads, libxgboost parsing, a smoke score): callers run it off
//! the async threads. This module reads bundles and starts threads; it does no other I/O.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use super::{panic_message, Scorer};
use crate::model::{Bins, Bundle, Model, ModelError};
use crate::record::{sample, validate};

/// Made-up records scored by every bundle before it may serve.
const SMOKE_RECORDS: usize = 32;
/// Their seed: fixed, so a refusal can be reproduced offline.
const SMOKE_SEED: u64 = 13;

/// One bundle with its scoring threads. Dropping the last `Arc` to it stops the threads.
pub struct LoadedModel {
    /// The manifest's `version`.
    pub version: String,
    /// sha256 of `model.json`, hex.
    pub sha256: String,
    /// The manifest as loaded, for the registry.
    pub manifest: serde_json::Value,
    /// The manifest's `metrics`.
    pub metrics: serde_json::Value,
    /// The manifest's per-feature training distributions, for `turnover_feature_psi`.
    pub drift_reference: BTreeMap<String, Bins>,
    /// The folder it was loaded from.
    pub path: PathBuf,
    pub scorer: Scorer,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("version", &self.version)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LoadedModel {
    /// Loads the bundle in `dir` ([`Bundle::load`]: files, feature list, ranges), scores
    /// made-up records with it (every probability must be a number in [0, 1]), then starts
    /// `threads` scoring threads on it. Blocking.
    ///
    /// # Errors
    /// [`ModelError`] naming the folder and what is wrong; nothing is started then.
    pub fn load(
        dir: &Path,
        threads: NonZeroUsize,
        cuts: Option<[f64; 2]>,
    ) -> Result<Self, ModelError> {
        // The libxgboost bindings panic on some malformed models instead of returning an
        // error; a reload must refuse such a bundle, not lose its thread.
        let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Self::load_unnamed(dir, threads, cuts)
        }))
        .unwrap_or_else(|panic| {
            Err(ModelError::Invalid {
                path: dir.to_owned(),
                detail: format!("loading panicked: {}", panic_message(&*panic)),
            })
        });
        loaded.map_err(|e| match e {
            // libxgboost's own messages do not say which bundle they are about.
            ModelError::Xgb(e) => ModelError::Invalid {
                path: dir.to_owned(),
                detail: format!("the model file: {e}"),
            },
            other => other,
        })
    }

    fn load_unnamed(
        dir: &Path,
        threads: NonZeroUsize,
        cuts: Option<[f64; 2]>,
    ) -> Result<Self, ModelError> {
        let bundle = Bundle::load(dir)?;
        bundle.check_with_xgboost_rs()?;
        let checked = smoke_test(&bundle, cuts)?;
        let manifest =
            serde_json::to_value(&bundle.manifest).map_err(|source| ModelError::Manifest {
                path: dir.join("manifest.json"),
                source,
            })?;
        Ok(LoadedModel {
            version: bundle.manifest.version.clone(),
            sha256: bundle.sha256.clone(),
            metrics: bundle.manifest.metrics.clone(),
            drift_reference: bundle.manifest.drift_reference.clone(),
            manifest,
            path: dir.to_owned(),
            scorer: Scorer::start_with(checked, &bundle, threads, cuts)?,
        })
    }
}

/// Scores [`SMOKE_RECORDS`] made-up records; refuses a bundle whose scores are not
/// probabilities. Returns the model that passed, for the first scoring thread.
fn smoke_test(bundle: &Bundle, cuts: Option<[f64; 2]>) -> Result<Model, ModelError> {
    let invalid = |detail: String| ModelError::Invalid {
        path: bundle.path.clone(),
        detail,
    };
    let model = Model::new(bundle, cuts)?;
    let records = sample::many(SMOKE_SEED, SMOKE_RECORDS)
        .iter()
        .map(validate)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|errors| invalid(format!("smoke test records do not validate: {errors:?}")))?;
    let scores = model
        .score(&records.iter().collect::<Vec<_>>())
        .map_err(|e| invalid(format!("smoke test: scoring failed: {e}")))?;
    if scores.len() != records.len() {
        return Err(invalid(format!(
            "smoke test: {} scores for {} records",
            scores.len(),
            records.len()
        )));
    }
    if let Some((i, s)) = scores
        .iter()
        .enumerate()
        .find(|(_, s)| !(0.0..=1.0).contains(&s.probability))
    {
        return Err(invalid(format!(
            "smoke test: record {i} scored {}, not a probability",
            s.probability
        )));
    }
    Ok(model)
}

/// What scores a batch: the live bundle, whose scores are stored and answered, and the shadow,
/// whose scores are only stored.
#[derive(Debug)]
pub struct Serving {
    pub live: LoadedModel,
    pub shadow: Option<LoadedModel>,
}

impl Serving {
    /// Loads the live bundle and, when given, the shadow one. Blocking.
    ///
    /// # Errors
    /// The first bundle that fails [`LoadedModel::load`].
    pub fn load(
        live: &Path,
        shadow: Option<&Path>,
        threads: NonZeroUsize,
        cuts: Option<[f64; 2]>,
    ) -> Result<Self, ModelError> {
        let live = LoadedModel::load(live, threads, cuts)?;
        let shadow = shadow
            .map(|dir| LoadedModel::load(dir, threads, cuts))
            .transpose()?;
        Ok(Serving { live, shadow })
    }

    /// The live version, then the shadow's when there is one.
    pub fn models(&self) -> impl Iterator<Item = &LoadedModel> {
        std::iter::once(&self.live).chain(&self.shadow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/turnover")
    }

    #[tokio::test]
    async fn a_loaded_bundle_scores_like_the_offline_model() {
        let loaded = LoadedModel::load(&committed(), NonZeroUsize::MIN, None).expect("loads");
        let bundle = Bundle::load(&committed()).expect("bundle");
        assert_eq!(loaded.version, bundle.manifest.version);
        assert_eq!(loaded.sha256, bundle.sha256);
        assert_eq!(loaded.manifest["version"], bundle.manifest.version.as_str());
        let records: Vec<_> = sample::many(3, 10)
            .iter()
            .map(|r| validate(r).expect("valid"))
            .collect();
        let refs: Vec<_> = records.iter().collect();
        let served = loaded
            .scorer
            .score(&refs, &[false; 10], 0)
            .await
            .expect("scored");
        let offline = Model::new(&bundle, None)
            .expect("model")
            .score(&refs)
            .expect("scored");
        let served: Vec<_> = served.into_iter().map(|s| s.score).collect();
        assert_eq!(served, offline);
    }

    #[test]
    fn a_bundle_with_a_corrupt_model_is_refused_naming_its_folder() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::copy(
            committed().join("manifest.json"),
            dir.path().join("manifest.json"),
        )
        .expect("copy");
        std::fs::write(dir.path().join("model.json"), b"{\"learner\": ").expect("write");
        let err = LoadedModel::load(dir.path(), NonZeroUsize::MIN, None).expect_err("refused");
        assert!(
            err.to_string().contains(&dir.path().display().to_string()),
            "{err}"
        );
    }
}
