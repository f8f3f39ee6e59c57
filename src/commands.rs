//! What each subcommand does, once the command line is parsed: the start-up glue, where
//! `anyhow` gathers errors for `main` to print.

use std::fs::File;
use std::io::{BufWriter, IsTerminal};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::cli::{Cli, Command, ScoreArgs, TrainArgs};
use crate::config::Settings;
use crate::model::{Bundle, Model};
use crate::{extracts, offline, telemetry, train};

/// Runs the parsed command line.
///
/// # Errors
/// Whatever stopped the command, with its context, for `main` to print.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = cli.command.unwrap_or(Command::Serve(Default::default()));
    let settings =
        || Settings::load(cli.config.as_deref()).context("cannot load the configuration");
    match command {
        Command::Train(args) => train_cmd(args),
        Command::Score(args) => score_cmd(args, settings()?),
        Command::Serve(args) => {
            let settings = settings()?;
            telemetry::init(settings.log.format, &settings.log.level);
            settings.log_skipped_variables();
            crate::startup::serve(settings, args)
        }
        Command::Migrate => {
            let settings = settings()?;
            telemetry::init(settings.log.format, &settings.log.level);
            settings.log_skipped_variables();
            crate::startup::migrate(&settings)
        }
        Command::Enqueue(args) => {
            let settings = settings()?;
            telemetry::init(settings.log.format, &settings.log.level);
            settings.log_skipped_variables();
            crate::startup::enqueue(&settings, args)
        }
    }
}

fn train_cmd(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let options = train::Options {
        data: args.data,
        out: args.out,
        seed: args.seed,
        trials: args.trials.max(1),
        folds: args.folds,
        repeats: args.repeats.max(1),
        progress: std::io::stderr().is_terminal(),
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

fn score_cmd(args: ScoreArgs, settings: Settings) -> anyhow::Result<ExitCode> {
    let path = args.model.unwrap_or(settings.model.path);
    let bundle = Arc::new(
        Bundle::load(&path)
            .with_context(|| format!("cannot load the model bundle {}", path.display()))?,
    );
    let model = Model::new(&bundle, settings.model.risk_cuts)?;
    let extracts = extracts::read_dir(&args.data)?;
    if !extracts.orphans.is_empty() {
        eprintln!("warning: {}", extracts.orphans);
    }
    let explain = args.explain.then_some(settings.model.explain_top_k);
    let (scores, summary) = offline::score_extracts(&model, &extracts, explain)?;
    match &args.out {
        None => offline::write_csv(std::io::stdout().lock(), &scores)?,
        Some(out) => {
            let file = BufWriter::new(
                File::create(out).with_context(|| format!("cannot create {}", out.display()))?,
            );
            match out.extension().and_then(|e| e.to_str()) {
                Some("jsonl" | "json" | "ndjson") => offline::write_jsonl(file, &scores)?,
                _ => offline::write_csv(file, &scores)?,
            }
        }
    }
    eprintln!("model {}: {summary}", bundle.manifest.version);
    Ok(ExitCode::SUCCESS)
}
