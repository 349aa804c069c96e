//! Campaign schedules: 5-field Unix crontab expressions with Vixie cron / cronie semantics.
//!
//! Expressions are validated here (so error messages can say exactly what is wrong) and
//! rewritten into a purely numeric form that `croner` parses. `croner` is then used only to
//! find matching *local wall-clock* times (`NaiveDateTime`, which has no DST); mapping those
//! to real instants, including spring-forward gaps and fall-back overlaps, is done here with
//! chrono-tz, following cronie's rules (see `cron-rules.md`):
//!
//! - a *fixed-time* job (neither minute nor hour field starts with `*`) whose time falls into a
//!   gap fires once at the first instant after the gap, and in an overlap only at the first
//!   instance of the repeated time;
//! - any other job follows real time: gap times do not exist, overlap times fire twice;
//! - occurrences on the same instant are one occurrence.
//!
//! Bounded work: day/month combinations that can never occur (`0 0 30 2 *`) are detected
//! exactly at parse time and every search returns `None` at once. Otherwise each match is at
//! most a few decades away (Feb 29 on a given weekday), `croner` itself gives up at year 5000,
//! and the loops here only step over matches that a DST transition removes, with a hard cap.

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::{GapInfo, Tz};
use croner::parser::{CronParser, Seconds};

/// A parsed 5-field Unix crontab expression (or @hourly/@daily/@weekly/@monthly/@yearly, also
/// @annually and @midnight), with Vixie cron / cronie semantics.
#[derive(Debug, Clone)]
pub struct Cron {
    expr: String,
    /// Matches local wall-clock times; built from the normalised numeric expression.
    matcher: croner::Cron,
    fixed_time: bool,
    /// No calendar day can ever match, so every search returns `None` without searching.
    never: bool,
}

/// Why an expression was rejected.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{message}")]
pub struct CronError {
    pub message: String,
}

/// Guard for the loops that step over matches removed by a DST transition. Real zones need a
/// handful of steps at most; hitting the cap yields `None` rather than a hang.
const MAX_STEPS: usize = 1_000;

const FIELD_LIST: &str = "minute hour day-of-month month day-of-week";

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Longest length of each month, counting leap years.
const MAX_MONTH_DAYS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Names {
    Numeric,
    Months,
    Weekdays,
}

struct Field {
    label: &'static str,
    low: u32,
    high: u32,
    names: Names,
}

impl Field {
    const fn new(label: &'static str, low: u32, high: u32, names: Names) -> Field {
        Field {
            label,
            low,
            high,
            names,
        }
    }
}

const FIELDS: [Field; 5] = [
    Field::new("minute", 0, 59, Names::Numeric),
    Field::new("hour", 0, 23, Names::Numeric),
    Field::new("day-of-month", 1, 31, Names::Numeric),
    Field::new("month", 1, 12, Names::Months),
    // 0 and 7 are both Sunday, as in Vixie cron.
    Field::new("day-of-week", 0, 7, Names::Weekdays),
];

/// One validated field: its numeric rewrite for croner and the set of values it matches.
struct ParsedField {
    numeric: String,
    /// Bit `v` set when value `v` matches (day-of-week 7 folded onto 0).
    mask: u64,
}

impl Cron {
    /// Parses a 5-field expression or a macro; names are case-insensitive.
    pub fn parse(expr: &str) -> Result<Cron, CronError> {
        let fail = |detail: String| CronError {
            message: format!("invalid cron expression `{}`: {detail}", expr.trim()),
        };
        let text = expr.trim();
        if text.is_empty() {
            return Err(fail(format!(
                "the expression is empty (expected 5 fields: {FIELD_LIST}, or a macro such as @daily)"
            )));
        }
        let text = if text.starts_with('@') {
            expand_macro(text).map_err(fail)?
        } else {
            text
        };

        let raw: Vec<&str> = text.split_whitespace().collect();
        if raw.len() != FIELDS.len() {
            let seconds = if raw.len() == 6 {
                "; a seconds field is not supported"
            } else {
                ""
            };
            return Err(fail(format!(
                "expected exactly 5 fields ({FIELD_LIST}) but found {}{seconds}",
                raw.len()
            )));
        }
        let mut parsed = Vec::with_capacity(FIELDS.len());
        for (field, text) in FIELDS.iter().zip(&raw) {
            parsed.push(parse_field(field, text).map_err(&fail)?);
        }

        // Vixie cron: a day field that starts with `*` (also `*/2`) is "unrestricted", and
        // then a day must satisfy both fields; when both are restricted, either one suffices.
        // croner only treats an exact `*` that way, so the mode is chosen here.
        let both_days = raw[2].starts_with('*') || raw[4].starts_with('*');
        // Every month/day pair falls on every weekday within the 400-year Gregorian cycle,
        // so only a month/day mismatch in AND mode can make the expression impossible (in OR
        // mode some weekday always matches). Catching it here keeps searches bounded.
        let (dom, month) = (parsed[2].mask, parsed[3].mask);
        let never = both_days
            && !(1..=12u32).any(|m| {
                month & (1 << m) != 0 && dom & days_up_to(MAX_MONTH_DAYS[m as usize - 1]) != 0
            });

        let numeric: Vec<&str> = parsed.iter().map(|p| p.numeric.as_str()).collect();
        let numeric = numeric.join(" ");
        let matcher = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .dom_and_dow(both_days)
            .build()
            .parse(&numeric)
            .map_err(|e| fail(format!("rejected as `{numeric}`: {e}")))?;

        Ok(Cron {
            expr: expr.to_owned(),
            matcher,
            // cronie's MIN_STAR / HR_STAR test: only the first character counts.
            fixed_time: !raw[0].starts_with('*') && !raw[1].starts_with('*'),
            never,
        })
    }

