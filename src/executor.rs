//! Sends planned requests to the ChitChatLabs API: each send is claimed in the ledger
//! before its request leaves and recorded after, paced by one token bucket for the whole
//! run, retried on transient failures, and stopped cleanly on Ctrl-C or too many failures.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Bytes;
use hyper::header::HeaderValue;
use hyper::{StatusCode, Uri};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::campaign::Kind;
use crate::http_client::{HttpClient, Response, TransportError};
use crate::ledger::{Claim, Finished, Ledger, LedgerError, NewSend};
use crate::pacer::Pacer;
use crate::planner::{PlannedSend, SendItem, Status, body_hash};
use crate::progress::Progress;
use crate::recipients::{Mobile, MobileMap};

pub const DEFAULT_BASE_URL: &str = "https://app.chitchatlabs.com";
pub const API_KEY_ENV: &str = "CHITCHAT_API_KEY";
pub const BASE_URL_ENV: &str = "CHITCHAT_BASE_URL";

/// The API key. Never printed: `Debug` and `Display` show a placeholder.
#[derive(Clone)]
pub struct ApiKey(HeaderValue);

impl ApiKey {
    /// Reads `CHITCHAT_API_KEY`; the only place a key is ever accepted from.
    pub fn from_env() -> Result<ApiKey, SetupError> {
        let key = std::env::var(API_KEY_ENV).unwrap_or_default();
        let key = key.trim();
        if key.is_empty() {
            return Err(SetupError::MissingKey);
        }
        let mut value = HeaderValue::from_str(key).map_err(|_| SetupError::InvalidKey)?;
        value.set_sensitive(true);
        Ok(ApiKey(value))
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "{API_KEY_ENV} is not set: export the tenant API key (Settings → Account Information) before apply"
    )]
    MissingKey,
    #[error("{API_KEY_ENV} contains characters that cannot be sent in an HTTP header")]
    InvalidKey,
    #[error("{BASE_URL_ENV} `{url}` is not a valid URL: {reason}")]
    InvalidBaseUrl { url: String, reason: String },
    #[error(
        "{BASE_URL_ENV} `{0}` uses plain http://, which is refused except on loopback (127.0.0.0/8, ::1, localhost); use https://"
    )]
    InsecureBaseUrl(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// The API's base URL with its two endpoints.
#[derive(Debug, Clone)]
pub struct Endpoints {
    single: Uri,
    blast: Uri,
}

impl Endpoints {
    /// Reads `CHITCHAT_BASE_URL` (default: the production API).
    pub fn from_env() -> Result<Endpoints, SetupError> {
        let base = std::env::var(BASE_URL_ENV).unwrap_or_else(|_| DEFAULT_BASE_URL.to_owned());
        Endpoints::new(&base)
    }

    pub fn new(base: &str) -> Result<Endpoints, SetupError> {
        let invalid = |reason: String| SetupError::InvalidBaseUrl {
            url: base.to_owned(),
            reason,
        };
        let url: Uri = base
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| invalid(e.to_string()))?;
        match url.scheme_str() {
            Some("https") => {}
            Some("http") if is_loopback(&url) => {}
            Some("http") => return Err(SetupError::InsecureBaseUrl(base.to_owned())),
            Some(other) => return Err(invalid(format!("unsupported scheme `{other}`"))),
            None => return Err(invalid("no scheme: start it with https://".to_owned())),
        }
        if url.host().is_none_or(str::is_empty) {
            return Err(invalid("no host".to_owned()));
        }
        if url.query().is_some() {
            return Err(invalid("a base URL takes no query string".to_owned()));
        }
        let root = base.trim_end_matches('/');
        let join = |path: &str| {
            format!("{root}/chat-service/apis/message/{path}")
                .parse::<Uri>()
                .map_err(|e| invalid(e.to_string()))
        };
        Ok(Endpoints {
            single: join("single")?,
            blast: join("blast")?,
        })
    }

    pub fn url(&self, kind: Kind) -> &Uri {
        match kind {
            Kind::Single => &self.single,
            Kind::Blast => &self.blast,
        }
    }
}

fn is_loopback(url: &Uri) -> bool {
    let Some(host) = url.host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Retries with exponential backoff and full jitter.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            max_attempts: 5,
        }
    }
}

impl RetryPolicy {
    /// Wait before attempt `attempt + 1` (after `attempt` failures): random in
    /// `[0, min(cap, base * 2^(attempt-1))]`, or the server's `Retry-After` when it gave one.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(MAX_RETRY_AFTER);
        }
        let ceiling = self
            .base
            .saturating_mul(1 << attempt.saturating_sub(1).min(20))
            .min(self.cap);
        ceiling.mul_f64(fastrand::f64())
    }
}

