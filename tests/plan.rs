//! `plan`: snapshots of the bundled campaigns at fixed instants, the JSON plan's internal
//! consistency, due / not due / missed / disabled, `--detailed-exitcode`, and the text
//! plan's summarising of long recipient lists.

use std::process::Command;

use serde_json::Value;

use crate::test::{BIN, NO_CATALOGUE_NOTE, REPO, Test};

/// The instants the bundled campaigns are planned at, with what each one shows.
const INSTANTS: [(&str, &str); 4] = [
    // Monday 09:05 in Kolkata: weekday-checkin's 09:00 run is within its 30m catch-up.
    ("weekday_due", "2026-11-30T03:35:00Z"),
    // Friday 05:30 in Kolkata: no scheduled campaign is due (the unscheduled ones are).
    ("nothing_scheduled_due", "2026-11-27T00:00:00Z"),
    // race-day-results' 18:00 occurrence is an hour old: within its 2h catch-up.
    ("race_results_catch_up", "2026-12-06T19:00:00Z"),
    // ...and three hours old: missed, it will never be sent.
    ("race_results_missed", "2026-12-06T21:00:00Z"),
];

fn plan_bundled(now: &str, format: &str) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(REPO)
        .args(["plan", "campaigns", "--now", now, "--format", format]);
    command
}

#[test]
fn bundled_text_plans() {
    for (name, now) in INSTANTS {
        insta_cmd::assert_cmd_snapshot!(format!("text_{name}"), plan_bundled(now, "text"));
    }
}

#[test]
fn bundled_json_plans() {
    for (name, now) in INSTANTS {
        insta_cmd::assert_cmd_snapshot!(format!("json_{name}"), plan_bundled(now, "json"));
    }
}

fn bundled_json(now: &str) -> Value {
    Test::in_repo()
        .args(["plan", "campaigns", "--format", "json", "--now", now])
        .run()
        .json()
}

fn sends(plan: &Value) -> Vec<&Value> {
    plan["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["sends"].as_array().unwrap())
        .collect()
}

fn campaign<'a>(plan: &'a Value, name: &str) -> &'a Value {
    plan["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no campaign {name}"))
}

/// The summary agrees with the sends listed, at every instant.
#[test]
fn json_plan_is_consistent() {
    for (_, now) in INSTANTS {
        let plan = bundled_json(now);
        assert_eq!(plan["format_version"], 1);
        assert_eq!(plan["now"], now);
        let sends = sends(&plan);
        let due = sends.iter().filter(|s| s["due"] == true).count();
        assert_eq!(plan["summary"]["due"], due, "{now}");
        assert_eq!(plan["summary"]["sends"], sends.len(), "{now}");
        assert_eq!(
            plan["summary"]["campaigns"],
            plan["campaigns"].as_array().unwrap().len()
        );
        for campaign in plan["campaigns"].as_array().unwrap() {
            for send in campaign["sends"].as_array().unwrap() {
                let occurrence = send["occurrence"].as_str().unwrap();
                assert_eq!(send["occurrence"], campaign["occurrence"]);
                assert_eq!(send["endpoint"], campaign["kind"]);
                // CAMPAIGN/OCCURRENCE/MOBILE, or `blast` for a blast.
                let recipient = match send["endpoint"].as_str().unwrap() {
                    "single" => send["request"]["to"]["mobile"].as_str().unwrap(),
                    _ => "blast",
                };
                let name = campaign["name"].as_str().unwrap();
                assert_eq!(send["key"], format!("{name}/{occurrence}/{recipient}"));
            }
            if let Some(runs) = campaign["schedule"]["next_runs"].as_array() {
                assert!(runs.len() <= 5);
                assert!(runs.iter().all(|t| t.as_str().unwrap() > now), "{runs:?}");
            }
        }
    }
}

