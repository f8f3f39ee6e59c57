//! A transaction whose `BEGIN` can go out together with the first statement.
//!
//! tokio-postgres's `Transaction` awaits `BEGIN`'s answer before anything else can be sent on
//! the connection; [`Open`] is only the guard, so the caller sends `BEGIN` and its first
//! statement in one round trip (`storage::write::insert_batch`). It must not run statements
//! of its own beyond `COMMIT` and the `ROLLBACK` of a dropped guard.

use deadpool_postgres::ClientWrapper;
use futures_util::FutureExt;

use super::StorageError;

/// A transaction whose `BEGIN` went out with the batch's first statement, in one round trip
/// (tokio-postgres's own `Transaction` waits for `BEGIN`'s answer before anything else can be
/// sent). Dropped before [`Open::commit`] (an error, or the caller gave up on the future), it
/// sends `ROLLBACK` without waiting for the answer, as tokio-postgres's transactions do, so the
/// connection goes back to the pool outside any transaction.
pub(super) struct Open<'c> {
    pub(super) client: &'c ClientWrapper,
    committed: bool,
}

impl<'c> Open<'c> {
    /// The guard, made before `BEGIN` is sent: a future dropped between the two still rolls back
    /// (a `ROLLBACK` outside a transaction is only a warning).
    pub(super) fn new(client: &'c ClientWrapper) -> Self {
        Open {
            client,
            committed: false,
        }
    }

    pub(super) async fn commit(mut self) -> Result<(), StorageError> {
        self.client.batch_execute("COMMIT").await?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.committed {
            // The first poll hands the statement to the connection; its answer is not awaited.
            let _ = self.client.batch_execute("ROLLBACK").now_or_never();
        }
    }
}