/// A `Retry-After` longer than this is cut short (the send is then retried or given up).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
pub struct Settings {
    /// Sends per second over the whole run; 0 means unlimited.
    pub rate: f64,
    /// Requests in flight at once.
    pub concurrency: usize,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// Stop the run after this many failed sends in a row.
    pub max_consecutive_failures: usize,
    /// Minimum time between two sends to one number (WhatsApp's per-user pair limit).
    /// Zero when no number can come twice (one campaign occurrence, whose numbers the
    /// planner made unique): no bookkeeping per number then.
    pub same_recipient_gap: Duration,
    /// On stop, how long to wait for requests in flight.
    pub drain_timeout: Duration,
    /// Ledger statuses that may be sent again (`--retry-failed`, `--retry-unknown`).
    pub retry_statuses: Vec<Status>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            rate: 20.0,
            concurrency: 8,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            max_consecutive_failures: 20,
            same_recipient_gap: Duration::from_secs(6),
            drain_timeout: Duration::from_secs(30),
            retry_statuses: Vec::new(),
        }
    }
}

/// Why a run stopped before sending everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
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
pub struct Report {
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
pub struct Executor {
    client: HttpClient,
    endpoints: Endpoints,
    key: ApiKey,
    settings: Settings,
    pacer: Pacer,
    slots: Arc<Semaphore>,
    last_start: Mutex<MobileMap<Instant>>,
}

/// What became of a send.
enum Outcome {
    /// Its last attempt, to record; `stops_run`: the way it failed would fail every send.
    Finished {
        finished: Finished,
        retries: usize,
        stops_run: bool,
    },
    /// The run stopped before it could be retried, and it is known not to have been
    /// delivered (429, refused connection): its claim is put back so the next run sends it.
    Released {
        key: String,
        previous: Option<Status>,
    },
}

/// A due send as the executor takes it: the ledger row to claim and the request body, built
/// by whoever produces the sends, on its own thread: rendering, serialising and hashing
/// stay off the thread that sends.
pub struct Outgoing {
    record: NewSend,
    kind: Kind,
    mobile: Option<Mobile>,
    body: Bytes,
}

impl Outgoing {
    pub fn new(send: PlannedSend) -> Outgoing {
        let body = send.body();
        let record = NewSend {
            campaign: send.campaign.name.clone(),
            file: send.campaign.file.to_string_lossy().into_owned(),
            occurrence: send.occurrence_text().to_owned(),
            endpoint: send.kind.as_str().to_owned(),
            request_hash: body_hash(&body),
            request: body,
            recipient: send.recipient,
            key: send.key,
        };
        Outgoing {
            body: Bytes::from(record.request.clone()),
            record,
            kind: send.kind,
            mobile: send.mobile,
        }
    }
}

/// Sends travel to the executor in chunks of this many: one channel operation, and at most
/// one wake-up of the planning thread, per chunk rather than per send (the executor takes
/// them faster than they are planned, so the channel is mostly full).
const INPUT_CHUNK: usize = 64;

/// The executor's input: chunks of sends, about a thousand sends deep.
pub fn input() -> (mpsc::Sender<Vec<Outgoing>>, mpsc::Receiver<Vec<Outgoing>>) {
    mpsc::channel(1024 / INPUT_CHUNK)
}

/// Plans the due sends among `items` (rendering, building and hashing each request body)
/// and hands them to `input`. Runs on a planning thread of its own; returns when every send
/// was handed over or the run stopped.
pub fn feed(items: impl Iterator<Item = SendItem>, input: &mpsc::Sender<Vec<Outgoing>>) {
    let mut chunk = Vec::with_capacity(INPUT_CHUNK);
    for item in items {
        if let SendItem::Send(send) = item
            && send.due
        {
            chunk.push(Outgoing::new(send));
            if chunk.len() == INPUT_CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(INPUT_CHUNK));
                if input.blocking_send(full).is_err() {
                    return; // the run stopped
                }
            }
        }
    }
    if !chunk.is_empty() {
        let _ = input.blocking_send(chunk);
    }
}

/// A batch being committed as `in_flight` on a blocking thread, which hands the rows back.
struct PendingClaim {
    sends: Vec<(Kind, Option<Mobile>, Bytes)>,
    claims: tokio::task::JoinHandle<ClaimResult>,
    /// When the claim was asked for: with the instant it was committed, its latency.
    asked: Instant,
}

