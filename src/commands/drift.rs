//! `turnover drift --data DIR`: how far the employees of a set of extracts are from the
//! bundle's training data, feature by feature (population stability index), as the service's
//! `turnover_feature_psi` gauges measure the records it scores. No broker, no database.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use crate::config::Settings;
use crate::extracts::{self, ExtractError, Extracts};
use crate::features;
use crate::model::{psi_table, Bundle, FeatureDrift, PSI_MAJOR};

#[derive(Debug, Args)]
#[command(
    after_help = "Prints one line per feature, largest PSI first; a PSI above 0.25 (a major \
                        shift) is flagged. Example:\n  turnover drift --data target/example-extracts"
)]
pub struct DriftArgs {
    /// Folder holding the three extracts (the label column is not needed).
    #[arg(long, value_name = "DIR", env = "TURNOVER_DATA")]
    pub data: PathBuf,
    /// Model bundle folder (default: the `model.path` setting).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
}

/// Why the drift table cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error(
        "the model bundle {0} has no drift_reference (it was trained before drift existed); \
         retrain it with `turnover train` to compare data with its training distribution"
    )]
    NoReference(PathBuf),
    #[error("the extracts hold no employee present in all three files")]
    NoRecords,
    #[error(transparent)]
    Extract(#[from] ExtractError),
}

/// Prints the table; the number of records and of flagged features go to stderr.
///
/// # Errors
/// A bad bundle or one without a drift reference, an invalid extract (file, line, column).
pub fn drift(args: DriftArgs, settings: Settings) -> anyhow::Result<ExitCode> {
    let path = args.model.unwrap_or(settings.model.path);
    let bundle = Bundle::load(&path)
        .with_context(|| format!("cannot load the model bundle {}", path.display()))?;
    let extracts = extracts::read_dir(&args.data)?;
    if !extracts.orphans.is_empty() {
        eprintln!("warning: {}", extracts.orphans);
    }
    let (rows, table) = drift_table(&bundle, &extracts)?;
    let mut out = std::io::stdout().lock();
    write_table(&mut out, &table)?;
    let flagged = table.iter().filter(|r| r.psi > PSI_MAJOR).count();
    eprintln!(
        "model {}: {rows} employees, {} features, {flagged} above {PSI_MAJOR}",
        bundle.manifest.version,
        table.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// The number of valid employees in the extracts and the PSI of each feature against the
/// bundle's training distribution, largest first.
///
/// # Errors
/// [`DriftError::NoReference`] for a bundle without `drift_reference`, an invalid extract, or
/// extracts without any complete employee.
pub fn drift_table(
    bundle: &Bundle,
    extracts: &Extracts,
) -> Result<(usize, Vec<FeatureDrift>), DriftError> {
    if bundle.manifest.drift_reference.is_empty() {
        return Err(DriftError::NoReference(bundle.path.clone()));
    }
    let rows = extracts::validate_rows(extracts)?;
    if rows.is_empty() {
        return Err(DriftError::NoRecords);
    }
    let data = features::matrix(rows.iter().map(|(_, r)| r));
    Ok((
        rows.len(),
        psi_table(&bundle.manifest.drift_reference, &data, rows.len()),
    ))
}

/// `feature  psi  flag`, aligned.
///
/// # Errors
/// When writing fails.
pub fn write_table(mut out: impl Write, table: &[FeatureDrift]) -> std::io::Result<()> {
    let width = table
        .iter()
        .map(|r| r.feature.chars().count())
        .max()
        .unwrap_or(0)
        .max("feature".len());
    writeln!(out, "{:<width$}  {:>8}", "feature", "psi")?;
    for row in table {
        let pad = width - row.feature.chars().count();
        let flag = if row.psi > PSI_MAJOR {
            "  major shift (> 0.25)"
        } else {
            ""
        };
        writeln!(
            out,
            "{}{}  {:>8.4}{flag}",
            row.feature,
            " ".repeat(pad),
            row.psi
        )?;
    }
    out.flush()
}
