//! `turnover model-card --model DIR --data DIR`: the model card of an existing bundle
//! (docs/model-card.md) and its SVG figures, the holdout scored again from the training
//! extracts. `turnover train` writes the same card into every bundle it trains.

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use crate::config::Settings;
use crate::model::Bundle;
use crate::train::card;

#[derive(Debug, Args)]
pub struct ModelCardArgs {
    /// Model bundle folder (default: the `model.path` setting).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// The bundle's training extracts (checked against its `data_sha256`).
    #[arg(long, value_name = "DIR", env = "TURNOVER_DATA")]
    pub data: PathBuf,
    /// Where to write the card (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Folder for the SVG figures (default: `figures` in the bundle).
    #[arg(long, value_name = "DIR")]
    pub figures: Option<PathBuf>,
}

/// Writes the figures and the card.
///
/// # Errors
/// A bundle that does not load, extracts that are not its training data, a figure or file
/// that cannot be written.
pub fn model_card(args: ModelCardArgs, settings: Settings) -> anyhow::Result<ExitCode> {
    let path = args.model.unwrap_or(settings.model.path);
    let bundle = Bundle::load(&path)
        .with_context(|| format!("cannot load the model bundle {}", path.display()))?;
    let holdout = card::recompute(&bundle, &args.data)?;
    let figures = args.figures.unwrap_or_else(|| path.join("figures"));
    card::write_figures(&figures, &bundle.manifest, &holdout)?;
    let base = args
        .out
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    let text = card::markdown(&bundle.manifest, &relative(base, &figures));
    match &args.out {
        Some(out) => {
            std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?
        }
        None => print!("{text}"),
    }
    eprintln!(
        "model {}: {} figures in {}",
        bundle.manifest.version,
        card::FIGURES.len(),
        figures.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `to` as seen from the folder `from` (both relative to the working folder, or both
/// absolute), with `/` separators: the card's links.
fn relative(from: &Path, to: &Path) -> String {
    let parts = |p: &Path| -> Vec<String> {
        p.components()
            .filter(|c| !matches!(c, Component::CurDir))
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect()
    };
    let (from, to) = (parts(from), parts(to));
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut link: Vec<String> = vec!["..".into(); from.len() - common];
    link.extend(to[common..].iter().cloned());
    if link.is_empty() {
        ".".into()
    } else {
        link.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::relative;
    use std::path::Path;

    #[test]
    fn links_go_from_the_card_to_the_figures() {
        assert_eq!(
            relative(Path::new("docs"), Path::new("models/turnover/figures")),
            "../models/turnover/figures"
        );
        assert_eq!(relative(Path::new("."), Path::new("figures")), "figures");
        assert_eq!(relative(Path::new("a/b"), Path::new("a/c")), "../c");
    }
}
