//! The recorder: writes outcomes to the ledger in batches, counts them, and stops the run
//! after too many failures in a row or when the ledger fails.

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::outcome::Outcome;
use super::progress::Progress;
use super::report::{Report, StopReason};
use crate::ledger::{Finished, LedgerError, SharedLedger, Status};
use std::sync::Arc;

/// Totals kept by the recorder.
#[derive(Default)]
pub(super) struct Recorded {
    sent: usize,
    released: usize,
    unrecorded: usize,
    failed: Vec<(String, String)>,
    unknown: Vec<(String, String)>,
    retries: usize,
}

impl Recorded {
    /// Adds what the recorder counted to the dispatcher's report.
    pub(super) fn add_to(self, report: &mut Report) {
        report.sent = self.sent;
        report.unrecorded = self.unrecorded;
        report.failed = self.failed;
        report.unknown = self.unknown;
        report.retries = self.retries;
        report.released += self.released;
    }
}

/// Records outcomes in batches, counts them, and stops the run after too many failures in a
/// row.
/// Most outcomes written in one ledger transaction.
const RECORD_BATCH: usize = 512;
/// Longest wait for a quarter of [`RECORD_BATCH`] before writing what arrived.
const RECORD_WAIT: Duration = Duration::from_millis(10);

pub(super) async fn record(
    mut done: mpsc::UnboundedReceiver<Outcome>,
    ledger: SharedLedger,
    progress: Arc<Progress>,
    stop: watch::Sender<Option<StopReason>>,
    max_consecutive_failures: usize,
) -> Recorded {
    let mut totals = Recorded::default();
    let mut consecutive = 0usize;
    let mut finished: Vec<Finished> = Vec::new();
    let mut released: Vec<(String, Option<Status>)> = Vec::new();
    let mut pending_finished: Vec<Finished> = Vec::new();
    let mut pending_released: Vec<(String, Option<Status>)> = Vec::new();
    // Counted as it arrives (a run with too many failures in a row stops at once); written
    // in batches.
    let mut take = |outcome: Outcome, finished: &mut Vec<Finished>, released: &mut Vec<_>| {
        let f = match outcome {
            Outcome::Finished {
                finished: f,
                retries,
                stops_run,
            } => {
                totals.retries += retries;
                if stops_run {
                    let cause = describe_failure(&f);
                    stop.send_if_modified(|reason| match reason {
                        None | Some(StopReason::TooManyFailures(_)) => {
                            *reason = Some(StopReason::Unsendable(cause));
                            true
                        }
                        _ => false,
                    });
                }
                f
            }
            Outcome::Released { key, previous } => return released.push((key, previous)),
        };
        let reason = || describe_failure(&f);
        match f.status {
            Status::Sent => {
                totals.sent += 1;
                consecutive = 0;
            }
            Status::Unknown => {
                totals.unknown.push((f.key.clone(), reason()));
                consecutive += 1;
            }
            _ => {
                totals.failed.push((f.key.clone(), reason()));
                consecutive += 1;
            }
        }
        progress.finished(f.status);
        if max_consecutive_failures > 0 && consecutive > max_consecutive_failures {
            stop.send_if_modified(|reason| {
                if reason.is_none() {
                    *reason = Some(StopReason::TooManyFailures(consecutive));
                    true
                } else {
                    false
                }
            });
        }
        finished.push(f);
    };
    while let Some(first) = done.recv().await {
        take(first, &mut finished, &mut released);
        // One transaction per batch: waiting a few milliseconds for a fuller batch makes
        // each recorded outcome several times cheaper when sends are fast, and costs a slow
        // run nothing but that wait.
        let deadline = Instant::now() + RECORD_WAIT;
        while finished.len() + released.len() < RECORD_BATCH {
            let next = match done.try_recv() {
                Ok(outcome) => outcome,
                Err(mpsc::error::TryRecvError::Empty)
                    if finished.len() + released.len() < RECORD_BATCH / 4 =>
                {
                    match tokio::time::timeout_at(deadline, done.recv()).await {
                        Ok(Some(outcome)) => outcome,
                        _ => break, // waited long enough, or every sender is gone
                    }
                }
                Err(_) => break,
            };
            take(next, &mut finished, &mut released);
        }
        // Outcomes the ledger could not take earlier are retried with each batch.
        pending_finished.append(&mut finished);
        pending_released.append(&mut released);
        match write_outcomes(&ledger, &mut pending_finished, &mut pending_released).await {
            Ok(released) => totals.released += released,
            // Stop sending: a send is only ever made when it can be recorded.
            Err(e) => stop_for_ledger(&stop, &e),
        }
    }
    // The ledger may come back: a few more tries (1 + 2 + 4 + 8 + 8 s) before giving up on
    // what is unwritten.
    for wait in [1, 2, 4, 8, 8] {
        if pending_finished.is_empty() && pending_released.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(wait)).await;
        if let Ok(released) =
            write_outcomes(&ledger, &mut pending_finished, &mut pending_released).await
        {
            totals.released += released;
        }
    }
    // Unwritten outcomes and put-backs stay `in_flight` rows: `unknown` at the next start.
    totals.unrecorded = pending_finished.len() + pending_released.len();
    totals
}

/// Writes pending outcomes and releases; on success both lists are emptied and the number
/// of releases is returned.
async fn write_outcomes(
    ledger: &SharedLedger,
    finished: &mut Vec<Finished>,
    released: &mut Vec<(String, Option<Status>)>,
) -> Result<usize, LedgerError> {
    let (f, r) = (std::mem::take(finished), std::mem::take(released));
    let handle = ledger.clone();
    // The lists travel to the blocking thread and back: kept for a retry if the write fails.
    let written = tokio::task::spawn_blocking(move || {
        let write = || {
            let mut ledger = handle.lock();
            if !f.is_empty() {
                ledger.finish(&f)?;
            }
            if !r.is_empty() {
                ledger.release(&r)?;
            }
            Ok(())
        };
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(write)).unwrap_or_else(|_| {
                Err(LedgerError::storage(
                    handle.location(),
                    "the ledger write panicked",
                ))
            });
        (result, f, r)
    })
    .await;
    match written {
        Ok((Ok(()), _, r)) => Ok(r.len()),
        Ok((Err(e), f, r)) => {
            *finished = f;
            *released = r;
            Err(e)
        }
        Err(e) => Err(ledger.task_failed(e)),
    }
}

pub(super) fn stop_for_ledger(stop: &watch::Sender<Option<StopReason>>, error: &LedgerError) {
    stop.send_if_modified(|reason| match reason {
        Some(StopReason::LedgerFailed(_)) => false,
        _ => {
            *reason = Some(StopReason::LedgerFailed(error.to_string()));
            true
        }
    });
}

/// `HTTP 400: {"error":"..."}` or the transport error.
pub(super) fn describe_failure(f: &Finished) -> String {
    crate::ledger::failure_reason(f.http_status, f.response.as_deref(), f.error.as_deref())
}
