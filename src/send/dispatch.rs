//! The dispatcher of one run: takes sends from the feed, holds back a number sent to moments
//! ago (by another campaign), leaves out the sends of a campaign WhatsApp stopped, and starts
//! each send as a task once it has a request slot and (nearly) the pacer's turn. It also
//! watches whether the run keeps up with its `--rate`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::context::RunContext;
use super::feed::Outgoing;
use super::job;
use super::report::Pace;

/// How often the progress display is told whether the run keeps up with its rate.
const PACE_WINDOW: Duration = Duration::from_secs(2);

/// A run reaching less than this share of its rate, while its sends wait for request
/// slots, is reported as slower than asked.
const PACE_SHORTFALL: f64 = 0.95;

/// Runs the dispatcher until the feed ends or the run stops; returns how the pace went.
pub(super) async fn dispatch(
    ctx: &Arc<RunContext>,
    sends: mpsc::Receiver<Vec<Outgoing>>,
    tasks: &mut JoinSet<()>,
) -> Option<Pace> {
    let mut input = Input {
        sends,
        chunk: Vec::new().into_iter(),
        open: true,
        deferred: BinaryHeap::new(),
        sequence: 0,
    };
    let mut stop = ctx.stop.clone();
    let mut pace = PaceWatch::new();
    loop {
        let Some(send) = input.next(ctx, &mut stop).await else {
            break;
        };
        // WhatsApp said its campaign's template is wrong: not claimed, never sent.
        if ctx.tally.campaign_stopped(&send.record.campaign) {
            ctx.tally.not_started(&send.record.campaign, 0);
            continue;
        }
        let waiting = Instant::now();
        let slot = tokio::select! {
            biased;
            _ = stop.changed() => break,
            slot = ctx.executor.slots.acquire() => slot,
        };
        pace.slot_wait += waiting.elapsed();
        // Started a little early, to be claimed by its turn; its request leaves at the turn.
        let pacer = &ctx.executor.pacer;
        let turn = pacer.reserve();
        if !ctx
            .until(turn.map(|t| t.checked_sub(pacer.lead()).unwrap_or(t)))
            .await
        {
            break;
        }
        let now = Instant::now();
        if let Some(mobile) = send.mobile
            && !ctx.executor.settings.same_recipient_gap.is_zero()
        {
            ctx.executor
                .last_start
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(mobile, now);
        }
        tasks.spawn(job::send(ctx.clone(), send, slot, turn));
        // Tasks that ended are reaped as the run goes, so the set stays small.
        while tasks.try_join_next().is_some() {}
        pace.started(now, ctx);
    }
    pace.finish(ctx)
}

/// The sends still to start: the feed, and the sends held back by the per-number spacing.
struct Input {
    sends: mpsc::Receiver<Vec<Outgoing>>,
    /// The rest of the last chunk received.
    chunk: std::vec::IntoIter<Outgoing>,
    open: bool,
    deferred: BinaryHeap<Reverse<Deferred>>,
    sequence: u64,
}

impl Input {
    /// The next send to start: a held-back one whose gap has passed, else the next of the
    /// feed whose number is free. `None` when everything was started or the run stopped.
    async fn next(
        &mut self,
        ctx: &RunContext,
        stop: &mut tokio::sync::watch::Receiver<Option<super::StopReason>>,
    ) -> Option<Outgoing> {
        let gap = ctx.executor.settings.same_recipient_gap;
        loop {
            if stop.borrow_and_update().is_some() {
                return None;
            }
            let now = Instant::now();
            // A held-back send whose time came is checked again: the send it waited for may
            // have written its request later than it was started (after its claim).
            let next = if self.deferred.peek().is_some_and(|d| d.0.ready <= now) {
                self.deferred.pop().map(|Reverse(d)| d.send)
            } else {
                self.chunk.next()
            };
            if let Some(send) = next {
                match send.mobile.filter(|_| !gap.is_zero()).and_then(|mobile| {
                    let last = ctx
                        .executor
                        .last_start
                        .lock()
                        .unwrap_or_else(|e| e.into_inner());
                    last.get(&mobile).map(|t| *t + gap).filter(|t| *t > now)
                }) {
                    None => return Some(send),
                    Some(ready) => {
                        self.sequence += 1;
                        self.deferred.push(Reverse(Deferred {
                            ready,
                            sequence: self.sequence,
                            send,
                        }));
                        continue;
                    }
                }
            }
            if !self.open && self.deferred.is_empty() {
                return None;
            }
            let wake = self.deferred.peek().map(|d| d.0.ready);
            tokio::select! {
                biased;
                _ = stop.changed() => return None,
                _ = sleep_until_opt(wake) => {}
                next = self.sends.recv(), if self.open => match next {
                    Some(chunk) => self.chunk = chunk.into_iter(),
                    None => self.open = false,
                },
            }
        }
    }
}

