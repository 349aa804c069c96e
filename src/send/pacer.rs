//! Paces sends across every campaign of a run: one send per `1/rate` seconds, slowed down
//! when the API answers 429 and recovering afterwards.
//!
//! A turn taken late (the timer's millisecond, a busy processor) is made up, up to
//! [`CATCH_UP`] of sends: at high rates a turn is well under a millisecond, and turns never
//! made up would leave the run short of its rate. So the rate holds over any second; within
//! those 50 ms a few sends may leave together. At rates of 20 or less a turn is longer
//! than that, and sends stay evenly spaced.
//!
//! A send is claimed in the ledger before its request leaves, and a claim waits for a
//! commit. So the dispatcher starts a send a little before its turn ([`Pacer::lead`]: about
//! twice the recent claim time, at most half a turn) and the send writes its request at the
//! turn itself: the claim's jitter does not reach the spacing the API sees.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Longest slow-down after repeated 429s: 1/8 of the configured rate.
const MAX_SLOWDOWN: u32 = 8;
/// A slow-down halves every this long without a new 429.
const RECOVERY: Duration = Duration::from_secs(10);
/// How much lateness is made up, in sends' worth of time (whole turns only).
const CATCH_UP: Duration = Duration::from_millis(50);
/// The longest a send is started before its turn.
const MAX_LEAD: Duration = Duration::from_millis(50);

pub(crate) struct Pacer {
    /// Time between sends at full speed; `None` for unlimited.
    interval: Option<Duration>,
    state: Mutex<State>,
    /// Recent claim time in microseconds (a moving average).
    claim_micros: AtomicU64,
}

struct State {
    next: Instant,
    slowdown: u32,
    last_slowdown: Instant,
}

impl Pacer {
    /// `rate` sends per second; 0 means unlimited.
    pub(crate) fn new(rate: f64) -> Pacer {
        let interval = (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate));
        let now = Instant::now();
        Pacer {
            interval,
            state: Mutex::new(State {
                next: now,
                slowdown: 1,
                last_slowdown: now,
            }),
            claim_micros: AtomicU64::new(0),
        }
    }

    /// Waits for this send's turn.
    pub(crate) async fn acquire(&self) {
        if let Some(at) = self.reserve() {
            tokio::time::sleep_until(at).await;
        }
    }

    /// Books the next slot and returns when it starts (`None`: now, unlimited).
    pub(super) fn reserve(&self) -> Option<Instant> {
        let interval = self.interval?;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        // Recover from a slow-down gradually.
        while state.slowdown > 1 && now.duration_since(state.last_slowdown) >= RECOVERY {
            state.slowdown /= 2;
            state.last_slowdown += RECOVERY;
        }
        let turn = interval * state.slowdown;
        // Whole turns of at most CATCH_UP: none when a turn is longer than that.
        let lag = turn * (CATCH_UP.as_nanos() / turn.as_nanos().max(1)).saturating_sub(1) as u32;
        let at = state.next.max(now.checked_sub(lag).unwrap_or(now));
        state.next = at + turn;
        Some(at)
    }

    /// How long before its turn a send is started, so that its claim is committed by then.
    pub(super) fn lead(&self) -> Duration {
        let Some(interval) = self.interval else {
            return Duration::ZERO;
        };
        let claim = Duration::from_micros(self.claim_micros.load(Ordering::Relaxed));
        (claim * 2).min(MAX_LEAD).min(interval / 2)
    }

    /// A claim took `took`: folded into the average that [`Pacer::lead`] follows.
    pub(super) fn observe_claim(&self, took: Duration) {
        let took = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        // An update lost to a race only delays the average by one sample.
        let old = self.claim_micros.load(Ordering::Relaxed);
        let new = if old == 0 { took } else { (old * 7 + took) / 8 };
        self.claim_micros.store(new, Ordering::Relaxed);
    }

    /// The API said 429: halve the rate (down to 1/8) for a while.
    pub(crate) fn slow_down(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.slowdown = (state.slowdown * 2).min(MAX_SLOWDOWN);
        state.last_slowdown = Instant::now();
    }

    /// The current rate in sends per second (`None`: unlimited).
    pub(crate) fn current_rate(&self) -> Option<f64> {
        let interval = self.interval?;
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Some(1.0 / (interval.as_secs_f64() * f64::from(state.slowdown)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_sends_at_the_rate() {
        let pacer = Pacer::new(10.0);
        let start = Instant::now();
        for _ in 0..5 {
            pacer.acquire().await;
        }
        // Slots at 0, 100, 200, 300, 400 ms.
        assert_eq!(start.elapsed(), Duration::from_millis(400));
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_turn_is_made_up_at_high_rates_and_the_rate_holds() {
        let pacer = Pacer::new(1000.0);
        let start = Instant::now();
        pacer.acquire().await;
        // The caller was busy for 30 ms: 30 turns were missed, and are taken at once.
        tokio::time::advance(Duration::from_millis(30)).await;
        let late = Instant::now();
        for _ in 0..30 {
            pacer.acquire().await;
        }
        assert_eq!(Instant::now(), late, "the missed turns were not made up");
        // Then one per millisecond again: 1,000 sends in a second, no more.
        for _ in 0..969 {
            pacer.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(999));
        // At a low rate a late turn is not made up: sends stay spaced.
        let slow = Pacer::new(10.0);
        slow.acquire().await;
        tokio::time::advance(Duration::from_millis(150)).await;
        slow.acquire().await;
        let after = Instant::now();
        slow.acquire().await;
        assert_eq!(after.elapsed(), Duration::from_millis(100));
    }

    #[test]
    fn the_lead_follows_claim_times_within_half_a_turn() {
        let pacer = Pacer::new(10.0);
        assert_eq!(pacer.lead(), Duration::ZERO);
        pacer.observe_claim(Duration::from_millis(8));
        assert_eq!(pacer.lead(), Duration::from_millis(16));
        for _ in 0..50 {
            pacer.observe_claim(Duration::from_millis(200));
        }
        assert_eq!(pacer.lead(), MAX_LEAD);
        let fast = Pacer::new(1000.0);
        fast.observe_claim(Duration::from_millis(8));
        assert_eq!(fast.lead(), Duration::from_micros(500));
        let unlimited = Pacer::new(0.0);
        unlimited.observe_claim(Duration::from_millis(8));
        assert_eq!(unlimited.lead(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_never_waits() {
        let pacer = Pacer::new(0.0);
        let start = Instant::now();
        for _ in 0..1000 {
            pacer.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(pacer.current_rate(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_slows_down_and_recovers() {
        let pacer = Pacer::new(10.0);
        pacer.slow_down();
        pacer.slow_down();
        assert_eq!(pacer.current_rate(), Some(2.5));
        pacer.acquire().await;
        let start = Instant::now();
        pacer.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(400));
        tokio::time::sleep(RECOVERY * 2).await;
        pacer.acquire().await;
        assert_eq!(pacer.current_rate(), Some(10.0));
    }
}
