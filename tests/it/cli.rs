//! The `turnover` binary as an operator runs it: its exit status and what it prints, with the
//! test's settings passed as `TURNOVER_*` variables.

use std::process::Output;

use turnover::config::Settings;

/// Runs `turnover args...` with `settings`' broker names and database, and no file.
pub async fn turnover(settings: &Settings, args: &[&str]) -> Output {
    command(settings)
        .args(args)
        .output()
        .await
        .expect("the turnover binary runs")
}

/// Gives `command` the `TURNOVER_*` variables of `settings`' broker names and database.
pub fn configure(command: &mut tokio::process::Command, settings: &Settings) {
    command
        .env_remove("TURNOVER_CONFIG")
        .env_remove("RUST_LOG")
        .envs(crate::spawn::variables(settings))
        .env("TURNOVER_LOG__LEVEL", "warn");
}

/// stdout and stderr of a run, for assertions and failure messages.
pub fn printed(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The binary, with the test's `TURNOVER_*` variables and no file.
fn command(settings: &Settings) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_turnover"));
    configure(&mut command, settings);
    command
}

/// Runs `command`, checks that it exits with 2 (a configuration or usage error), and returns
/// what it printed on stderr.
async fn refused(command: &mut tokio::process::Command) -> String {
    let output = command.output().await.expect("the turnover binary runs");
    let (_, stderr) = printed(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    stderr
}

#[tokio::test]
async fn a_config_file_that_does_not_exist_is_refused_with_exit_2() {
    let settings = Settings::default();
    let stderr =
        refused(command(&settings).args(["--config", "/nonexistent/typo.toml", "migrate"])).await;
    assert!(
        stderr.contains("/nonexistent/typo.toml") && stderr.contains("does not exist"),
        "{stderr}"
    );

    let stderr = refused(
        command(&settings)
            .args(["dead", "list"])
            .env("TURNOVER_CONFIG", "/nonexistent/named-by-env.toml"),
    )
    .await;
    assert!(
        stderr.contains("/nonexistent/named-by-env.toml") && stderr.contains("TURNOVER_CONFIG"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_zero_from_the_environment_is_refused_with_exit_2_naming_the_key() {
    let stderr = refused(
        command(&Settings::default())
            .arg("migrate")
            .env("TURNOVER_WORKER__BATCH_SIZE", "0"),
    )
    .await;
    assert!(
        stderr.contains("configuration key worker.batch_size: must be at least 1\n"),
        "{stderr}"
    );
}
