//! What one pass over a plan's sends counts: per campaign, its sends by state and the first
//! few of them; and every problem found.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::send::{PlannedSend, WaitReason};
use super::state::SendState;

/// Counts and the first few sends of one campaign, from one pass over its sends.
#[derive(Debug, Default)]
pub(crate) struct CampaignScan {
    pub total: usize,
    pub due: usize,
    pub by_state: BTreeMap<SendState, usize>,
    /// The first sends, for the text plan.
    pub first: Vec<PlannedSend>,
    /// Numbers listed again (each sent once).
    pub duplicates: usize,
    /// The first suppressed sends: `(recipient, where its opt-out comes from)`.
    pub suppressed: Vec<(String, String)>,
    /// Whether any of its recipients or params has an error.
    pub errors: bool,
    /// Sends to +1 numbers (suppressed ones left out), for the catalogue's warning.
    pub plus_one: usize,
    /// Due sends inside their recipient's send window (campaigns with a window).
    pub inside_window: usize,
    /// Waiting for their window: how many, and when the first and the last opens.
    pub window_waits: Waits,
    /// Waiting for the daily limit: how many, and when the first and the last may go.
    pub limit_waits: Waits,
    /// The first capped sends: `(recipient, the cap and what counts against it)`.
    pub capped: Vec<(String, String)>,
    /// Sends this plan found missed (their window or the daily limit opens too late).
    pub missed: usize,
}

/// Sends waiting for one reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Waits {
    pub count: usize,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    /// Waiting with no known end (the daily limit, beyond the next 24 hours).
    pub open_ended: usize,
}

impl Waits {
    pub(crate) fn add(&mut self, until: Option<DateTime<Utc>>) {
        self.count += 1;
        match until {
            None => self.open_ended += 1,
            Some(at) => {
                self.first = Some(self.first.map_or(at, |f| f.min(at)));
                self.last = Some(self.last.map_or(at, |l| l.max(at)));
            }
        }
    }
}

/// Suppressed sends listed per campaign by `apply`; the rest are counted.
pub(crate) const SUPPRESSED_LISTED: usize = 20;

impl CampaignScan {
    pub(crate) fn of(&self, state: SendState) -> usize {
        self.by_state.get(&state).copied().unwrap_or(0)
    }

    /// Counts one send's window, wait, cap or miss.
    pub(crate) fn count_limits(&mut self, send: &PlannedSend) {
        if send.due && send.zone.is_some() {
            self.inside_window += 1;
        }
        if let Some(wait) = send.wait {
            match wait.reason {
                WaitReason::Window => self.window_waits.add(wait.until),
                WaitReason::DailyLimit => self.limit_waits.add(wait.until),
            }
        }
        if let Some(hit) = &send.capped
            && self.capped.len() < SUPPRESSED_LISTED
        {
            self.capped.push((send.recipient.clone(), hit.text()));
        }
        self.missed += usize::from(send.missed.is_some());
    }

    /// When the first waiting send may go, for whichever reason.
    pub(crate) fn next_wait(&self) -> Option<DateTime<Utc>> {
        [self.window_waits.first, self.limit_waits.first]
            .into_iter()
            .flatten()
            .min()
    }
}

/// One pass over every send of a plan.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub campaigns: Vec<CampaignScan>,
    pub diagnostics: crate::diagnostic::Diagnostics,
    /// Errors and warnings beyond the per-campaign cap, counted but not listed.
    pub omitted_errors: usize,
    pub omitted_warnings: usize,
}

impl Scan {
    pub(crate) fn has_errors(&self) -> bool {
        self.omitted_errors > 0 || self.diagnostics.has_errors()
    }
}