#[test]
fn timing_of_the_scheduled_examples() {
    let timing = |now: &str, name: &str| {
        let plan = bundled_json(now);
        let c = campaign(&plan, name);
        let due: Vec<bool> = c["sends"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["due"].as_bool().unwrap())
            .collect();
        (
            c["timing"].as_str().unwrap().to_owned(),
            c["occurrence"].as_str().unwrap().to_owned(),
            due,
        )
    };
    let weekday = |now| timing(now, "weekday-checkin");
    let race = |now| timing(now, "race-day-results");
    assert_eq!(
        weekday("2026-11-30T03:35:00Z"),
        (
            "due".into(),
            "2026-11-30T03:30:00Z".into(),
            vec![true, true]
        )
    );
    // Exactly at the end of the 30m catch-up window: still due; one second later: not.
    assert_eq!(weekday("2026-11-30T04:00:00Z").0, "due");
    assert_eq!(
        weekday("2026-11-30T04:00:01Z"),
        (
            "upcoming".into(),
            "2026-12-01T03:30:00Z".into(),
            vec![false, false]
        )
    );
    // Saturday: the next occurrence is Monday's.
    assert_eq!(
        weekday("2026-12-05T03:35:00Z"),
        (
            "upcoming".into(),
            "2026-12-07T03:30:00Z".into(),
            vec![false, false]
        )
    );
    assert_eq!(race("2026-11-27T00:00:00Z").0, "upcoming");
    assert_eq!(
        race("2026-12-06T19:00:00Z"),
        (
            "due".into(),
            "2026-12-06T18:00:00Z".into(),
            vec![true, true]
        )
    );
    assert_eq!(race("2026-12-06T20:00:00Z").0, "due");
    assert_eq!(
        race("2026-12-06T21:00:00Z"),
        (
            "expired".into(),
            "2026-12-06T18:00:00Z".into(),
            vec![false, false]
        )
    );
    // An expired `at` campaign has no next runs.
    let plan = bundled_json("2026-12-06T21:00:00Z");
    assert_eq!(
        campaign(&plan, "race-day-results")["schedule"]["next_runs"],
        serde_json::json!([])
    );
}

#[test]
fn now_with_an_offset_is_shown_in_utc() {
    let a = bundled_json("2026-11-30T09:05:00+05:30");
    assert_eq!(a["now"], "2026-11-30T03:35:00Z");
    let b = bundled_json("2026-11-30T03:35:00Z");
    assert_eq!(a, b);
}

#[test]
fn detailed_exitcode_for_the_bundled_campaigns() {
    // Unscheduled campaigns are always due, so the bundled set always has sends due.
    for (_, now) in INSTANTS {
        Test::in_repo()
            .args(["plan", "campaigns", "--detailed-exitcode", "--now", now])
            .status(2)
            .run();
    }
    // Without the flag, due sends are still success.
    Test::in_repo()
        .args(["plan", "campaigns", "--now", "2026-11-30T03:35:00Z"])
        .run();
}

const AT_CAMPAIGN: &str = "
    template: results
    language: en_GB
    params:
      - \"{{ recipient.name }}\"
    recipients:
      - mobile: \"447700900123\"
        name: Oliver
    schedule:
      at: \"2026-12-06T18:00:00+00:00\"
      catch_up: 1h
";

#[test]
fn detailed_exitcode_is_0_when_nothing_is_due() {
    for (now, status) in [
        ("2026-12-06T17:59:59Z", 0), // not yet
        ("2026-12-06T18:00:00Z", 2), // at the occurrence
        ("2026-12-06T19:00:00Z", 2), // end of catch-up
        ("2026-12-06T19:00:01Z", 0), // missed
    ] {
        Test::new()
            .file("campaigns/results.yaml", AT_CAMPAIGN)
            .args(["plan", "--detailed-exitcode", "--now", now])
            .status(status)
            .run();
        Test::new()
            .file("campaigns/results.yaml", AT_CAMPAIGN)
            .args([
                "plan",
                "--detailed-exitcode",
                "--format",
                "json",
                "--now",
                now,
            ])
            .status(status)
            .run();
    }
}

#[test]
fn detailed_exitcode_is_1_for_invalid_files() {
    Test::new()
        .file("campaigns/results.yaml", AT_CAMPAIGN)
        .file(
            "campaigns/broken.yaml",
            "
            template: t
            language: en
            ",
        )
        .args(["plan", "--detailed-exitcode", "--now", "2026-12-06T18:00:00Z"])
        .stdout("")
        .stderr(
            "
            campaigns/broken.yaml:1:1: error: missing required key `params`
              |
            1 | template: t
              | ^
            campaigns/broken.yaml:1:1: error: missing `recipients` or `search`: a campaign needs an audience
              |
            1 | template: t
              | ^
            2 errors, 0 warnings
            ",
        )
        .status(1)
        .run();
}

#[test]
fn text_plan_of_a_not_yet_due_at_campaign() {
    Test::new()
        .file("campaigns/results.yaml", AT_CAMPAIGN)
        .args(["plan", "--now", "2026-12-06T17:00:00Z"])
        .stdout(
            r#"
            Plan at 2026-12-06T17:00:00Z for 1 campaign(s)

            campaign results (campaigns/results.yaml)
              template     results (en_GB)
              audience     recipients (one `single` request each)
              schedule     at Sun 2026-12-06 18:00 +00:00 (UTC), catch-up 1h
              next runs    Sun 2026-12-06 18:00 +00:00
              occurrence   2026-12-06T18:00:00Z (Sun 2026-12-06 18:00 +00:00), not due yet
              sends        1 single, 0 due
                  447700900123    Oliver  ["Oliver"]

            Plan: 0 send(s) due now in 0 of 1 campaign(s); 1 not due; 0 already sent.
            "#,
        )
        .run();
}