/// The claims, the keys of the rows, and when they were committed.
type ClaimResult = (Result<Vec<Claim>, LedgerError>, Vec<String>, Instant);

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
    pub fn new(
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
    pub async fn run(
        self: Arc<Self>,
        sends: mpsc::Receiver<Vec<Outgoing>>,
        ledger: Arc<Mutex<Box<dyn Ledger>>>,
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
        let mut run = Run {
            executor: self.clone(),
            ledger: ledger.clone(),
            progress,
            stop_rx: stop.subscribe(),
            stop,
            sends,
            incoming: Vec::new().into_iter(),
            input_open: true,
            deferred: BinaryHeap::new(),
            sequence: 0,
            queue,
            workers,
            done: done_tx,
            report: Report::default(),
            claim_latency: Duration::ZERO,
            start_interval: None,
        };
        if let Err(e) = run.dispatch_all().await {
            run.stop
                .send_replace(Some(StopReason::LedgerFailed(e.to_string())));
        }
        run.drain().await;
        let Run {
            mut report,
            done,
            stop,
            ..
        } = run;
        drop(done);
        let recorded = recorder.await.map_err(|e| LedgerError::Storage {
            ledger: lock(&ledger).location().to_owned(),
            message: format!("recorder task failed: {e}"),
        })?;
        report.sent = recorded.sent;
        report.unrecorded = recorded.unrecorded;
        report.failed = recorded.failed;
        report.unknown = recorded.unknown;
        report.retries = recorded.retries;
        report.released += recorded.released;
        report.stopped = stop.borrow().clone();
        Ok(report)
    }

    /// One send, with retries; never fails, the outcome says what happened.
    async fn deliver(&self, job: &Job, stop: &mut watch::Receiver<Option<StopReason>>) -> Outcome {
        let retry = self.settings.retry;
        let url = self.endpoints.url(job.kind);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let result = self
                .client
                .post_json(url, &self.key.0, job.body.clone())
                .await;
            let attempt = match result {
                Ok(response) => Attempt::from_response(response, &self.pacer),
                Err(e) => Attempt::from_error(&e),
            };
            let finished = |attempt: Attempt| Outcome::Finished {
                finished: Finished {
                    key: job.key.clone(),
                    status: attempt.status,
                    attempts,
                    http_status: attempt.http_status,
                    response: attempt.response,
                    error: attempt.error,
                },
                retries: (attempts - 1) as usize,
                stops_run: attempt.stops_run,
            };
            if attempts >= retry.max_attempts || !attempt.retryable {
                return finished(attempt);
            }
            let wait = retry.delay(attempts, attempt.retry_after);
            let stopped = stop.borrow().is_some()
                || tokio::select! {
                    _ = tokio::time::sleep(wait) => false,
                    _ = stop.changed() => true,
                };
            if stopped {
                // No new request after a stop. A send known not to have been delivered is
                // put back for the next run; anything else is recorded as it stands.
                return if attempt.not_delivered {
                    Outcome::Released {
                        key: job.key.clone(),
                        previous: job.previous,
                    }
                } else {
                    finished(attempt)
                };
            }
        }
    }
}

/// The state of one `Executor::run`: the input, sends held back by the per-number spacing,
/// and the tasks in flight.
struct Run {
    executor: Arc<Executor>,
    ledger: Arc<Mutex<Box<dyn Ledger>>>,
    progress: Arc<Progress>,
    stop: watch::Sender<Option<StopReason>>,
    stop_rx: watch::Receiver<Option<StopReason>>,
    sends: mpsc::Receiver<Vec<Outgoing>>,
    /// The rest of the last chunk received from `sends`.
    incoming: std::vec::IntoIter<Outgoing>,
    input_open: bool,
    deferred: BinaryHeap<Reverse<Deferred>>,
    sequence: u64,
    /// Jobs handed to the workers, each holding a request slot.
    queue: Arc<JobQueue>,
    /// One task per request slot, each sending one job at a time.
    workers: JoinSet<()>,
    done: mpsc::UnboundedSender<Outcome>,
    report: Report,
    /// How long a claim takes to commit (a moving average): how far ahead the next batch
    /// must be claimed for the sends not to wait for it.
    claim_latency: Duration,
    /// The time between two starts in the last batch; `None` before one was measured.
    start_interval: Option<Duration>,
}

impl Run {
    fn stopped(&self) -> bool {
        self.stop_rx.borrow().is_some()
    }

