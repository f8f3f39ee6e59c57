//! The bundles being served over time (docs/contract.md#signals): the slot the worker reads
//! once per batch, the reload that replaces it (SIGHUP), and the registry rows that say when
//! each version served.
//!
//! A reload loads the live bundle and the shadow one again from `model.path` and
//! `model.shadow_path`, checks both (feature list, ranges, a smoke score of made-up records),
//! starts their scoring threads, and only then swaps the pair in, in one pointer store. A batch
//! holds the `Arc<Serving>` it took at its start until its replies are sent, so no batch is
//! scored by a half-loaded model or by two models, and every row names the bundle that scored
//! it. The old bundle's threads stop when the last batch holding it finishes. Reloading is
//! all or nothing: if either bundle fails its check, the old pair keeps serving.
//!
//! The registry (`model_versions`): a load records the row ([`storage::register_model`]);
//! while a bundle serves, [`heartbeat`] moves its `last_served_at` forward every
//! [`HEARTBEAT`], and once more when it is swapped out (after the last batch that took it
//! has committed) and at shutdown. `last_served_at` is therefore exact at swaps and shutdowns
//! and at most [`HEARTBEAT`] behind otherwise (a killed process). The heartbeat writes outside the batch transactions, so the workers never wait on
//! a registry row.
//!
//! This module must not score or store predictions; the worker does.

mod loaded;
mod scorer;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::metrics::Metrics;
pub use loaded::{LoadedModel, Serving};
pub use scorer::{Scored, Scorer};

use crate::model::ModelError;
use crate::storage::{self, Pool, RegisteredModel};

/// How often the versions being served have their `last_served_at` moved forward.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// How long a reload waits for the batches that took the previous bundles before the swap to
/// finish, so that their `last_served_at` is not earlier than the rows those batches commit.
const LAST_BATCH_WAIT: Duration = Duration::from_secs(5);

/// The bundles in service, swapped whole.
pub struct ServingSlot {
    current: RwLock<Arc<Serving>>,
    /// One reload at a time: two SIGHUPs in a row load twice, one after the other.
    reloading: tokio::sync::Mutex<()>,
}

impl ServingSlot {
    pub fn new(serving: Serving) -> Self {
        ServingSlot {
            current: RwLock::new(Arc::new(serving)),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// The bundles serving now. A batch takes this once and scores, stores and replies with it.
    pub fn current(&self) -> Arc<Serving> {
        // A poisoned lock only means a panic elsewhere while holding it; the Arc inside is
        // always whole (it is replaced in one store).
        let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
        Arc::clone(&guard)
    }

    /// Puts `next` in service and returns what served before.
    fn replace(&self, next: Arc<Serving>) -> Arc<Serving> {
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *guard, next)
    }
}

/// Why a reload was refused; the old bundles keep serving.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the loading thread failed: {0}")]
    Thread(String),
    #[error(transparent)]
    Registry(storage::RegistryError),
}

/// Loads the configured bundles (blocking work, on a blocking thread).
///
/// # Errors
/// [`ReloadError`] naming the bundle folder and what is wrong.
pub async fn load_configured(settings: &Settings) -> Result<Serving, ReloadError> {
    let live: PathBuf = settings.model.path.clone();
    let shadow = settings.model.shadow_path.clone();
    let threads = settings.worker.scoring_threads;
    let cuts = settings.model.risk_cuts;
    tokio::task::spawn_blocking(move || Serving::load(&live, shadow.as_deref(), threads, cuts))
        .await
        .map_err(|e| ReloadError::Thread(e.to_string()))?
        .map_err(ReloadError::from)
}

/// Loads the configured bundles again, checks them and swaps them into `slot` (what SIGHUP
/// does); `on_swap` runs right after the swap, with the bundles now in service. Logs the
/// result and counts it in `turnover_model_reloads_total` (label `outcome`).
///
/// # Errors
/// [`ReloadError`] when a bundle is refused; the old ones keep serving.
pub async fn reload(
    slot: &ServingSlot,
    settings: &Settings,
    pool: &Pool,
    m: &Metrics,
    on_swap: impl FnOnce(&Serving),
) -> Result<Arc<Serving>, ReloadError> {
    let _one_at_a_time = slot.reloading.lock().await;
    let next = match load_configured(settings).await {
        Ok(next) => Arc::new(next),
        Err(error) => {
            m.model_reloads.with_label_values(&["failure"]).inc();
            m.model_reload_last_success.set(0);
            let serving = slot.current();
            tracing::error!(
                error.message = %error,
                model.path = %settings.model.path.display(),
                model.shadow_path = %settings
                    .model
                    .shadow_path
                    .as_ref()
                    .map_or_else(|| "none".into(), |p| p.display().to_string()),
                model_version = %serving.live.version,
                "model bundle refused; the loaded one keeps serving"
            );
            return Err(error);
        }
    };
    // Recorded before the swap, so no row names a version the registry does not hold.
    // A database that is away does not stop the swap: the heartbeat records it later. A
    // version the registry holds with other files does: a version names one bundle.
    if let Err(error) = register(pool, &next).await {
        if !matches!(error, storage::RegistryError::Conflict { .. }) {
            tracing::warn!(error.message = %error, "cannot record the reloaded bundles in model_versions yet; the heartbeat will");
        } else {
            m.model_reloads.with_label_values(&["failure"]).inc();
            tracing::error!(error.message = %error, model_version = %slot.current().live.version, "model bundle refused; the loaded one keeps serving");
            return Err(ReloadError::Registry(error));
        }
    }
    let previous = slot.replace(Arc::clone(&next));
    on_swap(&next);
    set_model_info(m, Some(&previous), &next);
    m.model_reloads.with_label_values(&["success"]).inc();
    m.model_reload_last_success.set(1);
    // The versions swapped out served until the last batch that took them before the swap
    // finished: each batch holds the pair it took until its rows are committed.
    if !last_batch_done(&previous).await {
        tracing::warn!(
            model.previous_version = %previous.live.version,
            wait_ms = LAST_BATCH_WAIT.as_millis() as u64,
            "a batch still holds the previous bundles; their last_served_at is recorded now"
        );
    }
    if let Err(error) = touch(pool, &previous).await {
        tracing::warn!(error.message = %error, "cannot move last_served_at of the previous bundles");
    }
    tracing::info!(
        model_version = %next.live.version,
        model.previous_version = %previous.live.version,
        model.shadow_version = next.shadow.as_ref().map(|s| s.version.as_str()),
        model.path = %next.live.path.display(),
        "model bundle reloaded"
    );
    Ok(next)
}

