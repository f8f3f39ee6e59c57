//! The command line (docs/contract.md#command-line): one binary, one subcommand per job, each
//! in a file of its own that owns its arguments and how it runs. This is the start-up glue,
//! where `anyhow` gathers errors for `main` to print.

mod asyncapi;
mod dead;
mod drift;
mod enqueue;
mod forget;
mod migrate;
mod model_card;
mod outcomes;
mod reload;
mod score;
mod serve;
mod train;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

pub use dead::{DeadAction, DeadArgs};
pub use drift::{
    drift_table, write_table as write_drift_table, Drift, DriftArgs, DriftError, DRIFT_FOUND,
};
pub use enqueue::{EnqueueArgs, EnqueueSource};
pub use forget::ForgetArgs;
pub use model_card::ModelCardArgs;
pub use outcomes::{load_file as load_outcomes_file, OutcomesArgs};
pub use reload::ReloadArgs;
pub use score::{score_extracts, write_csv, write_jsonl, OfflineScoreError};
pub use serve::ServeArgs;
pub use train::TrainArgs;

use crate::config::Settings;
use crate::telemetry;
use score::ScoreArgs;

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
                  Examples (`cargo run --example write_extracts -- target/example-extracts` writes 200 made-up\n\
                  employees there):\n  turnover serve\n  \
                  turnover score --data target/example-extracts --out scores.csv --explain\n  \
                  turnover enqueue --data target/example-extracts\n  \
                  turnover train --data target/example-extracts --out target/example-model --trials 5\n  \
                  turnover outcomes --csv examples/outcomes.csv\n  \
                  turnover drift --data target/example-extracts"
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
    /// Load who actually left (a CSV file) into the outcomes table.
    Outcomes(OutcomesArgs),
    /// Compare a set of extracts with the bundle's training distribution (PSI per feature).
    Drift(DriftArgs),
    /// List, replay or purge the dead-letter queue.
    Dead(DeadArgs),
    /// Ask a running `serve` to reload its model bundles (POST /admin/reload).
    Reload(ReloadArgs),
    /// Erase every row about one employee and record the erasure (docs/privacy.md).
    Forget(ForgetArgs),
    /// Write a bundle's model card and its figures (the holdout scored again).
    ModelCard(ModelCardArgs),
    /// Print the AsyncAPI document of the queue (docs/asyncapi.yaml).
    Asyncapi,
}

/// Runs the parsed command line.
///
/// # Errors
/// Whatever stopped the command, with its context, for `main` to print.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    let config = cli.config.as_deref();
    match command {
        Command::Train(args) => train::train(args),
        Command::Score(args) => score::score(args, load_settings(config)?),
        Command::Serve(args) => serve::serve(logged_settings(config)?, args),
        Command::Migrate => migrate::migrate(&logged_settings(config)?),
        Command::Enqueue(args) => enqueue::enqueue(&logged_settings(config)?, args),
        Command::Outcomes(args) => outcomes::outcomes(&logged_settings(config)?, args),
        Command::Drift(args) => drift::drift(args, load_settings(config)?),
        Command::Dead(args) => dead::dead(&logged_settings(config)?, args),
        Command::Reload(args) => reload::reload(args),
        Command::Forget(args) => forget::forget(&logged_settings(config)?, args),
        Command::ModelCard(args) => model_card::model_card(args, load_settings(config)?),
        Command::Asyncapi => asyncapi::asyncapi(),
    }
}

fn load_settings(config: Option<&Path>) -> anyhow::Result<Settings> {
    Settings::load(config).context("cannot load the configuration")
}

/// The settings of a command that logs: telemetry starts as they say.
fn logged_settings(config: Option<&Path>) -> anyhow::Result<Settings> {
    let settings = load_settings(config)?;
    telemetry::init_with_tracing(
        settings.log.format,
        settings.log.directives(),
        &settings.telemetry,
    );
    settings.log_skipped_variables();
    Ok(settings)
}

/// The async runtime of the commands that talk to the broker or the database.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
