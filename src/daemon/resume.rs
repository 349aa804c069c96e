//! Where a campaign's schedule resumes when the daemon arms it (on start, on reload of an
//! edited schedule, on takeover): decided from what the ledger knows of its latest
//! occurrence, so a restart completes an occurrence as the running daemon would have.

use chrono::{DateTime, TimeDelta, Utc};

use crate::plan::deadline;
use crate::schedule::Schedule;

/// The latest occurrence the ledger knows of a campaign, and whether it was started (the
/// daemon fired it, or it has sends) rather than only recorded missed.
#[derive(Clone, Copy, Debug)]
pub(super) struct Latest {
    pub(super) at: DateTime<Utc>,
    pub(super) started: bool,
}

/// Where to resume.
#[derive(Debug, PartialEq)]
pub(super) enum Resume {
    /// Occurrences after this one are dealt with by the scheduler (`None`: a new campaign).
    After(Option<DateTime<Utc>>),
    /// The latest occurrence is started and within `catch_up`: the scheduler fires it
    /// again (it may have been cut short by a stop, a crash or a lost leader).
    Again(DateTime<Utc>),
    /// The latest occurrence is started, past `catch_up` but before its deadline, and its
    /// sends may wait: it is planned again now, which sends what may go and waits for the
    /// rest, as the daemon that started it would have.
    Waiting(DateTime<Utc>),
}

impl Resume {
    /// `wait`: how long the campaign's sends may wait for a window or the daily limit
    /// (`None`: they never wait).
    pub(super) fn of(
        schedule: &Schedule,
        wait: Option<TimeDelta>,
        latest: Option<Latest>,
        now: DateTime<Utc>,
    ) -> Resume {
        match latest {
            Some(Latest { at, started: true }) if schedule.in_catch_up_window(at, now) => {
                Resume::Again(at)
            }
            Some(Latest { at, started: true })
                if wait.is_some() && at <= now && now <= deadline(at, schedule.catch_up, wait) =>
            {
                Resume::Waiting(at)
            }
            latest => Resume::After(latest.map(|l| l.at)),
        }
    }

    /// The latest occurrence the scheduler takes as handled.
    pub(super) fn last_handled(&self) -> Option<DateTime<Utc>> {
        match *self {
            Resume::After(at) => at,
            Resume::Again(at) => Some(at - TimeDelta::nanoseconds(1)),
            Resume::Waiting(at) => Some(at),
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

    const FIRED: &str = "2026-12-07T03:30:00Z";

    fn once(catch_up: TimeDelta) -> Schedule {
        Schedule {
            when: When::At(t(FIRED)),
            timezone: Tz::UTC,
            catch_up,
        }
    }

    fn resume(started: bool, wait: Option<TimeDelta>, now: &str) -> Resume {
        let latest = Latest {
            at: t(FIRED),
            started,
        };
        Resume::of(&once(TimeDelta::minutes(15)), wait, Some(latest), t(now))
    }

    #[test]
    fn a_started_occurrence_within_catch_up_is_fired_again() {
        let again = resume(true, None, "2026-12-07T03:40:00Z");
        assert_eq!(again, Resume::Again(t(FIRED)));
        assert!(again.last_handled().unwrap() < t(FIRED));
    }

    #[test]
    fn past_catch_up_it_is_planned_again_while_its_sends_may_wait() {
        let day = Some(TimeDelta::hours(24));
        let waiting = resume(true, day, "2026-12-07T20:00:00Z");
        assert_eq!(waiting, Resume::Waiting(t(FIRED)));
        assert_eq!(waiting.last_handled(), Some(t(FIRED)));
        // The deadline is catch_up plus the wait: 2026-12-08T03:45.
        assert_eq!(
            resume(true, day, "2026-12-08T03:45:00Z"),
            Resume::Waiting(t(FIRED))
        );
        assert_eq!(
            resume(true, day, "2026-12-08T03:46:00Z"),
            Resume::After(Some(t(FIRED)))
        );
    }

    #[test]
    fn without_a_wait_or_a_start_it_is_handled() {
        assert_eq!(
            resume(true, None, "2026-12-07T04:00:00Z"),
            Resume::After(Some(t(FIRED)))
        );
        // Recorded missed only: the daemon never started it.
        for now in ["2026-12-07T03:40:00Z", "2026-12-07T20:00:00Z"] {
            assert_eq!(
                resume(false, Some(TimeDelta::hours(24)), now),
                Resume::After(Some(t(FIRED)))
            );
        }
    }

    #[test]
    fn a_new_campaign_starts_from_the_scheduler() {
        let schedule = once(TimeDelta::minutes(15));
        let now = t("2026-12-07T03:40:00Z");
        let new = Resume::of(&schedule, None, None, now);
        assert_eq!(new, Resume::After(None));
        assert_eq!(new.last_handled(), None);
    }
}
