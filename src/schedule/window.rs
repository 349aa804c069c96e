//! Send windows (quiet hours): the hours of the day, on some days of the week, in which a
//! recipient may be sent to, read on the wall clock of the recipient's zone.
//!
//! The predicate is about the wall clock, and daylight saving is never an error: local times
//! that a spring-forward skips never happen, so a window that starts in the gap opens when
//! the clock resumes (and one that lies wholly in the gap does not open that day); local times
//! that a fall-back repeats are inside both times they occur. An overnight window
//! (`21:00-06:00`) belongs to the day it starts on.
//!
//! Windows start and end on whole minutes and zones change offset on whole seconds, so every
//! instant these functions return is a whole second.

use std::fmt;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone,
    Timelike, Utc, Weekday,
};
use chrono_tz::{GapInfo, Tz};

const MINUTES_PER_DAY: u16 = 24 * 60;

/// How many days after `t` a search looks. Each allowed weekday comes round twice in 15 days,
/// and a DST gap (or a skipped calendar day) can take the window away on only one of them.
const SEARCH_DAYS: usize = 16;

/// The step of the scan for offset changes: no zone changes its offset twice within an hour.
const TRANSITION_SCAN: i64 = 3600;

/// A span of the day, `[start, end)` in minutes after local midnight. `end < start` is an
/// overnight window. Always `start < 24:00`, `end <= 24:00` and `start != end`, so the
/// window is never empty on the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hours {
    start: u16,
    end: u16,
}

impl Hours {
    /// Parses `HH:MM-HH:MM` (24-hour; `24:00` may end a window).
    pub(crate) fn parse(text: &str) -> Result<Hours, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("no hours given: write HH:MM-HH:MM, e.g. 09:00-20:00".to_owned());
        }
        let shape = || format!("`{text}`: hours are HH:MM-HH:MM, e.g. 09:00-20:00");
        let (start, end) = text.split_once('-').ok_or_else(shape)?;
        let (Some(start_hm), Some(end_hm)) = (clock(start), clock(end)) else {
            return Err(shape());
        };
        for (part, (h, m)) in [(start, start_hm), (end, end_hm)] {
            if h > 24 || m > 59 || (h == 24 && m > 0) {
                return Err(format!(
                    "`{text}`: {part} is not a time of day (00:00 to 23:59, or 24:00 to end a window)"
                ));
            }
        }
        let minutes = |(h, m): (u16, u16)| h * 60 + m;
        let (start, end) = (minutes(start_hm), minutes(end_hm));
        if start == MINUTES_PER_DAY {
            return Err(format!(
                "`{text}`: 24:00 can only end a window (start at 00:00 instead)"
            ));
        }
        if start == end {
            return Err(format!(
                "`{text}`: the window starts and ends at the same time (for all day, write 00:00-24:00)"
            ));
        }
        Ok(Hours { start, end })
    }

    fn overnight(self) -> bool {
        self.end < self.start
    }
}

/// `HH:MM` as (hours, minutes), or `None` unless it is two digits, a colon and two digits.
fn clock(text: &str) -> Option<(u16, u16)> {
    let bytes = text.as_bytes();
    let digit = |i: usize| {
        bytes[i]
            .is_ascii_digit()
            .then(|| u16::from(bytes[i] - b'0'))
    };
    if bytes.len() != 5 || bytes[2] != b':' {
        return None;
    }
    Some((digit(0)? * 10 + digit(1)?, digit(3)? * 10 + digit(4)?))
}

impl fmt::Display for Hours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (start, end) = (self.start, self.end);
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            start / 60,
            start % 60,
            end / 60,
            end % 60
        )
    }
}

const DAY_NAMES: [&str; 7] = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];

/// A set of weekdays, bit `i` for `Weekday::num_days_from_monday() == i`. Never empty: a
/// window that can never open would make every search fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Days(u8);

impl Days {
    pub(crate) const ALL: Days = Days(0x7f);