/// A send held back until `ready`; `sequence` keeps the order of equal times.
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

/// Whether the run keeps up with its rate: sends started, and the time the dispatcher spent
/// waiting for a request slot (when it waits for slots, not for the pacer, the requests in
/// flight are what holds the run back).
struct PaceWatch {
    first: Option<Instant>,
    last: Option<Instant>,
    started: usize,
    slot_wait: Duration,
    window: Window,
}

#[derive(Clone, Copy)]
struct Window {
    from: Instant,
    started: usize,
    slot_wait: Duration,
}

impl PaceWatch {
    fn new() -> PaceWatch {
        PaceWatch {
            first: None,
            last: None,
            started: 0,
            slot_wait: Duration::ZERO,
            window: Window {
                from: Instant::now(),
                started: 0,
                slot_wait: Duration::ZERO,
            },
        }
    }

    fn started(&mut self, at: Instant, ctx: &RunContext) {
        self.first.get_or_insert(at);
        self.last = Some(at);
        self.started += 1;
        let elapsed = at.saturating_duration_since(self.window.from);
        if elapsed < PACE_WINDOW {
            return;
        }
        let started = self.started - self.window.started;
        let waited = self.slot_wait.saturating_sub(self.window.slot_wait);
        let note = self
            .shortfall(ctx, started, elapsed, waited)
            .map(|pace| format!("slower than asked: {pace}"));
        ctx.tally.progress().set_note(note);
        self.window = Window {
            from: at,
            started: self.started,
            slot_wait: self.slot_wait,
        };
    }

    /// The pace of `started` sends over `elapsed`, when it fell short of the rate while the
    /// dispatcher waited `waited` of it for slots (or the API slowed the run down).
    fn shortfall(
        &self,
        ctx: &RunContext,
        started: usize,
        elapsed: Duration,
        waited: Duration,
    ) -> Option<Pace> {
        let executor = &ctx.executor;
        let asked = executor.settings.rate;
        if asked <= 0.0 || started < 2 || elapsed.is_zero() {
            return None;
        }
        let achieved = started as f64 / elapsed.as_secs_f64();
        if achieved >= asked * PACE_SHORTFALL {
            return None;
        }
        let current = executor.current_rate();
        let slowed_to = (current < asked * PACE_SHORTFALL).then_some(current);
        // Slots held the run back for a tenth of the time at least, and there are no more
        // of them; otherwise it is the feed (planning), the end of the run, or a limit that
        // is still following the latency, not a pace the run cannot reach.
        if slowed_to.is_none() && (waited < elapsed / 10 || !executor.slots.at_cap()) {
            return None;
        }
        let (limit, latency) = executor.slots.snapshot();
        Some(Pace {
            asked,
            achieved,
            latency,
            limit,
            concurrency: executor.slots.concurrency(),
            slowed_to,
        })
    }

    /// The pace of the whole run, when it fell short.
    fn finish(&self, ctx: &RunContext) -> Option<Pace> {
        let (first, last) = (self.first?, self.last?);
        // Starts are one interval apart: n starts span n - 1 intervals.
        let span = last.saturating_duration_since(first);
        self.shortfall(ctx, self.started.saturating_sub(1), span, self.slot_wait)
    }
}
