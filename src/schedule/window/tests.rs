use super::*;
use crate::schedule::rfc3339;

fn window(hours: &str, days: &str) -> SendWindow {
    SendWindow {
        hours: Hours::parse(hours).unwrap_or_else(|e| panic!("{e}")),
        days: Days::parse(days).unwrap_or_else(|e| panic!("{e}")),
    }
}

fn zone(name: &str) -> Tz {
    name.parse().unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The first `n` openings at or after `from`, each `OPEN..CLOSE` in RFC 3339 UTC.
fn spans(window: &SendWindow, tz: Tz, from: &str, n: usize) -> Vec<String> {
    let mut t = utc(from);
    let mut out = Vec::new();
    for _ in 0..n {
        let open = window.next_open(tz, t);
        let close = window.closes(tz, open).expect("the window closes");
        out.push(format!("{}..{}", rfc3339(open), rfc3339(close)));
        t = close;
    }
    out
}

#[test]
fn hours_parse() {
    for (text, shown) in [
        ("09:00-20:00", "09:00-20:00"),
        (" 21:00-06:00 ", "21:00-06:00"),
        ("00:00-24:00", "00:00-24:00"),
        ("21:00-00:00", "21:00-00:00"),
        ("23:59-00:01", "23:59-00:01"),
    ] {
        assert_eq!(Hours::parse(text).unwrap().to_string(), shown, "{text}");
    }
    assert_eq!(
        Hours::parse("09:30-20:15"),
        Ok(Hours {
            start: 570,
            end: 1215
        })
    );
    assert!(Hours::parse("21:00-06:00").unwrap().overnight());
    assert!(!Hours::parse("06:00-21:00").unwrap().overnight());
}

#[test]
fn bad_hours_say_what_is_wrong() {
    let shape = |text: &str| format!("`{text}`: hours are HH:MM-HH:MM, e.g. 09:00-20:00");
    for text in [
        "9:00-20:00",
        "09:00",
        "0900-2000",
        "09:00–20:00",
        "09:00-20:00-21:00",
        "-09:00",
        "09:00-",
        "ab:cd-ef:gh",
        "09.00-20.00",
        "09:00 - 20:00",
        "+9:00-20:00",
        "09:00-20:00pm",
    ] {
        assert_eq!(Hours::parse(text), Err(shape(text)), "{text}");
    }
    for (text, message) in [
        ("", "no hours given: write HH:MM-HH:MM, e.g. 09:00-20:00"),
        (
            "25:00-06:00",
            "`25:00-06:00`: 25:00 is not a time of day (00:00 to 23:59, or 24:00 to end a window)",
        ),
        (
            "09:60-10:00",
            "`09:60-10:00`: 09:60 is not a time of day (00:00 to 23:59, or 24:00 to end a window)",
        ),
        (
            "22:00-24:01",
            "`22:00-24:01`: 24:01 is not a time of day (00:00 to 23:59, or 24:00 to end a window)",
        ),
        (
            "24:00-06:00",
            "`24:00-06:00`: 24:00 can only end a window (start at 00:00 instead)",
        ),
        (
            "09:00-09:00",
            "`09:00-09:00`: the window starts and ends at the same time (for all day, write 00:00-24:00)",
        ),
        (
            "00:00-00:00",
            "`00:00-00:00`: the window starts and ends at the same time (for all day, write 00:00-24:00)",
        ),
    ] {
        assert_eq!(Hours::parse(text), Err(message.to_owned()), "{text}");
    }
}

#[test]
fn days_parse() {
    for (text, shown) in [
        ("MON-SAT", "MON-SAT"),
        ("MON,WED,FRI", "MON,WED,FRI"),
        ("mon,Wed,fri", "MON,WED,FRI"),
        ("MON-FRI,SUN", "MON-FRI,SUN"),
        ("FRI-MON", "MON,FRI-SUN"),
        ("SUN-MON", "MON,SUN"),
        ("TUE-MON", "MON-SUN"),
        ("MON-MON", "MON"),
        ("*", "MON-SUN"),
        ("ALL", "MON-SUN"),
        ("all", "MON-SUN"),
        ("sat,sun", "SAT-SUN"),
        (" Mon , Tue ", "MON-TUE"),
        ("WED,MON-TUE", "MON-WED"),
        ("SUN", "SUN"),
    ] {
        let days = Days::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(days.to_string(), shown, "{text}");
        // What is shown parses back to the same set.
        assert_eq!(Days::parse(shown), Ok(days), "{text}");
    }
    let weekend = Days::parse("FRI-MON").unwrap();
    use Weekday::*;
    let allowed: Vec<Weekday> = [Mon, Tue, Wed, Thu, Fri, Sat, Sun]
        .into_iter()
        .filter(|d| weekend.contains(*d))
        .collect();
    assert_eq!(allowed, [Mon, Fri, Sat, Sun]);
    assert_eq!(Days::parse("*"), Ok(Days::ALL));
}

#[test]
fn bad_days_say_what_is_wrong() {
    let not_a_day = "is not a day (days are MON, TUE, WED, THU, FRI, SAT and SUN)";
    let not_a_range = "is not a range of days (a range is two days, e.g. MON-FRI or FRI-MON)";
    for (text, message) in [
        (
            "",
            "no days given: write e.g. MON-SAT, MON,WED,FRI, or * for every day".to_owned(),
        ),
        (
            "  ",
            "no days given: write e.g. MON-SAT, MON,WED,FRI, or * for every day".to_owned(),
        ),
        ("MONDAY", format!("`MONDAY` {not_a_day}")),
        ("MON-FRX", format!("`MON-FRX`: `FRX` {not_a_day}")),
        ("1-5", format!("`1-5`: `1` {not_a_day}")),
        ("MON,*X", format!("`MON,*X`: `*X` {not_a_day}")),
        (
            "MON,,FRI",
            "`MON,,FRI`: an empty item between commas (write e.g. MON,WED,FRI)".to_owned(),
        ),
        (
            "MON,",
            "`MON,`: an empty item between commas (write e.g. MON,WED,FRI)".to_owned(),
        ),
        ("MON-", format!("`MON-` {not_a_range}")),
        ("-FRI", format!("`-FRI` {not_a_range}")),
        ("MON-TUE-WED", format!("`MON-TUE-WED` {not_a_range}")),
        ("SAT,MON-", format!("`SAT,MON-`: `MON-` {not_a_range}")),
    ] {
        assert_eq!(Days::parse(text), Err(message), "{text:?}");
    }
}

#[test]
fn describe() {
    assert_eq!(
        window("09:00-20:00", "MON-SAT").describe(),
        "09:00-20:00 MON-SAT"
    );
    assert_eq!(
        window("21:00-06:00", "fri-mon").describe(),
        "21:00-06:00 MON,FRI-SUN"
    );
    assert_eq!(window("00:00-24:00", "*").describe(), "00:00-24:00 MON-SUN");
}

#[test]
fn kolkata_has_no_daylight_saving() {
    let ist = zone("Asia/Kolkata");
    let w = window("09:00-20:00", "MON-SAT");
    // Tue 2026-11-24 03:00 IST opens at 09:00 IST the same day.
    assert_eq!(
        w.next_open(ist, utc("2026-11-23T21:30:00Z")),
        utc("2026-11-24T03:30:00Z")
    );
    // Sat 2026-11-28 21:00 IST, and Sunday noon: Monday 09:00 IST.
    for t in ["2026-11-28T15:30:00Z", "2026-11-29T06:30:00Z"] {
        assert_eq!(w.next_open(ist, utc(t)), utc("2026-11-30T03:30:00Z"), "{t}");
    }
    // Inside: `t` itself, and it closes at 20:00 IST.
    let noon = utc("2026-11-24T06:30:00Z");
    assert_eq!(w.next_open(ist, noon), noon);
    assert_eq!(w.closes(ist, noon), Some(utc("2026-11-24T14:30:00Z")));
    // Outside, it is already closed.
    let night = utc("2026-11-24T15:00:00Z");
    assert_eq!(w.closes(ist, night), Some(night));

    for (t, inside) in [
        ("2026-11-24T03:29:59Z", false),
        ("2026-11-24T03:30:00Z", true),
        ("2026-11-24T14:29:59Z", true),
        ("2026-11-24T14:30:00Z", false),
        ("2026-11-29T06:30:00Z", false), // Sunday
    ] {
        assert_eq!(w.contains(ist, utc(t)), inside, "{t}");
    }
    assert_eq!(
        spans(&w, ist, "2026-11-27T00:00:00Z", 3),
        [
            "2026-11-27T03:30:00Z..2026-11-27T14:30:00Z",
            "2026-11-28T03:30:00Z..2026-11-28T14:30:00Z",
            "2026-11-30T03:30:00Z..2026-11-30T14:30:00Z",
        ]
    );
}

#[test]
fn overnight_windows_belong_to_the_day_they_start() {
    let ist = zone("Asia/Kolkata");
    let friday_nights = window("21:00-06:00", "FRI");
    for (t, inside) in [
        ("2026-11-27T16:30:00Z", true),  // Fri 22:00
        ("2026-11-28T00:29:59Z", true),  // Sat 05:59:59
        ("2026-11-28T00:30:00Z", false), // Sat 06:00
        ("2026-11-28T16:30:00Z", false), // Sat 22:00
        ("2026-11-26T23:30:00Z", false), // Fri 05:00, Thursday's night
    ] {
        assert_eq!(friday_nights.contains(ist, utc(t)), inside, "{t}");
    }
    assert_eq!(
        spans(&friday_nights, ist, "2026-11-26T12:00:00Z", 2),
        [
            "2026-11-27T15:30:00Z..2026-11-28T00:30:00Z",
            "2026-12-04T15:30:00Z..2026-12-05T00:30:00Z",
        ]
    );
    // An overnight window that ends at midnight closes there.
    assert_eq!(
        spans(
            &window("21:00-00:00", "MON"),
            ist,
            "2026-11-30T00:00:00Z",
            1
        ),
        ["2026-11-30T15:30:00Z..2026-11-30T18:30:00Z"]
    );
}

#[test]
fn whole_days() {
    let ist = zone("Asia/Kolkata");
    let mondays = window("00:00-24:00", "MON");
    assert_eq!(
        spans(&mondays, ist, "2026-11-25T00:00:00Z", 2),
        [
            "2026-11-29T18:30:00Z..2026-11-30T18:30:00Z",
            "2026-12-06T18:30:00Z..2026-12-07T18:30:00Z",
        ]
    );
    let weekend = window("00:00-24:00", "SAT-SUN");
    assert_eq!(
        spans(&weekend, ist, "2026-11-25T00:00:00Z", 1),
        ["2026-11-27T18:30:00Z..2026-11-29T18:30:00Z"]
    );
    // Open all day on every day: always inside, never closes.
    let always = window("00:00-24:00", "*");
    let t = utc("2026-11-25T07:08:09Z");
    assert_eq!(always.next_open(ist, t), t);
    assert_eq!(always.closes(ist, t), None);
}

#[test]
fn sub_second_instants() {
    let ist = zone("Asia/Kolkata");
    let w = window("09:00-20:00", "*");
    assert_eq!(
        w.next_open(ist, utc("2026-11-24T03:29:59.5Z")),
        utc("2026-11-24T03:30:00Z")
    );
    let inside = utc("2026-11-24T03:30:00.5Z");
    assert_eq!(w.next_open(ist, inside), inside);
    assert_eq!(
        w.closes(ist, utc("2026-11-24T14:29:59.5Z")),
        Some(utc("2026-11-24T14:30:00Z"))
    );
    // Half a second before New York's clocks spring forward into a window that started in
    // the gap.
    let ny = zone("America/New_York");
    assert_eq!(
        window("02:30-04:00", "*").next_open(ny, utc("2026-03-08T06:59:59.5Z")),
        utc("2026-03-08T07:00:00Z")
    );
}

/// 2026-03-08, 02:00 EST (07:00Z) becomes 03:00 EDT.
#[test]
fn new_york_spring_forward() {
    let ny = zone("America/New_York");
    let from = "2026-03-08T00:00:00Z";
    // A start in the gap opens when the clock resumes at 03:00 EDT.
    assert_eq!(
        spans(&window("02:30-04:00", "*"), ny, from, 2),
        [
            "2026-03-08T07:00:00Z..2026-03-08T08:00:00Z",
            "2026-03-09T06:30:00Z..2026-03-09T08:00:00Z",
        ]
    );
    // 01:30-03:00 lasts 30 minutes: 01:30-02:00 EST, then 03:00 EDT closes it.
    let short = window("01:30-03:00", "*");
    assert_eq!(
        spans(&short, ny, from, 2),
        [
            "2026-03-08T06:30:00Z..2026-03-08T07:00:00Z",
            "2026-03-09T05:30:00Z..2026-03-09T07:00:00Z",
        ]
    );
    assert!(short.contains(ny, utc("2026-03-08T06:59:59Z")));
    assert!(!short.contains(ny, utc("2026-03-08T07:00:00Z")));
    // A window wholly in the gap does not open that day.
    let skipped = window("02:00-02:30", "*");
    assert_eq!(
        skipped.next_open(ny, utc("2026-03-08T06:59:59Z")),
        utc("2026-03-09T06:00:00Z")
    );
    assert_eq!(
        spans(&skipped, ny, from, 1),
        ["2026-03-09T06:00:00Z..2026-03-09T06:30:00Z"]
    );
    // Saturday night runs into Sunday's clock change: 9 hours on the wall, 8 in fact.
    assert_eq!(
        spans(&window("21:00-06:00", "SAT"), ny, "2026-03-07T00:00:00Z", 2),
        [
            "2026-03-08T02:00:00Z..2026-03-08T10:00:00Z",
            "2026-03-15T01:00:00Z..2026-03-15T10:00:00Z",
        ]
    );
}

/// 2026-11-01, 02:00 EDT (06:00Z) becomes 01:00 EST: 01:00-01:59 happens twice.
#[test]
fn new_york_fall_back() {
    let ny = zone("America/New_York");
    let from = "2026-11-01T00:00:00Z";
    // Inside both times the wall clock shows 01:00-01:29.
    let twice = window("01:00-01:30", "*");
    assert_eq!(
        spans(&twice, ny, from, 3),
        [
            "2026-11-01T05:00:00Z..2026-11-01T05:30:00Z",
            "2026-11-01T06:00:00Z..2026-11-01T06:30:00Z",
            "2026-11-02T06:00:00Z..2026-11-02T06:30:00Z",
        ]
    );
    for (t, inside) in [
        ("2026-11-01T05:15:00Z", true),
        ("2026-11-01T05:45:00Z", false),
        ("2026-11-01T06:15:00Z", true),
    ] {
        assert_eq!(twice.contains(ny, utc(t)), inside, "{t}");
    }
    // The clock going back to 01:00 EST reopens a window that closed at 01:30 EDT.
    assert_eq!(
        spans(&window("00:30-01:30", "*"), ny, from, 3),
        [
            "2026-11-01T04:30:00Z..2026-11-01T05:30:00Z",
            "2026-11-01T06:00:00Z..2026-11-01T06:30:00Z",
            "2026-11-02T05:30:00Z..2026-11-02T06:30:00Z",
        ]
    );
    // ... and goes back out of one that opened at 01:30 EDT, until 01:30 EST.
    assert_eq!(
        spans(&window("01:30-03:00", "*"), ny, from, 3),
        [
            "2026-11-01T05:30:00Z..2026-11-01T06:00:00Z",
            "2026-11-01T06:30:00Z..2026-11-01T08:00:00Z",
            "2026-11-02T06:30:00Z..2026-11-02T08:00:00Z",
        ]
    );
    // Saturday's overnight window: Sunday's repeated 01:00-01:29 is still Saturday's night.
    assert_eq!(
        spans(&window("22:00-01:30", "SAT"), ny, "2026-10-31T00:00:00Z", 3),
        [
            "2026-11-01T02:00:00Z..2026-11-01T05:30:00Z",
            "2026-11-01T06:00:00Z..2026-11-01T06:30:00Z",
            "2026-11-08T03:00:00Z..2026-11-08T06:30:00Z",
        ]
    );
}

/// 2026-03-29, 01:00 GMT (01:00Z) becomes 02:00 BST.
#[test]
fn london_spring_forward() {
    let london = zone("Europe/London");
    let from = "2026-03-29T00:00:00Z";
    // A start in the gap opens at 02:00 BST; the window lasts an hour.
    assert_eq!(
        spans(&window("01:30-03:00", "*"), london, from, 2),
        [
            "2026-03-29T01:00:00Z..2026-03-29T02:00:00Z",
            "2026-03-30T00:30:00Z..2026-03-30T02:00:00Z",
        ]
    );
    // An end in the gap closes when the clock jumps past it.
    assert_eq!(
        spans(&window("00:30-01:30", "*"), london, from, 2),
        [
            "2026-03-29T00:30:00Z..2026-03-29T01:00:00Z",
            "2026-03-29T23:30:00Z..2026-03-30T00:30:00Z",
        ]
    );
    assert_eq!(
        spans(
            &window("22:00-06:00", "SAT"),
            london,
            "2026-03-27T00:00:00Z",
            2
        ),
        [
            "2026-03-28T22:00:00Z..2026-03-29T05:00:00Z",
            "2026-04-04T21:00:00Z..2026-04-05T05:00:00Z",
        ]
    );
}

/// 2026-10-25, 02:00 BST (01:00Z) becomes 01:00 GMT.
#[test]
fn london_fall_back() {
    let london = zone("Europe/London");
    assert_eq!(
        spans(
            &window("01:00-01:30", "*"),
            london,
            "2026-10-25T00:00:00Z",
            3
        ),
        [
            "2026-10-25T00:00:00Z..2026-10-25T00:30:00Z",
            "2026-10-25T01:00:00Z..2026-10-25T01:30:00Z",
            "2026-10-26T01:00:00Z..2026-10-26T01:30:00Z",
        ]
    );
    // Saturday night is an hour longer: 22:00 BST to 06:00 GMT.
    assert_eq!(
        spans(
            &window("22:00-06:00", "SAT"),
            london,
            "2026-10-23T00:00:00Z",
            2
        ),
        [
            "2026-10-24T21:00:00Z..2026-10-25T06:00:00Z",
            "2026-10-31T22:00:00Z..2026-11-01T06:00:00Z",
        ]
    );
}

/// Samoa skipped Friday 2011-12-30, moving from UTC-10 to UTC+14: a Friday-only window
/// waits two weeks.
#[test]
fn a_skipped_day() {
    let apia = zone("Pacific/Apia");
    assert_eq!(
        spans(
            &window("09:00-17:00", "FRI"),
            apia,
            "2011-12-24T04:00:00Z",
            1
        ),
        ["2012-01-05T19:00:00Z..2012-01-06T03:00:00Z"]
    );
}

#[test]
fn extreme_instants_do_not_panic() {
    let w = window("01:30-03:00", "MON");
    for name in ["America/New_York", "Asia/Kolkata", "UTC"] {
        let tz = zone(name);
        for t in [
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::MIN_UTC + TimeDelta::days(3),
            DateTime::<Utc>::MAX_UTC - TimeDelta::days(3),
        ] {
            let open = w.next_open(tz, t);
            assert!(open >= t, "{name} {t}");
            let _ = w.closes(tz, t);
            let _ = w.contains(tz, t);
        }
    }
}

/// `next_open` and `closes` agree, at every minute sampled, with the first minute at which
/// `contains` holds (or fails), found by walking the clock a minute at a time across each
/// zone's transitions. In these zones offsets change on whole minutes, so whether an
/// instant is inside is the same for a whole minute.
#[test]
fn agree_with_a_walk_across_transitions() {
    let windows = [
        "01:30-03:00 *",
        "02:00-02:30 *",
        "00:30-01:30 *",
        "02:15-02:45 SUN",
        "22:00-01:30 SAT",
        "21:00-06:00 FRI-MON",
        "00:00-24:00 MON",
        "09:00-17:00 MON-FRI",
    ];
    let spans = [
        ("America/New_York", "2026-03-04T00:00:00Z"),
        ("America/New_York", "2026-10-28T00:00:00Z"),
        ("Europe/London", "2026-03-25T00:00:00Z"),
        ("Europe/London", "2026-10-21T00:00:00Z"),
        // Half-hour daylight saving, 02:00 → 02:30 and 02:00 → 01:30.
        ("Australia/Lord_Howe", "2026-04-01T00:00:00Z"),
        ("Australia/Lord_Howe", "2026-09-30T00:00:00Z"),
        ("Pacific/Apia", "2011-12-24T00:00:00Z"),
    ];
    const MINUTES: usize = 10 * 24 * 60;
    const SAMPLE: usize = 11;
    let mut checked = 0;
    for text in windows {
        let (hours, days) = text.split_once(' ').unwrap();
        let w = window(hours, days);
        for (name, start) in spans {
            let tz = zone(name);
            let start = utc(start);
            let at = |i: usize| start + TimeDelta::minutes(i as i64);
            let inside: Vec<bool> = (0..MINUTES).map(|i| w.contains(tz, at(i))).collect();
            // next[i]: the first minute at or after i whose state is not inside[i].
            let mut next = vec![None; MINUTES];
            for i in (0..MINUTES - 1).rev() {
                next[i] = if inside[i + 1] != inside[i] {
                    Some(i + 1)
                } else {
                    next[i + 1]
                };
            }
            for i in (0..MINUTES).step_by(SAMPLE) {
                let t = at(i);
                let Some(change) = next[i] else { continue };
                let (open, close) = (w.next_open(tz, t), w.closes(tz, t));
                if inside[i] {
                    assert_eq!(open, t, "{text} in {name} at {t}");
                    assert_eq!(close, Some(at(change)), "{text} in {name} at {t}");
                } else {
                    assert_eq!(open, at(change), "{text} in {name} at {t}");
                    assert_eq!(close, Some(t), "{text} in {name} at {t}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 50_000, "{checked}");
}
