//! Decides, for the daemon, which occurrence of which campaign to send when: a pure state
//! machine driven by the clock it is given, so every rule is tested without sleeping.
//!
//! Rules: an occurrence found at most `catch_up` late is sent at once; older ones are
//! recorded as missed, never sent; of several occurrences found at once (after downtime, a
//! laptop sleep, a clock jump) only the latest can be sent. One campaign never sends two
//! occurrences at the same time: the newer waits for the running one, and if yet another
//! comes meanwhile the waiting one is missed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::schedule::Schedule;

/// Missed occurrences recorded at once for one campaign; older ones are only counted.
pub(crate) const MAX_MISSED_RECORDED: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Send this occurrence now.
    Send {
        campaign: String,
        occurrence: DateTime<Utc>,
    },
    /// Record this occurrence as missed (found more than `catch_up` late).
    Missed {
        campaign: String,
        occurrence: DateTime<Utc>,
    },
    /// More missed occurrences than are recorded one by one.
    MissedUncounted { campaign: String, count: usize },
    /// This occurrence waits for the campaign's running occurrence to finish.
    Wait {
        campaign: String,
        occurrence: DateTime<Utc>,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    schedule: Schedule,
    /// Every occurrence at or before this instant has been dealt with.
    checked: DateTime<Utc>,
    /// The first occurrence after `checked`.
    next: Option<DateTime<Utc>>,
    running: bool,
    waiting: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
pub(crate) struct Scheduler {
    entries: BTreeMap<String, Entry>,
}

impl Scheduler {
    pub(crate) fn new() -> Scheduler {
        Scheduler::default()
    }

    /// Schedules `campaign` (or re-schedules it after an edit). `last_handled` is the latest
    /// occurrence the ledger knows about (sent or missed): occurrences after it and up to
    /// `now` are dealt with on the next tick. Without one (a new campaign), only its latest
    /// occurrence counts, and only if it is within `catch_up`: nothing before a campaign
    /// existed is "missed".
    pub(crate) fn arm(
        &mut self,
        campaign: &str,
        schedule: Schedule,
        last_handled: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) {
        let checked = match last_handled {
            Some(at) => at.min(now),
            None => match schedule.latest_at_or_before(now) {
                Some(latest) if schedule.in_catch_up_window(latest, now) => {
                    latest - chrono::TimeDelta::nanoseconds(1)
                }
                _ => now,
            },
        };
        let (running, waiting) = self
            .entries
            .get(campaign)
            .map_or((false, None), |e| (e.running, e.waiting));
        let next = schedule.next_after(checked);
        self.entries.insert(
            campaign.to_owned(),
            Entry {
                schedule,
                checked,
                next,
                running,
                waiting,
            },
        );
    }

    /// Stops scheduling `campaign` (its file was removed or disabled).
    pub(crate) fn remove(&mut self, campaign: &str) {
        self.entries.remove(campaign);
    }

    /// The next fire instant of `campaign`.
    pub(crate) fn next_of(&self, campaign: &str) -> Option<DateTime<Utc>> {
        self.entries.get(campaign).and_then(|e| e.next)
    }

    /// The earliest next fire instant of all campaigns: when to wake up.
    pub(crate) fn next_wake(&self) -> Option<DateTime<Utc>> {
        self.entries.values().filter_map(|e| e.next).min()
    }

    /// Deals with every occurrence due at `now`.
    pub(crate) fn tick(&mut self, now: DateTime<Utc>) -> Vec<Action> {
        let mut actions = Vec::new();
        for (name, entry) in &mut self.entries {
            if entry.next.is_none_or(|next| next > now) {
                continue;
            }
            let mut due = Vec::new();
            let mut cursor = entry.next;
            while let Some(at) = cursor.filter(|at| *at <= now) {
                due.push(at);
                cursor = entry.schedule.next_after(at);
            }
            entry.checked = now;
            entry.next = cursor;
            let Some(latest) = due.pop() else { continue };
            let older = due.len();
            if older > MAX_MISSED_RECORDED {
                actions.push(Action::MissedUncounted {
                    campaign: name.clone(),
                    count: older - MAX_MISSED_RECORDED,
                });
            }
            for occurrence in due
                .into_iter()
                .skip(older.saturating_sub(MAX_MISSED_RECORDED))
            {
                actions.push(Action::Missed {
                    campaign: name.clone(),
                    occurrence,
                });
            }
            if !entry.schedule.in_catch_up_window(latest, now) {
                actions.push(Action::Missed {
                    campaign: name.clone(),
                    occurrence: latest,
                });
            } else if entry.running {
                if let Some(superseded) = entry.waiting.replace(latest) {
                    actions.push(Action::Missed {
                        campaign: name.clone(),
                        occurrence: superseded,
                    });
                }
                actions.push(Action::Wait {
                    campaign: name.clone(),
                    occurrence: latest,
                });
            } else {
                entry.running = true;
                actions.push(Action::Send {
                    campaign: name.clone(),
                    occurrence: latest,
                });
            }
        }
        actions
    }

    /// An occurrence that could not be sent (the ledger failed) is tried again, now that the
    /// ledger answers: sent if still within its catch-up window and the campaign is idle,
    /// queued behind a running one, or missed.
    pub(crate) fn retry(
        &mut self,
        campaign: &str,
        occurrence: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<Action> {
        let entry = self.entries.get_mut(campaign)?;
        let action = if !entry.schedule.in_catch_up_window(occurrence, now) {
            Action::Missed {
                campaign: campaign.to_owned(),
                occurrence,
            }
        } else if entry.running {
            if entry.waiting.is_some_and(|w| w >= occurrence) {
                return None;
            }
            entry.waiting = Some(occurrence);
            Action::Wait {
                campaign: campaign.to_owned(),
                occurrence,
            }
        } else {
            entry.running = true;
            Action::Send {
                campaign: campaign.to_owned(),
                occurrence,
            }
        };
        Some(action)
    }

    /// Marks `campaign` as sending an occurrence the daemon resumes itself (its waiting
    /// sends); false when it is sending one already, or is not scheduled.
    pub(crate) fn begin(&mut self, campaign: &str) -> bool {
        match self.entries.get_mut(campaign) {
            Some(entry) if !entry.running => {
                entry.running = true;
                true
            }
            _ => false,
        }
    }

    /// The running occurrence of `campaign` finished: start the waiting one, if it is still
    /// within its catch-up window (else it is missed).
    pub(crate) fn finished(&mut self, campaign: &str, now: DateTime<Utc>) -> Option<Action> {
        let entry = self.entries.get_mut(campaign)?;
        entry.running = false;
        let waiting = entry.waiting.take()?;
        if entry.schedule.in_catch_up_window(waiting, now) {
            entry.running = true;
            Some(Action::Send {
                campaign: campaign.to_owned(),
                occurrence: waiting,
            })
        } else {
            Some(Action::Missed {
                campaign: campaign.to_owned(),
                occurrence: waiting,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::When;
    use crate::schedule::cron::Cron;
    use chrono::TimeDelta;
    use chrono_tz::Tz;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn cron(expr: &str, tz: Tz, catch_up_minutes: i64) -> Schedule {
        Schedule {
            when: When::Cron(Box::new(Cron::parse(expr).unwrap())),
            timezone: tz,
            catch_up: TimeDelta::minutes(catch_up_minutes),
        }
    }

    fn send(campaign: &str, at: &str) -> Action {
        Action::Send {
            campaign: campaign.to_owned(),
            occurrence: t(at),
        }
    }

    fn missed(campaign: &str, at: &str) -> Action {
        Action::Missed {
            campaign: campaign.to_owned(),
            occurrence: t(at),
        }
    }

    /// Runs the scheduler like the daemon does: wake at each next fire time, tick, finish
    /// every send at once. Returns the sends.
    fn fire_times(schedule: Schedule, from: &str, count: usize) -> Vec<String> {
        let mut s = Scheduler::new();
        s.arm("c", schedule.clone(), None, t(from));
        let mut out = Vec::new();
        while out.len() < count {
            let now = s.next_wake().unwrap();
            for action in s.tick(now) {
                if let Action::Send { occurrence, .. } = action {
                    out.push(
                        schedule
                            .local(occurrence)
                            .format("%m-%d %H:%M%z")
                            .to_string(),
                    );
                    s.finished("c", now);
                }
            }
        }
        out
    }

    #[test]
    fn fires_across_dst_in_new_york() {
        let ny = chrono_tz::America::New_York;
        // Spring forward: the 02:30 job runs at 03:00 that day.
        assert_eq!(
            fire_times(cron("30 2 * * *", ny, 15), "2026-03-07T12:00:00Z", 3),
            ["03-08 03:00-0400", "03-09 02:30-0400", "03-10 02:30-0400"]
        );
        // Fall back: the 01:30 job runs once, at the first 01:30.
        assert_eq!(
            fire_times(cron("30 1 * * *", ny, 15), "2026-10-31T12:00:00Z", 3),
            ["11-01 01:30-0400", "11-02 01:30-0500", "11-03 01:30-0500"]
        );
        // An hourly job follows real time: both 01:00s, no 02:00 in spring.
        assert_eq!(
            fire_times(cron("0 * * * *", ny, 15), "2026-11-01T04:30:00Z", 3),
            ["11-01 01:00-0400", "11-01 01:00-0500", "11-01 02:00-0500"]
        );
    }

    #[test]
    fn fires_across_dst_in_london() {
        let london = chrono_tz::Europe::London;
        assert_eq!(
            fire_times(cron("30 1 * * *", london, 15), "2026-03-28T12:00:00Z", 2),
            ["03-29 02:00+0100", "03-30 01:30+0100"]
        );
        assert_eq!(
            fire_times(cron("30 1 * * *", london, 15), "2026-10-24T12:00:00Z", 2),
            ["10-25 01:30+0100", "10-26 01:30+0000"]
        );
    }

    #[test]
    fn catch_up_inside_the_window_sends_at_once() {
        let mut s = Scheduler::new();
        // Started at 09:10 for a 09:00 job with 15 minutes of catch-up.
        s.arm(
            "c",
            cron("0 9 * * *", Tz::UTC, 15),
            None,
            t("2026-11-30T09:10:00Z"),
        );
        assert_eq!(
            s.tick(t("2026-11-30T09:10:00Z")),
            [send("c", "2026-11-30T09:00:00Z")]
        );
        assert_eq!(s.next_of("c"), Some(t("2026-12-01T09:00:00Z")));
    }

    #[test]
    fn catch_up_outside_the_window_sends_nothing_for_a_new_campaign() {
        let mut s = Scheduler::new();
        s.arm(
            "c",
            cron("0 9 * * *", Tz::UTC, 15),
            None,
            t("2026-11-30T09:20:00Z"),
        );
        assert_eq!(s.tick(t("2026-11-30T09:20:00Z")), []);
        assert_eq!(s.next_of("c"), Some(t("2026-12-01T09:00:00Z")));
    }

    #[test]
    fn after_downtime_at_most_one_catch_up_and_the_rest_missed() {
        let mut s = Scheduler::new();
        // The ledger last saw 06:00; the daemon comes back at 09:05 for an hourly job.
        s.arm(
            "c",
            cron("0 * * * *", Tz::UTC, 15),
            Some(t("2026-11-30T06:00:00Z")),
            t("2026-11-30T09:05:00Z"),
        );
        let actions = s.tick(t("2026-11-30T09:05:00Z"));
        assert_eq!(
            actions,
            [
                missed("c", "2026-11-30T07:00:00Z"),
                missed("c", "2026-11-30T08:00:00Z"),
                send("c", "2026-11-30T09:00:00Z"),
            ]
        );
    }

    #[test]
    fn after_a_long_sleep_everything_is_missed() {
        let mut s = Scheduler::new();
        s.arm(
            "c",
            cron("0 9 * * *", Tz::UTC, 15),
            None,
            t("2026-11-30T08:00:00Z"),
        );
        // Laptop asleep from 08:00 to 10:00 the next day.
        let actions = s.tick(t("2026-12-01T10:00:00Z"));
        assert_eq!(
            actions,
            [
                missed("c", "2026-11-30T09:00:00Z"),
                missed("c", "2026-12-01T09:00:00Z")
            ]
        );
        assert_eq!(s.next_of("c"), Some(t("2026-12-02T09:00:00Z")));
    }

    #[test]
    fn very_long_downtime_records_a_bounded_number_of_missed() {
        let mut s = Scheduler::new();
        s.arm(
            "c",
            cron("* * * * *", Tz::UTC, 1),
            Some(t("2026-01-01T00:00:00Z")),
            t("2026-01-02T00:00:30Z"),
        );
        let actions = s.tick(t("2026-01-02T00:00:30Z"));
        let recorded = actions
            .iter()
            .filter(|a| matches!(a, Action::Missed { .. }))
            .count();
        assert_eq!(recorded, MAX_MISSED_RECORDED);
        assert!(actions.contains(&Action::MissedUncounted {
            campaign: "c".into(),
            count: 1439 - MAX_MISSED_RECORDED
        }));
        assert_eq!(actions.last(), Some(&send("c", "2026-01-02T00:00:00Z")));
    }

    #[test]
    fn overlap_waits_and_a_superseded_wait_is_missed() {
        let mut s = Scheduler::new();
        s.arm(
            "c",
            cron("*/5 * * * *", Tz::UTC, 15),
            None,
            t("2026-11-30T08:59:00Z"),
        );
        // At start, 08:55 is within its catch-up window.
        assert_eq!(
            s.tick(t("2026-11-30T08:59:00Z")),
            [send("c", "2026-11-30T08:55:00Z")]
        );
        assert_eq!(s.finished("c", t("2026-11-30T08:59:30Z")), None);
        assert_eq!(
            s.tick(t("2026-11-30T09:00:00Z")),
            [send("c", "2026-11-30T09:00:00Z")]
        );
        // Still sending at 09:05: the 09:05 occurrence waits.
        let wait = Action::Wait {
            campaign: "c".into(),
            occurrence: t("2026-11-30T09:05:00Z"),
        };
        assert_eq!(s.tick(t("2026-11-30T09:05:00Z")), [wait]);
        // Still sending at 09:10: 09:05 is superseded (missed), 09:10 waits.
        let wait = Action::Wait {
            campaign: "c".into(),
            occurrence: t("2026-11-30T09:10:00Z"),
        };
        assert_eq!(
            s.tick(t("2026-11-30T09:10:00Z")),
            [missed("c", "2026-11-30T09:05:00Z"), wait]
        );
        // The first finishes at 09:12: 09:10 starts.
        assert_eq!(
            s.finished("c", t("2026-11-30T09:12:00Z")),
            Some(send("c", "2026-11-30T09:10:00Z"))
        );
        // It finishes; nothing waits.
        assert_eq!(s.finished("c", t("2026-11-30T09:13:00Z")), None);
    }

    #[test]
    fn a_wait_past_its_catch_up_is_missed() {
        let mut s = Scheduler::new();
        s.arm(
            "c",
            cron("0 * * * *", Tz::UTC, 15),
            None,
            t("2026-11-30T08:59:00Z"),
        );
        s.tick(t("2026-11-30T09:00:00Z"));
        s.tick(t("2026-11-30T10:00:00Z"));
        assert_eq!(
            s.finished("c", t("2026-11-30T10:30:00Z")),
            Some(missed("c", "2026-11-30T10:00:00Z"))
        );
    }

    #[test]
    fn an_occurrence_the_ledger_could_not_take_is_retried_within_its_window() {
        let mut s = Scheduler::new();
        s.arm(
            "c",
            cron("0 9 * * *", Tz::UTC, 15),
            None,
            t("2026-11-30T08:00:00Z"),
        );
        assert_eq!(
            s.tick(t("2026-11-30T09:00:00Z")),
            [send("c", "2026-11-30T09:00:00Z")]
        );
        // The send failed on the ledger; the run ended.
        assert_eq!(s.finished("c", t("2026-11-30T09:00:05Z")), None);
        // The ledger is back five minutes later: sent again (claims keep it exactly-once).
        assert_eq!(
            s.retry("c", t("2026-11-30T09:00:00Z"), t("2026-11-30T09:05:00Z")),
            Some(send("c", "2026-11-30T09:00:00Z"))
        );
        s.finished("c", t("2026-11-30T09:05:01Z"));
        // Back only after its catch-up window: missed.
        assert_eq!(
            s.retry("c", t("2026-11-30T09:00:00Z"), t("2026-11-30T09:30:00Z")),
            Some(missed("c", "2026-11-30T09:00:00Z"))
        );
        assert_eq!(
            s.retry("gone", t("2026-11-30T09:00:00Z"), t("2026-11-30T09:01:00Z")),
            None
        );
    }

    #[test]
    fn at_schedules_fire_once() {
        let mut s = Scheduler::new();
        let schedule = Schedule {
            when: When::At(t("2026-12-06T18:00:00Z")),
            timezone: chrono_tz::Europe::London,
            catch_up: TimeDelta::hours(2),
        };
        s.arm("r", schedule, None, t("2026-12-06T17:00:00Z"));
        assert_eq!(s.next_wake(), Some(t("2026-12-06T18:00:00Z")));
        assert_eq!(s.tick(t("2026-12-06T17:59:59Z")), []);
        assert_eq!(
            s.tick(t("2026-12-06T18:00:00Z")),
            [send("r", "2026-12-06T18:00:00Z")]
        );
        assert_eq!(s.next_wake(), None);
    }

    #[test]
    fn rearming_an_edited_schedule_keeps_the_running_state() {
        let mut s = Scheduler::new();
        s.arm(
            "c",
            cron("0 9 * * *", Tz::UTC, 15),
            None,
            t("2026-11-30T08:00:00Z"),
        );
        assert_eq!(
            s.tick(t("2026-11-30T09:00:00Z")),
            [send("c", "2026-11-30T09:00:00Z")]
        );
        s.arm(
            "c",
            cron("5 9 * * *", Tz::UTC, 15),
            Some(t("2026-11-30T09:00:00Z")),
            t("2026-11-30T09:01:00Z"),
        );
        assert_eq!(s.next_of("c"), Some(t("2026-11-30T09:05:00Z")));
        let wait = Action::Wait {
            campaign: "c".into(),
            occurrence: t("2026-11-30T09:05:00Z"),
        };
        assert_eq!(s.tick(t("2026-11-30T09:05:00Z")), [wait]);
        s.remove("c");
        assert_eq!(s.next_wake(), None);
    }
}
