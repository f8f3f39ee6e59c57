//! `turnover drift --data DIR`: how far the employees of a set of extracts are from the
//! bundle's training data, feature by feature (population stability index), as the service's
//! `turnover_feature_psi` gauges measure the records it scores. No broker, no database.
//!
//! The shifts it exists for push values past what the service accepts (15 years added to every
//! age takes some past 70), so a number out of its field's range is not an error here: it is
//! counted for every feature made from that field and set to the range's bound, which lands it
//! in the edge bin of the training distribution, and the table is always printed. Rows that
//! stay invalid for another reason (a wrong type, an unknown category) are left out and
//! counted. Exit status [`DRIFT_FOUND`] says drift was found (a PSI above 0.25, or any value
//! out of range), 0 that none was, 1 an error.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use crate::config::Settings;
use crate::extracts::{self, ExtractError, Extracts};
use crate::features;
use crate::model::{psi_table, Bundle, FeatureDrift, PSI_MAJOR};
use crate::record::schema::{self, Kind};
use crate::record::{self, Record};

/// Exit status of `turnover drift` when drift was found.
pub const DRIFT_FOUND: u8 = 3;

#[derive(Debug, Args)]
#[command(
    after_help = "Prints one line per feature, largest PSI first; a PSI above 0.25 (a major \
                        shift) is flagged, with the count of values out of their field's range. Exit status 0: no \
                        drift; 3: drift found; 1: an error. Example:\n  turnover drift --data \
                        target/example-extracts"
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

/// The drift of a set of extracts against a bundle.
#[derive(Debug, Clone)]
pub struct Drift {
    /// Employees measured (out-of-range values included, at their range's bound).
    pub rows: usize,
    /// Employees left out: invalid for another reason than a value out of range.
    pub unreadable: usize,
    /// One row per feature, largest PSI first.
    pub table: Vec<FeatureDrift>,
    /// Values out of their field's range, by feature (only features with some).
    pub out_of_range: BTreeMap<String, usize>,
}

impl Drift {
    /// Whether any feature shifted a lot or any value was out of range.
    pub fn found(&self) -> bool {
        !self.out_of_range.is_empty() || self.table.iter().any(|r| r.psi > PSI_MAJOR)
    }
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
    let drift = drift_table(&bundle, &extracts)?;
    let mut out = std::io::stdout().lock();
    write_table(&mut out, &drift)?;
    let flagged = drift.table.iter().filter(|r| r.psi > PSI_MAJOR).count();
    let out_of_range: usize = drift.out_of_range.values().sum();
    eprintln!(
        "model {}: {} employees, {} features, {flagged} above {PSI_MAJOR}, {out_of_range} \
         feature values out of range, {} employees left out as invalid",
        bundle.manifest.version,
        drift.rows,
        drift.table.len(),
        drift.unreadable
    );
    Ok(if drift.found() {
        ExitCode::from(DRIFT_FOUND)
    } else {
        ExitCode::SUCCESS
    })
}

/// The PSI of each feature of the extracts' employees against the bundle's training
/// distribution, largest first, with values out of range counted and set to their bound.
///
/// # Errors
/// [`DriftError::NoReference`] for a bundle without `drift_reference`, or extracts without
/// any employee that can be measured.
pub fn drift_table(bundle: &Bundle, extracts: &Extracts) -> Result<Drift, DriftError> {
    if bundle.manifest.drift_reference.is_empty() {
        return Err(DriftError::NoReference(bundle.path.clone()));
    }
    let mut by_field: BTreeMap<usize, usize> = BTreeMap::new();
    let mut records = Vec::with_capacity(extracts.rows.len());
    for row in &extracts.rows {
        match bounded(&row.record, &mut by_field) {
            Some(r) => records.push(r),
            None => continue,
        }
    }
    if records.is_empty() {
        return Err(DriftError::NoRecords);
    }
    let data = features::matrix(records.iter());
    let out_of_range = features::FEATURES
        .iter()
        .filter_map(|f| {
            let n: usize = f.sources.iter().filter_map(|s| by_field.get(s)).sum();
            (n > 0).then(|| (f.name.clone(), n))
        })
        .collect();
    Ok(Drift {
        rows: records.len(),
        unreadable: extracts.rows.len() - records.len(),
        table: psi_table(&bundle.manifest.drift_reference, &data, records.len()),
        out_of_range,
    })
}

/// The record of `map`, with each number out of its field's range set to the bound it passed
/// and counted in `by_field` (by field position); `None` when it is invalid for another reason.
fn bounded(
    map: &serde_json::Map<String, serde_json::Value>,
    by_field: &mut BTreeMap<usize, usize>,
) -> Option<Record> {
    let errors = match record::validate(map) {
        Ok(r) => return Some(r),
        Err(errors) => errors,
    };
    let mut fixed = map.clone();
    let mut moved = Vec::new();
    for e in &errors {
        let position = schema::position(&e.field)?;
        let value = e.value.as_f64()?;
        let bound = match schema::FIELDS[position].kind {
            Kind::Int { min, max, .. } => (value as i64).clamp(min, max).into(),
            Kind::Number { min, max } => serde_json::Value::from(value.clamp(min, max)),
            Kind::Percent | Kind::Choice(_) => return None,
        };
        if bound == e.value {
            return None;
        }
        fixed.insert(e.field.clone(), bound);
        moved.push(position);
    }
    let r = record::validate(&fixed).ok()?;
    for p in moved {
        *by_field.entry(p).or_default() += 1;
    }
    Some(r)
}

/// `feature  psi  out of range  flag`, aligned.
///
/// # Errors
/// When writing fails.
pub fn write_table(mut out: impl Write, drift: &Drift) -> std::io::Result<()> {
    let width = drift
        .table
        .iter()
        .map(|r| r.feature.chars().count())
        .max()
        .unwrap_or(0)
        .max("feature".len());
    writeln!(
        out,
        "{:<width$}  {:>8}  {:>12}",
        "feature", "psi", "out of range"
    )?;
    for row in &drift.table {
        let pad = width - row.feature.chars().count();
        let flag = if row.psi > PSI_MAJOR {
            "  major shift (> 0.25)"
        } else {
            ""
        };
        let outside = drift.out_of_range.get(&row.feature).copied().unwrap_or(0);
        writeln!(
            out,
            "{}{}  {:>8.4}  {outside:>12}{flag}",
            row.feature,
            " ".repeat(pad),
            row.psi
        )?;
    }
    out.flush()
}
