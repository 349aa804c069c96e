//! One run of the executor: the dispatcher starts the sends, each send is a task, and the
//! ledger writer commits their claims and outcomes; then the run drains.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::committer::Committer;
use super::context::RunContext;
use super::dispatch::dispatch;
use super::executor::Executor;
use super::feed::Outgoing;
use super::progress::Progress;
use super::report::{Report, StopReason};
use super::tally::Tally;
use crate::ledger::{LedgerError, SharedLedger};

impl Executor {
    /// Sends every send received from `sends` and records each in `ledger`. Returns when the
    /// stream ends or the run stops (`stop` set, or too many failures in a row). Requests in
    /// flight then get up to `drain_timeout` to finish; sends waiting to be retried later
    /// than that are put back, since they were not delivered. Nothing stays `in_flight`
    /// unless the ledger refused the write.
    pub(crate) async fn run(
        self: Arc<Self>,
        sends: mpsc::Receiver<Vec<Outgoing>>,
        ledger: SharedLedger,
        progress: Arc<Progress>,
        stop: watch::Sender<Option<StopReason>>,
    ) -> Result<Report, LedgerError> {
        let settings = &self.settings;
        let (committer, writer) = Committer::start(
            ledger.clone(),
            settings.retry_statuses.clone(),
            stop.clone(),
        );
        // The display's clock runs as long as the run: a JoinSet aborts its tasks when
        // dropped, on every way out.
        let mut display = JoinSet::new();
        display.spawn(progress.clone().redraw_on_clock());
        let (drain, draining) = watch::channel(None);
        let tally = Arc::new(Tally::new(
            progress,
            stop.clone(),
            settings.max_consecutive_failures,
        ));
        let drain_timeout = settings.drain_timeout;
        let ctx = Arc::new(RunContext {
            executor: self.clone(),
            committer,
            tally: tally.clone(),
            stop: stop.subscribe(),
            drain: draining,
        });
        let mut tasks = JoinSet::new();
        let pace = dispatch(&ctx, sends, &mut tasks).await;
        drop(ctx);
        let deadline = Instant::now() + drain_timeout;
        drain.send_replace(Some(deadline));
        let drained = tokio::time::timeout_at(deadline, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            // Each aborted send leaves the ledger right as it is dropped (see `job`).
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        // The last task is gone, and with it the last handle on the writer: it writes what
        // is left and ends.
        let unwritten = writer.await.map_err(|e| {
            LedgerError::storage(ledger.location(), format!("ledger writer failed: {e}"))
        })?;
        let mut report = tally.report();
        report.unrecorded = unwritten.outcomes + unwritten.releases;
        // A number two campaigns sent to may have asked twice: it is added once.
        let mut seen = std::collections::HashSet::new();
        report.optouts_unrecorded = unwritten
            .optouts
            .into_iter()
            .filter(|m| seen.insert(m.clone()))
            .collect();
        report.pace = pace;
        report.stopped = stop.borrow().clone();
        Ok(report)
    }
}
