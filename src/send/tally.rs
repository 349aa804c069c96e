//! The run's counts as outcomes come in: totals for the summary, the progress display, and
//! the stop after too many failures in a row or a failure every send would share, of the
//! run or of one campaign.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::progress::Progress;
use super::report::{CampaignStop, Report, StopReason};
use crate::api::{WaAction, WaCode};
use crate::campaign::mobile::Mobile;
use crate::ledger::{Finished, Status, failure_reason};

pub(super) struct Tally {
    totals: Mutex<Totals>,
    progress: Arc<Progress>,
    stop: watch::Sender<Option<StopReason>>,
    max_consecutive_failures: usize,
    /// Whether any campaign stopped: every send asks, and mostly none has.
    any_campaign_stopped: AtomicBool,
}

#[derive(Default)]
struct Totals {
    sent: usize,
    failed: Vec<(String, String)>,
    unknown: Vec<(String, String)>,
    taken: usize,
    released: usize,
    retries: usize,
    ambiguous_retries: usize,
    consecutive_failures: usize,
    campaigns_stopped: Vec<CampaignStop>,
    /// The numbers the API said stopped marketing messages: each once, however many of
    /// its sends (one per campaign) were answered so.
    opted_out: HashSet<Mobile>,
    suppressed_at_claim: usize,
}

impl Tally {
    pub(super) fn new(
        progress: Arc<Progress>,
        stop: watch::Sender<Option<StopReason>>,
        max_consecutive_failures: usize,
    ) -> Tally {
        Tally {
            totals: Mutex::default(),
            progress,
            stop,
            max_consecutive_failures,
            any_campaign_stopped: AtomicBool::new(false),
        }
    }

    fn totals(&self) -> std::sync::MutexGuard<'_, Totals> {
        self.totals.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A send ended with `finished` after `retries` retries (`ambiguous` of them after an
    /// ambiguous outcome). `stops_run`: the way it failed would fail every send.
    pub(super) fn finished(
        &self,
        finished: &Finished,
        retries: usize,
        ambiguous: usize,
        stops_run: bool,
    ) {
        let reason = || {
            let answer = failure_reason(
                finished.http_status,
                finished.response.as_deref(),
                finished.error.as_deref(),
            );
            // What a WhatsApp code meant and what was done about it, beside the answer.
            match (finished.wa_code, &finished.error) {
                (Some(_), Some(error)) => format!("{answer} — {error}"),
                _ => answer,
            }
        };
        if stops_run {
            let cause = reason();
            self.stop.send_if_modified(|stop| match stop {
                None | Some(StopReason::TooManyFailures(_)) => {
                    *stop = Some(StopReason::Unsendable(cause));
                    true
                }
                _ => false,
            });
        }
        let consecutive = {
            let mut totals = self.totals();
            totals.retries += retries;
            totals.ambiguous_retries += ambiguous;
            match finished.status {
                Status::Sent => {
                    totals.sent += 1;
                    totals.consecutive_failures = 0;
                }
                Status::Unknown => {
                    totals.unknown.push((finished.key.clone(), reason()));
                    totals.consecutive_failures += 1;
                }
                _ => {
                    totals.failed.push((finished.key.clone(), reason()));
                    // A template error stops its campaign, not the run: its sends in
                    // flight failing together say nothing of the other campaigns.
                    let campaign_stop = finished
                        .wa_code
                        .and_then(WaCode::of)
                        .is_some_and(|c| c.action == WaAction::StopCampaign);
                    if !campaign_stop {
                        totals.consecutive_failures += 1;
                    }
                }
            }
            totals.consecutive_failures
        };
        self.progress.finished(finished.status);
        if self.max_consecutive_failures > 0 && consecutive > self.max_consecutive_failures {
            self.stop.send_if_modified(|stop| {
                if stop.is_none() {
                    *stop = Some(StopReason::TooManyFailures(consecutive));
                    true
                } else {
                    false
                }
            });
        }
    }

    /// WhatsApp said `campaign`'s template is wrong (`code`): its sends not started yet are
    /// not started. The first code of a campaign is the one reported.
    pub(super) fn stop_campaign(&self, campaign: &str, code: &'static WaCode) {
        let mut totals = self.totals();
        if totals
            .campaigns_stopped
            .iter()
            .all(|c| c.campaign != campaign)
        {
            totals.campaigns_stopped.push(CampaignStop {
                campaign: campaign.to_owned(),
                code,
                not_started: 0,
            });
        }
        self.any_campaign_stopped.store(true, Ordering::Release);
    }

    /// Whether `campaign` was stopped (see [`Tally::stop_campaign`]).
    pub(super) fn campaign_stopped(&self, campaign: &str) -> bool {
        self.any_campaign_stopped.load(Ordering::Acquire)
            && self
                .totals()
                .campaigns_stopped
                .iter()
                .any(|c| c.campaign == campaign)
    }

    /// A send of a stopped campaign was not started (never claimed, or put back), after
    /// `retries` retries.
    pub(super) fn not_started(&self, campaign: &str, retries: usize) {
        let mut totals = self.totals();
        totals.retries += retries;
        if let Some(stop) = totals
            .campaigns_stopped
            .iter_mut()
            .find(|c| c.campaign == campaign)
        {
            stop.not_started += 1;
        }
        drop(totals);
        self.progress.skipped();
    }

    /// The API said `mobile` stopped marketing messages: its opt-out is recorded.
    pub(super) fn opted_out(&self, mobile: Mobile) {
        self.totals().opted_out.insert(mobile);
    }

    /// The number opted out after the plan was made: the claim refused the send.
    pub(super) fn suppressed_at_claim(&self) {
        self.totals().suppressed_at_claim += 1;
        self.progress.skipped();
    }

    /// Another run had recorded this send already.
    pub(super) fn taken(&self) {
        self.totals().taken += 1;
        self.progress.skipped();
    }

    /// The run stopped before this send's request was written: it was put back.
    pub(super) fn released(&self, retries: usize) {
        let mut totals = self.totals();
        totals.released += 1;
        totals.retries += retries;
    }

    pub(super) fn progress(&self) -> &Progress {
        &self.progress
    }

    /// What was counted, for the run's report.
    pub(super) fn report(&self) -> Report {
        let mut totals = self.totals();
        Report {
            sent: totals.sent,
            failed: std::mem::take(&mut totals.failed),
            unknown: std::mem::take(&mut totals.unknown),
            taken: totals.taken,
            released: totals.released,
            retries: totals.retries,
            ambiguous_retries: totals.ambiguous_retries,
            campaigns_stopped: std::mem::take(&mut totals.campaigns_stopped),
            opted_out: totals.opted_out.len(),
            suppressed_at_claim: totals.suppressed_at_claim,
            ..Report::default()
        }
    }
}
