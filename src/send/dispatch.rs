//! The dispatcher of one run: takes sends from the feed, holds back a number sent to moments
//! ago, claims batches in the ledger just before they leave, and hands each claimed send to
//! a worker once it has a request slot and the pacer's turn.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Bytes;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::executor::Executor;
use super::feed::Outgoing;
use super::outcome::Outcome;
use super::progress::Progress;
use super::report::{Report, StopReason};
use super::worker::{Job, JobQueue};
use crate::campaign::Kind;
use crate::campaign::mobile::Mobile;
use crate::ledger::{Claim, LedgerError, NewSend, SharedLedger};

/// A batch being committed as `in_flight` on a blocking thread, which hands the rows back.
struct PendingClaim {
    sends: Vec<(Kind, Option<Mobile>, Bytes)>,
    claims: tokio::task::JoinHandle<ClaimResult>,
    /// When the claim was asked for: with the instant it was committed, its latency.
    asked: Instant,
}

/// The claims, the keys of the rows, and when they were committed.
type ClaimResult = (Result<Vec<Claim>, LedgerError>, Vec<String>, Instant);

/// The state of one `Executor::run`: the input, sends held back by the per-number spacing,
/// and the tasks in flight.
pub(super) struct Run {
    executor: Arc<Executor>,
    ledger: SharedLedger,
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
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        executor: Arc<Executor>,
        ledger: SharedLedger,
        progress: Arc<Progress>,
        stop: watch::Sender<Option<StopReason>>,
        sends: mpsc::Receiver<Vec<Outgoing>>,
        queue: Arc<JobQueue>,
        workers: JoinSet<()>,
        done: mpsc::UnboundedSender<Outcome>,
    ) -> Run {
        Run {
            executor,
            ledger,
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
            done,
            report: Report::default(),
            claim_latency: Duration::ZERO,
            start_interval: None,
        }
    }

    /// What the dispatcher counted, and the run's stop signal; drops its end of the
    /// recorder's channel.
    pub(super) fn finish(self) -> (Report, watch::Sender<Option<StopReason>>) {
        (self.report, self.stop)
    }

    pub(super) fn stop_for(&self, reason: StopReason) {
        self.stop.send_replace(Some(reason));
    }

    fn stopped(&self) -> bool {
        self.stop_rx.borrow().is_some()
    }

    pub(super) async fn dispatch_all(&mut self) -> Result<(), LedgerError> {
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
                let claims = ledger.lock().claim(&records, &retry);
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
        let (claims, keys, committed) = claims.await.map_err(|e| self.ledger.task_failed(e))?;
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

    pub(super) async fn drain(&mut self) {
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
}
