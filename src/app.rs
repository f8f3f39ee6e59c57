//! What the running service shares: settings, the bundles in service (swapped on reload, see
//! [`crate::serving`]), the database pool, the metrics and the shutdown deadline. Built once by
//! [`crate::startup::build`]; the worker and the HTTP sidecar both read it, and neither owns it.
//! It only holds these: the tasks that watch or swap them ([`crate::serving`],
//! [`crate::monitor`]) are handed the parts they need, and never see this context.

use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::monitor::DriftWindow;
use crate::serving::{self, ReloadError, Serving, ServingSlot};

/// The application's shared state.
pub struct AppContext {
    pub settings: Arc<Settings>,
    /// The live bundle and the shadow one; read once per batch ([`ServingSlot::current`]).
    pub models: Arc<ServingSlot>,
    pub pool: Pool,
    pub metrics: Metrics,
    /// Cancelled when the shutdown deadline has passed: stop retrying, give messages back.
    pub hard_stop: CancellationToken,
    /// The recent records' features, for `turnover_feature_psi`.
    pub drift: Arc<DriftWindow>,
}

impl AppContext {
    /// The live bundle's version now.
    pub fn model_version(&self) -> String {
        self.models.current().live.version.clone()
    }

    /// Loads the bundles again, checks them and swaps them in (what SIGHUP does); the drift
    /// window then compares with the new live bundle's training distribution.
    ///
    /// # Errors
    /// [`ReloadError`] when a bundle is refused; the old ones keep serving.
    pub async fn reload(&self) -> Result<Arc<Serving>, ReloadError> {
        serving::reload(
            &self.models,
            &self.settings,
            &self.pool,
            &self.metrics,
            |next| {
                // PSI compares what comes in with the training distribution of the bundle now live.
                self.drift.set_reference(next.live.drift_reference.clone());
            },
        )
        .await
    }
}
