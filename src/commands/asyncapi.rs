//! `turnover asyncapi`: prints the AsyncAPI document of the queue, the text of
//! docs/asyncapi.yaml, for producers to generate clients or validate messages from.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;

/// Writes the document on stdout.
///
/// # Errors
/// When stdout cannot be written.
pub fn asyncapi() -> anyhow::Result<ExitCode> {
    std::io::stdout()
        .write_all(crate::asyncapi::yaml().as_bytes())
        .context("cannot write the document")?;
    Ok(ExitCode::SUCCESS)
}