    /// The original text, as given to [`Cron::parse`].
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// True when neither the minute nor the hour field starts with `*` (cronie's "fixed time"
    /// job, which gets the special DST handling).
    pub fn is_fixed_time(&self) -> bool {
        self.fixed_time
    }

    /// First fire instant strictly after `after`, with wall-clock times in `tz`.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        if self.never {
            return None;
        }
        // Fire times are whole seconds, so sub-second precision cannot change the answer.
        let after = whole_second(after);
        if self.fixed_time {
            self.next_fixed(after, tz)
        } else {
            self.next_real(after, tz)
        }
    }

    /// Latest fire instant at or before `at`: the `x <= at` with `next_after(x - 1s) == x`.
    pub fn latest_at_or_before(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        if self.never {
            return None;
        }
        let at = whole_second(at);
        if self.fixed_time {
            self.latest_fixed(at, tz)
        } else {
            self.latest_real(at, tz)
        }
    }

    /// Successive fire instants strictly after `after`.
    pub fn upcoming(
        &self,
        after: DateTime<Utc>,
        tz: Tz,
    ) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let mut cursor = Some(after);
        std::iter::from_fn(move || {
            let next = self.next_after(cursor?, tz);
            cursor = next;
            next
        })
    }

    fn next_match(&self, from: NaiveDateTime, inclusive: bool) -> Option<NaiveDateTime> {
        self.matcher.find_next_occurrence(&from, inclusive).ok()
    }

    fn prev_match(&self, from: NaiveDateTime, inclusive: bool) -> Option<NaiveDateTime> {
        self.matcher.find_previous_occurrence(&from, inclusive).ok()
    }

    /// Fixed-time jobs map each local match to at most one instant, and that mapping never
    /// goes backwards, so the first match after `after` that maps past it is the answer.
    fn next_fixed(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = local_time(after, tz)?;
        let mut candidate = match resolve(tz, local) {
            // On the second pass of a repeated hour the job already ran for every time in
            // it, so resume where the repetition ends.
            LocalResult::Ambiguous(earlier, later) if later == after && earlier != later => {
                let (_, end) = repeated_range(tz, earlier, later)?;
                self.next_match(end, true)?
            }
            _ => self.next_match(local, false)?,
        };
        for _ in 0..MAX_STEPS {
            if let Some(fire) = fixed_fire_time(tz, candidate)
                && fire > after
            {
                return Some(fire);
            }
            candidate = self.next_match(candidate, false)?;
        }
        None
    }

    /// Latest local match at or before `at` whose (single) fire instant is not after it.
    fn latest_fixed(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = local_time(at, tz)?;
        let mut candidate = match resolve(tz, local) {
            // On the second pass of a repeated hour, every time in that hour already fired
            // (on the first pass), including those later on the clock than `at`.
            LocalResult::Ambiguous(earlier, later) if later == at && earlier != later => {
                let (_, end) = repeated_range(tz, earlier, later)?;
                self.prev_match(end, false)?
            }
            _ => self.prev_match(local, true)?,
        };
        for _ in 0..MAX_STEPS {
            if let Some(fire) = fixed_fire_time(tz, candidate)
                && fire <= at
            {
                return Some(fire);
            }
            candidate = self.prev_match(candidate, false)?;
        }
        None
    }

    /// Real-time jobs: every existing instant whose wall clock matches fires.
    fn next_real(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = local_time(after, tz)?;
        let mut candidate = self.next_match(local, false)?;
        if let LocalResult::Ambiguous(earlier, later) = resolve(tz, local)
            && earlier == after
            && earlier != later
        {
            // On the first pass of a repeated hour: if no match is left in this pass, the
            // second pass (clock times at or before `local`) comes before `candidate`.
            let (start, end) = repeated_range(tz, earlier, later)?;
            if candidate >= end
                && let Some(again) = self.next_match(start, true)
                && again <= local
            {
                return resolve(tz, again).latest();
            }
        }
        for _ in 0..MAX_STEPS {
            match resolve(tz, candidate) {
                LocalResult::Single(fire) if fire > after => return Some(fire),
                LocalResult::Ambiguous(earlier, later) => {
                    if earlier > after {
                        return Some(earlier);
                    }
                    if later > after {
                        return Some(later);
                    }
                }
                LocalResult::None => {
                    // Skipped clock time: resume the search where the clock resumes.
                    if let Some(end) = GapInfo::new(&candidate, &tz).and_then(|gap| gap.end) {
                        candidate = self.next_match(end.naive_local(), true)?;
                        continue;
                    }
                }
                LocalResult::Single(_) => {}
            }
            candidate = self.next_match(candidate, false)?;
        }
        None
    }

    /// Mirror image of [`Cron::next_real`].
    fn latest_real(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = local_time(at, tz)?;
        let mut candidate = self.prev_match(local, true)?;
        if let LocalResult::Ambiguous(earlier, later) = resolve(tz, local)
            && later == at
            && earlier != later
        {
            // On the second pass of a repeated hour: if no match is in this pass yet, the
            // first pass (up to the end of the repeated range) comes after `candidate`.
            let (start, end) = repeated_range(tz, earlier, later)?;
            if candidate < start
                && let Some(before) = self.prev_match(end, false)
                && before >= start
            {
                return resolve(tz, before).earliest();
            }
        }
        for _ in 0..MAX_STEPS {
            match resolve(tz, candidate) {
                LocalResult::Single(fire) if fire <= at => return Some(fire),
                LocalResult::Ambiguous(earlier, later) => {
                    if later <= at {
                        return Some(later);
                    }
                    if earlier <= at {
                        return Some(earlier);
                    }
                }
                LocalResult::None => {
                    if let Some((start, _)) =
                        GapInfo::new(&candidate, &tz).and_then(|gap| gap.begin)
                    {
                        candidate = self.prev_match(start, false)?;
                        continue;
                    }
                }
                LocalResult::Single(_) => {}
            }
            candidate = self.prev_match(candidate, false)?;
        }
        None
    }
}