    async fn dispatch_all(&mut self) -> Result<(), LedgerError> {
        let mut claiming = None;
        let result = self.dispatch(&mut claiming).await;
        // Stopped (or the ledger failed) while the next batch was being claimed: whatever
        // that claim took is put back.
        if let Some(pending) = claiming
            && let Ok(jobs) = self.claimed(pending).await
        {
            self.release(jobs);
        }
        result
    }

    /// Claims a batch and starts its sends; the next batch is claimed on a blocking thread
    /// while the last of them start (see [`Run::start`]).
    async fn dispatch(&mut self, claiming: &mut Option<PendingClaim>) -> Result<(), LedgerError> {
        while !self.stopped() {
            let pending = match claiming.take() {
                Some(pending) => pending,
                None => {
                    let Some(batch) = self.next_batch().await else {
                        break;
                    };
                    let ready = self.admit(batch);
                    if ready.is_empty() {
                        continue;
                    }
                    self.claim(ready)
                }
            };
            let jobs = self.claimed(pending).await?;
            if !self.start(jobs, claiming).await? {
                break;
            }
        }
        Ok(())
    }

    /// Claims what is ready of the next batch, unless a claim is already under way.
    fn claim_ahead(&mut self, claiming: &mut Option<PendingClaim>) {
        if claiming.is_some() {
            return;
        }
        let mut next = Vec::new();
        self.ready_now(&mut next);
        let next = self.admit(next);
        if !next.is_empty() {
            *claiming = Some(self.claim(next));
        }
    }

    /// The next sends to consider: deferred ones whose gap has passed, then new ones.
    /// `None` when everything was dispatched or the run stopped.
    async fn next_batch(&mut self) -> Option<Vec<Outgoing>> {
        loop {
            let mut batch = Vec::new();
            self.ready_now(&mut batch);
            if !batch.is_empty() {
                return Some(batch);
            }
            if !self.input_open && self.deferred.is_empty() {
                return None; // input closed, nothing held back
            }
            let wake = self.deferred.peek().map(|d| d.0.ready);
            tokio::select! {
                biased;
                _ = self.stop_rx.changed() => return None,
                _ = sleep_until_opt(wake) => {}
                next = self.sends.recv(), if self.input_open => match next {
                    Some(chunk) => self.incoming = chunk.into_iter(),
                    None => self.input_open = false,
                },
            }
        }
    }

    /// Fills `batch` up to the batch size with what is ready without waiting: deferred
    /// sends whose gap has passed, then new ones already queued.
    fn ready_now(&mut self, batch: &mut Vec<Outgoing>) {
        let settings = &self.executor.settings;
        let size = claim_batch(
            settings.rate,
            settings.concurrency,
            self.claim_latency,
            self.start_interval,
        );
        let now = Instant::now();
        while batch.len() < size && self.deferred.peek().is_some_and(|d| d.0.ready <= now) {
            if let Some(Reverse(d)) = self.deferred.pop() {
                batch.push(d.send);
            }
        }
        while batch.len() < size {
            if let Some(send) = self.incoming.next() {
                batch.push(send);
                continue;
            }
            if !self.input_open {
                break;
            }
            match self.sends.try_recv() {
                Ok(chunk) => self.incoming = chunk.into_iter(),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => self.input_open = false,
            }
        }
    }

    /// Holds back sends to a number that was (or is about to be) sent to less than
    /// `same_recipient_gap` ago, from another campaign. Admitted numbers are booked at once,
    /// so two sends to one number in one batch are spaced too.
    fn admit(&mut self, batch: Vec<Outgoing>) -> Vec<Outgoing> {
        let gap = self.executor.settings.same_recipient_gap;
        if gap.is_zero() {
            return batch;
        }
        let now = Instant::now();
        let mut last = self
            .executor
            .last_start
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut ready = Vec::with_capacity(batch.len());
        for send in batch {
            let Some(mobile) = send.mobile else {
                ready.push(send);
                continue;
            };
            match last.get(&mobile).map(|t| *t + gap).filter(|t| *t > now) {
                Some(at) => {
                    self.sequence += 1;
                    self.deferred.push(Reverse(Deferred {
                        ready: at,
                        sequence: self.sequence,
                        send,
                    }));
                }
                None => {
                    last.insert(mobile, now);
                    ready.push(send);
                }
            }
        }
        ready
    }

