//! Schedules: error messages for cron, `at`, time zones and catch-up, and the cron rules
//! (Vixie/cronie) as `plan` shows them: weekday numbering, the day OR rule, macros and the
//! daylight-saving rules in America/New_York.

use serde_json::{Value, json};

use crate::test::Test;

fn campaign(schedule: &str) -> String {
    format!(
        "template: welcome\nlanguage: en\nparams: [Hello]\nsearch:\n  city: Pune\nschedule:\n{}",
        schedule
            .trim_start_matches('\n')
            .lines()
            .map(|l| format!("  {}\n", l.trim()))
            .collect::<String>()
    )
}

fn schedule_error(schedule: &str, stderr: &str) {
    Test::new()
        .file("c.yaml", campaign(schedule))
        .args(["validate", "c.yaml"])
        .stdout("")
        .stderr(stderr)
        .status(1)
        .run();
}

/// The JSON plan's `schedule` object of a campaign with this schedule, at `now`.
fn planned(schedule: &str, now: &str) -> Value {
    let plan = Test::new()
        .file("c.yaml", campaign(schedule))
        .args(["plan", "c.yaml", "--format", "json", "--now", now])
        .run()
        .json();
    plan["campaigns"][0].clone()
}

fn next_runs(cron: &str, timezone: &str, now: &str) -> Value {
    planned(&format!("cron: \"{cron}\"\ntimezone: {timezone}"), now)["schedule"]["next_runs"]
        .clone()
}

#[test]
fn bad_cron() {
    schedule_error(
        r#"cron: "0 9 * *""#,
        "
        c.yaml:7:9: error: invalid cron expression `0 9 * *`: expected exactly 5 fields (minute hour day-of-month month day-of-week) but found 4
          |
        7 |   cron: \"0 9 * *\"
          |         ^^^^^^^^^
        1 error, 0 warnings
        ",
    );
    schedule_error(
        r#"cron: "0 9 * * 8""#,
        "
        c.yaml:7:9: error: invalid cron expression `0 9 * * 8`: day-of-week value 8 is out of range (expected 0-7)
          |
        7 |   cron: \"0 9 * * 8\"
          |         ^^^^^^^^^^^
        1 error, 0 warnings
        ",
    );
    schedule_error(
        r#"cron: "0 9 * * MON-FRI 2026""#,
        "
        c.yaml:7:9: error: invalid cron expression `0 9 * * MON-FRI 2026`: expected exactly 5 fields (minute hour day-of-month month day-of-week) but found 6; a seconds field is not supported
          |
        7 |   cron: \"0 9 * * MON-FRI 2026\"
          |         ^^^^^^^^^^^^^^^^^^^^^^
        1 error, 0 warnings
        ",
    );
}

