//! When a campaign is sent: a cron expression or one `at` time, in a time zone, with a
//! catch-up window for occurrences that come late (daemon down, laptop asleep).

pub(crate) mod cron;
pub(crate) mod scheduler;
pub(crate) mod window;
pub(crate) mod zones;

use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;

use cron::Cron;

pub(crate) const DEFAULT_CATCH_UP: TimeDelta = TimeDelta::minutes(15);

#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    pub when: When,
    pub timezone: Tz,
    pub catch_up: TimeDelta,
}

#[derive(Debug, Clone)]
pub(crate) enum When {
    Cron(Box<Cron>),
    At(DateTime<Utc>),
}

impl Schedule {
    /// The latest occurrence at or before `now`.
    pub(crate) fn latest_at_or_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.when {
            When::Cron(cron) => cron.latest_at_or_before(now, self.timezone),
            When::At(at) => (*at <= now).then_some(*at),
        }
    }

    /// The first occurrence strictly after `after`.
    pub(crate) fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.when {
            When::Cron(cron) => cron.next_after(after, self.timezone),
            When::At(at) => (*at > after).then_some(*at),
        }
    }

    /// Up to `n` occurrences strictly after `after`.
    pub(crate) fn next_runs(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        std::iter::successors(self.next_after(after), |t| self.next_after(*t))
            .take(n)
            .collect()
    }

    /// Whether an occurrence at `at` may still be sent at `now`: it is at most `catch_up` old.
    pub(crate) fn in_catch_up_window(&self, at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        at <= now && now - at <= self.catch_up
    }

    /// `at` shown in the schedule's own time zone.
    pub(crate) fn local(&self, at: DateTime<Utc>) -> DateTime<Tz> {
        at.with_timezone(&self.timezone)
    }

    /// `Mon 2026-11-30 09:00 +05:30` (seconds only when there are any): what a reviewer
    /// checks a schedule against.
    pub(crate) fn local_text(&self, at: DateTime<Utc>) -> String {
        let format = if at.second() == 0 {
            "%a %Y-%m-%d %H:%M %:z"
        } else {
            "%a %Y-%m-%d %H:%M:%S %:z"
        };
        self.local(at).format(format).to_string()
    }

    /// Whether two schedules fire at the same times with the same catch-up.
    pub(crate) fn same_as(&self, other: &Schedule) -> bool {
        let when = match (&self.when, &other.when) {
            (When::Cron(a), When::Cron(b)) => a.expr() == b.expr(),
            (When::At(a), When::At(b)) => a == b,
            _ => false,
        };
        when && self.timezone == other.timezone && self.catch_up == other.catch_up
    }

    /// The schedule in one line: ``cron `0 9 * * 1-5` in Asia/Kolkata, catch-up 15m``.
    pub(crate) fn describe(&self) -> String {
        let zone = self.timezone.name();
        let catch_up = format_duration(self.catch_up);
        match &self.when {
            When::Cron(cron) => format!("cron `{}` in {zone}, catch-up {catch_up}", cron.expr()),
            When::At(at) => format!("at {} ({zone}), catch-up {catch_up}", self.local_text(*at)),
        }
    }
}

/// One run of a campaign: `once` for unscheduled campaigns, else the fire instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Occurrence {
    Once,
    At(DateTime<Utc>),
}

impl Occurrence {
    pub(crate) fn time(self) -> Option<DateTime<Utc>> {
        match self {
            Occurrence::Once => None,
            Occurrence::At(t) => Some(t),
        }
    }

    /// Parses the form used in send keys and the ledger.
    pub(crate) fn parse(text: &str) -> Option<Occurrence> {
        if text == "once" {
            return Some(Occurrence::Once);
        }
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| Occurrence::At(t.with_timezone(&Utc)))
    }
}

impl fmt::Display for Occurrence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Occurrence::Once => f.write_str("once"),
            Occurrence::At(t) => f.write_str(&rfc3339(*t)),
        }
    }
}

/// RFC 3339 in UTC with second precision: `2026-11-30T03:30:00Z`.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses `90s`, `15m`, `2h`, `1h30m`, `7d`: one or more number-unit pairs, units d (24
/// hours), h, m, s. (A campaign file's `catch_up` is held to h, m and s by its schema.)
pub(crate) fn parse_duration(text: &str) -> Option<TimeDelta> {
    if text.is_empty() {
        return None;
    }
    let mut total = TimeDelta::zero();
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().ok()?;
        digits.clear();
        let part = match c {
            'd' => TimeDelta::try_days(n)?,
            'h' => TimeDelta::try_hours(n)?,
            'm' => TimeDelta::try_minutes(n)?,
            's' => TimeDelta::try_seconds(n)?,
            _ => return None,
        };
        total = total.checked_add(&part)?;
    }
    digits.is_empty().then_some(total)
}

/// The inverse of [`parse_duration`], in the shortest form: `1h30m`, `15m`, `90s` → `1m30s`.
pub(crate) fn format_duration(d: TimeDelta) -> String {
    let secs = d.num_seconds();
    if secs == 0 {
        return "0s".to_owned();
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(h, 'h'), (m, 'm'), (s, 's')] {
        if n != 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(TimeDelta::seconds(90)));
        assert_eq!(parse_duration("15m"), Some(TimeDelta::minutes(15)));
        assert_eq!(parse_duration("1h30m"), Some(TimeDelta::minutes(90)));
        assert_eq!(parse_duration("2h"), Some(TimeDelta::hours(2)));
        assert_eq!(parse_duration("7d"), Some(TimeDelta::days(7)));
        assert_eq!(parse_duration("1d12h"), Some(TimeDelta::hours(36)));
        for bad in [
            "d",
            "1d 2h",
            "99999999999999999d",
            "",
            "15",
            "m",
            "1x",
            "1h 30m",
            "-5m",
            "99999999999999999999h",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(format_duration(TimeDelta::minutes(90)), "1h30m");
        assert_eq!(format_duration(TimeDelta::seconds(90)), "1m30s");
        assert_eq!(format_duration(TimeDelta::minutes(15)), "15m");
    }

    #[test]
    fn at_schedule_and_catch_up_window() {
        let at: DateTime<Utc> = "2026-11-24T03:30:00Z".parse().unwrap();
        let schedule = Schedule {
            when: When::At(at),
            timezone: chrono_tz::Asia::Kolkata,
            catch_up: DEFAULT_CATCH_UP,
        };
        assert_eq!(schedule.next_after(at - TimeDelta::seconds(1)), Some(at));
        assert_eq!(schedule.next_after(at), None);
        assert_eq!(schedule.latest_at_or_before(at), Some(at));
        assert_eq!(
            schedule.latest_at_or_before(at - TimeDelta::seconds(1)),
            None
        );
        assert!(schedule.in_catch_up_window(at, at + TimeDelta::minutes(15)));
        assert!(!schedule.in_catch_up_window(at, at + TimeDelta::minutes(16)));
        assert!(!schedule.in_catch_up_window(at, at - TimeDelta::minutes(1)));
        assert_eq!(schedule.local(at).to_rfc3339(), "2026-11-24T09:00:00+05:30");
    }

    #[test]
    fn occurrence_round_trips() {
        let t: DateTime<Utc> = "2026-11-24T03:30:00Z".parse().unwrap();
        for occ in [Occurrence::Once, Occurrence::At(t)] {
            assert_eq!(Occurrence::parse(&occ.to_string()), Some(occ));
        }
        assert_eq!(Occurrence::At(t).to_string(), "2026-11-24T03:30:00Z");
    }
}
