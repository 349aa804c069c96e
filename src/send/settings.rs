//! How a run sends: its rate, its request slots, timeouts and retries.

use std::time::Duration;

use crate::api::ClientSettings;
use crate::ledger::Status;

/// Retries with exponential backoff and full jitter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
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
    pub(crate) fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
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
pub(super) const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// How many requests are in flight at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Concurrency {
    /// Exactly this many (`--concurrency`).
    Fixed(usize),
    /// Enough to reach the rate at the API's measured latency, up to `max`
    /// (`--max-concurrency`); at an unlimited rate, [`UNLIMITED_RATE_CONCURRENCY`].
    Auto { max: usize },
}

/// The default `--max-concurrency`: enough for 1,000 sends per second (WhatsApp's top
/// throughput tier) against an API answering in up to 400 ms, with headroom.
pub(crate) const DEFAULT_MAX_CONCURRENCY: usize = 512;

/// Requests in flight at an unlimited rate (`--rate 0`) unless `--concurrency` says.
pub(crate) const UNLIMITED_RATE_CONCURRENCY: usize = 64;

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Sends per second over the whole run; 0 means unlimited.
    pub rate: f64,
    pub concurrency: Concurrency,
    pub client: ClientSettings,
    pub retry: RetryPolicy,
    /// Also retry ambiguous outcomes (the request may have been processed): a possible
    /// duplicate rather than a possibly missing message.
    pub retry_ambiguous: bool,
    /// Stop the run when more than this many sends in a row failed or ended unknown (0:
    /// never).
    pub max_consecutive_failures: usize,
    /// Minimum time between two sends to one number (WhatsApp's per-user pair limit).
    /// Zero when no number can come twice (one campaign occurrence, whose numbers the
    /// planner made unique): no bookkeeping per number then.
    pub same_recipient_gap: Duration,
    /// At the end of a run or on a stop, how long requests in flight get to finish.
    pub drain_timeout: Duration,
    /// Ledger statuses that may be sent again (`--retry-failed`, `--retry-unknown`).
    pub retry_statuses: Vec<Status>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            rate: 20.0,
            concurrency: Concurrency::Auto {
                max: DEFAULT_MAX_CONCURRENCY,
            },
            client: ClientSettings {
                connect_timeout: Duration::from_secs(10),
                request_timeout: Duration::from_secs(30),
                pool_idle_timeout: Duration::from_secs(90),
            },
            retry: RetryPolicy::default(),
            retry_ambiguous: false,
            max_consecutive_failures: 20,
            same_recipient_gap: Duration::from_secs(6),
            drain_timeout: Duration::from_secs(30),
            retry_statuses: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
