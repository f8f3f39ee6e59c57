//! `turnover serve`: build the service, run it until SIGTERM or SIGINT; SIGHUP reloads the
//! model bundles ([`crate::serving`]).

use std::process::ExitCode;

use clap::Args;
use tokio::signal::unix::{signal, SignalKind};
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
    let ran = super::runtime()?.block_on(async move {
        // Installed before the (slow) build: SIGHUP's default action would end the process.
        // One that arrives while building is taken after the build, and reloads then.
        let hangup = signal(SignalKind::hangup())
            .map_err(|error| tracing::warn!(error.message = %error, "cannot handle SIGHUP; bundles reload only on restart"))
            .ok();
        let app = startup::build(settings, args.roles()).await?;
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        if let Some(hangup) = hangup {
            tokio::spawn(reload_on_hangup(
                hangup,
                std::sync::Arc::clone(&app.ctx),
                shutdown.clone(),
            ));
        }
        app.run_until_stopped(shutdown).await
    });
    // Whatever the run's end, the last spans leave (or are given up) within a deadline.
    crate::trace::export::shutdown(crate::trace::export::SHUTDOWN_TIMEOUT);
    ran?;
    Ok(ExitCode::SUCCESS)
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

/// Reloads the bundles on every SIGHUP until shutdown. A refused bundle is logged and counted
/// by [`crate::app::AppContext::reload`]; the service goes on either way.
async fn reload_on_hangup(
    mut hangup: tokio::signal::unix::Signal,
    ctx: std::sync::Arc<crate::app::AppContext>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            got = hangup.recv() => if got.is_none() { return },
        }
        tracing::info!("SIGHUP: reloading the model bundles");
        let _ = ctx.reload().await;
    }
}
