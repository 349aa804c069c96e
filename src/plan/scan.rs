//! What one pass over a plan's sends counts: per campaign, its sends by state and the first
//! few of them; and every problem found.

use std::collections::BTreeMap;

use super::send::PlannedSend;
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
}

/// Suppressed sends listed per campaign by `apply`; the rest are counted.
pub(crate) const SUPPRESSED_LISTED: usize = 20;

impl CampaignScan {
    pub(crate) fn of(&self, state: SendState) -> usize {
        self.by_state.get(&state).copied().unwrap_or(0)
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