/// `turnover_model_info{version}`: 1 for the live version; the previous one's series removed.
pub fn set_model_info(m: &Metrics, previous: Option<&Serving>, next: &Serving) {
    if let Some(previous) = previous {
        if previous.live.version != next.live.version {
            let _ = m.model_info.remove_label_values(&[&previous.live.version]);
        }
    }
    m.model_info.with_label_values(&[&next.live.version]).set(1);
}

fn registered(model: &LoadedModel) -> RegisteredModel<'_> {
    RegisteredModel {
        version: &model.version,
        sha256: &model.sha256,
        manifest: &model.manifest,
        metrics: &model.metrics,
    }
}

/// Records a load of every bundle of `serving` in `model_versions`.
///
/// # Errors
/// When the database cannot be reached or a statement fails.
pub async fn register(pool: &Pool, serving: &Serving) -> Result<(), storage::RegistryError> {
    let client = pool.get().await.map_err(storage::StorageError::from)?;
    for model in serving.models() {
        storage::register_model(&client, registered(model)).await?;
    }
    Ok(())
}

/// Waits until nothing but this reload holds `previous` (the batches that took it have
/// finished), at most [`LAST_BATCH_WAIT`]; `false` when one still holds it then.
async fn last_batch_done(previous: &Arc<Serving>) -> bool {
    let deadline = tokio::time::Instant::now() + LAST_BATCH_WAIT;
    while Arc::strong_count(previous) > 1 {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    true
}

/// Moves `last_served_at` of every bundle of `serving` to now.
async fn touch(pool: &Pool, serving: &Serving) -> Result<(), storage::StorageError> {
    let client = pool.get().await?;
    let models: Vec<_> = serving.models().map(registered).collect();
    storage::touch_models(&client, &models).await
}

/// Moves `last_served_at` of the bundles in service every [`HEARTBEAT`] (`interval` in
/// tests), and once more when `stop` is cancelled. Failures are logged and retried at the next
/// beat.
pub async fn heartbeat(
    slot: Arc<ServingSlot>,
    pool: Pool,
    stop: CancellationToken,
    interval: Duration,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate, and the load has just been recorded.
    ticks.tick().await;
    loop {
        let stopping = tokio::select! {
            () = stop.cancelled() => true,
            _ = ticks.tick() => false,
        };
        if let Err(error) = touch(&pool, &slot.current()).await {
            tracing::warn!(error.message = %error, "cannot move last_served_at of the bundles in service");
        }
        if stopping {
            return;
        }
    }
}

/// What a caught panic said: its message when it was a text, else "unknown panic".
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// The sha256 of the bundle files the settings name (`model.json` and `manifest.json` of the
/// live folder and of the shadow one, and `model.ubj` where there is one), `None` when a
/// required one cannot be read (a copy in progress).
fn fingerprint(settings: &Settings) -> Option<String> {
    let folders = std::iter::once(&settings.model.path).chain(&settings.model.shadow_path);
    let mut all = String::new();
    for folder in folders {
        for file in ["manifest.json", "model.json"] {
            let bytes = std::fs::read(folder.join(file)).ok()?;
            all.push_str(&crate::digest::sha256_hex(&bytes));
        }
        if let Ok(bytes) = std::fs::read(folder.join("model.ubj")) {
            all.push_str(&crate::digest::sha256_hex(&bytes));
        }
    }
    Some(all)
}

/// Reloads the bundles when their files change (`model.watch_interval_ms`), as SIGHUP does:
/// for a mounted ConfigMap or volume that is updated in place. A change is acted on once the
/// files read the same on two checks in a row, so a copy in progress is not loaded half-way;
/// files that were refused are not tried again until they change. `reload` is the reload the
/// caller owns (the one SIGHUP runs).
pub async fn watch<F: Future<Output = ()>>(
    settings: Arc<Settings>,
    stop: CancellationToken,
    interval: Duration,
    reload: impl Fn() -> F,
) {
    let read = move || {
        let settings = Arc::clone(&settings);
        async move {
            tokio::task::spawn_blocking(move || fingerprint(&settings))
                .await
                .ok()
                .flatten()
        }
    };
    // What is serving now (or was last tried), and what was read on the previous check.
    let mut settled = read().await;
    let mut previous = settled.clone();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        let now = read().await;
        if now.is_some() && now == previous && now != settled {
            tracing::info!("the bundle files changed: reloading the model bundles");
            // Refused or not, these files have had their chance.
            reload().await;
            settled.clone_from(&now);
        }
        previous = now;
    }
}