    /// Starts committing the sends as `in_flight`, on a blocking thread.
    fn claim(&self, ready: Vec<Outgoing>) -> PendingClaim {
        let (records, sends): (Vec<NewSend>, Vec<_>) = ready
            .into_iter()
            .map(|o| (o.record, (o.kind, o.mobile, o.body)))
            .unzip();
        let retry = self.executor.settings.retry_statuses.clone();
        let ledger = self.ledger.clone();
        PendingClaim {
            sends,
            claims: tokio::task::spawn_blocking(move || {
                let claims = lock(&ledger).claim(&records, &retry);
                let committed = Instant::now();
                // The rest of each row is freed here, off the sending thread.
                let keys = records.into_iter().map(|r| r.key).collect();
                (claims, keys, committed)
            }),
            asked: Instant::now(),
        }
    }

    /// The jobs of a claim once committed; sends another run recorded are skipped.
    async fn claimed(&mut self, pending: PendingClaim) -> Result<Vec<Job>, LedgerError> {
        let PendingClaim {
            sends,
            claims,
            asked,
        } = pending;
        let (claims, keys, committed) = claims.await.map_err(task_failed)?;
        let latency = committed.saturating_duration_since(asked);
        self.claim_latency = if self.claim_latency.is_zero() {
            latency
        } else {
            (self.claim_latency * 3 + latency) / 4
        };
        let mut jobs = Vec::with_capacity(sends.len());
        for (((kind, mobile, body), key), claim) in sends.into_iter().zip(keys).zip(claims?) {
            match claim {
                Claim::Claimed(previous) => jobs.push(Job {
                    key,
                    kind,
                    mobile,
                    body,
                    previous,
                }),
                Claim::Taken => {
                    self.report.taken += 1;
                    self.progress.skipped();
                }
            }
        }
        Ok(jobs)
    }

    /// Starts each job when a request slot and the pacer allow. Returns false when the run
    /// stopped first; the jobs not started are put back as they were.
    ///
    /// When the last round of jobs (one per request slot) is about to start, the next batch
    /// is claimed: its disk flush then overlaps those requests. Not earlier, so that a crash
    /// or a ledger outage leaves few claimed sends that never left.
    async fn start(
        &mut self,
        jobs: Vec<Job>,
        claiming: &mut Option<PendingClaim>,
    ) -> Result<bool, LedgerError> {
        let executor = self.executor.clone();
        // Paced sends wait for the pacer anyway; only an unlimited rate claims ahead.
        let unlimited = executor.settings.rate <= 0.0;
        let last_round = if unlimited {
            executor.settings.concurrency.max(1)
        } else {
            0
        };
        // Also early enough for the claim to be committed before this batch is all out, at
        // the pace of the last batch: up to two batches are then claimed and not yet sent.
        let lead = if unlimited {
            self.claim_latency * 2
        } else {
            Duration::ZERO
        };
        // The pace is timed from the start that follows one per request slot: starts before
        // it may only have filled idle slots, and timing those made a slow run (a 300 ms
        // API, 2 slots) look instant and claim everything at once.
        let slots = executor.settings.concurrency.max(1);
        let count = jobs.len();
        let mut paced_from = None;
        let mut jobs = jobs.into_iter().enumerate();
        while let Some((index, job)) = jobs.next() {
            let left = jobs.len();
            let behind = self
                .start_interval
                .and_then(|interval| interval.checked_mul(left as u32))
                .is_some_and(|time_left| time_left < lead);
            if left < last_round || behind {
                self.claim_ahead(claiming);
            }
            let ready_to_go = async {
                let permit = executor.slots.acquire().await;
                executor.pacer.acquire().await;
                permit
            };
            let permit = tokio::select! {
                biased;
                _ = self.stop_rx.changed() => None,
                permit = ready_to_go => permit.ok(),
            };
            let Some(permit) = permit else {
                self.release(std::iter::once(job).chain(jobs.map(|(_, job)| job)));
                return Ok(false);
            };
            // The worker that sends the job gives the slot back (see `Delivering`).
            permit.forget();
            let now = Instant::now();
            if index == slots {
                paced_from = Some(now);
            }
            if let Some(mobile) = job.mobile
                && !executor.settings.same_recipient_gap.is_zero()
            {
                executor
                    .last_start
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(mobile, now);
            }
            self.queue.push(job);
        }
        if let Some(from) = paced_from
            && count > slots + 1
        {
            self.start_interval = Some(from.elapsed() / (count - 1 - slots) as u32);
        }
        Ok(true)
    }

