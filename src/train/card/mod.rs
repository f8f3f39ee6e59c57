//! The model card (docs/model-card.md): Markdown from a bundle's manifest ([`text`]) and SVG
//! figures of its holdout ([`figures`]), written by `turnover train` into the bundle it trains
//! and by `turnover model-card` for an existing one. The curves need the holdout's scores,
//! which the manifest does not keep: `turnover model-card` scores the holdout again from the
//! training extracts, split as the manifest says ([`recompute`]), and refuses other data.

mod curves;
mod figures;
mod recompute;
mod text;

use std::path::Path;

pub use recompute::recompute;

use crate::fairness::Fairness;
use crate::model::Manifest;
use crate::train::holdout::CalibrationBin;

/// The holdout as both models scored it.
#[derive(Debug, Clone)]
pub struct Holdout {
    pub labels: Vec<bool>,
    /// The served model's (calibrated) probabilities.
    pub model: Vec<f32>,
    /// The logistic-regression baseline's.
    pub baseline: Vec<f32>,
}

/// Why the card or its figures cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("cannot draw {file}: {detail}")]
    Draw { file: &'static str, detail: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// The figure files, in the order the card shows them.
pub const FIGURES: [&str; 5] = [
    "roc.svg",
    "precision_recall.svg",
    "selection_rate.svg",
    "tpr.svg",
    "calibration.svg",
];

/// Draws every figure of `manifest` and `holdout` into `dir` (created if missing).
///
/// # Errors
/// [`CardError`] when a figure cannot be drawn or written.
pub fn write_figures(dir: &Path, manifest: &Manifest, holdout: &Holdout) -> Result<(), CardError> {
    std::fs::create_dir_all(dir).map_err(|source| CardError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let (y, model, base) = (&holdout.labels, &holdout.model, &holdout.baseline);
    let table: Vec<CalibrationBin> =
        serde_json::from_value(manifest.metrics["holdout_calibration_table"].clone())
            .unwrap_or_default();
    let empty = Fairness {
        attributes: Default::default(),
        resamples: 0,
        level: 0.95,
    };
    let fairness = manifest.fairness.as_ref().unwrap_or(&empty);
    let drawn = [
        figures::curves(
            "ROC curve (holdout)",
            ("false-positive rate", "true-positive rate"),
            &curves::roc(y, model),
            &curves::roc(y, base),
            [(0.0, 0.0), (1.0, 1.0)],
        ),
        figures::curves(
            "Precision-recall curve (holdout)",
            ("recall", "precision"),
            &curves::precision_recall(y, model),
            &curves::precision_recall(y, base),
            {
                let rate = y.iter().filter(|l| **l).count() as f64 / y.len().max(1) as f64;
                [(0.0, rate), (1.0, rate)]
            },
        ),
        figures::by_group(
            "Selection rate per group (holdout): age band, genre, marital status",
            fairness,
            |g| (g.selection_rate, g.selection_rate_ci),
        ),
        figures::by_group(
            "True-positive rate per group (holdout): age band, genre, marital status",
            fairness,
            |g| (g.tpr, g.tpr_ci),
        ),
        figures::calibration(&table),
    ];
    for (file, svg) in FIGURES.into_iter().zip(drawn) {
        let svg = svg.map_err(|detail| CardError::Draw { file, detail })?;
        let path = dir.join(file);
        std::fs::write(&path, svg).map_err(|source| CardError::Write { path, source })?;
    }
    Ok(())
}

/// The card's Markdown, its figures linked under `figures`.
pub fn markdown(manifest: &Manifest, figures: &str) -> String {
    text::card(manifest, figures)
}

/// What `turnover train` writes into a bundle: `model-card.md` and `figures/`.
///
/// # Errors
/// [`CardError`] when a figure or the card cannot be written.
pub fn write_into_bundle(
    dir: &Path,
    manifest: &Manifest,
    holdout: &Holdout,
) -> Result<(), CardError> {
    write_figures(&dir.join("figures"), manifest, holdout)?;
    let path = dir.join("model-card.md");
    std::fs::write(&path, markdown(manifest, "figures"))
        .map_err(|source| CardError::Write { path, source })
}
