//! `turnover migrate`: create the database if missing and apply the migrations.

use std::num::NonZeroUsize;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::config::{redact_url, Settings};
use crate::storage;

/// Applies what is missing and says what it applied.
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub fn migrate(settings: &Settings) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async {
        let url = &settings.postgres.url;
        storage::ensure_database(url)
            .await
            .with_context(|| format!("cannot prepare the database {}", redact_url(url)))?;
        let pool = storage::pool(url, NonZeroUsize::MIN)?;
        let mut client = pool
            .get()
            .await
            .with_context(|| format!("cannot connect to {}", redact_url(url)))?;
        let applied = storage::migrate(&mut client).await?;
        println!(
            "{} migration(s) applied{}",
            applied.len(),
            if applied.is_empty() {
                " (up to date)".to_owned()
            } else {
                format!(": {}", applied.join(", "))
            }
        );
        Ok(ExitCode::SUCCESS)
    })
}