#[test]
fn disabled_campaign_is_shown_and_never_due() {
    let test = || {
        Test::new().file(
            "campaigns/paused.yaml",
            "
            template: welcome
            language: en
            enabled: false
            params: [Hello]
            search:
              city: Pune
            ",
        )
    };
    test()
        .args([
            "plan",
            "--now",
            "2026-11-30T03:35:00Z",
            "--detailed-exitcode",
        ])
        .stdout(
            r#"
            Plan at 2026-11-30T03:35:00Z for 1 campaign(s)

            campaign paused (campaigns/paused.yaml)
              template     welcome (en)
              audience     search {"city":"Pune"} (one `blast` request)
              schedule     none: sent once, by apply
              occurrence   once, disabled (`enabled: false`), will not be sent
              sends        1 blast, 0 due
                  blast  ["Hello"]

            Plan: 0 send(s) due now in 0 of 1 campaign(s); 1 not due; 0 already sent.
            "#,
        )
        .run();
    let plan = test()
        .args(["plan", "--now", "2026-11-30T03:35:00Z", "--format", "json"])
        .run()
        .json();
    let c = &plan["campaigns"][0];
    assert_eq!(c["enabled"], false);
    assert_eq!(c["timing"], "disabled");
    assert_eq!(c["sends"][0]["due"], false);
    assert_eq!(plan["summary"]["due"], 0);
    // It is still validated.
    test()
        .args(["validate"])
        .stdout(&format!(
            "1 file(s) valid: 1 campaign(s), 1 send(s) rendered\n{NO_CATALOGUE_NOTE}"
        ))
        .run();
}

#[test]
fn long_recipient_lists_are_summarised_in_text_but_complete_in_json() {
    let mut csv = String::from("mobile,name\n");
    for i in 0..25 {
        csv.push_str(&format!("9198450{i:05},Runner {i}\n"));
    }
    let test = || {
        Test::new()
            .file(
                "campaigns/many.yaml",
                "
                template: welcome
                language: en
                params:
                  - \"{{ recipient.name }}\"
                recipients:
                  - file: data/many.csv
                ",
            )
            .file("campaigns/data/many.csv", csv.as_bytes())
    };
    let text = test()
        .args(["plan", "--now", "2026-11-30T03:35:00Z"])
        .run()
        .stdout;
    let lines: Vec<&str> = text.lines().collect();
    let first = lines.iter().position(|l| l.starts_with("    + ")).unwrap();
    assert_eq!(
        lines[first],
        r#"    + 919845000000    Runner 0   ["Runner 0"]"#
    );
    assert_eq!(
        lines[first + 19],
        r#"    + 919845000019    Runner 19  ["Runner 19"]"#
    );
    assert_eq!(lines[first + 20], "    … and 5 more");
    assert!(
        text.contains("  sends        25 single, 25 due\n"),
        "{text}"
    );
    assert!(text.ends_with(
        "\nPlan: 25 send(s) due now in 1 of 1 campaign(s); 0 not due; 0 already sent.\n"
    ));

    let plan = test()
        .args(["plan", "--now", "2026-11-30T03:35:00Z", "--format", "json"])
        .run()
        .json();
    let sends = sends(&plan);
    assert_eq!(sends.len(), 25);
    assert_eq!(sends[24]["request"]["to"]["mobile"], "919845000024");
}

#[test]
fn plan_without_now_uses_the_clock() {
    let output = Test::in_repo().args(["plan", "campaigns"]).run();
    assert!(output.stdout.starts_with("Plan at 20"), "{}", output.stdout);
    assert!(output.stdout.contains(" for 5 campaign(s)\n"));
}

#[test]
fn plan_is_deterministic() {
    let run = || {
        Test::in_repo()
            .args([
                "plan",
                "campaigns",
                "--now",
                "2026-11-30T03:35:00Z",
                "--format",
            ])
            .arg("json")
            .run()
            .stdout
    };
    assert_eq!(run(), run());
}

#[test]
fn bad_now_is_rejected() {
    Test::in_repo()
        .args(["plan", "campaigns", "--now", "tomorrow"])
        .stderr(
            "
            error: invalid value 'tomorrow' for '--now <RFC3339>': premature end of input; expected RFC 3339, e.g. 2026-11-30T09:00:00+05:30

            For more information, try '--help'.
            ",
        )
        .status(1)
        .run();
}

/// Usage errors exit 2, which `--detailed-exitcode` documents as "sends are due"; a typo in
/// a CI job's `--now` (or an unknown flag) reads as "something to send".
#[test]
fn usage_errors_exit_1() {
    Test::in_repo()
        .args([
            "plan",
            "campaigns",
            "--detailed-exitcode",
            "--now",
            "tomorrow",
        ])
        .status(1)
        .run();
    Test::in_repo()
        .args([
            "plan",
            "campaigns",
            "--detailed-exitcode",
            "--fromat",
            "json",
        ])
        .status(1)
        .run();
}
