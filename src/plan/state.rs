//! What a plan says of each send and each campaign: a send's state, which recorded sends are
//! sent again, and whether a campaign's occurrence is due.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PlanOptions {
    /// Resend sends the ledger records as `failed`.
    pub retry_failed: bool,
    /// Resend sends the ledger records as `unknown` (the process died mid-send).
    pub retry_unknown: bool,
    /// With `retry_failed`, also resend those WhatsApp said were undeliverable (131026).
    pub include_undeliverable: bool,
    /// Resend sends the ledger records as `capped`, if the caps allow them now.
    pub retry_capped: bool,
}

/// A send's state as `plan` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SendState {
    New,
    AlreadySent,
    /// Sent, but the request it would send now differs (params edited since).
    SentChangedSince,
    Failed,
    Unknown,
    InFlight,
    Missed,
    /// The number opted out: never sent, by any campaign.
    Suppressed,
    /// A frequency cap of the project file holds it back: not sent, and not resent unless
    /// asked (`--retry-capped`).
    Capped,
    /// Not now: its recipient's send window is closed, or the daily limit is reached. A later
    /// apply (or the daemon, when it opens) sends it.
    Waiting,
}

impl SendState {
    pub(crate) fn label(self) -> &'static str {
        match self {
            SendState::New => "new",
            SendState::AlreadySent => "already sent",
            SendState::SentChangedSince => "sent (changed since)",
            SendState::Failed => "failed",
            SendState::Unknown => "unknown",
            SendState::InFlight => "in flight",
            SendState::Missed => "missed",
            SendState::Suppressed => "suppressed",
            SendState::Capped => "capped",
            SendState::Waiting => "waiting",
        }
    }
}

/// Why a campaign's occurrence is or is not due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Timing {
    /// Unscheduled campaigns: sent once, by `apply`.
    Once,
    /// The latest occurrence is within its catch-up window.
    Due,
    /// The next occurrence is in the future.
    Upcoming,
    /// The only (`at`) occurrence passed more than `catch_up` ago: it will never be sent.
    Expired,
    /// `enabled: false`.
    Disabled,
}
