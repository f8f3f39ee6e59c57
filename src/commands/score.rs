//! `turnover score`: the three extracts in, one score per employee out, no broker or database.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;

use crate::config::Settings;
use crate::extracts::{self, ExtractError, Extracts};
use crate::model::{Bundle, EmployeeScore, Model, ModelError, Summary};

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Folder holding the three extracts (the label column is not needed;
    /// `cargo run --example write_extracts -- target/example-extracts` writes made-up ones).
    #[arg(long, value_name = "DIR", env = "TURNOVER_DATA")]
    pub data: PathBuf,
    /// Output file: `.csv`, or `.jsonl`/`.json` for JSON lines. Default: CSV on stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Add each employee's top factors (SHAP contributions by field).
    #[arg(long)]
    pub explain: bool,
    /// Model bundle folder (default: the `model.path` setting).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
}

/// Scores the extracts and writes one line per employee; the summary goes to stderr.
///
/// # Errors
/// A bad bundle, an invalid extract (file, line, column), an unwritable output.
pub fn score(args: ScoreArgs, settings: Settings) -> anyhow::Result<ExitCode> {
    let path = args.model.unwrap_or(settings.model.path);
    let bundle = Arc::new(
        Bundle::load(&path)
            .with_context(|| format!("cannot load the model bundle {}", path.display()))?,
    );
    // Parsing the model (libxgboost) and reading the extracts cost about the same: one runs on
    // another core while the other runs here.
    let cuts = settings.model.risk_cuts;
    let (model, extracts) = std::thread::scope(|scope| {
        let model = scope.spawn(|| Model::new(&bundle, cuts));
        let extracts = extracts::read_dir(&args.data);
        (model.join(), extracts)
    });
    let model = model
        .map_err(|_| anyhow::anyhow!("loading the model bundle {} panicked", path.display()))?
        .with_context(|| format!("cannot load the model bundle {}", path.display()))?;
    let extracts = extracts?;
    if !extracts.orphans.is_empty() {
        eprintln!("warning: {}", extracts.orphans);
    }
    let explain = args.explain.then_some(settings.model.explain_top_k);
    let (scores, summary) = score_extracts(&model, &extracts, explain)?;
    match &args.out {
        None => write_csv(std::io::stdout().lock(), &scores)?,
        Some(out) => {
            let file = BufWriter::new(
                File::create(out).with_context(|| format!("cannot create {}", out.display()))?,
            );
            match out.extension().and_then(|e| e.to_str()) {
                Some("jsonl" | "json" | "ndjson") => write_jsonl(file, &scores)?,
                _ => write_csv(file, &scores)?,
            }
        }
    }
    eprintln!("model {}: {summary}", bundle.manifest.version);
    Ok(ExitCode::SUCCESS)
}

/// Why offline scoring failed.
#[derive(Debug, thiserror::Error)]
pub enum OfflineScoreError {
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("cannot write the output: {0}")]
    Write(#[from] std::io::Error),
    #[error("cannot write the output: {0}")]
    Csv(#[from] csv::Error),
}

/// Scores every employee of the extracts in one libxgboost call (two with `explain`).
///
/// # Errors
/// An invalid record (with its file, line and column) or a libxgboost failure.
pub fn score_extracts(
    model: &Model,
    extracts: &Extracts,
    explain: Option<usize>,
) -> Result<(Vec<EmployeeScore>, Summary), OfflineScoreError> {
    let rows = extracts::validate_rows(extracts)?;
    let records: Vec<_> = rows.iter().map(|(_, r)| r).collect();
    let scores = model.score(&records)?;
    let mut explanations = match explain {
        Some(k) => model.explain(&records, k)?.into_iter().map(Some).collect(),
        None => vec![None; records.len()],
    };
    let mut summary = Summary::default();
    let out = rows
        .iter()
        .zip(&scores)
        .zip(explanations.iter_mut())
        .map(|(((row, _), score), explanation)| {
            summary.add(score.prediction, score.risk_level);
            EmployeeScore::new(row.employee_id, score, explanation.take())
        })
        .collect();
    Ok((out, summary))
}

/// Writes one CSV line per employee; with explanations, a `top_factors` column
/// (`field:+0.123;field:-0.045`).
///
/// # Errors
/// When writing fails.
pub fn write_csv(out: impl Write, scores: &[EmployeeScore]) -> Result<(), OfflineScoreError> {
    let mut w = csv::Writer::from_writer(out);
    let explain = scores.iter().any(|s| s.explanation.is_some());
    let mut header = vec![
        "employee_id",
        "prediction",
        "probability_stay",
        "probability_leave",
        "risk_level",
    ];
    if explain {
        header.push("top_factors");
    }
    w.write_record(&header)?;
    for s in scores {
        let mut line = vec![
            s.employee_id.to_string(),
            s.prediction.to_string(),
            format!("{:.6}", s.probability_stay),
            format!("{:.6}", s.probability_leave),
            s.risk_level.as_str().to_owned(),
        ];
        if explain {
            let factors = s
                .explanation
                .iter()
                .flatten()
                .map(|c| format!("{}:{:+.4}", c.field, c.contribution));
            line.push(factors.collect::<Vec<_>>().join(";"));
        }
        w.write_record(&line)?;
    }
    w.flush()?;
    Ok(())
}

/// Writes one JSON object per line.
///
/// # Errors
/// When writing fails.
pub fn write_jsonl(mut out: impl Write, scores: &[EmployeeScore]) -> Result<(), OfflineScoreError> {
    for s in scores {
        serde_json::to_writer(&mut out, s).map_err(std::io::Error::other)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
