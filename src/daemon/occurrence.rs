//! Planning one occurrence in the daemon: against the ledger at its fire time and the
//! project file's rules, counting what the daemon's other occurrences are sending.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::campaign::Campaign;
use crate::campaign::limits::Limits;
use crate::ledger::{Messaged, SharedLedger, Skipped, Status};
use crate::plan::limits::{Budget, History};
use crate::plan::optouts::{FileOptOuts, PlanOptOuts, load_ledger};
use crate::plan::pipeline::Checked;
use crate::plan::{CampaignPlan, Plan, PlanOptions, SendState, wait_allowed};
use crate::schedule::Occurrence;
use crate::send;

/// What the project file says of every campaign: its opt-out lists (the ledger's are read
/// at each fire time) and its limits (counted from the ledger at each fire time, and from
/// what the daemon's other occurrences are sending).
#[derive(Clone, Default)]
pub(crate) struct Rules {
    pub suppressions: Arc<FileOptOuts>,
    pub limits: Arc<Limits>,
    /// The sends each occurrence being sent admitted: occurrences of several campaigns run
    /// at once, and each must count what the others are about to send, which the ledger
    /// does not have yet. Planning holds this lock, so two plans never admit against the
    /// same room.
    pub admitted: Arc<Mutex<Admitted>>,
}

/// Sends admitted by the occurrences being sent, by `(campaign, occurrence)`.
pub(crate) type Admitted = HashMap<(String, DateTime<Utc>), Vec<AdmittedSend>>;

/// A send an occurrence admitted: its key's parts, its category, and when.
pub(crate) struct AdmittedSend {
    campaign: String,
    occurrence: String,
    recipient: String,
    category: Option<&'static str>,
    at: DateTime<Utc>,
}

impl AdmittedSend {
    fn messaged(&self) -> Messaged<'_> {
        Messaged {
            campaign: &self.campaign,
            occurrence: &self.occurrence,
            recipient: &self.recipient,
            category: self.category,
            at: self.at,
        }
    }
}

impl Rules {
    pub(crate) fn of(checked: &Checked) -> Rules {
        Rules {
            suppressions: checked.plan.optouts().files.clone(),
            limits: checked.plan.budget().shared_limits(),
            admitted: Arc::default(),
        }
    }
}

/// Why an occurrence could not be planned.
pub(super) enum PlanError {
    /// The ledger did not answer: retried when it does.
    Ledger(String),
    /// Its files no longer compile or render (a CSV edited since the last reload):
    /// retried after the next successful reload.
    Files(String),
}

/// An occurrence planned: its plan, how many sends are due (0: the occurrence is complete,
/// or every send left waits), how many are suppressed, how many wait and when the first
/// may go, and the sends held back on purpose (capped, or missed), to record.
pub(super) struct Planned {
    pub(super) plan: Plan,
    pub(super) due: usize,
    pub(super) suppressed: usize,
    pub(super) waiting: usize,
    pub(super) wake: Option<DateTime<Utc>>,
    pub(super) skipped: Vec<Skipped>,
}

/// Plans one occurrence against the ledger (its records, its opt-outs at this moment, and
/// its recent sends for the limits) and the project file's rules, and checks that every
/// send renders.
pub(super) async fn plan_occurrence(
    campaign: Arc<Campaign>,
    occurrence: DateTime<Utc>,
    ledger: SharedLedger,
    rules: Rules,
) -> Result<Planned, PlanError> {
    tokio::task::spawn_blocking(move || {
        let now = Utc::now();
        let name = campaign.name.clone();
        let wait = wait_allowed(&campaign, rules.limits.daily_recipients.is_some());
        let campaign_plan = CampaignPlan::at(campaign, occurrence, now, wait)
            .ok_or_else(|| PlanError::Files("its params no longer compile".to_owned()))?;
        // Held while planning: another occurrence plans after this one has counted its sends.
        let mut admitted = rules.admitted.lock().unwrap_or_else(|e| e.into_inner());
        let (recorded, optouts, mut history) = {
            let mut ledger = ledger.lock();
            // Recorded first: a daemon started later completes an occurrence whose sends
            // all wait, which leaves no other trace.
            if let Err(e) = ledger.record_fired(&name, occurrence) {
                return Err(PlanError::Ledger(e.to_string()));
            }
            let recorded = ledger.recorded(&name, Occurrence::At(occurrence));
            let optouts = load_ledger(&mut **ledger);
            let history = History::load(&mut **ledger, &rules.limits, now);
            match (recorded, optouts, history) {
                (Ok(recorded), Ok(optouts), Ok(history)) => (recorded, optouts, history),
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                    return Err(PlanError::Ledger(e.to_string()));
                }
            }
        };
        let this = (name.clone(), occurrence);
        let limited = rules.limits.any();
        if limited {
            let others = admitted.iter().filter(|(key, _)| **key != this);
            history.add_pending(
                others.flat_map(|(_, sends)| sends.iter().map(AdmittedSend::messaged)),
            );
        }
        let optouts = PlanOptOuts {
            files: rules.suppressions,
            ledger: Arc::new(optouts),
        };
        let plan = Plan::of(
            now,
            PlanOptions::default(),
            optouts,
            Budget::new(rules.limits, Arc::new(history), now),
            vec![(campaign_plan, recorded)],
        );
        let mut skipped = Vec::new();
        let mut sending = Vec::new();
        let scan = plan.scan_with(0, &mut |_, send| {
            if limited && send.due {
                sending.push(AdmittedSend {
                    campaign: send.campaign.name.clone(),
                    occurrence: send.occurrence_text().to_owned(),
                    recipient: send.recipient.clone(),
                    category: send.campaign.category(),
                    at: now,
                });
            }
            let (status, reason) = match (&send.capped, &send.missed) {
                (Some(hit), _) => (Status::Capped, hit.text()),
                (None, Some(missed)) => (Status::Missed, missed.clone()),
                (None, None) => return,
            };
            skipped.push(Skipped {
                send: send::Outgoing::new(send.clone()).into_record(),
                status,
                reason,
            });
        });
        if scan.has_errors() {
            let problems: Vec<String> = scan
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .take(5)
                .map(|d| format!("{}: {}", d.location(), d.message))
                .collect();
            return Err(PlanError::Files(format!(
                "its recipients no longer render: {}",
                problems.join("; ")
            )));
        }
        admitted.insert(this, sending);
        drop(admitted);
        let counts = scan.campaigns.first();
        Ok(Planned {
            due: counts.map_or(0, |c| c.due),
            suppressed: counts.map_or(0, |c| c.of(SendState::Suppressed)),
            waiting: counts.map_or(0, |c| c.of(SendState::Waiting)),
            wake: counts.and_then(|c| c.next_wait()),
            skipped,
            plan,
        })
    })
    .await
    .unwrap_or_else(|e| Err(PlanError::Files(format!("planning failed: {e}"))))
}
