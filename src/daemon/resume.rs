//! Where a campaign's schedule resumes when the daemon arms it (on start, on reload of an
//! edited schedule, on takeover): decided from what the ledger knows of its recent
//! occurrences, so that a restart completes them as the running daemon would have.

use chrono::{DateTime, TimeDelta, Utc};

use crate::plan::deadline;
use crate::schedule::Schedule;

/// What the ledger knows of a campaign's occurrences.
#[derive(Debug, Default)]
pub(super) struct Known {
    /// The latest occurrence with anything recorded: a send, a missed occurrence, or its
    /// start by the daemon.
    pub(super) last: Option<DateTime<Utc>>,
    /// The occurrences from [`Resume::horizon`] on that were started (fired by the daemon,
    /// or with sends), as opposed to only recorded missed.
    pub(super) started: Vec<DateTime<Utc>>,
}

/// Where to resume.
#[derive(Debug, PartialEq)]
pub(super) struct Resume {
    /// The latest occurrence the scheduler takes as handled; it fires the ones after it
    /// (`None`: a new campaign). Just before the latest when that one was started and is
    /// within `catch_up`, so that it is fired again: it may have been cut short by a stop,
    /// a crash or a lost leader.
    pub(super) last_handled: Option<DateTime<Utc>>,
    /// Started occurrences before their deadline whose sends may wait for a window or the
    /// daily limit (other than the one fired again): planned again now, which sends what
    /// may go and waits for the rest, as the daemon that started them would have.
    pub(super) waiting: Vec<DateTime<Utc>>,
}

impl Resume {
    /// The earliest occurrence that may still send at `now`: [`Known::started`] lists the
    /// started occurrences from here on. `wait`: how long the campaign's sends may wait
    /// for a window or the daily limit (`None`: they never wait).
    pub(super) fn horizon(
        schedule: &Schedule,
        wait: Option<TimeDelta>,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        now - schedule.catch_up - wait.unwrap_or_default()
    }

    pub(super) fn of(
        schedule: &Schedule,
        wait: Option<TimeDelta>,
        known: &Known,
        now: DateTime<Utc>,
    ) -> Resume {
        let again = known
            .last
            .filter(|at| known.started.contains(at) && schedule.in_catch_up_window(*at, now));
        let waiting = match wait {
            None => Vec::new(),
            Some(_) => known
                .started
                .iter()
                .copied()
                .filter(|at| {
                    Some(*at) != again
                        && *at <= now
                        && now <= deadline(*at, schedule.catch_up, wait)
                })
                .collect(),
        };
        Resume {
            last_handled: again.map_or(known.last, |at| Some(at - TimeDelta::nanoseconds(1))),
            waiting,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono_tz::Tz;

    use super::*;
    use crate::schedule::When;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const LATEST: &str = "2026-12-07T03:30:00Z";
    const EARLIER: &str = "2026-12-07T02:30:00Z";
    const DAY: Option<TimeDelta> = Some(TimeDelta::hours(24));

    /// 15 minutes of catch-up (what fires it does not matter here).
    fn schedule() -> Schedule {
        Schedule {
            when: When::At(t(LATEST)),
            timezone: Tz::UTC,
            catch_up: TimeDelta::minutes(15),
        }
    }

    /// `LATEST` is the last occurrence recorded; `started` of `LATEST` and `EARLIER` were
    /// started.
    fn resume(started: &[&str], wait: Option<TimeDelta>, now: &str) -> Resume {
        let known = Known {
            last: Some(t(LATEST)),
            started: started.iter().map(|s| t(s)).collect(),
        };
        Resume::of(&schedule(), wait, &known, t(now))
    }

    fn handled(at: &str, waiting: &[&str]) -> Resume {
        Resume {
            last_handled: Some(t(at)),
            waiting: waiting.iter().map(|s| t(s)).collect(),
        }
    }

    #[test]
    fn a_started_occurrence_within_catch_up_is_fired_again() {
        let again = resume(&[LATEST], None, "2026-12-07T03:40:00Z");
        assert_eq!(
            again.last_handled,
            Some(t(LATEST) - TimeDelta::nanoseconds(1))
        );
        assert!(again.waiting.is_empty());
        // With sends that may wait, the earlier one is planned again too.
        let both = resume(&[EARLIER, LATEST], DAY, "2026-12-07T03:40:00Z");
        assert_eq!(both.last_handled, again.last_handled);
        assert_eq!(both.waiting, vec![t(EARLIER)]);
    }

    #[test]
    fn past_catch_up_they_are_planned_again_while_their_sends_may_wait() {
        assert_eq!(
            resume(&[EARLIER, LATEST], DAY, "2026-12-07T20:00:00Z"),
            handled(LATEST, &[EARLIER, LATEST])
        );
        // A deadline is catch_up plus the wait: 2026-12-08T02:45 for the earlier one,
        // 03:45 for the latest.
        assert_eq!(
            resume(&[EARLIER, LATEST], DAY, "2026-12-08T02:45:00Z"),
            handled(LATEST, &[EARLIER, LATEST])
        );
        assert_eq!(
            resume(&[EARLIER, LATEST], DAY, "2026-12-08T03:00:00Z"),
            handled(LATEST, &[LATEST])
        );
        assert_eq!(
            resume(&[EARLIER, LATEST], DAY, "2026-12-08T03:46:00Z"),
            handled(LATEST, &[])
        );
    }

    #[test]
    fn without_a_wait_or_a_start_they_are_handled() {
        assert_eq!(
            resume(&[LATEST], None, "2026-12-07T04:00:00Z"),
            handled(LATEST, &[])
        );
        // Recorded missed only: the daemon never started it.
        for now in ["2026-12-07T03:40:00Z", "2026-12-07T20:00:00Z"] {
            assert_eq!(resume(&[], DAY, now), handled(LATEST, &[]));
        }
        assert_eq!(
            resume(&[EARLIER], DAY, "2026-12-07T03:40:00Z"),
            handled(LATEST, &[EARLIER]),
            "the latest was missed, the earlier one still waits"
        );
    }

    #[test]
    fn a_new_campaign_starts_from_the_scheduler() {
        let now = t("2026-12-07T03:40:00Z");
        let new = Resume::of(&schedule(), DAY, &Known::default(), now);
        assert_eq!(
            new,
            Resume {
                last_handled: None,
                waiting: Vec::new()
            }
        );
    }

    #[test]
    fn the_horizon_is_the_earliest_deadline_still_open() {
        let now = t("2026-12-08T03:45:00Z");
        assert_eq!(Resume::horizon(&schedule(), DAY, now), t(LATEST));
        assert_eq!(
            Resume::horizon(&schedule(), None, now),
            t("2026-12-08T03:30:00Z")
        );
    }
}
