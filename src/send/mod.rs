//! Sends planned requests to the ChitChatLabs API: each send is claimed in the ledger
//! before its request leaves and recorded after, paced by one token bucket for the whole
//! run, retried on transient failures, and stopped cleanly on Ctrl-C or too many failures.

mod dispatch;
mod feed;
mod outcome;
pub(crate) mod pacer;
pub(crate) mod progress;
mod recorder;
mod settings;
mod worker;

use std::fmt;
use std::sync::{Arc, Mutex};

use hyper::body::Bytes;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::api::http_client::HttpClient;
use crate::api::{ApiKey, Endpoints, SetupError};
use crate::campaign::Kind;
use crate::campaign::mobile::{Mobile, MobileMap};
use crate::ledger::{LedgerError, SharedLedger, Status};
use dispatch::Run;
use outcome::Outcome;
use pacer::Pacer;
use progress::Progress;
use worker::{JobQueue, work};

pub(crate) use feed::{Outgoing, feed, input};
use recorder::record;
pub(crate) use settings::Settings;

/// Why a run stopped before sending everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// More than the threshold of sends failed in a row.
    TooManyFailures(usize),
    /// The ledger stopped answering: nothing is sent that cannot be recorded first.
    LedgerFailed(String),
    /// A send failed in a way every send would (the API's TLS certificate was rejected).
    Unsendable(String),
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Interrupted => f.write_str("interrupted"),
            StopReason::TooManyFailures(n) => write!(
                f,
                "stopped early: {n} sends failed in a row (is the API or the key wrong?); fix the cause and apply again, adding --retry-failed"
            ),
            StopReason::LedgerFailed(e) => {
                write!(f, "the ledger failed, so nothing more was sent: {e}")
            }
            StopReason::Unsendable(e) => write!(
                f,
                "{e}; every send would fail the same way (does this machine trust the certificate's issuer? is CHITCHAT_BASE_URL right?): fix that and apply again, adding --retry-failed"
            ),
        }
    }
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub(crate) struct Report {
    pub sent: usize,
    /// Keys and reasons.
    pub failed: Vec<(String, String)>,
    pub unknown: Vec<(String, String)>,
    /// Due sends another run had already recorded (claimed or sent) by the time we got there.
    pub taken: usize,
    /// Claimed sends that never started because the run stopped; put back as they were.
    pub released: usize,
    /// Outcomes that could not be written (the ledger failed): those rows stay `in_flight`
    /// and become `unknown` when the ledger is next opened.
    pub unrecorded: usize,
    pub retries: usize,
    pub stopped: Option<StopReason>,
}

/// Sends through one HTTP client (one connection pool, keep-alive). The pacer, the limit on
/// requests in flight and the per-number spacing are shared by every run of one executor
/// (all campaigns of an apply; all occurrences of a daemon).
pub(crate) struct Executor {
    client: HttpClient,
    endpoints: Endpoints,
    key: ApiKey,
    settings: Settings,
    pacer: Pacer,
    slots: Arc<Semaphore>,
    last_start: Mutex<MobileMap<Instant>>,
}

/// A claimed send on its way out.
struct Job {
    key: String,
    kind: Kind,
    mobile: Option<Mobile>,
    /// The exact request body, built once per send (shared by every attempt).
    body: Bytes,
    /// The status it was claimed from (`None`: a new row).
    previous: Option<Status>,
}

impl Executor {
    pub(crate) fn new(
        endpoints: Endpoints,
        key: ApiKey,
        settings: Settings,
    ) -> Result<Executor, SetupError> {
        let client = HttpClient::new(
            endpoints.url(Kind::Single),
            settings.connect_timeout,
            settings.request_timeout,
            settings.concurrency,
        )
        .map_err(SetupError::Client)?;
        Ok(Executor {
            client,
            endpoints,
            key,
            pacer: Pacer::new(settings.rate),
            slots: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            last_start: Mutex::default(),
            settings,
        })
    }

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
