//! One run of the executor: the dispatcher, the workers and the recorder, wired together
//! for one stream of sends.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::dispatch::Run;
use super::executor::Executor;
use super::feed::Outgoing;
use super::outcome::Outcome;
use super::progress::Progress;
use super::recorder::record;
use super::report::{Report, StopReason};
use super::worker::{JobQueue, work};
use crate::ledger::{LedgerError, SharedLedger};

impl Executor {
    /// Sends every due send received from `sends` and records each in `ledger`. Returns when
    /// the stream ends or the run stops (`stop` set, or too many failures in a row); sends
    /// still in flight then get up to `drain_timeout` to finish, and nothing stays
    /// `in_flight`.
    pub(crate) async fn run(
        self: Arc<Self>,
        sends: mpsc::Receiver<Vec<Outgoing>>,
        ledger: SharedLedger,
        progress: Arc<Progress>,
        stop: watch::Sender<Option<StopReason>>,
    ) -> Result<Report, LedgerError> {
        let (done_tx, done_rx) = mpsc::unbounded_channel::<Outcome>();
        let recorder = tokio::spawn(record(
            done_rx,
            ledger.clone(),
            progress.clone(),
            stop.clone(),
            self.settings.max_consecutive_failures,
        ));
        let queue = Arc::new(JobQueue::default());
        let mut workers = JoinSet::new();
        for _ in 0..self.settings.concurrency.max(1) {
            workers.spawn(work(
                self.clone(),
                queue.clone(),
                done_tx.clone(),
                stop.subscribe(),
            ));
        }
        let mut run = Run::new(
            self.clone(),
            ledger.clone(),
            progress,
            stop,
            sends,
            queue,
            workers,
            done_tx,
        );
        if let Err(e) = run.dispatch_all().await {
            run.stop_for(StopReason::LedgerFailed(e.to_string()));
        }
        run.drain().await;
        let (mut report, stop) = run.finish();
        let recorded = recorder.await.map_err(|e| {
            LedgerError::storage(ledger.location(), format!("recorder task failed: {e}"))
        })?;
        recorded.add_to(&mut report);
        report.stopped = stop.borrow().clone();
        Ok(report)
    }
}