    /// Waits for requests in flight (up to `drain_timeout`); any still running then are
    /// recorded as `unknown`.
    /// Claimed sends that never left: the recorder puts them back (retrying if the ledger
    /// is down) and counts them once that is written.
    fn release(&self, jobs: impl IntoIterator<Item = Job>) {
        for job in jobs {
            let _ = self.done.send(Outcome::Released {
                key: job.key,
                previous: job.previous,
            });
        }
    }

    async fn drain(&mut self) {
        self.queue.close();
        let timeout = self.executor.settings.drain_timeout;
        let workers = &mut self.workers;
        let drained = tokio::time::timeout(timeout, async {
            while workers.join_next().await.is_some() {}
        })
        .await;
        if drained.is_ok() {
            return;
        }
        // Each aborted worker records its send `unknown` as it is dropped (`Delivering`).
        self.workers.abort_all();
        while self.workers.join_next().await.is_some() {}
        // Jobs queued but never taken hold a slot each, which no worker will give back.
        let unsent = self.queue.take_all();
        self.executor.slots.add_permits(unsent.len());
        self.release(unsent);
    }
}

/// Most sends claimed at once (an unlimited rate at a fast pace).
const MAX_CLAIM_BATCH: usize = 512;

/// How many sends to claim at once. Claims are made just before sending, in batches: small
/// when paced (a SIGKILL then leaves few claimed-but-unsent rows, which become `unknown`).
/// At an unlimited rate a batch lasts four claim latencies at the pace of the last batch,
/// between two per request slot and [`MAX_CLAIM_BATCH`]: the next batch, claimed as this
/// one starts, is then committed before it is all out even when a claim takes twice as
/// long as usual (a slow disk flush), and a slow API still claims few at a time. Not fewer
/// than two per slot: the pace is only timed in batches bigger than one per slot (see
/// [`Run::start`]), and a batch size stuck at the floor could never grow again.
fn claim_batch(
    rate: f64,
    concurrency: usize,
    claim_latency: Duration,
    start_interval: Option<Duration>,
) -> usize {
    let concurrency = concurrency.max(1);
    if rate > 0.0 {
        return ((rate / 4.0).ceil() as usize)
            .clamp(1, 64)
            .min(concurrency * 2);
    }
    match start_interval {
        Some(interval) if !interval.is_zero() => {
            let lasting = (claim_latency * 4).as_nanos() / interval.as_nanos();
            usize::try_from(lasting)
                .unwrap_or(usize::MAX)
                .max(concurrency * 2)
                .min(MAX_CLAIM_BATCH)
        }
        // Not measured yet (the first batches).
        _ => (concurrency * 4).min(256),
    }
}

/// Jobs for the workers, first in first out. The dispatcher queues a job only once it has
/// its request slot, so an idle worker is there to take it.
#[derive(Default)]
struct JobQueue {
    jobs: Mutex<VecDeque<Job>>,
    added: Notify,
    closed: AtomicBool,
}

impl JobQueue {
    fn push(&self, job: Job) {
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(job);
        self.added.notify_one();
    }

    /// The next job; `None` once the queue is closed and empty.
    async fn next(&self) -> Option<Job> {
        loop {
            // Registered before looking, so a push or close in between still wakes us.
            let added = self.added.notified();
            tokio::pin!(added);
            added.as_mut().enable();
            if let Some(job) = self
                .jobs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front()
            {
                return Some(job);
            }
            if self.closed.load(Ordering::Acquire) {
                return None;
            }
            added.await;
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.added.notify_waiters();
    }

    fn take_all(&self) -> Vec<Job> {
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect()
    }
}

/// A worker: sends the queued jobs one at a time until the queue closes. Long-lived workers,
/// not a task per send: spawning one costs more than the rest of the dispatch.
async fn work(
    executor: Arc<Executor>,
    queue: Arc<JobQueue>,
    done: mpsc::UnboundedSender<Outcome>,
    mut stop: watch::Receiver<Option<StopReason>>,
) {
    while let Some(job) = queue.next().await {
        let mut delivering = Delivering {
            job,
            reported: false,
            done: &done,
            slots: &executor.slots,
        };
        let outcome = executor.deliver(&delivering.job, &mut stop).await;
        delivering.reported = true;
        let _ = done.send(outcome);
    }
}

/// A send on its way out, holding a request slot. Dropped before its outcome was reported
/// (the drain timed out and the worker was aborted), it reports the send `unknown`: the
/// request may or may not have reached the API. Either way the slot is given back.
struct Delivering<'a> {
    job: Job,
    reported: bool,
    done: &'a mpsc::UnboundedSender<Outcome>,
    slots: &'a Semaphore,
}

