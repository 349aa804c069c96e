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