impl std::str::FromStr for Cron {
    type Err = CronError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cron::parse(s)
    }
}

fn expand_macro(text: &str) -> Result<&'static str, String> {
    let mut words = text.split_whitespace();
    let name = words.next().unwrap_or(text);
    if words.next().is_some() {
        return Err(format!("the macro `{name}` must be the whole expression"));
    }
    match name.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => Ok("0 0 1 1 *"),
        "@monthly" => Ok("0 0 1 * *"),
        "@weekly" => Ok("0 0 * * 0"),
        "@daily" | "@midnight" => Ok("0 0 * * *"),
        "@hourly" => Ok("0 * * * *"),
        "@reboot" => Err(
            "`@reboot` is not supported: a schedule needs times (use 5 fields or @hourly/@daily/@weekly/@monthly/@yearly)"
                .to_owned(),
        ),
        _ => Err(format!(
            "unknown macro `{name}` (expected @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually)"
        )),
    }
}

/// Validates one field (`*`, `a`, `a-b`, `*/n`, `a-b/n`, comma lists) and rewrites names
/// to numbers.
fn parse_field(field: &Field, text: &str) -> Result<ParsedField, String> {
    let label = field.label;
    let mut numeric = Vec::new();
    let mut mask = 0u64;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(format!("empty list element in the {label} field `{text}`"));
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(parse_step(field, step)?)),
            None => (item, None),
        };
        let (start, end) = if range == "*" {
            (field.low, field.high)
        } else if let Some((first, last)) = range.split_once('-') {
            let start = parse_value(field, first)?;
            let mut end = parse_value(field, last)?;
            // `FRI-SUN`: a range ending in the name SUN means day 7.
            if field.names == Names::Weekdays && end == 0 && start > 0 && !is_number(last) {
                end = 7;
            }
            if start > end {
                return Err(format!(
                    "{label} range `{range}` runs backwards ({start} is after {end})"
                ));
            }
            (start, end)
        } else if let Some(step) = step {
            return Err(format!(
                "step `{item}` in the {label} field needs `*` or a range before `/` (e.g. `*/{step}` or `{range}-{}/{step}`)",
                field.high
            ));
        } else {
            let value = parse_value(field, range)?;
            (value, value)
        };
        let step = step.unwrap_or(1);
        numeric.push(match (start == end, step) {
            (true, 1) => start.to_string(),
            (false, 1) => format!("{start}-{end}"),
            _ => format!("{start}-{end}/{step}"),
        });
        let mut value = start;
        while value <= end {
            mask |= 1 << value;
            value += step;
        }
    }
    if field.names == Names::Weekdays && mask & (1 << 7) != 0 {
        mask = (mask & !(1 << 7)) | 1;
    }
    Ok(ParsedField {
        numeric: numeric.join(","),
        mask,
    })
}

fn parse_value(field: &Field, text: &str) -> Result<u32, String> {
    let Field {
        label, low, high, ..
    } = *field;
    if text.is_empty() {
        return Err(format!("missing number in a {label} range"));
    }
    if is_number(text) {
        return text
            .parse::<u32>()
            .ok()
            .filter(|value| (low..=high).contains(value))
            .ok_or_else(|| {
                format!("{label} value {text} is out of range (expected {low}-{high})")
            });
    }
    let position = |names: &[&str]| {
        names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(text))
    };
    match field.names {
        Names::Months => position(&MONTH_NAMES)
            .map(|index| index as u32 + 1)
            .ok_or_else(|| format!("unknown month name `{text}` (expected JAN-DEC or 1-12)")),
        Names::Weekdays => position(&WEEKDAY_NAMES)
            .map(|index| index as u32)
            .ok_or_else(|| format!("unknown day-of-week name `{text}` (expected SUN-SAT or 0-7)")),
        Names::Numeric => Err(format!(
            "`{text}` is not a valid {label} (expected a number {low}-{high})"
        )),
    }
}

fn parse_step(field: &Field, text: &str) -> Result<u32, String> {
    let span = field.high - field.low + 1;
    Some(text)
        .filter(|text| is_number(text))
        .and_then(|text| text.parse::<u32>().ok())
        .filter(|step| (1..=span).contains(step))
        .ok_or_else(|| {
            format!(
                "step `/{text}` in the {} field must be a number from 1 to {span}",
                field.label
            )
        })
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
}

/// Bit mask of days 1..=last.
fn days_up_to(last: u32) -> u64 {
    ((1u64 << (last + 1)) - 1) & !1
}

fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// Wall-clock time of `t` in `tz`; `None` only at the very ends of chrono's range (where
/// `naive_local` would panic).
fn local_time(t: DateTime<Utc>, tz: Tz) -> Option<NaiveDateTime> {
    let offset = tz.offset_from_utc_datetime(&t.naive_utc()).fix();
    t.naive_utc().checked_add_offset(offset)
}

