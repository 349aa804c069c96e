//! One ledger shared by the tasks of a run. Ledger calls are blocking I/O (SQLite, the
//! synchronous PostgreSQL client): each runs on a blocking thread, one at a time, so the
//! async threads that send never wait for a disk or a database.

use std::sync::{Arc, Mutex, MutexGuard};

use super::backend::Ledger;
use super::error::LedgerError;

#[derive(Clone)]
pub(crate) struct SharedLedger {
    ledger: Arc<Mutex<Box<dyn Ledger>>>,
    /// For errors raised outside a ledger call (a task that panicked).
    location: Arc<str>,
}

impl SharedLedger {
    pub(crate) fn new(ledger: Box<dyn Ledger>) -> SharedLedger {
        SharedLedger {
            location: ledger.location().into(),
            ledger: Arc::new(Mutex::new(ledger)),
        }
    }

    pub(crate) fn location(&self) -> &str {
        &self.location
    }

    /// The ledger, for a thread that may block. A call that panicked leaves the ledger as
    /// its last committed transaction left it, so the lock is taken even if poisoned.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Box<dyn Ledger>> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` with the ledger on a blocking thread.
    pub(crate) async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Ledger) -> Result<T, LedgerError> + Send + 'static,
    ) -> Result<T, LedgerError> {
        let handle = self.clone();
        tokio::task::spawn_blocking(move || f(&mut **handle.lock()))
            .await
            .unwrap_or_else(|e| Err(self.task_failed(e)))
    }

    /// A ledger task on a blocking thread that panicked or was cancelled.
    pub(crate) fn task_failed(&self, e: tokio::task::JoinError) -> LedgerError {
        LedgerError::storage(&self.location, format!("ledger task failed: {e}"))
    }
}