impl Drop for Delivering<'_> {
    fn drop(&mut self) {
        if !self.reported {
            let _ = self.done.send(Outcome::Finished {
                finished: Finished {
                    key: std::mem::take(&mut self.job.key),
                    status: Status::Unknown,
                    attempts: 1,
                    http_status: None,
                    response: None,
                    error: Some("the run stopped while this request was in flight; it may or may not have been sent".to_owned()),
                },
                retries: 0,
                stops_run: false,
            });
        }
        self.slots.add_permits(1);
    }
}

/// The result of one HTTP attempt.
struct Attempt {
    /// What to record if this is the last attempt.
    status: Status,
    http_status: Option<u16>,
    response: Option<String>,
    error: Option<String>,
    retryable: bool,
    retry_after: Option<Duration>,
    /// The API certainly did not send the message (429, or the connection was refused).
    not_delivered: bool,
    /// Every other send would fail the same way: the run stops.
    stops_run: bool,
}

impl Attempt {
    fn from_response(response: Response, pacer: &Pacer) -> Attempt {
        let code = response.status;
        let retry_after = retry_after(response.retry_after.as_ref());
        if code == StatusCode::TOO_MANY_REQUESTS {
            pacer.slow_down();
        }
        Attempt {
            status: if code.is_success() {
                Status::Sent
            } else {
                Status::Failed
            },
            http_status: Some(code.as_u16()),
            response: Some(response.body),
            error: None,
            // Other 4xx are permanent: the request itself is wrong.
            retryable: code == StatusCode::TOO_MANY_REQUESTS || code.is_server_error(),
            retry_after,
            not_delivered: code == StatusCode::TOO_MANY_REQUESTS,
            // An answer is about this request: 401 and the like count towards
            // --max-failures instead.
            stops_run: false,
        }
    }

    fn from_error(e: &TransportError) -> Attempt {
        Attempt {
            // A refused connection never reached the API; a timeout or a reset after the
            // request was written may have: the message may or may not have gone out.
            status: if e.not_sent() {
                Status::Failed
            } else {
                Status::Unknown
            },
            http_status: None,
            response: None,
            error: Some(e.to_string()),
            retryable: e.retryable(),
            retry_after: None,
            not_delivered: e.not_sent(),
            // A transport error that trying again cannot fix is not about this send.
            stops_run: !e.retryable(),
        }
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

struct Deferred {
    ready: Instant,
    sequence: u64,
    send: Outgoing,
}

impl PartialEq for Deferred {
    fn eq(&self, other: &Self) -> bool {
        (self.ready, self.sequence) == (other.ready, other.sequence)
    }
}

impl Eq for Deferred {}

impl PartialOrd for Deferred {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Deferred {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.ready, self.sequence).cmp(&(other.ready, other.sequence))
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

pub fn lock(ledger: &Mutex<Box<dyn Ledger>>) -> std::sync::MutexGuard<'_, Box<dyn Ledger>> {
    ledger.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs ledger I/O off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, LedgerError> + Send + 'static,
) -> Result<T, LedgerError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(task_failed(e)))
}

/// A ledger task on a blocking thread that panicked or was cancelled.
fn task_failed(e: tokio::task::JoinError) -> LedgerError {
    LedgerError::Storage {
        ledger: String::new(),
        message: format!("ledger task failed: {e}"),
    }
}

/// Totals kept by the recorder.
#[derive(Default)]
struct Recorded {
    sent: usize,
    released: usize,
    unrecorded: usize,
    failed: Vec<(String, String)>,
    unknown: Vec<(String, String)>,
    retries: usize,
}

/// Records outcomes in batches, counts them, and stops the run after too many failures in a
/// row.
/// Most outcomes written in one ledger transaction.
const RECORD_BATCH: usize = 512;
/// Longest wait for a quarter of [`RECORD_BATCH`] before writing what arrived.
const RECORD_WAIT: Duration = Duration::from_millis(10);

