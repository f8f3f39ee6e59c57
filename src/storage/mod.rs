//! Postgres storage: the pool, the schema migrations, and one function per query.
//!
//! This module owns every SQL statement of the service and the tables of docs/contract.md#tables.
//! It turns rows into statements and database failures into [`StorageError`]s that say whether
//! a retry can help. It must not retry, back off, ack or log per row: those decisions belong
//! to the worker and the HTTP handlers, which know what the row stands for.
//!
//! - [`migrate`](mod@migrate): embedded migrations, `ensure_database`, `migrate`,
//! - [`write`]: `insert_batch` (the worker's one transaction per micro-batch, with the shadow
//!   bundle's rows), `insert_alone` (a batch of predictions only, in one statement), the model
//!   registry, batches,
//! - [`read`]: batch progress and results, readiness, and the lookups tests need,
//! - [`outcomes`](mod@outcomes): the outcomes upsert and the `model_performance` reads,
//! - [`summary`]: the refresh of the summary those views read (one process at a time),
//! - [`erase`]: erasing one employee's rows and recording it in `erasures`;
//! - [`retention`](mod@retention): the retention lock and bounded deletes;
//! - [`privileges`](mod@privileges): what `serve` checks when it does not migrate;
//! - [`rows`]: the row types; [`error`]: [`StorageError`] and `is_transient`;
//! - [`tls`]: `sslmode` and `sslrootcert` of the URL, with libpq's meaning;
//! - [`transaction`]: the guard of a transaction whose `BEGIN` goes out with its first
//!   statement;
//! - [`primary`]: every pooled connection is to a server that accepts writes (multi-host URLs,
//!   failover), and the logs name it.
//!
//! Connection URLs may hold a password: nothing here formats a URL into a message or a log.

mod database;
mod erase;
mod error;
mod fairness;
mod migrate;
mod outcomes;
mod primary;
mod privileges;
mod read;
mod registry;
mod retention;
mod rows;
mod summary;
mod tls;
mod transaction;
mod write;

use std::num::NonZeroUsize;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod, Runtime};

pub use database::ensure_database;
pub use deadpool_postgres::{Client, Pool};
pub use erase::{employee_hash, erase_employee, erasures, ErasedRows};
pub use error::StorageError;
pub use fairness::{model_performance_by_group, GroupPerformance};
pub use migrate::{migrate, migrate_with, Migration, MigrationOptions, MIGRATIONS, NO_TRANSACTION};
pub use outcomes::{
    holdout_metrics, model_performance, upsert_outcomes, OutcomeCounts, Performance,
};
pub use privileges::{check_privileges, PrivilegeError, PRIVILEGES};
pub use read::{batch_results, batch_status, find_prediction, ping};
pub use registry::{register_model, touch_models, RegisteredModel, RegistryError};
pub use retention::{delete_expired, release_retention_lock, try_retention_lock, Retained};
pub use rows::{storable_json, storable_text};
pub use rows::{
    BatchPrediction, BatchStatus, Document, InsertCounts, PredictionRow, RejectedRow, ShadowRow,
    Source, StoredBatch, StoredScore, Written,
};
pub use summary::{refresh_performance_summary, SummaryRefresh};
pub use write::{create_batch, insert_alone, insert_batch, insert_rejected, Pending};

/// A warning for a remote Postgres reached with `sslmode` below `verify-full` (`tls`).
pub(crate) use tls::weak_transport;

/// How long opening a connection, waiting for a free one, or checking a returned one may
/// take. Short on purpose: with the database down, callers get a transient error within this
/// time and back off, instead of piling up behind a hung connect (`/ready` must answer fast).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Builds the connection pool. No connection is opened here: the first [`Pool::get`] opens
/// one, so a service can start (and report not-ready) while the database is down.
///
/// `size` is the most connections held open; the worker needs one per concurrent batch
/// writer, the HTTP side one per concurrent batch lookup. Connections are checked with
/// [`RecyclingMethod::Fast`]: a connection the server closed (a primary lost) is noticed and
/// replaced, and a failure on a half-dead one is transient. On top of that, every connection
/// is probed when opened, and at a checkout after a second unused or soon after a write was
/// refused with SQLSTATE 25006 (one round trip, [`primary`]): one to a server that accepts no
/// writes is refused or dropped, so the pool follows a failover to the new primary instead of
/// failing every write with SQLSTATE 25006. A multi-host `url` with
/// `target_session_attrs=read-write` lets each new connection skip the read-only hosts.
///
/// # Errors
///
/// [`StorageError::InvalidUrl`] when `url` does not parse, [`StorageError::TlsSettings`] when
/// its `sslmode` or `sslrootcert` cannot be used, [`StorageError::Build`] when the pool cannot
/// be built.
pub fn pool(url: &str, size: NonZeroUsize) -> Result<Pool, StorageError> {
    let (config, tls) = connect_config(url)?;
    let manager = Manager::from_config(
        config,
        tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size.get())
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(CONNECT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .recycle_timeout(Some(CONNECT_TIMEOUT))
        .post_create(primary::on_create())
        .post_recycle(primary::on_checkout())
        .build()
        .map_err(StorageError::Build)
}

/// Parses a URL (or key=value string) and fills in what every connection of the service
/// wants: the connect timeout and an application name visible in `pg_stat_activity`; and the
/// TLS connector its `sslmode` and `sslrootcert` ask for.
pub(crate) fn connect_config(
    url: &str,
) -> Result<(tokio_postgres::Config, tls::PgTls), StorageError> {
    let (mut config, tls) = tls::resolve(url)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("turnover");
    }
    Ok((config, tls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_does_not_echo_the_password() {
        let err =
            pool("postgres://u:s3cret@host:notaport/db", NonZeroUsize::MIN).expect_err("bad port");
        assert!(matches!(err, StorageError::InvalidUrl(_)));
        let chain = format!("{err} {:?}", err);
        assert!(!chain.contains("s3cret"), "{chain}");
    }

    #[test]
    fn source_round_trips() {
        for s in [Source::Queue, Source::Http, Source::Batch] {
            assert_eq!(s.as_str().parse::<Source>().ok(), Some(s));
        }
        assert!("mail".parse::<Source>().is_err());
    }
}
