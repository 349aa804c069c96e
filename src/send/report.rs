//! What a run did, and why it stopped early.

use std::fmt;
use std::time::Duration;

use super::settings::Concurrency;
use crate::api::WaCode;

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
    /// Of the retries, those after an ambiguous outcome (`--retry-ambiguous`): each may have
    /// delivered the message once more.
    pub ambiguous_retries: usize,
    /// Set when the run did not reach its `--rate`.
    pub pace: Option<Pace>,
    pub stopped: Option<StopReason>,
    /// Campaigns whose remaining sends were not started: WhatsApp said their template is
    /// wrong. The other campaigns of the run went on.
    pub campaigns_stopped: Vec<CampaignStop>,
    /// Numbers the API said stopped marketing messages (131050), added to the opt-outs:
    /// distinct numbers, not sends.
    pub opted_out: usize,
    /// Of those, the numbers whose opt-out the ledger did not take: to add by hand.
    pub optouts_unrecorded: Vec<String>,
    /// Sends not sent because their number opted out after the plan was made (the claim
    /// checks the ledger's opt-outs): during this run, or by `optout add` meanwhile.
    pub suppressed_at_claim: usize,
}

/// A campaign stopped mid-run by a WhatsApp error about its template.
#[derive(Debug, Clone)]
pub(crate) struct CampaignStop {
    pub campaign: String,
    pub code: &'static WaCode,
    /// Its sends not started because of it: nothing is recorded for them.
    pub not_started: usize,
}

impl fmt::Display for CampaignStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "campaign `{}` stopped after {}: {} of its send(s) not started (nothing recorded for them)",
            self.campaign,
            self.code.describe(),
            self.not_started
        )
    }
}

/// A run slower than its `--rate`, and why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pace {
    /// The rate asked for (sends per second).
    pub asked: f64,
    pub achieved: f64,
    /// The API's measured latency.
    pub latency: Option<Duration>,
    /// Requests in flight at most, and how that limit was set.
    pub limit: usize,
    pub concurrency: Concurrency,
    /// The rate after the API's 429s (or WhatsApp's 130429s) slowed the run down, when it
    /// did.
    pub slowed_to: Option<f64>,
}

impl fmt::Display for Pace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.1} sends/s of the {} asked (--rate)",
            self.achieved, self.asked
        )?;
        let latency = self
            .latency
            .map_or_else(|| "unknown".to_owned(), |l| format!("{} ms", l.as_millis()));
        if let Some(rate) = self.slowed_to {
            // The cause is the API's answer, not the limit: the latency is still worth
            // knowing, to tell a slow API from a strict one.
            return write!(
                f,
                ": the API said to slow down (HTTP 429, or WhatsApp 130429), so the run slowed down to {rate:.1}/s, with at most {} requests in flight at {latency} each",
                self.limit
            );
        }
        write!(
            f,
            ": at most {} requests in flight at {latency} each",
            self.limit
        )?;
        match self.concurrency {
            Concurrency::Fixed(_) => {
                f.write_str(" (--concurrency); leave it out to follow the rate")
            }
            Concurrency::Auto { .. } => {
                f.write_str(" (--max-concurrency); raise it to reach the rate")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pace(slowed_to: Option<f64>) -> Pace {
        Pace {
            asked: 20.0,
            achieved: 4.31,
            latency: Some(Duration::from_millis(120)),
            limit: 8,
            concurrency: Concurrency::Auto { max: 8 },
            slowed_to,
        }
    }

    #[test]
    fn a_pace_slowed_down_by_the_api_keeps_its_rate_and_latency() {
        assert_eq!(
            pace(Some(5.0)).to_string(),
            "4.3 sends/s of the 20 asked (--rate): the API said to slow down (HTTP 429, or \
             WhatsApp 130429), so the run slowed down to 5.0/s, with at most 8 requests in \
             flight at 120 ms each"
        );
    }

    #[test]
    fn a_pace_held_back_by_the_limit_names_the_flag_to_raise() {
        assert_eq!(
            pace(None).to_string(),
            "4.3 sends/s of the 20 asked (--rate): at most 8 requests in flight at 120 ms each \
             (--max-concurrency); raise it to reach the rate"
        );
        let fixed = Pace {
            concurrency: Concurrency::Fixed(8),
            latency: None,
            ..pace(None)
        };
        assert!(
            fixed
                .to_string()
                .ends_with("at unknown each (--concurrency); leave it out to follow the rate"),
            "{fixed}"
        );
    }
}