async fn record(
    mut done: mpsc::UnboundedReceiver<Outcome>,
    ledger: Arc<Mutex<Box<dyn Ledger>>>,
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
    ledger: &Arc<Mutex<Box<dyn Ledger>>>,
    finished: &mut Vec<Finished>,
    released: &mut Vec<(String, Option<Status>)>,
) -> Result<usize, LedgerError> {
    let (f, r) = (std::mem::take(finished), std::mem::take(released));
    let handle = ledger.clone();
    // The lists travel to the blocking thread and back: kept for a retry if the write fails.
    let written = tokio::task::spawn_blocking(move || {
        let write = || {
            let mut ledger = lock(&handle);
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
                Err(LedgerError::Storage {
                    ledger: String::new(),
                    message: "the ledger write panicked".to_owned(),
                })
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
        Err(e) => Err(task_failed(e)),
    }
}

fn stop_for_ledger(stop: &watch::Sender<Option<StopReason>>, error: &LedgerError) {
    stop.send_if_modified(|reason| match reason {
        Some(StopReason::LedgerFailed(_)) => false,
        _ => {
            *reason = Some(StopReason::LedgerFailed(error.to_string()));
            true
        }
    });
}

/// `HTTP 400: {"error":"..."}` or the transport error.
pub fn describe_failure(f: &Finished) -> String {
    crate::ledger::failure_reason(f.http_status, f.response.as_deref(), f.error.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_batches_last_four_claim_latencies_at_an_unlimited_rate() {
        let ms = Duration::from_millis;
        let us = Duration::from_micros;
        // Paced: a quarter second's worth, at most 64 and two per request slot.
        assert_eq!(claim_batch(20.0, 8, ms(2), Some(ms(50))), 5);
        assert_eq!(claim_batch(1000.0, 64, ms(2), None), 64);
        assert_eq!(claim_batch(1000.0, 8, ms(2), None), 16);
        // Unlimited, before the pace is known.
        assert_eq!(claim_batch(0.0, 64, Duration::ZERO, None), 256);
        assert_eq!(claim_batch(0.0, 8, Duration::ZERO, None), 32);
        // A fast loopback API: 2 ms claims, a start every 14 µs -> 571, capped.
        assert_eq!(claim_batch(0.0, 64, ms(2), Some(us(14))), MAX_CLAIM_BATCH);
        // 2 ms claims, a start every 40 µs: 200 sends last 8 ms.
        assert_eq!(claim_batch(0.0, 64, ms(2), Some(us(40))), 200);
        // A slow API (a start every 3 ms): two per request slot.
        assert_eq!(claim_batch(0.0, 64, ms(2), Some(ms(3))), 128);
        assert_eq!(claim_batch(0.0, 1000, ms(2), Some(us(1))), MAX_CLAIM_BATCH);
        assert_eq!(claim_batch(0.0, 64, ms(2), Some(Duration::ZERO)), 256);
    }

    #[test]
    fn base_urls() {
        let e = Endpoints::new("https://app.chitchatlabs.com/").unwrap();
        assert_eq!(
            e.url(Kind::Single).to_string(),
            "https://app.chitchatlabs.com/chat-service/apis/message/single"
        );
        assert_eq!(
            e.url(Kind::Blast).to_string(),
            "https://app.chitchatlabs.com/chat-service/apis/message/blast"
        );
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.3.2.1",
            "http://[::1]:9",
            "http://localhost:1",
        ] {
            assert!(Endpoints::new(ok).is_ok(), "{ok}");
        }
        for refused in ["http://example.com", "http://10.0.0.1", "http://[::2]"] {
            assert!(
                matches!(Endpoints::new(refused), Err(SetupError::InsecureBaseUrl(_))),
                "{refused}"
            );
        }
        assert!(matches!(
            Endpoints::new("ftp://x"),
            Err(SetupError::InvalidBaseUrl { .. })
        ));
        assert!(matches!(
            Endpoints::new("not a url"),
            Err(SetupError::InvalidBaseUrl { .. })
        ));
    }

    #[test]
    fn backoff_is_bounded_and_honours_retry_after() {
        let policy = RetryPolicy::default();
        for attempt in 1..10 {
            let d = policy.delay(attempt, None);
            let ceiling = Duration::from_millis(500 * (1 << (attempt - 1))).min(policy.cap);
            assert!(d <= ceiling, "{attempt}: {d:?}");
        }
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(9999))),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(
            retry_after(Some(&HeaderValue::from_static("3"))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(retry_after(Some(&HeaderValue::from_static("soon"))), None);
        let future = (chrono::Utc::now() + chrono::TimeDelta::seconds(60)).to_rfc2822();
        let d = retry_after(Some(&HeaderValue::from_str(&future).unwrap())).unwrap();
        assert!(d > Duration::from_secs(50) && d <= Duration::from_secs(60));
    }

    #[test]
    fn api_key_is_never_shown() {
        let key = ApiKey(HeaderValue::from_static("secret-key"));
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
    }
}
