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
pub(crate) struct Cron {
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
pub(crate) struct CronError {
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
    pub(crate) fn parse(expr: &str) -> Result<Cron, CronError> {
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
    pub(crate) fn expr(&self) -> &str {
        &self.expr
    }

    #[cfg(test)]
    /// True when neither the minute nor the hour field starts with `*` (cronie's "fixed time"
    /// job, which gets the special DST handling).
    pub(crate) fn is_fixed_time(&self) -> bool {
        self.fixed_time
    }

    /// First fire instant strictly after `after`, with wall-clock times in `tz`.
    pub(crate) fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
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
    pub(crate) fn latest_at_or_before(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
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
    #[cfg(test)]
    pub(crate) fn upcoming(
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
mod tests;
