//! `turnover forget --employee-id N`: erases every row about one employee, in one transaction,
//! and records the request in `erasures` as asked by `cli` (docs/privacy.md).

use std::num::NonZeroUsize;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use crate::config::{redact_url, Settings};
use crate::storage;

#[derive(Debug, Args)]
#[command(
    after_help = "Erases the employee's predictions, shadow predictions, outcome and the rejected \
                  messages whose envelope names them, and records the erasure (a salted hash of \
                  the id, the rows per table, `cli`) in the erasures table. Needs \
                  privacy.erasure_salt. Backups and the broker's queues are not touched: see \
                  docs/privacy.md.\n\nExample:\n  turnover forget --employee-id 1042"
)]
pub struct ForgetArgs {
    /// The employee whose rows are erased.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(0..))]
    pub employee_id: i64,
}

/// Erases, then prints the rows erased per table.
///
/// # Errors
/// No salt configured, a database that cannot be reached, or a failed statement (nothing is
/// erased then).
pub fn forget(settings: &Settings, args: ForgetArgs) -> anyhow::Result<ExitCode> {
    let salt = salt(settings)?;
    let url = &settings.postgres.url;
    let erased = super::runtime()?.block_on(async {
        let pool = storage::pool(url, NonZeroUsize::MIN)?;
        let mut client = pool
            .get()
            .await
            .with_context(|| format!("cannot connect to {}", redact_url(url)))?;
        let hash = storage::employee_hash(salt, args.employee_id);
        storage::erase_employee(&mut client, args.employee_id, &hash, "cli")
            .await
            .context("cannot erase the employee; nothing was erased")
    })?;
    println!(
        "erased: {} predictions, {} shadow predictions, {} outcomes, {} rejected messages",
        erased.predictions, erased.shadow_predictions, erased.outcomes, erased.rejected_messages
    );
    Ok(ExitCode::SUCCESS)
}

/// `privacy.erasure_salt`, or why erasure cannot run.
///
/// # Errors
/// When the key is unset.
pub fn salt(settings: &Settings) -> anyhow::Result<&str> {
    settings.privacy.erasure_salt.as_deref().context(
        "configuration key privacy.erasure_salt is not set: erasures record the employee id \
         only salted with this per-deployment secret (at least 16 characters)",
    )
}