    /// Parses `MON-SAT`, `MON,WED,FRI`, `MON-FRI,SUN`, `FRI-MON` (a range may wrap past
    /// Sunday), `*` or `ALL`; three-letter English names, in any case.
    pub(crate) fn parse(text: &str) -> Result<Days, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err(
                "no days given: write e.g. MON-SAT, MON,WED,FRI, or * for every day".to_owned(),
            );
        }
        // Name the whole text only when the bad part is not all of it.
        let fail = |part: &str, problem: &str| {
            if part == text {
                format!("`{part}` {problem}")
            } else {
                format!("`{text}`: `{part}` {problem}")
            }
        };
        let day = |name: &str| {
            let name = name.trim();
            DAY_NAMES
                .iter()
                .position(|day| day.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    fail(
                        name,
                        "is not a day (days are MON, TUE, WED, THU, FRI, SAT and SUN)",
                    )
                })
        };
        let mut bits = 0u8;
        for item in text.split(',') {
            let item = item.trim();
            if item.is_empty() {
                return Err(format!(
                    "`{text}`: an empty item between commas (write e.g. MON,WED,FRI)"
                ));
            }
            if item == "*" || item.eq_ignore_ascii_case("ALL") {
                bits = Days::ALL.0;
                continue;
            }
            let ends: Vec<&str> = item.split('-').collect();
            match ends[..] {
                [one] => bits |= 1 << day(one)?,
                [first, last] if !first.trim().is_empty() && !last.trim().is_empty() => {
                    let (first, last) = (day(first)?, day(last)?);
                    let mut d = first;
                    loop {
                        bits |= 1 << d;
                        if d == last {
                            break;
                        }
                        d = (d + 1) % 7;
                    }
                }
                _ => {
                    return Err(fail(
                        item,
                        "is not a range of days (a range is two days, e.g. MON-FRI or FRI-MON)",
                    ));
                }
            }
        }
        Ok(Days(bits))
    }

    pub(crate) fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }
}

/// Runs of consecutive days from Monday, e.g. `MON-FRI,SUN`; every day is `MON-SUN`. It
/// parses back to the same set.
impl fmt::Display for Days {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let mut d = 0;
        while d < 7 {
            if self.0 & (1 << d) == 0 {
                d += 1;
                continue;
            }
            let first = d;
            while d + 1 < 7 && self.0 & (1 << (d + 1)) != 0 {
                d += 1;
            }
            parts.push(if first == d {
                DAY_NAMES[d].to_owned()
            } else {
                format!("{}-{}", DAY_NAMES[first], DAY_NAMES[d])
            });
            d += 1;
        }
        f.write_str(&parts.join(","))
    }
}

/// When sends may go out: within `hours` on one of `days`, on the recipient's wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SendWindow {
    pub hours: Hours,
    pub days: Days,
}

impl SendWindow {
    /// Whether the wall-clock time of `t` in `zone` is within the hours on an allowed day.
    /// After midnight, an overnight window is still the previous day's, so that day must be
    /// allowed.
    pub(crate) fn contains(&self, zone: Tz, t: DateTime<Utc>) -> bool {
        let Some(local) = local_time(zone, t) else {
            return false;
        };
        // Bounds are whole minutes, so the seconds cannot change the answer.
        let minute = (local.hour() * 60 + local.minute()) as u16;
        let day = local.weekday();
        let Hours { start, end } = self.hours;
        if self.hours.overnight() {
            (minute >= start && self.days.contains(day))
                || (minute < end && self.days.contains(day.pred()))
        } else {
            start <= minute && minute < end && self.days.contains(day)
        }
    }

    /// The first instant at or after `t` that is inside the window: `t` itself when it is.
    /// Only at the very ends of chrono's date range, where there is nothing left to search,
    /// is `t` returned although it is outside.
    pub(crate) fn next_open(&self, zone: Tz, t: DateTime<Utc>) -> DateTime<Utc> {
        if self.contains(zone, t) {
            return t;
        }
        self.first_change(zone, t, self.hours.start, true)
            .unwrap_or(t)
    }

    // Only the tests measure how long a window stays open; the planner needs when it opens.
    #[cfg(test)]
    /// The first instant at or after `t` that is outside the window (for `t` inside, when
    /// it closes); `None` when it does not close within 16 days, as a window open all day
    /// on every day never does.
    pub(crate) fn closes(&self, zone: Tz, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.contains(zone, t) {
            return Some(t);
        }
        self.first_change(zone, t, self.hours.end, false)
    }

