//! `turnover serve`: build the service, run it until SIGTERM or SIGINT.

use std::process::ExitCode;

use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::startup::{self, Roles};

#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Run only the HTTP sidecar (scale the worker apart).
    #[arg(long, conflicts_with = "no_http")]
    pub no_worker: bool,
    /// Run only the worker (no HTTP listener).
    #[arg(long)]
    pub no_http: bool,
}

impl ServeArgs {
    fn roles(&self) -> Roles {
        Roles {
            worker: !self.no_worker,
            http: !self.no_http,
        }
    }
}

/// Builds, then runs until a signal.
///
/// # Errors
/// Start-up failures and task failures, for a non-zero exit.
pub fn serve(settings: Settings, args: ServeArgs) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async move {
        let app = startup::build(settings, args.roles()).await?;
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        app.run_until_stopped(shutdown).await?;
        Ok(ExitCode::SUCCESS)
    })
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    shutdown.cancel();
}
