//! Keeping the pool on the primary: every connection it hands out is to a server that accepts
//! writes, and the logs name that server.
//!
//! With a multi-host `postgres.url` (`postgres://u@h1:5432,h2:5432/db?target_session_attrs=
//! read-write`), tokio-postgres tries the hosts in order and keeps the first that accepts
//! writes. That choice is made once per connection: a primary that is demoted, fenced
//! (`default_transaction_read_only`) or replaced while the pool holds connections to it would
//! go on answering every write with SQLSTATE 25006, forever. So each connection is probed (one
//! round trip) when it is opened, and when it is checked out after [`IDLE`] unused or while a
//! write was refused with 25006 in the last [`SUSPICION`]: a connection to a read-only server
//! is refused or dropped, the caller gets a transient error and backs off as for a database
//! that is down, and the next connection goes through the host list again. A connection in
//! steady use is not probed: the first write that a server turned read-only refuses is
//! transient, and it starts the suspicion, so the retry's checkout drops that connection. (The
//! probe at every checkout was one more statement per batch: 12–16 % of Postgres's CPU per
//! `/predict` at one to four connections, docs/performance.md.) A lost primary needs no probe:
//! its connections are closed, and the pool's own check drops them.
//!
//! The probe also answers where the connection landed: the first connection, and every
//! connection to another server than the one before, is logged with `postgres.server`
//! (the server's address and port as it sees them; never the URL, which may hold a password).
//!
//! This module must not retry: backing off is the caller's (the worker's) decision.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use deadpool_postgres::{Hook, HookError};
use tokio_postgres::{Client, SimpleQueryMessage};

use super::CONNECT_TIMEOUT;

/// A connection checked out after this long unused is probed again.
const IDLE: Duration = Duration::from_secs(1);

/// How long after a write refused with SQLSTATE 25006 every checkout is probed.
const SUSPICION: Duration = Duration::from_secs(10);

/// When a write was last refused with SQLSTATE 25006 in this process. Process-wide: a refusal
/// seen through one pool makes the others look too, which costs them a round trip per
/// checkout for [`SUSPICION`], nothing more.
static REFUSED_AT: Mutex<Option<Instant>> = Mutex::new(None);

/// Notes a write refused because the server accepts no writes (SQLSTATE 25006).
pub(super) fn write_refused() {
    *REFUSED_AT.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
}

/// How long ago a write was last refused with SQLSTATE 25006; `None`: never.
fn since_refused() -> Option<Duration> {
    REFUSED_AT
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .map(|at| at.elapsed())
}

/// Whether a connection last checked out `unused` ago must be probed before it is handed out,
/// a write having been refused `refused` ago.
fn must_probe(unused: Duration, refused: Option<Duration>) -> bool {
    unused >= IDLE || refused.is_some_and(|ago| ago < SUSPICION)
}

/// The server a connection is to, and whether it takes writes.
#[derive(Debug, PartialEq, Eq)]
struct Server {
    name: String,
    read_only: bool,
}

/// One round trip, with the pool's timeout: `host(inet_server_addr())` is NULL on a Unix
/// socket; `transaction_read_only` is on for a standby and under `default_transaction_read_only`
/// alike (the same test tokio-postgres makes for `target_session_attrs=read-write`).
async fn probe(client: &Client) -> Result<Server, HookError> {
    let query = client.simple_query(
        "SELECT host(inet_server_addr()), inet_server_port(), current_setting('transaction_read_only')",
    );
    let messages = tokio::time::timeout(CONNECT_TIMEOUT, query)
        .await
        .map_err(|_| HookError::message("Postgres did not answer the writability probe in time"))?
        .map_err(HookError::Backend)?;
    let row = messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .ok_or_else(|| HookError::message("the writability probe returned no row"))?;
    Ok(Server {
        name: server_name(row.get(0), row.get(1)),
        read_only: row.get(2) == Some("on"),
    })
}

fn server_name(addr: Option<&str>, port: Option<&str>) -> String {
    match (addr, port) {
        (Some(addr), Some(port)) if addr.contains(':') => format!("[{addr}]:{port}"),
        (Some(addr), Some(port)) => format!("{addr}:{port}"),
        _ => "the local socket".to_owned(),
    }
}

fn refused(server: &Server) -> HookError {
    HookError::message(format!(
        "Postgres at {} accepts no writes (a standby, or default_transaction_read_only is on)",
        server.name
    ))
}

/// The pool's `post_create` hook: refuses a new connection to a read-only server (the pool
/// reports a transient error), and logs the server when it is not the one of the connection
/// before.
pub(super) fn on_create() -> Hook {
    let last: Arc<Mutex<Option<String>>> = Arc::default();
    Hook::async_fn(move |client, _| {
        let last = Arc::clone(&last);
        Box::pin(async move {
            let server = probe(client).await?;
            if server.read_only {
                tracing::warn!(postgres.server = %server.name, "Postgres server accepts no writes; waiting for a primary");
                return Err(refused(&server));
            }
            let moved = {
                let mut last = last
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let moved = last.as_deref() != Some(server.name.as_str());
                *last = Some(server.name.clone());
                moved
            };
            if moved {
                tracing::info!(postgres.server = %server.name, "connected to Postgres");
            } else {
                tracing::debug!(postgres.server = %server.name, "new Postgres connection");
            }
            Ok(())
        })
    })
}

/// The pool's `post_recycle` hook: drops a connection whose server stopped accepting writes
/// while the pool held it (looked at when it was idle or a write was just refused, see the
/// module's doc); the pool then opens a new one, through the host list.
pub(super) fn on_checkout() -> Hook {
    Hook::async_fn(|client, metrics| {
        // `last_used` is the time since the connection's previous checkout (or its creation).
        let probe_it = must_probe(metrics.last_used(), since_refused());
        Box::pin(async move {
            if !probe_it {
                return Ok(());
            }
            let server = probe(client).await?;
            if server.read_only {
                tracing::warn!(postgres.server = %server.name, "Postgres server no longer accepts writes; its connection is dropped");
                return Err(refused(&server));
            }
            Ok(())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_idle_connections_are_probed_unless_a_write_was_just_refused() {
        let busy = Duration::from_millis(20);
        assert!(!must_probe(busy, None), "a connection in steady use");
        assert!(must_probe(IDLE, None), "a connection unused for a second");
        assert!(
            must_probe(busy, Some(Duration::from_millis(9_999))),
            "within the suspicion"
        );
        assert!(
            !must_probe(busy, Some(Duration::from_millis(10_000))),
            "the suspicion is over"
        );
    }

    #[test]
    fn servers_are_named_as_address_and_port() {
        assert_eq!(server_name(Some("10.0.0.5"), Some("5432")), "10.0.0.5:5432");
        assert_eq!(server_name(Some("::1"), Some("5433")), "[::1]:5433");
        assert_eq!(server_name(None, None), "the local socket");
    }
}
