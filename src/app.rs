//! What the running service shares: settings, the bundles in service (swapped on reload, see
//! [`crate::serving`]), the database pool, the metrics and the shutdown deadline. Built once by [`crate::startup::build`]; the worker and
//! the HTTP sidecar both read it, and neither owns it.

use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::monitor::DriftWindow;
use crate::serving::ServingSlot;

/// The application's shared state.
pub struct AppContext {
    pub settings: Arc<Settings>,
    /// The live bundle and the shadow one; read once per batch ([`ServingSlot::current`]).
    pub models: ServingSlot,
    pub pool: Pool,
    pub metrics: Metrics,
    /// Cancelled when the shutdown deadline has passed: stop retrying, give messages back.
    pub hard_stop: CancellationToken,
    /// The recent records' features, for `turnover_feature_psi`.
    pub drift: DriftWindow,
}
