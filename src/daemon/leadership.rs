//! Leadership: one replica holds the ledger lock and sends; the others wait on standby and
//! take over when the leader's database session ends.

use std::sync::Arc;

use chrono::Utc;
use tracing::{error, info, warn};

use super::health::Role;
use super::{Daemon, LEADERSHIP_CHECK};
use crate::campaign::Campaign;
use crate::schedule::scheduler::Scheduler;
use crate::send::StopReason;

impl Daemon {
    /// The leader checks it still holds the lock (and retries occurrences the ledger failed
    /// on); a standby tries to take the lock. While the ledger does not answer, the checks
    /// back off (2, 4, 8, up to 16 s between tries).
    pub(super) async fn check_leadership(&mut self) {
        if tokio::time::Instant::now() < self.next_ledger_try {
            return;
        }
        let ledger = self.ledger.clone();
        if self.leader {
            match ledger.call(|l| l.holds_lock()).await {
                Ok(true) => {
                    self.health.ledger_problem(None);
                    let now = Utc::now();
                    for (campaign, occurrence) in std::mem::take(&mut self.pending) {
                        if let Some(action) = self.scheduler.retry(&campaign, occurrence, now) {
                            self.act(action).await;
                        }
                    }
                }
                Ok(false) => {
                    self.step_down("the ledger lock was lost (the database session ended)");
                }
                Err(e) => self.step_down(&e.to_string()),
            }
            return;
        }
        let holder = self.holder.clone();
        match ledger.call(move |l| l.try_lock(&holder)).await {
            Ok(None) => self.take_over().await,
            Ok(Some(other)) => {
                self.health.ledger_problem(None);
                if self.leader_seen.as_ref() != Some(&other) {
                    info!(leader = %other, "standby: another replica leads; taking over if it stops");
                    self.leader_seen = Some(other);
                }
            }
            Err(e) => {
                self.ledger_failures += 1;
                let wait = LEADERSHIP_CHECK * 2u32.pow(self.ledger_failures.min(4) - 1);
                warn!(
                    "standby: cannot reach the ledger (retrying in {}s): {e}",
                    wait.as_secs()
                );
                self.next_ledger_try = tokio::time::Instant::now() + wait - LEADERSHIP_CHECK;
                self.health.ledger_problem(Some(e.to_string()));
                return;
            }
        }
        self.ledger_failures = 0;
    }

    /// This replica took the lock: what the previous leader left in flight becomes unknown,
    /// and every campaign is armed, catching up as after a restart.
    async fn take_over(&mut self) {
        let ledger = self.ledger.clone();
        match ledger.call(|l| l.recover()).await {
            Ok(0) => {}
            Ok(n) => warn!(
                count = n,
                "sends left in flight by the previous leader are now recorded as unknown"
            ),
            Err(e) => {
                warn!("cannot recover the ledger: {e}");
                return;
            }
        }
        self.leader = true;
        self.leader_seen = None;
        self.health.set_role(Role::Leader);
        self.health.ledger_problem(None);
        info!("leading: this replica holds the ledger lock and sends");
        let campaigns: Vec<Arc<Campaign>> = self.campaigns.values().cloned().collect();
        self.campaigns.clear();
        self.install(campaigns, Utc::now()).await;
    }

    /// Lost the lock or the ledger: stop sending at once (nothing is sent that cannot be
    /// recorded), and try to take the lock again.
    pub(super) fn step_down(&mut self, reason: &str) {
        error!(
            "not sending: {reason}; retrying the ledger every {}s",
            LEADERSHIP_CHECK.as_secs()
        );
        self.leader = false;
        self.health.set_role(Role::Standby);
        self.health.ledger_problem(Some(reason.to_owned()));
        for stop in self.runs.values() {
            stop.send_replace(Some(StopReason::LedgerFailed(reason.to_owned())));
        }
        // Whoever leads next catches up from the ledger.
        self.scheduler = Scheduler::new();
        self.pending.clear();
    }
}
