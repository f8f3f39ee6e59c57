//! Start-up and shutdown: [`build`] connects, loads the model and binds the listener (port 0
//! allowed), then [`App::run_until_stopped`] runs the worker and the sidecar until the given
//! token is cancelled. Tests drive both with their own token and read the real port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::AppContext;
use crate::config::{redact_url, Settings};
use crate::metrics::Metrics;
use crate::monitor::{self, DriftWindow};
use crate::serving::{self, ServingSlot};
use crate::worker;
use crate::{http, storage};

/// Which parts of the service a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// The worker pool, consuming the request queues.
    pub worker: bool,
    /// The HTTP sidecar.
    pub http: bool,
}

impl Roles {
    /// Worker and sidecar in one process: the default job.
    pub const ALL: Roles = Roles {
        worker: true,
        http: true,
    };
    /// The worker alone (`serve --no-http`), to scale it apart.
    pub const WORKER_ONLY: Roles = Roles {
        worker: true,
        http: false,
    };
    /// The sidecar alone (`serve --no-worker`).
    pub const HTTP_ONLY: Roles = Roles {
        worker: false,
        http: true,
    };
}

/// A built, not yet running, service.
pub struct App {
    pub ctx: Arc<AppContext>,
    listener: Option<TcpListener>,
    run_worker: bool,
}

/// Loads the model, prepares the database (created if missing, migrated), and binds the HTTP
/// listener when `roles.http`.
///
/// # Errors
/// A bad model bundle, an unreachable database at start-up, or a port that cannot be bound.
pub async fn build(settings: Settings, roles: Roles) -> anyhow::Result<App> {
    if roles.http {
        // Before any connection: an open sidecar on a public address is refused, not warned.
        settings.check_exposure()?;
        if settings.anonymous() {
            tracing::warn!(http.addr = %settings.http.addr, auth.allow_anonymous = settings.auth.allow_anonymous, "no API key is configured: every HTTP route is open to whoever can reach http.addr (/health says anonymous_access: true)");
        }
    }
    if let Some(warning) = storage::weak_transport(&settings.postgres.url) {
        tracing::warn!("{warning}");
    }
    let settings = Arc::new(settings);
    // An unusable amqp.url or TLS set-up stops start-up here, in one line, rather than in a
    // warning the worker would repeat forever.
    crate::queue::check_at_startup(&settings.amqp).await?;
    let serving = serving::load_configured(&settings)
        .await
        .context("cannot load the model bundle")?;
    let metrics = Metrics::new();
    serving::set_model_info(&metrics, None, &serving);

    let db_url = &settings.postgres.url;
    let migrate = settings.postgres.migrate_on_start;
    if migrate {
        storage::ensure_database(db_url)
            .await
            .with_context(|| format!("cannot prepare the database {}", redact_url(db_url)))?;
    }
    let pool = storage::pool(db_url, settings.postgres.pool_size)?;
    {
        let mut client = pool
            .get()
            .await
            .with_context(|| format!("cannot connect to {}", redact_url(db_url)))?;
        if migrate {
            let options = storage::MigrationOptions::from(&settings.postgres);
            let applied = storage::migrate_with(&mut client, storage::MIGRATIONS, &options).await?;
            if !applied.is_empty() {
                tracing::info!(migrations = ?applied, "database migrated");
            }
        } else {
            // Migrated by an owner role elsewhere: this role must find the schema current and
            // hold every privilege it will use, or stop now naming what is missing.
            storage::check_privileges(&client).await?;
        }
        metrics.postgres_connected.set(1);
    }
    serving::register(&pool, &serving)
        .await
        .context("cannot record the model bundles in model_versions")?;

    let listener = if !roles.http {
        None
    } else {
        let addr = settings.http.addr;
        Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?,
        )
    };
    let drift = DriftWindow::new(settings.drift.window, serving.live.drift_reference.clone());
    let ctx = Arc::new(AppContext {
        settings,
        models: Arc::new(ServingSlot::new(serving)),
        pool,
        metrics,
        hard_stop: CancellationToken::new(),
        drift: Arc::new(drift),
    });
    // Absent values are written "none", never as Rust's `None`/`Some(…)`: logs are read by
    // people and queried by tools that know nothing of Rust.
    let shadow_version = ctx
        .models
        .current()
        .shadow
        .as_ref()
        .map_or_else(|| "none".to_owned(), |s| s.version.clone());
    let http = listener
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .map_or_else(|| "none".to_owned(), |a| a.to_string());
    tracing::info!(model_version = %ctx.model_version(), model.shadow_version = %shadow_version, worker = roles.worker, http = %http, "built");
    Ok(App {
        ctx,
        listener,
        run_worker: roles.worker,
    })
}

impl App {
    /// The address the sidecar listens on (the real port when configured with port 0).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Runs until `shutdown` is cancelled, then stops consuming, lets batches in hand finish
    /// (at most `worker.shutdown_timeout_ms`), stops HTTP gracefully and returns.
    ///
    /// # Errors
    /// When a task failed.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let tracker = TaskTracker::new();
        let ctx = self.ctx;
        if self.run_worker {
            let (worker_ctx, stop) = (Arc::clone(&ctx), shutdown.clone());
            tracker.spawn(async move { worker::run_consumers(worker_ctx, stop).await });
            // Only a process that scores serves the bundles: the sidecar alone does not.
            tracker.spawn(serving::heartbeat(
                Arc::clone(&ctx.models),
                ctx.pool.clone(),
                shutdown.clone(),
                serving::HEARTBEAT,
            ));
        }
        if let Some(ms) = ctx.settings.model.watch_interval_ms {
            let reloading = Arc::clone(&ctx);
            tracker.spawn(serving::watch(
                Arc::clone(&ctx.settings),
                shutdown.clone(),
                Duration::from_millis(ms.get()),
                move || {
                    let ctx = Arc::clone(&reloading);
                    async move {
                        let _ = ctx.reload().await;
                    }
                },
            ));
        }
        tracker.spawn(crate::retention::run(Arc::clone(&ctx), shutdown.clone()));
        let http = self.listener.map(|listener| {
            tracker.spawn(http::serve(listener, Arc::clone(&ctx), shutdown.clone()))
        });
        // Performance always, drift where the worker runs (only it sees records).
        let every = Duration::from_secs(ctx.settings.metrics.performance_refresh_secs.get());
        tracker.spawn(monitor::performance::watch(
            ctx.pool.clone(),
            ctx.metrics.clone(),
            every,
            shutdown.clone(),
        ));
        if self.run_worker {
            tracker.spawn(monitor::drift::watch(
                Arc::clone(&ctx.drift),
                ctx.metrics.clone(),
                ctx.settings.drift.clone(),
                shutdown.clone(),
            ));
        }
        tracker.close();

        shutdown.cancelled().await;
        tracing::info!("shutting down");
        let deadline = Duration::from_millis(ctx.settings.worker.shutdown_timeout_ms);
        if tokio::time::timeout(deadline, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                deadline_ms = deadline.as_millis() as u64,
                "shutdown deadline passed; returning unfinished messages"
            );
            ctx.hard_stop.cancel();
            tracker.wait().await;
        }
        if let Some(http) = http {
            http.await.context("HTTP task")??;
        }
        ctx.pool.close();
        tracing::info!("stopped");
        Ok(())
    }
}
