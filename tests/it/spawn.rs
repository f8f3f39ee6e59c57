//! The `turnover` binary as a child process of a test: a command configured for the test's
//! broker names and database through `TURNOVER_*` variables and nothing else (no file, no
//! variable of the test process), a free port for its sidecar, and a guard that stops it.
//!
//! Every test that runs the binary builds its command here, so a new setting the tests need is
//! passed in one place.

#![allow(dead_code)] // Each helper is used by some test modules, not necessarily all.

use std::process::Command;
use std::time::Duration;

use turnover::config::Settings;

use crate::helpers::wait_until;

/// The `TURNOVER_*` variables of `settings`' broker names and database.
pub fn variables(settings: &Settings) -> Vec<(&'static str, String)> {
    let a = &settings.amqp;
    vec![
        ("TURNOVER_AMQP__URL", a.url.clone()),
        ("TURNOVER_AMQP__EXCHANGE", a.exchange.clone()),
        ("TURNOVER_AMQP__ROUTING_KEY", a.routing_key.clone()),
        ("TURNOVER_AMQP__QUEUE", a.queue.clone()),
        (
            "TURNOVER_AMQP__DEAD_LETTER_EXCHANGE",
            a.dead_letter_exchange.clone(),
        ),
        (
            "TURNOVER_AMQP__DEAD_LETTER_QUEUE",
            a.dead_letter_queue.clone(),
        ),
        ("TURNOVER_AMQP__RPC_QUEUE", a.rpc_queue.clone()),
        ("TURNOVER_POSTGRES__URL", settings.postgres.url.clone()),
    ]
}

/// `turnover args...` with `settings`' broker names, database and bundle, and no other
/// configuration: the test process's own `TURNOVER_*` variables are not inherited.
pub fn command(settings: &Settings, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_turnover"));
    for (name, _) in
        std::env::vars_os().filter(|(n, _)| n.to_string_lossy().starts_with("TURNOVER_"))
    {
        command.env_remove(name);
    }
    command
        .args(args)
        .env_remove("RUST_LOG")
        .envs(variables(settings))
        .env("TURNOVER_MODEL__PATH", &settings.model.path);
    command
}

/// A port free now, for a child process's sidecar.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running child process, killed when dropped (also when the test fails).
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until the sidecar on `port` answers `/health` with a success (at most `timeout`).
pub async fn wait_for_health(port: u16, timeout: Duration) {
    let http = reqwest::Client::new();
    wait_until("serve to answer", timeout, || {
        let request = http.get(format!("http://127.0.0.1:{port}/health")).send();
        async move { request.await.ok()?.status().is_success().then_some(()) }
    })
    .await;
}