/// The real instants of a wall-clock time: none (gap), one, or two (overlap, earlier first).
fn resolve(tz: Tz, local: NaiveDateTime) -> LocalResult<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => LocalResult::Single(t.to_utc()),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.to_utc(), b.to_utc());
            LocalResult::Ambiguous(a.min(b), a.max(b))
        }
        LocalResult::None => LocalResult::None,
    }
}

/// Where a fixed-time job scheduled at `local` fires: at the first instance of a repeated
/// time, and at the first instant after the gap for a skipped time.
fn fixed_fire_time(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match resolve(tz, local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t),
        LocalResult::None => GapInfo::new(&local, &tz)?.end.map(|end| end.to_utc()),
    }
}

/// The repeated wall-clock range `[start, end)` of the fall-back transition that lies between
/// `earlier` and `later`, the two instants of one ambiguous local time.
fn repeated_range(
    tz: Tz,
    earlier: DateTime<Utc>,
    later: DateTime<Utc>,
) -> Option<(NaiveDateTime, NaiveDateTime)> {
    let offset_at = |seconds: i64| -> Option<i64> {
        let utc = DateTime::from_timestamp(seconds, 0)?.naive_utc();
        Some(
            tz.offset_from_utc_datetime(&utc)
                .fix()
                .local_minus_utc()
                .into(),
        )
    };
    let before = offset_at(earlier.timestamp())?;
    // Bisect for the first second with the new offset; the interval is only as long as the
    // repetition (usually an hour), so this takes about a dozen offset lookups.
    let (mut lo, mut hi) = (earlier.timestamp(), later.timestamp());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset_at(mid)? == before {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let after = offset_at(hi)?;
    let transition = DateTime::from_timestamp(hi, 0)?.naive_utc();
    Some((
        transition.checked_add_signed(TimeDelta::seconds(after))?,
        transition.checked_add_signed(TimeDelta::seconds(before))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate, Timelike, Weekday};
    use std::collections::BTreeSet;
    use std::time::{Duration, Instant};

    /// The vector table of `cron-rules.md`, verbatim.
    const RULE_VECTORS: &str = "\
| `0 9 * * 1` | America/New_York | 2026-03-01T00:00:00Z | 03-02 09:00-0500, 03-09 09:00-0400, 03-16 09:00-0400, 03-23 09:00-0400 |
| `0 0 13 * 5` | America/New_York | 2026-03-01T00:00:00Z | 03-06 00:00-0500, 03-13 00:00-0400, 03-20 00:00-0400, 03-27 00:00-0400 |
| `0 9 * * 7` | Asia/Kolkata | 2026-11-27T00:00:00Z | 11-29 09:00+0530, 12-06 09:00+0530, 12-13 09:00+0530, 12-20 09:00+0530 |
| `0 9 * * MON-FRI` | Asia/Kolkata | 2026-11-27T04:00:00Z | 11-30 09:00+0530, 12-01 09:00+0530, 12-02 09:00+0530, 12-03 09:00+0530 |
| `30 2 * * *` | America/New_York | 2026-03-08T04:00:00Z | 03-08 03:00-0400, 03-09 02:30-0400, 03-10 02:30-0400, 03-11 02:30-0400 |
| `0,30 2 * * *` | America/New_York | 2026-03-08T04:00:00Z | 03-08 03:00-0400, 03-09 02:00-0400, 03-09 02:30-0400, 03-10 02:00-0400 |
| `30 1-3 * * *` | America/New_York | 2026-03-08T04:00:00Z | 03-08 01:30-0500, 03-08 03:00-0400, 03-08 03:30-0400, 03-09 01:30-0400 |
| `15 * * * *` | America/New_York | 2026-03-08T05:00:00Z | 03-08 00:15-0500, 03-08 01:15-0500, 03-08 03:15-0400, 03-08 04:15-0400 |
| `30 */2 * * *` | America/New_York | 2026-03-08T04:00:00Z | 03-08 00:30-0500, 03-08 04:30-0400, 03-08 06:30-0400, 03-08 08:30-0400 |
| `30 1 * * *` | America/New_York | 2026-11-01T04:00:00Z | 11-01 01:30-0400, 11-02 01:30-0500, 11-03 01:30-0500, 11-04 01:30-0500 |
| `30 1-3 * * *` | America/New_York | 2026-11-01T04:00:00Z | 11-01 01:30-0400, 11-01 02:30-0500, 11-01 03:30-0500, 11-02 01:30-0500 |
| `5,7 1,8 * * *` | America/New_York | 2026-11-01T04:00:00Z | 11-01 01:05-0400, 11-01 01:07-0400, 11-01 08:05-0500, 11-01 08:07-0500 |
| `0 * * * *` | America/New_York | 2026-11-01T04:30:00Z | 11-01 01:00-0400, 11-01 01:00-0500, 11-01 02:00-0500, 11-01 03:00-0500 |
| `30 1 * * *` | Europe/London | 2026-10-25T00:00:00Z | 10-25 01:30+0100, 10-26 01:30+0000, 10-27 01:30+0000, 10-28 01:30+0000 |
| `30 2 * * *` | Australia/Sydney | 2026-10-03T12:00:00Z | 10-04 03:00+1100, 10-05 02:30+1100, 10-06 02:30+1100, 10-07 02:30+1100 |";

    fn cron(expr: &str) -> Cron {
        Cron::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    fn zone(name: &str) -> Tz {
        name.parse().unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn local_text(t: DateTime<Utc>, tz: Tz) -> String {
        t.with_timezone(&tz).format("%m-%d %H:%M%z").to_string()
    }

    fn take(expr: &str, tz: Tz, after: &str, n: usize) -> Vec<DateTime<Utc>> {
        cron(expr).upcoming(utc(after), tz).take(n).collect()
    }

    #[test]
    fn every_vector_of_the_rules_table() {
        let mut rows = 0;
        for line in RULE_VECTORS.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let [_, expr, tz, after, expected, _] = cells[..] else {
                panic!("malformed row {line}");
            };
            let expr = expr.trim_matches('`');
            let tz = zone(tz);
            let got: Vec<String> = take(expr, tz, after, 4)
                .into_iter()
                .map(|t| local_text(t, tz))
                .collect();
            assert_eq!(got.join(", "), expected, "{expr} in {tz} after {after}");
            rows += 1;
        }
        assert_eq!(rows, 15);
    }

    #[test]
    fn weekday_numbering() {
        let tz = zone("UTC");
        let after = "2026-01-01T00:00:00Z";
        let sundays = take("0 9 * * 0", tz, after, 6);
        assert_eq!(sundays, take("0 9 * * 7", tz, after, 6));
        assert_eq!(sundays, take("0 9 * * sun", tz, after, 6));
        assert_eq!(sundays, take("0 9 * * SUN-SUN", tz, after, 6));
        assert!(sundays.iter().all(|t| t.weekday() == Weekday::Sun));
        assert_eq!(sundays[0], utc("2026-01-04T09:00:00Z"));

        let mondays = take("0 9 * * 1", tz, after, 6);
        assert!(mondays.iter().all(|t| t.weekday() == Weekday::Mon));
        assert_eq!(mondays, take("0 9 * * Mon", tz, after, 6));

        let weekdays: Vec<Weekday> = take("0 9 * * MON-FRI", tz, after, 10)
            .iter()
            .map(|t| t.weekday())
            .collect();
        use Weekday::*;
        // 2026-01-01 is a Thursday.
        assert_eq!(weekdays, [Thu, Fri, Mon, Tue, Wed, Thu, Fri, Mon, Tue, Wed]);
        assert_eq!(
            take("0 9 * * MON-FRI", tz, after, 10),
            take("0 9 * * 1-5", tz, after, 10)
        );

        // A range ending in SUN wraps to 7; the numeric 5-7 is the same.
        let weekend: Vec<Weekday> = take("0 9 * * FRI-SUN", tz, after, 6)
            .iter()
            .map(|t| t.weekday())
            .collect();
        assert_eq!(weekend, [Fri, Sat, Sun, Fri, Sat, Sun]);
        assert_eq!(
            take("0 9 * * FRI-SUN", tz, after, 6),
            take("0 9 * * 5-7", tz, after, 6)
        );

        // Month names too, case-insensitively (2026-01-01 00:00 itself is not "after").
        assert_eq!(
            take("0 0 1 jan,Jul *", tz, after, 3),
            [
                utc("2026-07-01T00:00:00Z"),
                utc("2027-01-01T00:00:00Z"),
                utc("2027-07-01T00:00:00Z")
            ]
        );
    }

    #[test]
    fn day_fields_both_restricted_match_either() {
        let tz = zone("UTC");
        let days: Vec<(u32, Weekday)> = take("0 0 13 * 5", tz, "2026-04-01T00:00:00Z", 6)
            .iter()
            .map(|t| (t.day(), t.weekday()))
            .collect();
        use Weekday::*;
        // April 2026: Fridays 3, 10, 13 is a Monday, then 17, 24; May 1 is a Friday.
        assert_eq!(
            days,
            [
                (3, Fri),
                (10, Fri),
                (13, Mon),
                (17, Fri),
                (24, Fri),
                (1, Fri)
            ]
        );

        // Both restricted even when written as ranges with steps.
        let odd_or_monday = take("0 0 1-31/2 * 1", tz, "2026-04-01T00:00:00Z", 20);
        assert!(odd_or_monday.iter().any(|t| t.day() % 2 == 0));
        assert!(odd_or_monday.iter().any(|t| t.weekday() != Mon));
        assert!(
            odd_or_monday
                .iter()
                .all(|t| t.day() % 2 == 1 || t.weekday() == Mon)
        );
    }

    #[test]
    fn day_field_starting_with_star_requires_both() {
        let tz = zone("UTC");
        // `*/2` counts as unrestricted: odd days that are also Mondays.
        let odd_mondays = take("0 0 */2 * 1", tz, "2026-01-01T00:00:00Z", 10);
        assert_eq!(odd_mondays.len(), 10);
        assert!(
            odd_mondays
                .iter()
                .all(|t| t.day() % 2 == 1 && t.weekday() == Weekday::Mon)
        );
        assert_eq!(odd_mondays[0], utc("2026-01-05T00:00:00Z"));

        // Same with the star in the day-of-week field: the 1st, on Sun/Tue/Thu/Sat only.
        let firsts = take("0 0 1 * */2", tz, "2026-01-01T00:00:00Z", 6);
        assert!(firsts.iter().all(|t| t.day() == 1
            && matches!(
                t.weekday(),
                Weekday::Sun | Weekday::Tue | Weekday::Thu | Weekday::Sat
            )));
        // 2026 firsts: Feb Sun, Mar Sun, Apr Wed, May Fri, Jun Mon, Jul Wed, Aug Sat.
        assert_eq!(firsts[0], utc("2026-02-01T00:00:00Z"));
        assert_eq!(firsts[1], utc("2026-03-01T00:00:00Z"));
        assert_eq!(firsts[2], utc("2026-08-01T00:00:00Z"));
    }

    #[test]
    fn macros() {
        let tz = zone("Europe/Berlin");
        let after = "2026-03-27T10:30:00Z";
        for (name, expansion) in [
            ("@hourly", "0 * * * *"),
            ("@daily", "0 0 * * *"),
            ("@midnight", "0 0 * * *"),
            ("@weekly", "0 0 * * 0"),
            ("@monthly", "0 0 1 * *"),
            ("@yearly", "0 0 1 1 *"),
            ("@annually", "0 0 1 1 *"),
            ("@DAILY", "0 0 * * *"),
        ] {
            let parsed = cron(name);
            assert_eq!(parsed.expr(), name);
            assert_eq!(parsed.is_fixed_time(), name != "@hourly", "{name}");
            assert_eq!(
                take(name, tz, after, 5),
                take(expansion, tz, after, 5),
                "{name}"
            );
        }
        assert_eq!(
            take("@weekly", tz, after, 1),
            [utc("2026-03-28T23:00:00Z")] // Sunday 00:00 CET
        );
        // 2026-03-29 02:00 does not exist in Berlin: hourly skips it.
        let hours: Vec<u32> = take("@hourly", tz, "2026-03-28T23:30:00Z", 3)
            .iter()
            .map(|t| t.with_timezone(&tz).hour())
            .collect();
        assert_eq!(hours, [1, 3, 4]);
    }

    #[test]
    fn fixed_time_classification() {
        for (expr, fixed) in [
            ("30 2 * * *", true),
            ("0,30 2 * * *", true),
            ("30 1-3 * * *", true),
            ("0-59/13 0-3 * * *", true),
            ("5 1,8 * * 1-5", true),
            ("*/5 2 * * *", false),
            ("0 * * * *", false),
            ("30 */2 * * *", false),
            ("* 1 * * *", false),
            ("@hourly", false),
            ("@yearly", true),
        ] {
            assert_eq!(cron(expr).is_fixed_time(), fixed, "{expr}");
        }
    }

    #[test]
    fn expr_keeps_the_original_text() {
        assert_eq!(cron(" 0 9 * * mon ").expr(), " 0 9 * * mon ");
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        for (expr, needles) in [
            ("", &["is empty"][..]),
            ("   ", &["is empty"]),
            ("0 9 * *", &["exactly 5 fields", "found 4"]),
            ("0 9 * * 1 2 3", &["exactly 5 fields", "found 7"]),
            ("0 0 9 * * 1", &["exactly 5 fields", "found 6", "seconds"]),
            (
                "60 9 * * *",
                &["minute value 60 is out of range (expected 0-59)"],
            ),
            ("0 24 * * *", &["hour value 24 is out of range"]),
            ("0 9 0 * *", &["day-of-month value 0 is out of range"]),
            ("0 9 32 * *", &["day-of-month value 32"]),
            (
                "0 9 * 13 *",
                &["month value 13 is out of range (expected 1-12)"],
            ),
            (
                "0 9 * * 8",
                &["day-of-week value 8 is out of range (expected 0-7)"],
            ),
            ("0 9 * * 99999999999", &["day-of-week value 99999999999"]),
            ("0 9 * JANUARY *", &["unknown month name `JANUARY`"]),
            ("MON 9 * * *", &["`MON` is not a valid minute"]),
            ("0 9 * * 5-1", &["range `5-1` runs backwards"]),
            ("*/0 * * * *", &["step `/0`"]),
            ("*/61 * * * *", &["step `/61`", "1 to 60"]),
            ("*/x * * * *", &["step `/x`"]),
            ("5/10 * * * *", &["step `5/10`", "needs `*` or a range"]),
            ("1,,2 * * * *", &["empty list element in the minute field"]),
            ("1- * * * *", &["missing number"]),
            ("0 9 L * *", &["`L` is not a valid day-of-month"]),
            ("0 9 * * 1#2", &["unknown day-of-week name `1#2`"]),
            ("0 9 ? * *", &["`?` is not a valid day-of-month"]),
            ("@reboot", &["`@reboot` is not supported"]),
            ("@fortnightly", &["unknown macro `@fortnightly`"]),
            ("@daily 5", &["must be the whole expression"]),
        ] {
            let error = Cron::parse(expr).expect_err(expr);
            assert!(
                error.message.starts_with("invalid cron expression `"),
                "{expr}: {error}"
            );
            for needle in needles {
                assert!(error.message.contains(needle), "{expr}: {error}");
            }
        }
        assert_eq!(
            Cron::parse("0 9 * * MOON").unwrap_err().to_string(),
            "invalid cron expression `0 9 * * MOON`: unknown day-of-week name `MOON` (expected SUN-SAT or 0-7)"
        );
    }

    #[test]
    fn impossible_expressions_return_none_quickly() {
        let tz = zone("America/New_York");
        let now = utc("2026-06-01T00:00:00Z");
        let started = Instant::now();
        for expr in [
            "0 0 30 2 *",
            "0 0 31 4,6,9,11 *",
            "0 0 31 2 */2",
            "* * 30-31 FEB *",
        ] {
            let never = cron(expr);
            assert_eq!(never.next_after(now, tz), None, "{expr}");
            assert_eq!(never.latest_at_or_before(now, tz), None, "{expr}");
            assert_eq!(never.upcoming(now, tz).count(), 0, "{expr}");
        }
        assert!(started.elapsed() < Duration::from_millis(100));

        // Rare but possible: Feb 29 (leap years only), and Feb 29 on a Sunday.
        assert_eq!(
            cron("0 0 29 2 *").next_after(now, zone("UTC")),
            Some(utc("2028-02-29T00:00:00Z"))
        );
        assert_eq!(
            cron("0 0 29 2 */7").next_after(now, zone("UTC")),
            Some(utc("2032-02-29T00:00:00Z"))
        );
        // Both day fields restricted: Mondays of February count too.
        assert_eq!(
            cron("0 0 30 2 1").next_after(now, zone("UTC")),
            Some(utc("2027-02-01T00:00:00Z"))
        );
    }

    #[test]
    fn sub_second_inputs() {
        let tz = zone("UTC");
        let daily = cron("0 9 * * *");
        let nine = utc("2026-05-05T09:00:00Z");
        let just_after = utc("2026-05-05T09:00:00.5Z");
        assert_eq!(
            daily.next_after(just_after, tz),
            Some(nine + TimeDelta::days(1))
        );
        assert_eq!(daily.latest_at_or_before(just_after, tz), Some(nine));
        assert_eq!(daily.latest_at_or_before(nine, tz), Some(nine));
        assert_eq!(
            daily.next_after(nine - TimeDelta::nanoseconds(1), tz),
            Some(nine)
        );
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        for tz in [
            zone("UTC"),
            zone("America/New_York"),
            zone("Pacific/Kiritimati"),
        ] {
            for expr in ["* * * * *", "30 2 * * *"] {
                let parsed = cron(expr);
                assert_eq!(parsed.next_after(DateTime::<Utc>::MAX_UTC, tz), None);
                assert_eq!(
                    parsed.latest_at_or_before(DateTime::<Utc>::MIN_UTC, tz),
                    None
                );
            }
        }
    }

    /// Values matched by each field and whether the day rule is AND, from the parser alone:
    /// an oracle that shares nothing with croner's search or the DST handling.
    struct Oracle {
        masks: Vec<u64>,
        both_days: bool,
        fixed: bool,
    }

    impl Oracle {
        fn new(expr: &str) -> Oracle {
            let text = if expr.starts_with('@') {
                expand_macro(expr).unwrap()
            } else {
                expr
            };
            let raw: Vec<&str> = text.split_whitespace().collect();
            let masks = FIELDS
                .iter()
                .zip(&raw)
                .map(|(field, text)| parse_field(field, text).unwrap().mask)
                .collect();
            Oracle {
                masks,
                both_days: raw[2].starts_with('*') || raw[4].starts_with('*'),
                fixed: !raw[0].starts_with('*') && !raw[1].starts_with('*'),
            }
        }

        fn matches(&self, t: NaiveDateTime) -> bool {
            let has = |field: usize, value: u32| self.masks[field] & (1 << value) != 0;
            let dom = has(2, t.day());
            let dow = has(4, t.weekday().num_days_from_sunday());
            let day = if self.both_days {
                dom && dow
            } else {
                dom || dow
            };
            has(0, t.minute()) && has(1, t.hour()) && has(3, t.month()) && day
        }

        /// Every fire instant from local wall-clock times in `[from, from + days)`,
        /// applying the DST rules by brute force.
        fn fires(&self, tz: Tz, from: NaiveDate, days: i64) -> BTreeSet<DateTime<Utc>> {
            let start = from.and_hms_opt(0, 0, 0).unwrap();
            let mut fires = BTreeSet::new();
            for minute in 0..days * 24 * 60 {
                let local = start + TimeDelta::minutes(minute);
                if !self.matches(local) {
                    continue;
                }
                match tz.from_local_datetime(&local) {
                    LocalResult::Single(t) => {
                        fires.insert(t.to_utc());
                    }
                    LocalResult::Ambiguous(first, second) => {
                        fires.insert(first.to_utc());
                        if !self.fixed {
                            fires.insert(second.to_utc());
                        }
                    }
                    LocalResult::None if self.fixed => {
                        // First wall-clock minute that exists again.
                        let resumed = (1..=48 * 60)
                            .find_map(|m| {
                                tz.from_local_datetime(&(local + TimeDelta::minutes(m)))
                                    .earliest()
                            })
                            .unwrap();
                        fires.insert(resumed.to_utc());
                    }
                    LocalResult::None => {}
                }
            }
            fires
        }
    }

    /// Local dates on which the UTC offset of `tz` changes during `year`.
    fn transition_dates(tz: Tz, year: i32) -> Vec<NaiveDate> {
        let start = utc(&format!("{year}-01-01T00:00:00Z"));
        let offset = |t: DateTime<Utc>| t.with_timezone(&tz).offset().fix();
        (1..366 * 24)
            .map(|h| start + TimeDelta::hours(h))
            .filter(|t| offset(*t) != offset(*t - TimeDelta::hours(1)))
            .map(|t| t.with_timezone(&tz).date_naive())
            .collect()
    }

    const ORACLE_EXPRESSIONS: [&str; 20] = [
        "* * * * *",
        "* 1-2 * * *",
        "*/7 1-3 * * *",
        "0-59/13 0-3 * * *",
        "30 2 * * *",
        "0,30 2 * * *",
        "30 1-3 * * *",
        "15 * * * *",
        "0 */2 * * *",
        "59 1 * * *",
        "0 0 * * *",
        "30 0 * * *",
        "45 23 * * *",
        "0 12 * * *",
        "0 1,2 * * *",
        "0,15,30,45 0-3 * * *",
        "* 1 * * *",
        "5 0-2 * * 0",
        "0 2 * * 1-5",
        "@hourly",
    ];

    /// Zones with DST at 02:00, at midnight (Santiago, Havana), a 30-minute shift
    /// (Lord Howe), the southern hemisphere, and Samoa skipping a whole day in 2011.
    const ORACLE_ZONES: [(&str, i32); 8] = [
        ("America/New_York", 2026),
        ("Europe/London", 2026),
        ("Australia/Sydney", 2026),
        ("Australia/Lord_Howe", 2026),
        ("America/Santiago", 2026),
        ("America/Havana", 2026),
        ("Pacific/Apia", 2011),
        ("Asia/Kolkata", 2026),
    ];

    #[test]
    fn agrees_with_brute_force_around_transitions() {
        let mut transitions = 0;
        for (name, year) in ORACLE_ZONES {
            let tz = zone(name);
            let mut dates = transition_dates(tz, year);
            if dates.is_empty() {
                dates.push(NaiveDate::from_ymd_opt(year, 3, 8).unwrap());
            }
            transitions += dates.len();
            for date in dates {
                for expr in ORACLE_EXPRESSIONS {
                    check_against_oracle(expr, tz, date);
                }
            }
        }
        assert!(transitions >= 13, "found only {transitions} transitions");
    }

    fn check_against_oracle(expr: &str, tz: Tz, date: NaiveDate) {
        let parsed = cron(expr);
        let oracle = Oracle::new(expr);
        assert_eq!(parsed.is_fixed_time(), oracle.fixed);
        // Instants in (lo, hi) have local times well inside the brute-forced days.
        let lo = (date - TimeDelta::days(1))
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        let hi = (date + TimeDelta::days(2))
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        let expected: Vec<DateTime<Utc>> = oracle
            .fires(tz, date - TimeDelta::days(2), 5)
            .into_iter()
            .filter(|t| *t > lo && *t < hi)
            .collect();
        let got: Vec<DateTime<Utc>> = parsed.upcoming(lo, tz).take_while(|t| *t < hi).collect();
        assert_eq!(
            got.iter()
                .map(|t| t.with_timezone(&tz).to_rfc3339())
                .collect::<Vec<_>>(),
            expected
                .iter()
                .map(|t| t.with_timezone(&tz).to_rfc3339())
                .collect::<Vec<_>>(),
            "{expr} in {tz} around {date}"
        );

        // Backwards: fires near the transition and every 10th other fire, each probed at
        // itself and one second before, plus a grid of probes.
        let offset = |t: DateTime<Utc>| t.with_timezone(&tz).offset().fix();
        let near_transition =
            |t: DateTime<Utc>| offset(t - TimeDelta::hours(3)) != offset(t + TimeDelta::hours(3));
        let probes = expected
            .iter()
            .enumerate()
            .filter(|(i, t)| i % 10 == 0 || near_transition(**t))
            .flat_map(|(_, t)| [*t, *t - TimeDelta::seconds(1)])
            .chain(
                (0..)
                    .map(|i| lo + TimeDelta::seconds(i * 419))
                    .take_while(|t| *t < hi),
            );
        for probe in probes {
            let want = expected.iter().rev().find(|t| **t <= probe).copied();
            if want.is_some() {
                assert_eq!(
                    parsed.latest_at_or_before(probe, tz),
                    want,
                    "{expr} in {tz}: latest at or before {probe}"
                );
            }
        }
    }

    #[test]
    fn latest_is_consistent_with_next() {
        let expressions = [
            "0 9 * * 1",
            "0 0 13 * 5",
            "30 2 * * *",
            "0,30 2 * * *",
            "30 1-3 * * *",
            "15 * * * *",
            "30 */2 * * *",
            "*/10 * * * *",
            "0 * * * *",
            "@yearly",
            "0 0 29 2 *",
            "45 1 * * 0",
        ];
        let zones = [
            "America/New_York",
            "Europe/London",
            "Australia/Lord_Howe",
            "UTC",
        ];
        let start = utc("2026-01-01T00:00:00Z");
        let step = TimeDelta::seconds(7 * 3600 + 13 * 60 + 17);
        for expr in expressions {
            let parsed = cron(expr);
            for name in zones {
                let tz = zone(name);
                for i in 0..1300 {
                    let t = start + step * i;
                    let p = parsed
                        .latest_at_or_before(t, tz)
                        .unwrap_or_else(|| panic!("{expr} in {tz}: nothing before {t}"));
                    assert!(p <= t, "{expr} in {tz}: {p} > {t}");
                    assert_eq!(
                        parsed.next_after(p - TimeDelta::seconds(1), tz),
                        Some(p),
                        "{expr} in {tz}: {p} is not a fire time"
                    );
                    let n = parsed.next_after(p, tz).unwrap();
                    assert!(n > t, "{expr} in {tz}: {n} fires between {p} and {t}");
                    assert_eq!(parsed.next_after(t, tz), Some(n).filter(|n| *n > t));
                }
            }
        }
    }

    #[test]
    fn upcoming_is_strictly_increasing() {
        let tz = zone("America/New_York");
        for expr in [
            "* * * * *",
            "0,30 2 * * *",
            "0-59 1-2 * * *",
            "*/20 1 * * *",
        ] {
            let fires: Vec<_> = cron(expr)
                .upcoming(utc("2026-10-31T12:00:00Z"), tz)
                .take(400)
                .collect();
            assert_eq!(fires.len(), 400);
            assert!(fires.windows(2).all(|w| w[0] < w[1]), "{expr}");
        }
    }
}
