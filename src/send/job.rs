//! One send, from its claim to its recorded outcome: claim (wait for the commit), write the
//! request, decide what the answer means, and record it, retrying what was certainly not
//! processed. A send of a campaign that WhatsApp stopped (a template error) is not started.

use std::sync::Arc;

use hyper::body::Bytes;
use tokio::time::Instant;

use super::context::RunContext;
use super::feed::Outgoing;
use super::outcome::{Record, Verdict, classify};
use super::slots::Slot;
use crate::api::{Exchange, WaAction};
use crate::campaign::Kind;
use crate::campaign::mobile::Mobile;
use crate::ledger::{Claim, Finished, OptOut, Status, timestamp};

/// Where a send stands, for what must happen if its task is dropped (the drain ran out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing in the ledger depends on this task: not claimed, released, or recorded.
    Settled,
    /// Claimed, its request not written: put back if dropped.
    Claimed,
    /// Its request may have reached the API: `unknown` if dropped.
    Written,
}

/// A send in progress. Dropped before its outcome was recorded (the drain timed out and the
/// task was aborted), it leaves the ledger right: a claim whose request was not written is
/// put back, one whose request may have gone out is recorded `unknown`.
struct Job {
    ctx: Arc<RunContext>,
    key: String,
    kind: Kind,
    body: Bytes,
    mobile: Option<Mobile>,
    phase: Phase,
    /// The status the row was claimed from (`None`: a new row).
    previous: Option<Status>,
    attempts: u32,
    retries: usize,
    ambiguous_retries: usize,
    /// The wait before trying again after an outcome that was certainly not processed.
    next_wait: Option<std::time::Duration>,
}

/// Sends one claimed-to-be send, holding `slot` until its outcome is committed, so that the
/// rows left `in_flight` by a crash are never more than the slots (while it waits to be
/// retried it holds no claim, and gives its slot to other sends). Its first request leaves
/// at the pacer's `turn`, booked by the dispatcher.
pub(super) async fn send(
    ctx: Arc<RunContext>,
    outgoing: Outgoing,
    slot: Slot,
    mut turn: Option<Instant>,
) {
    let mut slot = Some(slot);
    let Outgoing {
        record,
        kind,
        body,
        mobile,
    } = outgoing;
    let mut job = Job {
        key: record.key.clone(),
        ctx,
        kind,
        body,
        mobile,
        phase: Phase::Settled,
        previous: None,
        attempts: 0,
        retries: 0,
        ambiguous_retries: 0,
        next_wait: None,
    };
    loop {
        // WhatsApp said the campaign's template is wrong: not claimed (again), never sent.
        if job.ctx.tally.campaign_stopped(job.campaign()) {
            return job.ctx.tally.not_started(job.campaign(), job.retries);
        }
        let claiming = Instant::now();
        match job.ctx.committer.claim(record.clone()).await {
            // The writer stopped the run; nothing was sent.
            Err(_) => return,
            Ok(Claim::Taken) => return job.ctx.tally.taken(),
            Ok(Claim::OptedOut) => return job.ctx.tally.suppressed_at_claim(),
            Ok(Claim::Claimed(previous)) => {
                job.previous = previous;
                job.phase = Phase::Claimed;
            }
        }
        let pacer = &job.ctx.executor.pacer;
        pacer.observe_claim(claiming.elapsed());
        // A stop meanwhile is seen by `attempt`, which puts the claim back.
        job.ctx.until(turn.take()).await;
        if !job.attempt().await {
            break;
        }
        // Certainly not processed: put back, then claimed again after the wait (another run
        // may have taken it meanwhile).
        if !job
            .ctx
            .committer
            .release(job.key.clone(), job.previous)
            .await
        {
            // The ledger failed (the run stops); the put-back stays queued.
            job.phase = Phase::Settled;
            break;
        }
        job.phase = Phase::Settled;
        let wait = job.next_wait.take().unwrap_or_default();
        // Waiting, it holds no claim: its slot serves other sends meanwhile (a number held
        // back by WhatsApp's pair rate limit holds back no other).
        drop(slot.take());
        if !job.ctx.wait(wait).await {
            job.ctx.tally.released(job.retries);
            break;
        }
        slot = job.ctx.slot().await;
        if slot.is_none() || !job.ctx.paced().await {
            job.ctx.tally.released(job.retries);
            break;
        }
        job.retries += 1;
    }
    drop(slot);
}

