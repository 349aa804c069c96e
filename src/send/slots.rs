//! Request slots: how many sends may be in flight at once. A fixed number, or one that
//! follows the rate: at `rate` sends per second against an API that answers in `latency`,
//! about `rate × latency` requests are in flight, so that is what the limit tracks (with
//! headroom), between 1 and the cap.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::settings::{Concurrency, UNLIMITED_RATE_CONCURRENCY};

/// Room above `rate × latency`: latencies vary, and a slot is also held while its claim
/// and its outcome are committed.
const HEADROOM: f64 = 1.5;

/// The latency assumed before the first answer.
const FIRST_GUESS: Duration = Duration::from_millis(250);

/// The weight of each new latency sample in the moving average.
const SMOOTHING: f64 = 0.2;

pub(super) struct Slots {
    state: Mutex<State>,
    freed: Notify,
    concurrency: Concurrency,
}

struct State {
    in_use: usize,
    limit: usize,
    /// The moving average of the API's latency; `None` before the first answer.
    latency: Option<Duration>,
}

/// A request slot, given back when dropped.
pub(super) struct Slot(Arc<Slots>);

impl Slots {
    pub(super) fn new(concurrency: Concurrency, rate: f64) -> Arc<Slots> {
        let slots = Slots {
            state: Mutex::new(State {
                in_use: 0,
                limit: 1,
                latency: None,
            }),
            freed: Notify::new(),
            concurrency,
        };
        let limit = slots.target(rate, FIRST_GUESS);
        slots.state().limit = limit;
        Arc::new(slots)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The limit for `rate` (the pacer's current one) at `latency`.
    fn target(&self, rate: f64, latency: Duration) -> usize {
        match self.concurrency {
            Concurrency::Fixed(n) => n.max(1),
            Concurrency::Auto { max } if rate <= 0.0 => UNLIMITED_RATE_CONCURRENCY.min(max),
            Concurrency::Auto { max } => {
                let needed = (rate * latency.as_secs_f64() * HEADROOM).ceil() as usize + 1;
                needed.clamp(1, max.max(1))
            }
        }
    }

    /// Waits for a free slot.
    pub(super) async fn acquire(self: &Arc<Self>) -> Slot {
        loop {
            // Registered before looking, so a slot freed in between still wakes us.
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let mut state = self.state();
                if state.in_use < state.limit {
                    state.in_use += 1;
                    return Slot(self.clone());
                }
            }
            freed.await;
        }
    }

    /// An answer came after `latency`: the moving average moves, and an automatic limit
    /// follows it at `rate`.
    pub(super) fn observe(&self, latency: Duration, rate: f64) {
        let average = {
            let mut state = self.state();
            let average = match state.latency {
                None => latency,
                Some(old) => old.mul_f64(1.0 - SMOOTHING) + latency.mul_f64(SMOOTHING),
            };
            state.latency = Some(average);
            average
        };
        let limit = self.target(rate, average);
        let raised = {
            let mut state = self.state();
            let raised = limit > state.limit;
            state.limit = limit;
            raised
        };
        if raised {
            self.freed.notify_waiters();
        }
    }

    /// The current limit, and the measured latency.
    pub(super) fn snapshot(&self) -> (usize, Option<Duration>) {
        let state = self.state();
        (state.limit, state.latency)
    }

    /// Whether the limit is as high as it may go.
    pub(super) fn at_cap(&self) -> bool {
        let limit = self.state().limit;
        match self.concurrency {
            Concurrency::Fixed(_) => true,
            Concurrency::Auto { max } => limit >= max,
        }
    }

    pub(super) fn concurrency(&self) -> Concurrency {
        self.concurrency
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.state().in_use -= 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(slots: &Slots) -> usize {
        slots.snapshot().0
    }

    #[test]
    fn an_automatic_limit_follows_rate_times_latency() {
        let slots = Slots::new(Concurrency::Auto { max: 512 }, 80.0);
        // Before any answer: 80/s × 250 ms × 1.5, rounded up, plus one.
        assert_eq!(limit(&slots), 31);
        slots.observe(Duration::from_millis(300), 80.0);
        assert_eq!(limit(&slots), 37);
        // A slower API needs more in flight, up to the cap.
        for _ in 0..50 {
            slots.observe(Duration::from_secs(10), 80.0);
        }
        assert_eq!(limit(&slots), 512);
        assert!(slots.at_cap());
    }

    #[test]
    fn a_fixed_limit_stays_and_an_unlimited_rate_uses_its_default() {
        let fixed = Slots::new(Concurrency::Fixed(8), 80.0);
        fixed.observe(Duration::from_secs(1), 80.0);
        assert_eq!(limit(&fixed), 8);
        let unlimited = Slots::new(Concurrency::Auto { max: 512 }, 0.0);
        assert_eq!(limit(&unlimited), UNLIMITED_RATE_CONCURRENCY);
    }

    #[tokio::test]
    async fn slots_are_given_back_when_dropped() {
        let slots = Slots::new(Concurrency::Fixed(2), 0.0);
        let a = slots.acquire().await;
        let _b = slots.acquire().await;
        let third = tokio::spawn({
            let slots = slots.clone();
            async move { slots.acquire().await }
        });
        tokio::task::yield_now().await;
        assert!(!third.is_finished());
        drop(a);
        third.await.unwrap();
    }
}
