//! The correlation map: correlation id → the caller waiting for that reply.
//!
//! Entries are removed by whoever settles them: the dispatcher when the reply comes, the
//! caller's [`Waiting`] guard when it stops waiting (deadline, or the HTTP request dropped),
//! so the map never keeps callers that have gone.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use super::Reply;

/// Callers waiting for a reply, by correlation id.
#[derive(Default)]
pub(super) struct Pending(Mutex<HashMap<String, oneshot::Sender<Reply>>>);

impl Pending {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, oneshot::Sender<Reply>>> {
        // The map holds no invariant a panicking holder could break: keep using it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a caller; the entry lives as long as the returned guard.
    pub(super) fn wait(&self, id: String) -> (Waiting<'_>, oneshot::Receiver<Reply>) {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id.clone(), tx);
        (Waiting { pending: self, id }, rx)
    }

    /// Hands a reply to its caller; `false` when nobody waits for that id any more.
    pub(super) fn settle(&self, id: &str, reply: Reply) -> bool {
        let waiting = self.lock().remove(id);
        waiting.is_some_and(|tx| tx.send(reply).is_ok())
    }

    /// Fails every waiting caller (their receivers see a closed channel).
    pub(super) fn fail_all(&self) {
        self.lock().clear();
    }
}

/// Removes its entry when dropped.
pub(super) struct Waiting<'a> {
    pending: &'a Pending,
    id: String,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.pending.lock().remove(&self.id);
    }
}