impl Job {
    /// Writes the request until an outcome is recorded (false), or until it was certainly
    /// not processed and is to be tried again (true; `next_wait` says when).
    async fn attempt(&mut self) -> bool {
        let settings = &self.ctx.executor.settings;
        let (retry, max_attempts) = (settings.retry, settings.retry.max_attempts);
        let retry_ambiguous = settings.retry_ambiguous;
        // The last ambiguous outcome, while it is retried: what is recorded if the run stops.
        let mut ambiguous: Option<Record> = None;
        loop {
            let campaign_stopped = self.ctx.tally.campaign_stopped(self.campaign());
            if self.ctx.stopped() || campaign_stopped {
                if let Some(record) = ambiguous {
                    // It may have been delivered: recorded as it stands, not put back.
                    self.record(record).await;
                    return false;
                }
                // Stopped between the claim and the request: put back (counted once it is:
                // a put-back the ledger refused stays claimed, and is said to be).
                self.phase = Phase::Settled;
                if self
                    .ctx
                    .committer
                    .release(self.key.clone(), self.previous)
                    .await
                {
                    match campaign_stopped {
                        true => self.ctx.tally.not_started(self.campaign(), self.retries),
                        false => self.ctx.tally.released(self.retries),
                    }
                }
                return false;
            }
            self.phase = Phase::Written;
            self.attempts += 1;
            self.book_number();
            let exchange = self
                .ctx
                .executor
                .client
                .post(self.kind, self.body.clone())
                .await;
            if let Exchange::Answered(answer) = &exchange {
                let executor = &self.ctx.executor;
                executor
                    .slots
                    .observe(answer.latency, executor.current_rate());
            }
            match classify(exchange) {
                Verdict::Final(record) => {
                    self.record(record).await;
                    return false;
                }
                Verdict::Ambiguous(record) => {
                    if !retry_ambiguous || self.attempts >= max_attempts {
                        self.record(record).await;
                        return false;
                    }
                    // The row stays `in_flight`: the request may have been delivered.
                    if !self.ctx.wait(retry.delay(self.attempts, None)).await
                        || !self.ctx.paced().await
                    {
                        self.record(record).await;
                        return false;
                    }
                    ambiguous = Some(record);
                    self.retries += 1;
                    self.ambiguous_retries += 1;
                }
                Verdict::NotProcessed {
                    record,
                    retry_after,
                    rate_limited,
                    number_limited,
                } => {
                    if rate_limited {
                        self.ctx.executor.pacer.slow_down();
                    }
                    if number_limited {
                        // Other campaigns' sends to this number wait from now, not from
                        // when this request was written.
                        self.book_number();
                    }
                    if self.attempts >= max_attempts {
                        // After an ambiguous attempt it may still have been delivered.
                        self.record(ambiguous.take().unwrap_or(record)).await;
                        return false;
                    }
                    let wait = retry.delay(self.attempts, retry_after);
                    if let Some(earlier) = ambiguous.take() {
                        // An earlier attempt may have been delivered: the row stays claimed.
                        if !self.ctx.wait(wait).await || !self.ctx.paced().await {
                            self.record(earlier).await;
                            return false;
                        }
                        ambiguous = Some(earlier);
                        self.retries += 1;
                        continue;
                    }
                    self.next_wait = Some(wait);
                    self.phase = Phase::Claimed;
                    return true;
                }
            }
        }
    }

    /// Notes when this number was last sent to, for the spacing between two campaigns' sends
    /// to one number (see `dispatch`), at the moment its request is written.
    fn book_number(&self) {
        let executor = &self.ctx.executor;
        if let Some(mobile) = self.mobile
            && !executor.settings.same_recipient_gap.is_zero()
        {
            executor
                .last_start
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(mobile, tokio::time::Instant::now());
        }
    }

    /// The campaign of this send: the first part of its key (campaign names have no `/`).
    fn campaign(&self) -> &str {
        self.key
            .split_once('/')
            .map_or(&self.key, |(campaign, _)| campaign)
    }

    /// Counts the outcome and commits it, with the opt-out its answer asked for; the task
    /// (and its slot) waits for the commit. A template error stops the campaign first, so
    /// that its other sends see it as soon as possible.
    async fn record(&mut self, record: Record) {
        let mut optout = None;
        match record.wa.map(|c| (c, c.action)) {
            Some((code, WaAction::StopCampaign)) => {
                self.ctx.tally.stop_campaign(self.campaign(), code);
            }
            Some((code, WaAction::OptOut)) => {
                optout = self.mobile.map(|mobile| {
                    OptOut::now(
                        mobile.to_string(),
                        Some(code.meaning.to_owned()),
                        &format!("api {}", code.code),
                    )
                });
            }
            _ => {}
        }
        let finished = Finished {
            key: self.key.clone(),
            status: record.status,
            attempts: self.attempts,
            http_status: record.http_status,
            response: record.response,
            error: record.error,
            wa_code: record.wa.map(|c| c.code),
            retry_not_before: record.retry_not_before.map(timestamp),
        };
        self.ctx.tally.finished(
            &finished,
            self.retries,
            self.ambiguous_retries,
            record.stops_run,
        );
        if let (Some(_), Some(mobile)) = (&optout, self.mobile) {
            self.ctx.tally.opted_out(mobile);
        }
        // Queued before the wait: from here the outcome is the writer's to keep.
        self.phase = Phase::Settled;
        self.ctx.committer.finish(finished, optout).await;
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        match self.phase {
            Phase::Settled => {}
            Phase::Claimed => self
                .ctx
                .committer
                .release_later(std::mem::take(&mut self.key), self.previous),
            Phase::Written => {
                let finished = Finished {
                    key: std::mem::take(&mut self.key),
                    status: Status::Unknown,
                    attempts: self.attempts,
                    http_status: None,
                    response: None,
                    error: Some(
                        "the run stopped while this request was in flight; it may or may not have been sent"
                            .to_owned(),
                    ),
                    wa_code: None,
                    retry_not_before: None,
                };
                self.ctx
                    .tally
                    .finished(&finished, self.retries, self.ambiguous_retries, false);
                self.ctx.committer.finish_later(finished);
            }
        }
    }
}