#[test]
fn cron_that_never_fires() {
    schedule_error(
        r#"cron: "0 9 31 4,6,9,11 *""#,
        "
        c.yaml:7:9: error: cron expression `0 9 31 4,6,9,11 *` never fires
          |
        7 |   cron: \"0 9 31 4,6,9,11 *\"
          |         ^^^^^^^^^^^^^^^^^^^
          = help: check the day of month against the month (e.g. there is no 30 February)
        1 error, 0 warnings
        ",
    );
    // 29 February fires (in leap years), so it is fine.
    let c = planned(r#"cron: "0 9 29 2 *""#, "2026-01-01T00:00:00Z");
    assert_eq!(c["schedule"]["next_runs"][0], "2028-02-29T09:00:00Z");
}

#[test]
fn bad_time_zone() {
    schedule_error(
        "cron: \"0 9 * * *\"\ntimezone: Asia/Kolkatta",
        "
        c.yaml:8:13: error: unknown time zone `Asia/Kolkatta`
          |
        8 |   timezone: Asia/Kolkatta
          |             ^^^^^^^^^^^^^
          = help: did you mean `Asia/Kolkata`?
        1 error, 0 warnings
        ",
    );
    schedule_error(
        "cron: \"0 9 * * *\"\ntimezone: IST",
        "
        c.yaml:8:13: error: unknown time zone `IST`
          |
        8 |   timezone: IST
          |             ^^^
          = help: use an IANA time zone name such as Asia/Kolkata, Europe/London or UTC
        1 error, 0 warnings
        ",
    );
    schedule_error(
        "cron: \"0 9 * * *\"\ntimezone: India Standard Time",
        "
        c.yaml:8:13: error: unknown time zone `India Standard Time`
          |
        8 |   timezone: India Standard Time
          |             ^^^^^^^^^^^^^^^^^^^
          = help: use an IANA time zone name such as Asia/Kolkata, Europe/London or UTC
        1 error, 0 warnings
        ",
    );
}

#[test]
fn cron_and_at_together() {
    schedule_error(
        "cron: \"0 9 * * *\"\nat: \"2026-11-24T09:00:00+05:30\"",
        "
        c.yaml:8:3: error: give either `schedule.cron` or `schedule.at`, not both
          |
        8 |   at: \"2026-11-24T09:00:00+05:30\"
          |   ^^
          = help: `cron` repeats; `at` is one occurrence
        1 error, 0 warnings
        ",
    );
}

#[test]
fn neither_cron_nor_at() {
    schedule_error(
        "timezone: UTC",
        "
        c.yaml:6:1: error: `schedule` needs `cron` (repeating) or `at` (once)
          |
        6 | schedule:
          | ^^^^^^^^
        1 error, 0 warnings
        ",
    );
}

#[test]
fn bad_at() {
    for at in [
        "2026-11-24",
        "2026-11-24 09:00",
        "2026-11-24T09:00:00",
        "next monday",
    ] {
        let output = Test::new()
            .file("c.yaml", campaign(&format!("at: \"{at}\"")))
            .args(["validate", "c.yaml"])
            .status(1)
            .run();
        assert_eq!(
            output.stderr,
            format!(
                "c.yaml:7:7: error: `{at}` is not an RFC 3339 time\n  |\n7 |   at: \"{at}\"\n  |       {}\n  = help: write the date, time and offset, e.g. 2026-11-24T09:00:00+05:30 or 2026-11-24T03:30:00Z\n1 error, 0 warnings\n",
                "^".repeat(at.len() + 2)
            )
        );
    }
}

#[test]
fn bad_catch_up() {
    schedule_error(
        "cron: \"0 9 * * *\"\ncatch_up: 1h 30m",
        "
        c.yaml:8:13: error: invalid duration `1h 30m`
          |
        8 |   catch_up: 1h 30m
          |             ^^^^^^
          = help: use a number with h, m or s: 90s, 15m, 2h, 1h30m
        1 error, 0 warnings
        ",
    );
    schedule_error(
        "cron: \"0 9 * * *\"\ncatch_up: 15",
        "
        c.yaml:8:13: error: `schedule.catch_up` must be a string, found the number 15
          |
        8 |   catch_up: 15
          |             ^^
        1 error, 0 warnings
        ",
    );
    schedule_error(
        "cron: \"0 9 * * *\"\ncatch_up: 0s",
        "
        c.yaml:8:13: error: `catch_up` must be at least 1s
          |
        8 |   catch_up: 0s
          |             ^^
        1 error, 0 warnings
        ",
    );
}

#[test]
fn catch_up_and_time_zone_defaults_and_formats() {
    let c = planned("cron: \"0 9 * * *\"", "2026-11-30T09:10:00Z");
    assert_eq!(
        c["schedule"],
        json!({
            "cron": "0 9 * * *",
            "timezone": "UTC",
            "catch_up": "15m",
            "next_runs": [
                "2026-12-01T09:00:00Z",
                "2026-12-02T09:00:00Z",
                "2026-12-03T09:00:00Z",
                "2026-12-04T09:00:00Z",
                "2026-12-05T09:00:00Z"
            ]
        })
    );
    assert_eq!(c["timing"], "due");
    assert_eq!(c["occurrence"], "2026-11-30T09:00:00Z");
    for (written, shown) in [
        ("90s", "1m30s"),
        ("1h30m", "1h30m"),
        ("120m", "2h"),
        ("3600s", "1h"),
    ] {
        let c = planned(
            &format!("cron: \"0 9 * * *\"\ncatch_up: {written}"),
            "2026-11-30T09:10:00Z",
        );
        assert_eq!(c["schedule"]["catch_up"], shown, "{written}");
    }
}

#[test]
fn at_schedule_in_json() {
    let c = planned(
        "at: \"2026-11-24T09:00:00+05:30\"\ntimezone: Asia/Kolkata",
        "2026-11-24T03:00:00Z",
    );
    assert_eq!(
        c["schedule"],
        json!({
            "at": "2026-11-24T03:30:00Z",
            "timezone": "Asia/Kolkata",
            "catch_up": "15m",
            "next_runs": ["2026-11-24T03:30:00Z"]
        })
    );
    assert_eq!(c["timing"], "upcoming");
    assert_eq!(c["sends"][0]["key"], "c/2026-11-24T03:30:00Z/blast");
}

#[test]
fn weekday_numbering_and_names() {
    // 2026-11-27 is a Friday.
    let sundays = json!([
        "2026-11-29T09:00:00Z",
        "2026-12-06T09:00:00Z",
        "2026-12-13T09:00:00Z",
        "2026-12-20T09:00:00Z",
        "2026-12-27T09:00:00Z"
    ]);
    for sunday in ["0", "7", "SUN", "sun"] {
        assert_eq!(
            next_runs(&format!("0 9 * * {sunday}"), "UTC", "2026-11-27T00:00:00Z"),
            sundays,
            "{sunday}"
        );
    }
    assert_eq!(
        next_runs("0 9 * * 1", "UTC", "2026-11-27T00:00:00Z")[0],
        "2026-11-30T09:00:00Z"
    );
    assert_eq!(
        next_runs("30 8 * * MON-FRI", "UTC", "2026-11-27T09:00:00Z"),
        json!([
            "2026-11-30T08:30:00Z",
            "2026-12-01T08:30:00Z",
            "2026-12-02T08:30:00Z",
            "2026-12-03T08:30:00Z",
            "2026-12-04T08:30:00Z"
        ])
    );
    assert_eq!(
        next_runs("0 0 1 JAN,JUL *", "UTC", "2026-11-27T00:00:00Z"),
        json!([
            "2027-01-01T00:00:00Z",
            "2027-07-01T00:00:00Z",
            "2028-01-01T00:00:00Z",
            "2028-07-01T00:00:00Z",
            "2029-01-01T00:00:00Z"
        ])
    );
}

/// Day of month and day of week both restricted: a day matches if EITHER does.
#[test]
fn day_or_rule() {
    assert_eq!(
        next_runs("0 9 1 * MON", "UTC", "2026-11-27T00:00:00Z"),
        json!([
            "2026-11-30T09:00:00Z",
            "2026-12-01T09:00:00Z",
            "2026-12-07T09:00:00Z",
            "2026-12-14T09:00:00Z",
            "2026-12-21T09:00:00Z"
        ])
    );
    // With `*` in day of month, only the weekday counts.
    assert_eq!(
        next_runs("0 9 */1 * MON", "UTC", "2026-11-27T00:00:00Z"),
        json!([
            "2026-11-30T09:00:00Z",
            "2026-12-07T09:00:00Z",
            "2026-12-14T09:00:00Z",
            "2026-12-21T09:00:00Z",
            "2026-12-28T09:00:00Z"
        ])
    );
}

#[test]
fn macros() {
    assert_eq!(
        next_runs("@daily", "Asia/Kolkata", "2026-11-27T00:00:00Z")[0],
        "2026-11-27T18:30:00Z"
    );
    assert_eq!(
        next_runs("@weekly", "UTC", "2026-11-27T00:00:00Z")[0],
        "2026-11-29T00:00:00Z"
    );
    assert_eq!(
        next_runs("@monthly", "UTC", "2026-11-27T00:00:00Z")[0],
        "2026-12-01T00:00:00Z"
    );
    assert_eq!(
        next_runs("@hourly", "UTC", "2026-11-27T00:00:00Z")[0],
        "2026-11-27T01:00:00Z"
    );
}

/// Spring forward (2026-03-08 in New York, 02:00 → 03:00): a fixed-time 02:30 job runs
/// at 03:00 that day.
#[test]
fn dst_gap_in_new_york() {
    assert_eq!(
        next_runs("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z"),
        json!([
            "2026-03-08T07:00:00Z",
            "2026-03-09T06:30:00Z",
            "2026-03-10T06:30:00Z",
            "2026-03-11T06:30:00Z",
            "2026-03-12T06:30:00Z"
        ])
    );
    // The text plan shows it in local time.
    Test::new()
        .file(
            "c.yaml",
            campaign("cron: \"30 2 * * *\"\ntimezone: America/New_York"),
        )
        .args(["plan", "c.yaml", "--now", "2026-03-07T12:00:00Z"])
        .stdout_contains("  next runs    Sun 2026-03-08 03:00 -04:00, Mon 2026-03-09 02:30 -04:00, Tue 2026-03-10 02:30 -04:00, Wed 2026-03-11 02:30 -04:00, Thu 2026-03-12 02:30 -04:00\n")
        .run();
}

/// Fall back (2026-11-01, 02:00 → 01:00): a fixed-time 01:30 job runs once, at the first
/// 01:30; a `*/30` job follows real time and runs at every real instant.
#[test]
fn dst_overlap_in_new_york() {
    assert_eq!(
        next_runs("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z"),
        json!([
            "2026-11-01T05:30:00Z",
            "2026-11-02T06:30:00Z",
            "2026-11-03T06:30:00Z",
            "2026-11-04T06:30:00Z",
            "2026-11-05T06:30:00Z"
        ])
    );
    assert_eq!(
        next_runs("*/30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z"),
        json!([
            "2026-11-01T05:00:00Z",
            "2026-11-01T05:30:00Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T06:30:00Z",
            "2026-11-02T06:00:00Z"
        ])
    );
}

/// A due occurrence is the latest one at or before `now`, within catch-up; `run.at` and the
/// send key follow it.
#[test]
fn due_occurrence_and_catch_up() {
    let schedule = "cron: \"0 9 * * *\"\ntimezone: Asia/Kolkata\ncatch_up: 90s";
    let c = planned(schedule, "2026-11-30T03:31:30Z");
    assert_eq!(c["timing"], "due");
    assert_eq!(c["sends"][0]["key"], "c/2026-11-30T03:30:00Z/blast");
    let c = planned(schedule, "2026-11-30T03:31:31Z");
    assert_eq!(c["timing"], "upcoming");
    assert_eq!(c["sends"][0]["key"], "c/2026-12-01T03:30:00Z/blast");
    assert_eq!(c["sends"][0]["due"], false);
}
