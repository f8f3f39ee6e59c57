//! The storage error type and its retry decision.
//!
//! Owns the mapping from Postgres and pool failures to "transient" (retry later: the database
//! is down, busy or restarting) or "permanent" (retrying the same statement fails the same
//! way). It must not decide what the caller does about it: the worker turns this into
//! retry / reject / stop.
//!
//! No variant carries the connection URL: it may hold a password. `tokio_postgres` errors never
//! include it either.

use deadpool_postgres::{BuildError, PoolError};
use tokio_postgres::error::SqlState;

/// A failure of a storage operation.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The connection URL could not be parsed. The URL itself is not repeated.
    #[error("invalid postgres url")]
    InvalidUrl(#[source] tokio_postgres::Error),

    /// The URL's `sslmode` or `sslrootcert` cannot be used (see `storage::tls`).
    #[error("postgres.url: {0}")]
    TlsSettings(String),

    /// The TLS handshake failed: untrusted or misnamed certificate, no TLS on the server.
    #[error("Postgres at {server}: TLS: {reason}")]
    Tls { server: String, reason: String },

    /// The pool could not be built.
    #[error("could not build the postgres pool")]
    Build(#[source] BuildError),

    /// No connection could be had from the pool (timeout, or the connection attempt failed).
    #[error("no postgres connection available")]
    Pool(#[source] PoolError),

    /// A statement or a connection failed. Shown with the SQLSTATE and the server's message
    /// (never its DETAIL, which may quote the row's values).
    #[error("postgres: {}", describe(.0))]
    Postgres(#[source] tokio_postgres::Error),

    /// An applied migration's SQL differs from the one embedded in this build.
    #[error(
        "migration V{version}__{name} was changed after it was applied \
         (checksum {applied} in the database, {embedded} in this build)"
    )]
    ChecksumMismatch {
        version: i32,
        name: String,
        applied: String,
        embedded: String,
    },

    /// A value does not fit its column.
    #[error("value out of range for {column}: {value}")]
    OutOfRange { column: &'static str, value: String },

    /// A stored value does not fit the Rust type (a row written by something else).
    #[error("unexpected value in column {column}: {value}")]
    Corrupt { column: &'static str, value: String },
}

impl From<tokio_postgres::Error> for StorageError {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.code() == Some(&SqlState::READ_ONLY_SQL_TRANSACTION) {
            // The connection it came on is to a demoted or fenced server: have the pool look
            // at every connection it hands out for a while (storage::primary).
            super::primary::write_refused();
        }
        Self::Postgres(e)
    }
}

impl From<PoolError> for StorageError {
    fn from(e: PoolError) -> Self {
        Self::Pool(e)
    }
}

impl StorageError {
    /// Whether the same operation may succeed later without any change to its input:
    /// connection failures, pool timeouts, serialization failures and deadlocks, a server
    /// shutting down or starting up, resource exhaustion, a server that turned read-only (a
    /// failover under way). Constraint violations, bad data,
    /// SQL errors and checksum mismatches are permanent.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Postgres(e) => pg_is_transient(e),
            Self::Pool(PoolError::Timeout(_)) => true,
            Self::Pool(PoolError::Backend(e)) => pg_is_transient(e),
            // A failing post-create hook is about the fresh connection, not the caller's data.
            Self::Pool(PoolError::PostCreateHook(_)) => true,
            // Closed means the application is shutting down: retrying cannot help.
            Self::Pool(_) => false,
            Self::InvalidUrl(_)
            | Self::TlsSettings(_)
            | Self::Tls { .. }
            | Self::Build(_)
            | Self::ChecksumMismatch { .. }
            | Self::OutOfRange { .. }
            | Self::Corrupt { .. } => false,
        }
    }

    /// The SQLSTATE code when the server reported the error.
    #[must_use]
    pub fn code(&self) -> Option<&SqlState> {
        match self {
            Self::Postgres(e) | Self::Pool(PoolError::Backend(e)) => e.code(),
            _ => None,
        }
    }

    /// The SQLSTATE and the server's message, when the server refused the statement.
    #[must_use]
    pub fn refusal(&self) -> Option<(&str, &str)> {
        match self {
            Self::Postgres(e) | Self::Pool(PoolError::Backend(e)) => {
                e.as_db_error().map(|db| (db.code().code(), db.message()))
            }
            _ => None,
        }
    }
}

/// A Postgres error as one line: `SQLSTATE 22P05: <message>` for a refusal by the server,
/// the client's own description otherwise (connection refused, closed, timed out).
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("SQLSTATE {}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

fn pg_is_transient(e: &tokio_postgres::Error) -> bool {
    if let Some(code) = e.code() {
        return sqlstate_is_transient(code);
    }
    if e.is_closed() {
        return true;
    }
    // A failed TLS handshake is about the connection, never the data: a pool connection
    // refused that way (a certificate being rotated, a server restarted without TLS) waits
    // like a database that is down, instead of failing the batch for good. tokio_postgres has
    // no accessor for its TLS kind; its message is fixed.
    if e.to_string() == "error performing TLS handshake" {
        return true;
    }
    // Io and Connect kinds carry the io::Error (refused, reset, timed out) as their source.
    if std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()) {
        return true;
    }
    // tokio_postgres exposes no accessor for its Timeout kind; its message is fixed.
    e.to_string() == "timeout waiting for server"
}

fn sqlstate_is_transient(code: &SqlState) -> bool {
    let code = code.code();
    // Class 08: connection exception. Class 53: insufficient resources (too many
    // connections, disk full, out of memory). Class 57P: operator intervention (admin or crash
    // shutdown, cannot connect now).
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || code == SqlState::T_R_SERIALIZATION_FAILURE.code()
        || code == SqlState::T_R_DEADLOCK_DETECTED.code()
        || code == SqlState::LOCK_NOT_AVAILABLE.code()
        // statement_timeout / cancel: the server was too slow, not the data wrong.
        || code == SqlState::QUERY_CANCELED.code()
        // A primary demoted or fenced under an open connection: the pool drops that connection
        // at its next checkout (storage::primary), and the retry reaches the new primary.
        || code == SqlState::READ_ONLY_SQL_TRANSACTION.code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_classified() {
        for transient in [
            SqlState::CONNECTION_FAILURE,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::READ_ONLY_SQL_TRANSACTION,
        ] {
            assert!(sqlstate_is_transient(&transient), "{}", transient.code());
        }
        for permanent in [
            SqlState::UNIQUE_VIOLATION,
            SqlState::CHECK_VIOLATION,
            SqlState::NOT_NULL_VIOLATION,
            SqlState::INVALID_TEXT_REPRESENTATION,
            SqlState::UNDEFINED_TABLE,
            SqlState::SYNTAX_ERROR,
        ] {
            assert!(!sqlstate_is_transient(&permanent), "{}", permanent.code());
        }
    }

    #[test]
    fn pool_timeouts_are_transient_and_closed_is_not() {
        let timeout = StorageError::Pool(PoolError::Timeout(deadpool_postgres::TimeoutType::Wait));
        assert!(timeout.is_transient());
        assert!(!StorageError::Pool(PoolError::Closed).is_transient());
    }
}
