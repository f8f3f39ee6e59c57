//! The command line (contract section 8): one binary, one subcommand per job.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Scores employee-turnover risk: RabbitMQ requests in, XGBoost scores, Postgres rows out.
#[derive(Debug, Parser)]
#[command(
    name = "turnover",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = "Settings: defaults, then turnover.toml (or --config / TURNOVER_CONFIG), then TURNOVER_* \
                  variables such as TURNOVER_AMQP__URL or TURNOVER_POSTGRES__URL (docs/operations.md).\n\n\
                  Examples:\n  turnover serve\n  turnover train --data ../shared/data\n  \
                  turnover score --data ../shared/data --out scores.csv --explain\n  \
                  turnover enqueue --jsonl requests.jsonl --rate 500"
)]
pub struct Cli {
    /// Configuration file (TOML); default `TURNOVER_CONFIG`, else `turnover.toml` if present.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the worker pool and the HTTP sidecar (the default job).
    Serve(ServeArgs),
    /// Train a model bundle from the three labelled extracts.
    Train(TrainArgs),
    /// Score the three extracts offline (no broker, no database).
    Score(ScoreArgs),
    /// Publish scoring requests to RabbitMQ, with publisher confirms.
    Enqueue(EnqueueArgs),
    /// Create the database if missing and apply the migrations.
    Migrate,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Run only the HTTP sidecar (scale the worker apart).
    #[arg(long, conflicts_with = "no_http")]
    pub no_worker: bool,
    /// Run only the worker (no HTTP listener).
    #[arg(long)]
    pub no_http: bool,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Folder holding extrait_sondage.csv, extrait_eval.csv and extrait_sirh.csv, with labels.
    #[arg(long, value_name = "DIR", env = "TURNOVER_DATA")]
    pub data: PathBuf,
    /// Where to write model.json and manifest.json.
    #[arg(long, value_name = "DIR", default_value = "models/turnover")]
    pub out: PathBuf,
    /// Seed of the split, the folds, the search and XGBoost's sampling.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Points of the hyper-parameter search.
    #[arg(long, default_value_t = 40)]
    pub trials: usize,
    /// Folds of each stratified cross-validation.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Repeats of the final cross-validation (reported as mean ± sd).
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Folder holding the three extracts (the label column is not needed).
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

#[derive(Debug, Args)]
#[group(required = true, multiple = false, id = "source")]
pub struct EnqueueSource {
    /// A file of JSON lines: bare records or envelopes, one per line.
    #[arg(long, value_name = "FILE", group = "source")]
    pub jsonl: Option<PathBuf>,
    /// A folder holding the three extracts.
    #[arg(long, value_name = "DIR", group = "source")]
    pub data: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EnqueueArgs {
    #[command(flatten)]
    pub source: EnqueueSource,
    /// Messages per second at most (default: as fast as confirms allow).
    #[arg(long, value_name = "N")]
    pub rate: Option<u32>,
    /// Ask for explanations in every request.
    #[arg(long)]
    pub explain: bool,
    /// Publisher confirms allowed in flight.
    #[arg(long, default_value_t = 1000)]
    pub in_flight: usize,
}
