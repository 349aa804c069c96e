//! The run's counts as outcomes come in: totals for the summary, the progress display, and
//! the stop after too many failures in a row or a failure every send would share.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::progress::Progress;
use super::report::{Report, StopReason};
use crate::ledger::{Finished, Status, failure_reason};

pub(super) struct Tally {
    totals: Mutex<Totals>,
    progress: Arc<Progress>,
    stop: watch::Sender<Option<StopReason>>,
    max_consecutive_failures: usize,
}

#[derive(Default)]
struct Totals {
    sent: usize,
    failed: Vec<(String, String)>,
    unknown: Vec<(String, String)>,
    taken: usize,
    released: usize,
    retries: usize,
    ambiguous_retries: usize,
    consecutive_failures: usize,
}

impl Tally {
    pub(super) fn new(
        progress: Arc<Progress>,
        stop: watch::Sender<Option<StopReason>>,
        max_consecutive_failures: usize,
    ) -> Tally {
        Tally {
            totals: Mutex::default(),
            progress,
            stop,
            max_consecutive_failures,
        }
    }

    fn totals(&self) -> std::sync::MutexGuard<'_, Totals> {
        self.totals.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A send ended with `finished` after `retries` retries (`ambiguous` of them after an
    /// ambiguous outcome). `stops_run`: the way it failed would fail every send.
    pub(super) fn finished(
        &self,
        finished: &Finished,
        retries: usize,
        ambiguous: usize,
        stops_run: bool,
    ) {
        let reason = || {
            failure_reason(
                finished.http_status,
                finished.response.as_deref(),
                finished.error.as_deref(),
            )
        };
        if stops_run {
            let cause = reason();
            self.stop.send_if_modified(|stop| match stop {
                None | Some(StopReason::TooManyFailures(_)) => {
                    *stop = Some(StopReason::Unsendable(cause));
                    true
                }
                _ => false,
            });
        }
        let consecutive = {
            let mut totals = self.totals();
            totals.retries += retries;
            totals.ambiguous_retries += ambiguous;
            match finished.status {
                Status::Sent => {
                    totals.sent += 1;
                    totals.consecutive_failures = 0;
                }
                Status::Unknown => {
                    totals.unknown.push((finished.key.clone(), reason()));
                    totals.consecutive_failures += 1;
                }
                _ => {
                    totals.failed.push((finished.key.clone(), reason()));
                    totals.consecutive_failures += 1;
                }
            }
            totals.consecutive_failures
        };
        self.progress.finished(finished.status);
        if self.max_consecutive_failures > 0 && consecutive > self.max_consecutive_failures {
            self.stop.send_if_modified(|stop| {
                if stop.is_none() {
                    *stop = Some(StopReason::TooManyFailures(consecutive));
                    true
                } else {
                    false
                }
            });
        }
    }

    /// Another run had recorded this send already.
    pub(super) fn taken(&self) {
        self.totals().taken += 1;
        self.progress.skipped();
    }

    /// The run stopped before this send's request was written: it was put back.
    pub(super) fn released(&self, retries: usize) {
        let mut totals = self.totals();
        totals.released += 1;
        totals.retries += retries;
    }

    pub(super) fn progress(&self) -> &Progress {
        &self.progress
    }

    /// What was counted, for the run's report.
    pub(super) fn report(&self) -> Report {
        let mut totals = self.totals();
        Report {
            sent: totals.sent,
            failed: std::mem::take(&mut totals.failed),
            unknown: std::mem::take(&mut totals.unknown),
            taken: totals.taken,
            released: totals.released,
            retries: totals.retries,
            ambiguous_retries: totals.ambiguous_retries,
            ..Report::default()
        }
    }
}
