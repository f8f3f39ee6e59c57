//! `turnover outcomes --csv FILE`: loads who actually left into the `outcomes` table, all or
//! nothing, and says how many employees were inserted, updated or already known.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use time::OffsetDateTime;

use crate::config::{redact_url, Settings};
use crate::outcomes;
use crate::storage::{self, OutcomeCounts};

#[derive(Debug, Args)]
#[command(
    after_help = "The file has a header line and the columns employee_id,left,observed_at \
                        and optionally source, in any order:\n\n  \
                        employee_id,left,observed_at,source\n  \
                        1,true,2026-09-30,hr-export-q3\n  \
                        2,no,2026-09-30T17:00:00Z,\n\n\
                        left: true/false, 1/0, yes/no or oui/non (any case). observed_at: RFC 3339 \
                        with an offset, or a date (midnight UTC); not in the future. source: up to \
                        200 characters, default the file's name. One line per employee; loading \
                        an employee again replaces their outcome.\n\n\
                        Example (made-up outcomes of target/example-extracts):\n  \
                        turnover outcomes --csv examples/outcomes.csv"
)]
pub struct OutcomesArgs {
    /// The outcomes file (CSV).
    #[arg(long, value_name = "FILE")]
    pub csv: PathBuf,
}

/// Reads the whole file, then stores it in one transaction.
///
/// # Errors
/// A bad file (file, line, column), or a database that cannot be reached.
pub fn outcomes(settings: &Settings, args: OutcomesArgs) -> anyhow::Result<ExitCode> {
    let (read, counts) =
        super::runtime()?.block_on(load_file(&settings.postgres.url, &args.csv))?;
    println!("{}: {read} outcomes: {counts}", args.csv.display());
    Ok(ExitCode::SUCCESS)
}

/// Reads an outcomes file and stores it, creating and migrating the database when needed.
/// Returns the number of outcomes read and what storing them did.
///
/// # Errors
/// A bad file (nothing is written), or a database that cannot be reached.
pub async fn load_file(url: &str, path: &Path) -> anyhow::Result<(usize, OutcomeCounts)> {
    let read = outcomes::read_csv_file(path, OffsetDateTime::now_utc())?;
    storage::ensure_database(url)
        .await
        .with_context(|| format!("cannot prepare the database {}", redact_url(url)))?;
    let pool = storage::pool(url, NonZeroUsize::MIN)?;
    let mut client = pool
        .get()
        .await
        .with_context(|| format!("cannot connect to {}", redact_url(url)))?;
    storage::migrate(&mut client).await?;
    let counts = storage::upsert_outcomes(&mut client, &read)
        .await
        .context("cannot store the outcomes; nothing was written")?;
    Ok((read.len(), counts))
}
