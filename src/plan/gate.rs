//! Whether a send that the plan would make now goes now: inside its recipient's send window,
//! and within the project's limits (a frequency cap, the daily number of recipients). What
//! does not go waits (until its window opens, or the 24 hours free up), is capped, or, for a
//! scheduled occurrence whose deadline comes first, is missed.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::limits::{Admission, Budget};
use super::send::{PlannedSend, Wait, WaitReason};
use super::state::SendState;
use crate::campaign::window::Window;
use crate::schedule::rfc3339;

/// The window and the deadline of one campaign's occurrence, at the plan's instant.
#[derive(Debug)]
pub(super) struct Gate {
    now: DateTime<Utc>,
    /// A scheduled occurrence's last instant: `catch_up` after it, plus what a send may wait
    /// for its window or the daily limit (`max_delay`). `None` for `once`.
    deadline: Option<DateTime<Utc>>,
    /// Per zone, whether the window is open at `now` (`None`) or when it opens: the same for
    /// every recipient of a zone, so computed once per zone, not per recipient.
    opens: Mutex<HashMap<Tz, Option<DateTime<Utc>>>>,
}

impl Gate {
    /// The occurrence's deadline (see [`deadline`]).
    pub(super) fn deadline(&self) -> Option<DateTime<Utc>> {
        self.deadline
    }

    pub(super) fn new(now: DateTime<Utc>, deadline: Option<DateTime<Utc>>) -> Gate {
        Gate {
            now,
            deadline,
            opens: Mutex::default(),
        }
    }

    /// Lets `send` (new, or asked to be resent, and due but for its window and the limits)
    /// go, or says why not: it becomes `Waiting`, `Capped` or `Missed`.
    pub(super) fn decide(&self, send: &mut PlannedSend, window: Option<&Window>, budget: &Budget) {
        if let (Some(window), Some((zone, _))) = (window, send.zone)
            && let Some(opens) = self.opens(window, zone)
        {
            if let Some(deadline) = self.deadline.filter(|d| opens > *d) {
                send.state = SendState::Missed;
                send.missed = Some(format!(
                    "its send window ({} in {}) opens at {}, after the occurrence's deadline {} (catch_up plus max_delay)",
                    window.window.describe(),
                    zone.name(),
                    rfc3339(opens),
                    rfc3339(deadline)
                ));
                return;
            }
            send.state = SendState::Waiting;
            send.wait = Some(Wait {
                until: Some(opens),
                reason: WaitReason::Window,
            });
            return;
        }
        let category = send.campaign.category();
        match budget.admit(&send.key, send.mobile, category) {
            Admission::Send => send.due = true,
            Admission::Capped(hit) => {
                send.state = SendState::Capped;
                send.capped = Some(Box::new(hit));
            }
            Admission::Wait { until } => match self.deadline {
                Some(deadline) if until.is_none_or(|u| u > deadline) => {
                    send.state = SendState::Missed;
                    send.missed = Some(format!(
                        "the daily limit of {} recipients has no room before the occurrence's deadline {} (catch_up plus max_delay)",
                        budget.limits().daily_recipients.unwrap_or_default(),
                        rfc3339(deadline)
                    ));
                }
                _ => {
                    send.state = SendState::Waiting;
                    send.wait = Some(Wait {
                        until,
                        reason: WaitReason::DailyLimit,
                    });
                }
            },
        }
    }

    /// When `window` opens in `zone`, or `None` if it is open now.
    fn opens(&self, window: &Window, zone: Tz) -> Option<DateTime<Utc>> {
        let mut opens = self.opens.lock().unwrap_or_else(|e| e.into_inner());
        *opens.entry(zone).or_insert_with(|| {
            let at = window.window.next_open(zone, self.now);
            (at > self.now).then_some(at)
        })
    }
}

/// The last instant a scheduled occurrence's sends may go: `catch_up` after it, plus
/// `wait` when its sends may wait for a window or the daily limit.
pub(crate) fn deadline(
    occurrence: DateTime<Utc>,
    catch_up: TimeDelta,
    wait: Option<TimeDelta>,
) -> DateTime<Utc> {
    occurrence + catch_up + wait.unwrap_or_default()
}