    /// `09:00-20:00 MON-SAT`.
    pub(crate) fn describe(&self) -> String {
        format!("{} {}", self.hours, self.days)
    }

    /// The first instant after `t` where [`SendWindow::contains`] becomes `inside`, given that
    /// it is not at `t`. On the wall clock the answer only changes where the local time
    /// passes `boundary` (the window's start when opening, its end when closing; midnight
    /// matters only when it is one of them) or where the zone's offset changes, so those
    /// instants are the only candidates, searched one day at a time.
    fn first_change(
        &self,
        zone: Tz,
        t: DateTime<Utc>,
        boundary: u16,
        inside: bool,
    ) -> Option<DateTime<Utc>> {
        // `t` is outside (inside) for the whole of its second.
        let mut from = if t.nanosecond() == 0 {
            t
        } else {
            DateTime::from_timestamp(t.timestamp().checked_add(1)?, 0)?
        };
        for _ in 0..SEARCH_DAYS {
            let to = from.checked_add_signed(TimeDelta::days(1))?;
            let mut candidates = vec![from];
            candidates.extend(transitions(zone, from, to)?);
            // Local dates around the span, with a margin for clocks set back across midnight.
            let last = local_time(zone, to)?.date().succ_opt()?;
            let mut date = local_time(zone, from)?.date();
            for _ in 0..2 {
                date = date.pred_opt()?;
            }
            while date <= last {
                candidates.extend(resolutions(zone, date, boundary).into_iter().flatten());
                date = date.succ_opt()?;
            }
            candidates.retain(|c| (from..=to).contains(c));
            candidates.sort_unstable();
            if let Some(found) = candidates
                .into_iter()
                .find(|c| self.contains(zone, *c) == inside)
            {
                return Some(found);
            }
            from = to;
        }
        None
    }
}

/// The wall-clock time of `t` in `zone`; `None` only at the very ends of chrono's range.
fn local_time(zone: Tz, t: DateTime<Utc>) -> Option<NaiveDateTime> {
    let offset = zone.offset_from_utc_datetime(&t.naive_utc()).fix();
    t.naive_utc().checked_add_offset(offset)
}

/// The instants whose local time is `minute` (up to 24:00, the next midnight) on `date`:
/// both of a time that occurs twice, and for a time that a gap skips, the instant the
/// clock resumes.
fn resolutions(zone: Tz, date: NaiveDate, minute: u16) -> [Option<DateTime<Utc>>; 2] {
    let Some(local) = date
        .and_hms_opt(0, 0, 0)
        .and_then(|midnight| midnight.checked_add_signed(TimeDelta::minutes(minute.into())))
    else {
        return [None, None];
    };
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => [Some(t.to_utc()), None],
        LocalResult::Ambiguous(a, b) => [Some(a.to_utc()), Some(b.to_utc())],
        LocalResult::None => [
            GapInfo::new(&local, &zone)
                .and_then(|gap| gap.end)
                .map(|end| end.to_utc()),
            None,
        ],
    }
}

/// The instants in `(from, to]` at which `zone`'s UTC offset changes, each the first second
/// of the new offset: the span is scanned an hour at a time and each change bisected.
fn transitions(zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<Vec<DateTime<Utc>>> {
    let offset = |seconds: i64| -> Option<i32> {
        let utc = DateTime::from_timestamp(seconds, 0)?.naive_utc();
        Some(zone.offset_from_utc_datetime(&utc).fix().local_minus_utc())
    };
    let (mut lo, to) = (from.timestamp(), to.timestamp());
    let mut lo_offset = offset(lo)?;
    let mut found = Vec::new();
    while lo < to {
        let hi = (lo + TRANSITION_SCAN).min(to);
        let hi_offset = offset(hi)?;
        if hi_offset != lo_offset {
            let (mut same, mut changed) = (lo, hi);
            while changed - same > 1 {
                let mid = same + (changed - same) / 2;
                if offset(mid)? == lo_offset {
                    same = mid;
                } else {
                    changed = mid;
                }
            }
            found.push(DateTime::from_timestamp(changed, 0)?);
        }
        (lo, lo_offset) = (hi, hi_offset);
    }
    Some(found)
}

#[cfg(test)]
mod tests;
