//! Start-up: connect, load the model, bind the listener, then run until stopped.
use std::process::ExitCode;

use crate::cli::{EnqueueArgs, ServeArgs};
use crate::config::Settings;

pub fn serve(_settings: Settings, _args: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("serve: not built yet")
}
pub fn migrate(_settings: &Settings) -> anyhow::Result<ExitCode> {
    anyhow::bail!("migrate: not built yet")
}
pub fn enqueue(_settings: &Settings, _args: EnqueueArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("enqueue: not built yet")
}
