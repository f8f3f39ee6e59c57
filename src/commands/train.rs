//! `turnover train`: a model bundle from the three labelled extracts.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::train;

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Folder holding extrait_sondage.csv, extrait_eval.csv and extrait_sirh.csv, with labels
    /// (`cargo run --example write_extracts -- target/example-extracts` writes made-up ones).
    #[arg(long, value_name = "DIR", env = "TURNOVER_DATA")]
    pub data: PathBuf,
    /// Where to write model.json and manifest.json (the served bundle is models/turnover).
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
    /// Record fields to train without, comma-separated (e.g. `genre,statut_marital`): their
    /// columns are masked in training and, following the manifest, in serving. The report then
    /// compares the model with the same model refit on every feature, on the same split.
    #[arg(long, value_name = "FIELDS", value_delimiter = ',')]
    pub exclude_features: Vec<String>,
}

/// Trains, writes the bundle and prints the report.
///
/// # Errors
/// Unreadable or unlabelled extracts, a training failure, an unwritable output folder.
pub fn train(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let options = train::Options {
        data: args.data,
        out: args.out,
        seed: args.seed,
        trials: args.trials.max(1),
        folds: args.folds,
        repeats: args.repeats.max(1),
        progress: train::Progress::for_stderr(std::io::stderr().is_terminal()),
        exclude_features: args.exclude_features,
    };
    let started = std::time::Instant::now();
    let trained = train::train(&options)?;
    print!("{}", train::report::table(&trained));
    println!(
        "wrote {} in {:.1} s",
        options.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
