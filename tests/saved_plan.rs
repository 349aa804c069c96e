//! Saved plans (`plan --out`, `show`, `apply PLAN`) and the markdown plan: a saved plan
//! sends exactly what it lists, and is refused, sending nothing, once anything it was made
//! from changed.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::apply::{Sandbox, campaign, count_status, mobile, mobiles};
use crate::output::Run;
use crate::test::{BIN, REPO};

/// The instant the bundled campaigns are planned at: weekday-checkin's 09:00 run in Kolkata
/// is within its 30m catch-up.
const BUNDLED_NOW: &str = "2026-11-30T03:35:00Z";

/// What changes from one saved plan to the next: when it was made, and where.
fn filters(dir: &Path) -> Vec<(String, String)> {
    vec![
        (
            r#""created_at": "[^"]+""#.to_owned(),
            r#""created_at": "[created_at]""#.to_owned(),
        ),
        (regex_escape(&dir.display().to_string()), "[dir]".to_owned()),
    ]
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

/// Saves the plan of the bundled campaigns into `dir` (no ledger).
fn save_bundled(dir: &Path) -> PathBuf {
    let plan = dir.join("plan.json");
    let state = dir.join("no-ledger.db");
    let output = Command::new(BIN)
        .current_dir(REPO)
        .args(["plan", "campaigns", "--now", BUNDLED_NOW, "--out"])
        .arg(&plan)
        .arg("--state")
        .arg(&state)
        .output()
        .unwrap();
    let run = Run::from(output);
    run.assert_code(0);
    assert!(run.stderr.contains("Saved the plan to"), "{}", run.stderr);
    assert!(!state.exists(), "plan created a ledger");
    plan
}

#[test]
fn show_prints_a_saved_plan_as_text_json_and_markdown() {
    let dir = tempfile::tempdir().unwrap();
    save_bundled(dir.path());
    let filters = filters(dir.path());
    let filters: Vec<(&str, &str)> = filters
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    for format in ["text", "json", "markdown"] {
        insta::with_settings!({filters => filters.clone()}, {
            insta_cmd::assert_cmd_snapshot!(
                format!("show_{format}"),
                Command::new(BIN)
                    .current_dir(dir.path())
                    .args(["show", "plan.json", "--format", format])
            );
        });
    }
    // `show` as text is the text plan itself.
    let live = Command::new(BIN)
        .current_dir(REPO)
        .args(["plan", "campaigns", "--now", BUNDLED_NOW])
        .output()
        .unwrap();
    let shown = Command::new(BIN)
        .current_dir(dir.path())
        .args(["show", "plan.json"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(shown.stdout).unwrap(),
        String::from_utf8(live.stdout).unwrap()
    );
}

#[test]
fn the_markdown_plan_of_the_bundled_campaigns() {
    insta_cmd::assert_cmd_snapshot!(
        "markdown_bundled",
        Command::new(BIN).current_dir(REPO).args([
            "plan",
            "campaigns",
            "--now",
            BUNDLED_NOW,
            "--format",
            "markdown"
        ])
    );
}

#[test]
fn a_markdown_plan_of_100000_sends_stays_under_the_comment_limit() {
    let sb = Sandbox::new();
    let mut csv = String::from("mobile,name\n");
    for i in 0..100_000 {
        csv.push_str(&format!("91{},Member {i}\n", 9_000_000_000u64 + i));
    }
    sb.write("campaigns/data/members.csv", &csv);
    sb.write(
        "campaigns/big.yaml",
        "template: renewal\nlanguage: en\nparams: [\"{{ recipient.name }}\"]\nrecipients:\n  - file: data/members.csv\n",
    );
    sb.write(
        "campaigns/small.yaml",
        &campaign("small", "E", &mobiles(1..4)),
    );
    let run = sb.run(&["plan", "campaigns", "--format", "markdown"]);
    run.assert_code(0);
    let chars = run.stdout.chars().count();
    assert!(chars < 65_536, "{chars} characters");
    assert!(run.stdout.starts_with("<!-- campaignctl plan -->\n"));
    assert!(
        run.stdout.contains("100003 sends in all"),
        "{}",
        &run.stdout[..400]
    );
    // The big campaign lists some, and says how many it leaves out; the small one all of
    // its sends.
    let listed = run.stdout.matches("| + | `91").count();
    assert!(listed > 100, "{listed} sends listed");
    // The small campaign is listed whole: what is left out is the big one's.
    let left_out = 100_000 + 3 - listed;
    assert!(
        run.stdout.contains(&format!("… and {left_out} sends more")),
        "no count of the {left_out} sends left out"
    );
    assert!(run.stdout.contains("`campaigns/small.yaml:"));
}

#[test]
fn a_markdown_plan_of_150_campaigns_and_their_warnings_stays_under_the_comment_limit() {
    let sb = Sandbox::new();
    for i in 0..150 {
        // A number listed twice: a warning per campaign.
        let mut numbers = mobiles(i * 3..i * 3 + 3);
        numbers.push(numbers[0].clone());
        sb.write(
            &format!("campaigns/c{i:03}.yaml"),
            &campaign(
                &format!("campaign-with-a-long-descriptive-name-{i:03}"),
                "E",
                &numbers,
            ),
        );
    }
    let run = sb.run(&["plan", "campaigns", "--format", "markdown"]);
    run.assert_code(0);
    assert_eq!(
        run.stderr.matches("warning:").count(),
        150,
        "{}",
        run.stderr
    );
    let chars = run.stdout.chars().count();
    assert!(chars < 65_536, "{chars} characters");
    assert!(
        run.stdout
            .contains("## campaignctl plan: 450 sends due in 150 of 150 campaigns"),
        "{}",
        &run.stdout[..400]
    );
    let tables = run.stdout.matches("\n### `campaign-with").count();
    assert!((10..150).contains(&tables), "{tables} tables");
    let hidden = 150 - tables;
    assert!(
        run.stdout.contains(&format!(
            "… and {hidden} campaigns more, not shown to keep this comment under GitHub's limit ({} sends, {} due).",
            hidden * 3,
            hidden * 3
        )),
        "no count of the {hidden} campaigns not shown"
    );
    let warnings = run.stdout.matches("\n> - campaigns/").count();
    assert!((1..150).contains(&warnings), "{warnings} warnings");
    let last = run.stdout.trim_end().lines().last().unwrap();
    assert!(
        last.starts_with(&format!(
            "**Not listed here, to stay under GitHub's comment limit:** {hidden} campaigns of 150, {} warnings of 150, ",
            150 - warnings
        )) && last.contains("`campaignctl plan --format text`")
            && last.contains("`campaignctl show plan.json --format json`"),
        "{last}"
    );
}

/// `plan campaigns --out plan.json` in the sandbox, against its ledger, at `now`.
fn save(sb: &Sandbox, now: &str) -> PathBuf {
    let state = sb.state().display().to_string();
    let plan = sb.path("plan.json");
    let run = sb.run(&[
        "plan",
        "campaigns",
        "--now",
        now,
        "--state",
        &state,
        "--out",
        plan.to_str().unwrap(),
    ]);
    run.assert_code(0);
    plan
}

/// `apply PLAN` in the sandbox (no `--yes`: a saved plan was reviewed already).
fn apply_saved(sb: &Sandbox, plan: &Path, now: &str) -> Run {
    let state = sb.state().display().to_string();
    sb.run(&[
        "apply",
        plan.to_str().unwrap(),
        "--now",
        now,
        "--state",
        &state,
        "--rate",
        "0",
    ])
}

const NOW: &str = "2026-11-30T09:00:00+05:30";

fn with_csv(sb: &Sandbox) {
    sb.write("campaigns/a.yaml", &campaign("a", "A", &mobiles(1..4)));
    sb.write(
        "campaigns/data/b.csv",
        &format!("mobile,name\n{},Bee\n{},Cee\n", mobile(10), mobile(11)),
    );
    sb.write(
        "campaigns/b.yaml",
        "name: b\ntemplate: reminder\nlanguage: en\nparams: [\"{{ recipient.name }}\"]\nrecipients:\n  - file: data/b.csv\n",
    );
}

#[test]
fn apply_of_a_saved_plan_sends_exactly_its_requests_and_nothing_else() {
    let sb = Sandbox::new();
    with_csv(&sb);
    let plan = save(&sb, NOW);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    // A campaign added after the plan is not in it, and is not sent by it.
    sb.write("campaigns/c.yaml", &campaign("c", "C", &mobiles(20..22)));
    let run = apply_saved(&sb, &plan, NOW);
    run.assert_code(0);
    assert!(
        run.stdout.contains("Applied: 5 sent, 0 failed, 0 unknown"),
        "{}",
        run.stdout
    );
    let mut planned: Vec<String> = saved["plan"]["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["sends"].as_array().unwrap())
        .filter(|s| s["due"] == true)
        .map(|s| s["request"].as_str().unwrap().to_owned())
        .collect();
    let mut sent: Vec<String> = sb
        .mock
        .requests()
        .iter()
        .map(|r| r.body_text().to_owned())
        .collect();
    planned.sort();
    sent.sort();
    assert_eq!(
        sent, planned,
        "the requests sent are the bodies saved, byte for byte"
    );
    let rows = sb.ledger();
    assert_eq!(count_status(&rows, "sent"), 5);
    assert!(rows.iter().all(|r| r.campaign != "c"));
}

/// A saved plan refused as stale: exit 1, the reason, and nothing sent.
fn assert_stale(sb: &Sandbox, plan: &Path, now: &str, reason: &str) {
    let before = sb.mock.requests().len();
    let run = apply_saved(sb, plan, now);
    run.assert_code(1);
    assert!(
        run.stderr.contains("is stale, so nothing was sent") && run.stderr.contains(reason),
        "expected `{reason}` in:\n{}",
        run.stderr
    );
    assert_eq!(sb.mock.requests().len(), before, "a stale plan sent");
}

#[test]
fn a_saved_plan_is_refused_when_a_campaign_file_changed() {
    let sb = Sandbox::new();
    with_csv(&sb);
    let plan = save(&sb, NOW);
    sb.write(
        "campaigns/a.yaml",
        &campaign("a", "A edited", &mobiles(1..4)),
    );
    assert_stale(&sb, &plan, NOW, "campaigns/a.yaml changed since the plan");
}

#[test]
fn a_saved_plan_is_refused_when_a_csv_file_changed() {
    let sb = Sandbox::new();
    with_csv(&sb);
    let plan = save(&sb, NOW);
    sb.write(
        "campaigns/data/b.csv",
        &format!(
            "mobile,name\n{},Bee\n{},Cee\n{},Dee\n",
            mobile(10),
            mobile(11),
            mobile(12)
        ),
    );
    assert_stale(
        &sb,
        &plan,
        NOW,
        "campaigns/data/b.csv changed since the plan",
    );
}

/// The template catalogue is one of the files a plan is made from: a template paused since
/// (or any other edit) makes the plan stale.
#[test]
fn a_saved_plan_is_refused_when_the_template_catalogue_changed() {
    let sb = Sandbox::new();
    with_csv(&sb);
    sb.write("campaignctl.yaml", "templates: campaigns/templates.yaml\n");
    let catalogue = "templates:\n  \
         - {name: welcome_message, languages: [en], category: utility, params: 2}\n  \
         - {name: reminder, languages: [en], category: utility, params: 1}\n";
    sb.write("campaigns/templates.yaml", catalogue);
    let plan = save(&sb, NOW);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    assert_eq!(
        saved["plan"]["files"][1]["path"],
        "campaigns/templates.yaml"
    );
    sb.write(
        "campaigns/templates.yaml",
        &catalogue.replace("params: 1}", "params: 1, status: paused}"),
    );
    assert_stale(
        &sb,
        &plan,
        NOW,
        "campaigns/templates.yaml changed since the plan",
    );
}

#[test]
fn a_stale_plan_is_refused_with_every_reason_at_once() {
    let sb = Sandbox::new();
    with_csv(&sb);
    sb.write("campaigns/c.yaml", &campaign("c", "C", &mobiles(20..24)));
    let plan = save(&sb, NOW);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    let keys: Vec<String> = saved["plan"]["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["sends"].as_array().unwrap())
        .filter(|s| s["due"] == true)
        .map(|s| s["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 9);
    // Another apply sends them in between, and a CSV file changes.
    sb.apply(&[]).assert_code(0);
    let sent = sb.mock.requests().len();
    let recorded = format!(
        "9 planned send(s) were recorded in the ledger since the plan (another apply or the daemon sent them, or a run was interrupted): {}, …",
        keys[..5].join(", ")
    );
    assert_stale(&sb, &plan, NOW, &recorded);
    sb.write(
        "campaigns/data/b.csv",
        &format!("mobile,name\n{},Bee\n", mobile(10)),
    );
    for dry_run in [false, true] {
        let state = sb.state().display().to_string();
        let mut args = vec![
            "apply",
            plan.to_str().unwrap(),
            "--now",
            NOW,
            "--state",
            &state,
            "--rate",
            "0",
        ];
        if dry_run {
            args.push("--dry-run");
        }
        let run = sb.run(&args);
        run.assert_code(1);
        assert!(
            run.stderr
                .contains("  - campaigns/data/b.csv changed since the plan\n")
                && run.stderr.contains(&format!("  - {recorded}\n")),
            "dry run {dry_run}, every reason expected:\n{}",
            run.stderr
        );
    }
    assert_eq!(sb.mock.requests().len(), sent, "a stale plan sent");
}

#[test]
fn a_csv_file_read_by_two_campaigns_is_listed_and_named_once() {
    let sb = Sandbox::new();
    with_csv(&sb);
    sb.write(
        "campaigns/b2.yaml",
        "name: b2\ntemplate: reminder\nlanguage: en\nparams: [\"{{ recipient.name }}\"]\nrecipients:\n  - file: data/b.csv\n",
    );
    // A campaign in between: the two readings of the CSV file are not next to each other.
    sb.write("campaigns/b1.yaml", &campaign("b1", "B", &mobiles(30..32)));
    let plan = save(&sb, NOW);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    let files: Vec<&str> = saved["plan"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "campaigns/a.yaml",
            "campaigns/b.yaml",
            "campaigns/data/b.csv",
            "campaigns/b1.yaml",
            "campaigns/b2.yaml",
        ]
    );
    sb.write(
        "campaigns/data/b.csv",
        &format!("mobile,name\n{},Bee\n", mobile(10)),
    );
    let run = apply_saved(&sb, &plan, NOW);
    run.assert_code(1);
    assert_eq!(
        run.stderr
            .matches("campaigns/data/b.csv changed since")
            .count(),
        1,
        "{}",
        run.stderr
    );
    assert!(sb.mock.requests().is_empty());
}

#[test]
fn a_project_file_added_after_the_plan_or_another_one_named_makes_it_stale() {
    let sb = Sandbox::new();
    with_csv(&sb);
    // Planned without a project file: the plan says which one it looked for.
    let plan = save(&sb, NOW);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    assert_eq!(saved["format_version"], "1.4");
    assert_eq!(
        saved["plan"]["project"],
        serde_json::json!({"path": "campaignctl.yaml", "named": false, "found": false})
    );
    // A project file whose opt-out list names a number the plan sends to.
    sb.write("optouts.csv", &format!("mobile\n{}\n", mobile(1)));
    sb.write("campaignctl.yaml", "suppressions: [optouts.csv]\n");
    assert_stale(
        &sb,
        &plan,
        NOW,
        "campaignctl.yaml was added since the plan (the plan was made without a project file, so without its opt-out lists)",
    );
    std::fs::remove_file(sb.path("campaignctl.yaml")).unwrap();
    // Another project file named at apply, by flag or by the environment.
    sb.write("other.yaml", "suppressions: [optouts.csv]\n");
    let state = sb.state().display().to_string();
    let args = [
        "apply",
        plan.to_str().unwrap(),
        "--now",
        NOW,
        "--state",
        &state,
        "--rate",
        "0",
    ];
    let named = "the project file is other.yaml (--config or CAMPAIGNCTL_CONFIG), but the plan was made with no project file (campaignctl.yaml was absent)";
    let mut with_flag = args.to_vec();
    with_flag.extend(["--config", "other.yaml"]);
    let by_flag = sb.run(&with_flag);
    let by_env = Run::from(
        sb.command(&args)
            .env("CAMPAIGNCTL_CONFIG", "other.yaml")
            .output()
            .unwrap(),
    );
    for run in [by_flag, by_env] {
        run.assert_code(1);
        assert!(run.stderr.contains(named), "{}", run.stderr);
    }
    assert!(sb.mock.requests().is_empty(), "a stale plan sent");
    // As planned, it applies.
    apply_saved(&sb, &plan, NOW).assert_code(0);
    assert_eq!(sb.mock.requests().len(), 5);

    // Planned with a named project file, applied without naming it: stale; named as
    // `./other.yaml`, the same file, it applies.
    let plan = sb.path("named.json");
    sb.run(&[
        "plan",
        "campaigns",
        "--now",
        NOW,
        "--state",
        &state,
        "--config",
        "other.yaml",
        "--out",
        plan.to_str().unwrap(),
    ])
    .assert_code(0);
    assert_stale(
        &sb,
        &plan,
        NOW,
        "the plan was made with the project file other.yaml (--config or CAMPAIGNCTL_CONFIG), and no project file is named now",
    );
    let mut args = args.to_vec();
    args[1] = plan.to_str().unwrap();
    args.extend(["--config", "./other.yaml"]);
    let run = sb.run(&args);
    run.assert_code(0);
    assert!(run.stdout.contains("Nothing to send"), "{}", run.stdout);
}

#[test]
fn a_saved_plan_is_recognised_by_its_content_whatever_its_name() {
    let sb = Sandbox::new();
    with_csv(&sb);
    let state = sb.state().display().to_string();
    sb.run(&[
        "plan",
        "campaigns",
        "--now",
        NOW,
        "--state",
        &state,
        "--out",
        "reviewed.plan",
    ])
    .assert_code(0);
    // A campaign file is still a campaign file, whatever its name.
    std::fs::copy(sb.path("campaigns/a.yaml"), sb.path("a.campaign")).unwrap();
    let dry = sb.run(&[
        "apply",
        "a.campaign",
        "--dry-run",
        "--now",
        NOW,
        "--state",
        &state,
    ]);
    dry.assert_code(0);
    assert!(
        dry.stdout.contains("Dry run: 3 send(s) would be sent"),
        "{}",
        dry.stdout
    );
    let run = apply_saved(&sb, &sb.path("reviewed.plan"), NOW);
    run.assert_code(0);
    assert!(
        run.stdout.contains("Applied: 5 sent, 0 failed"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(sb.mock.requests().len(), 5);
}

#[test]
fn a_saved_plan_is_refused_once_its_occurrence_is_past_catch_up() {
    let sb = Sandbox::new();
    let mut text = campaign("daily", "D", &mobiles(1..3));
    text.push_str("schedule:\n  cron: \"0 9 * * *\"\n  timezone: Asia/Kolkata\n  catch_up: 30m\n");
    sb.write("campaigns/daily.yaml", &text);
    // Planned at 09:05, applied at 09:45: the 09:00 occurrence is 45 minutes old.
    let plan = save(&sb, "2026-11-30T09:05:00+05:30");
    assert_stale(
        &sb,
        &plan,
        "2026-11-30T09:45:00+05:30",
        "the occurrence 2026-11-30T03:30:00Z of `daily` is no longer within its catch_up (30m)",
    );
    // Within it, the same plan is applied.
    apply_saved(&sb, &plan, "2026-11-30T09:20:00+05:30").assert_code(0);
    assert_eq!(sb.mock.requests().len(), 2);
}

#[test]
fn an_edited_saved_plan_is_refused() {
    let sb = Sandbox::new();
    with_csv(&sb);
    let plan = save(&sb, NOW);
    let text = std::fs::read_to_string(&plan).unwrap();
    // A request body changed by hand (its template), its hash and the digest kept.
    let edited = text.replacen(
        r#"\"fb_template\":\"welcome_message\""#,
        r#"\"fb_template\":\"welcome_messagf\""#,
        1,
    );
    assert_ne!(edited, text);
    std::fs::write(&plan, &edited).unwrap();
    let run = apply_saved(&sb, &plan, NOW);
    run.assert_code(1);
    assert!(
        run.stderr.contains("was changed after it was saved"),
        "{}",
        run.stderr
    );
    // The digest made to match again: the body still does not match its hash.
    let mut value: Value = serde_json::from_str(&edited).unwrap();
    let plan_text = serde_json::to_string_pretty(&value["plan"]).unwrap();
    let digest = sha256(&plan_text);
    value["digest"] = Value::from(digest);
    let rewritten = format!(
        "{{\n\"kind\": \"campaignctl-plan\",\n\"format_version\": \"1.0\",\n\"digest\": {},\n\"plan\": {plan_text}\n}}\n",
        value["digest"]
    );
    std::fs::write(&plan, rewritten).unwrap();
    let run = apply_saved(&sb, &plan, NOW);
    run.assert_code(1);
    assert!(
        run.stderr.contains("does not match its hash"),
        "{}",
        run.stderr
    );
    assert!(sb.mock.requests().is_empty());
}

#[test]
fn a_saved_plan_of_a_newer_format_is_refused() {
    let sb = Sandbox::new();
    with_csv(&sb);
    let plan = save(&sb, NOW);
    let text = std::fs::read_to_string(&plan).unwrap();
    std::fs::write(
        &plan,
        text.replace("\"format_version\": \"1.4\"", "\"format_version\": \"2.0\""),
    )
    .unwrap();
    let run = apply_saved(&sb, &plan, NOW);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("in format 2.0, newer than this campaignctl reads (1.x)"),
        "{}",
        run.stderr
    );
    let shown = sb.run(&["show", plan.to_str().unwrap()]);
    shown.assert_code(1);
    assert!(sb.mock.requests().is_empty());
}

fn sha256(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn the_github_actions_example_plans_on_pull_requests_and_applies_the_saved_plan_on_main() {
    let path = Path::new(REPO).join("examples/github-actions.yml");
    let text = std::fs::read_to_string(path).unwrap();
    let workflow: Value = serde_saphyr::from_str(&text).expect("the example is valid YAML");
    let steps = |job: &str| -> Vec<String> {
        workflow["jobs"][job]["steps"]
            .as_array()
            .unwrap_or_else(|| panic!("no job `{job}`"))
            .iter()
            .filter_map(|s| s["run"].as_str().map(str::to_owned))
            .collect()
    };
    let plan = steps("plan").join("\n");
    assert!(plan.contains("campaignctl plan campaigns/ --out plan.json --format markdown"));
    // One comment, found by the markdown plan's first line and updated.
    assert!(plan.contains("<!-- campaignctl plan -->") && plan.contains("--method PATCH"));
    let apply = steps("apply").join("\n");
    assert!(apply.contains("campaignctl apply plan.json"), "{apply}");
    assert!(
        !apply.contains("apply campaigns/"),
        "apply on main must send the reviewed plan"
    );
}
