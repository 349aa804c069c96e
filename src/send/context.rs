//! What the tasks of one run share: the executor, the ledger writer, the counts, and the
//! signals that end the run (a stop) or its last phase (the drain deadline).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::committer::Committer;
use super::executor::Executor;
use super::report::StopReason;
use super::slots::Slot;
use super::tally::Tally;

pub(super) struct RunContext {
    pub executor: Arc<Executor>,
    pub committer: Committer,
    pub tally: Arc<Tally>,
    pub stop: watch::Receiver<Option<StopReason>>,
    /// Set when the run drains: sends in flight get until then.
    pub drain: watch::Receiver<Option<Instant>>,
}

impl RunContext {
    pub(super) fn stopped(&self) -> bool {
        self.stop.borrow().is_some()
    }

    /// Waits `wait` before another attempt. False when the run stopped, or drains and the
    /// wait would end after its deadline: the attempt is not made.
    pub(super) async fn wait(&self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        let mut stop = self.stop.clone();
        let mut drain = self.drain.clone();
        loop {
            if stop.borrow_and_update().is_some() {
                return false;
            }
            if drain
                .borrow_and_update()
                .is_some_and(|deadline| until > deadline)
            {
                return false;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return true,
                // A sender gone (the run is ending) ends nothing by itself.
                changed = stop.changed() => if changed.is_err() {
                    tokio::time::sleep_until(until).await;
                    return true;
                },
                changed = drain.changed() => if changed.is_err() {
                    tokio::time::sleep_until(until).await;
                    return true;
                },
            }
        }
    }

    /// Waits for the pacer's turn; false when the run stopped first.
    pub(super) async fn paced(&self) -> bool {
        let mut stop = self.stop.clone();
        if stop.borrow_and_update().is_some() {
            return false;
        }
        tokio::select! {
            biased;
            _ = stop.changed() => false,
            () = self.executor.pacer.acquire() => true,
        }
    }

    /// Waits for a request slot; `None` when the run stopped first.
    pub(super) async fn slot(&self) -> Option<Slot> {
        let mut stop = self.stop.clone();
        if stop.borrow_and_update().is_some() {
            return None;
        }
        tokio::select! {
            biased;
            _ = stop.changed() => None,
            slot = self.executor.slots.acquire() => Some(slot),
        }
    }

    /// Waits until `at` (now when `None`); false when the run stopped first.
    pub(super) async fn until(&self, at: Option<Instant>) -> bool {
        let mut stop = self.stop.clone();
        if stop.borrow_and_update().is_some() {
            return false;
        }
        let Some(at) = at else {
            return true;
        };
        tokio::select! {
            biased;
            _ = stop.changed() => false,
            () = tokio::time::sleep_until(at) => true,
        }
    }
}
