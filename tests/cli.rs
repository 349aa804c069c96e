//! Command-line behaviour that is not about one rule: help, paths relative to the working
//! directory, independence from the machine's time zone, and `plan` writing nothing.

use std::collections::BTreeMap;
use std::path::Path;

use crate::test::Test;

const CAMPAIGN: &str = r#"
    template: welcome
    language: en
    params:
      - "{{ run.at | date('%d %b %H:%M') }}"
    search:
      city: Pune
    schedule:
      cron: "0 9 * * *"
      timezone: Asia/Kolkata
"#;

#[test]
fn help_lists_the_commands() {
    let output = Test::new().arg("--help").run();
    assert_eq!(output.status, 0);
    for line in [
        "  validate     Check campaign files against the schema and every rule; report all problems at once\n",
        "  plan         Show what `apply` would send at `--now`, without sending or writing anything\n",
        "  optout       Manage the ledger's opt-outs: numbers no campaign ever messages\n",
        "  schema       Print the JSON Schema of a campaign file, the project file or a template catalogue\n",
    ] {
        assert!(output.stdout.contains(line), "{}", output.stdout);
    }
    Test::new()
        .args(["plan", "--help"])
        .stdout_contains(
            "--detailed-exitcode  Exit 0 when nothing is due, 2 when sends are due, 1 on error",
        )
        .run();
    Test::new()
        .arg("--version")
        .stdout(&format!("campaignctl {}\n", env!("CARGO_PKG_VERSION")))
        .run();
}

#[test]
fn empty_directory() {
    Test::new()
        .dir("campaigns")
        .args(["validate"])
        .stderr(
            "
            campaigns: error: no campaign files (*.yaml, *.yml) in this directory
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// Paths are shown as given, relative to the working directory; CSV files are found
/// relative to their campaign file wherever `campaignctl` runs.
#[test]
fn paths_relative_to_the_working_directory() {
    let test = || {
        Test::new()
            .file(
                "repo/campaigns/c.yaml",
                "
                template: welcome
                language: en-US
                params: [\"{{ recipient.mobile }}\"]
                recipients:
                  - file: data/list.csv
                ",
            )
            .file("repo/campaigns/data/list.csv", "mobile\n919739978284\n")
    };
    test()
        .current_dir("repo/campaigns")
        .args(["validate", "."])
        .stderr_contains("./c.yaml:2:11: error: `en-US` is not a WhatsApp template language code\n")
        .status(1)
        .run();
    test()
        .current_dir("repo")
        .args(["validate"])
        .stderr_contains("campaigns/c.yaml:2:11: error: ")
        .status(1)
        .run();
    test()
        .current_dir("repo/campaigns/data")
        .args(["validate", "../c.yaml"])
        .stderr_contains("../c.yaml:2:11: error: ")
        .status(1)
        .run();
}

/// Schedules use their own zone; the machine's `TZ` changes nothing.
#[test]
fn machine_time_zone_does_not_matter() {
    let plan = |tz: &str| {
        Test::new()
            .file("campaigns/c.yaml", CAMPAIGN)
            .env("TZ", tz)
            .args(["plan", "--now", "2026-11-30T03:35:00Z"])
            .run()
            .stdout
    };
    let utc = plan("UTC");
    assert!(utc.contains("    + blast  [\"30 Nov 09:00\"]\n"), "{utc}");
    assert_eq!(plan("Pacific/Kiritimati"), utc);
    assert_eq!(plan("America/St_Johns"), utc);
}

fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(root).unwrap().display().to_string();
                files.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// `plan` and `validate` never write anything (no ledger, no cache, no lock file).
#[test]
fn plan_and_validate_write_nothing() {
    let output = Test::new()
        .file("campaigns/c.yaml", CAMPAIGN)
        .file(
            "campaigns/d.yaml",
            "
            template: welcome
            language: en
            params: []
            recipients:
              - file: data/list.csv
            ",
        )
        .file("campaigns/data/list.csv", "mobile\n919739978284\n")
        .args(["plan", "--now", "2026-11-30T03:35:00Z"])
        .run();
    let before = snapshot(output.path());
    for args in [
        vec!["plan", "--format", "json"],
        vec!["plan", "--detailed-exitcode"],
        vec!["validate"],
    ] {
        let status = std::process::Command::new(crate::test::BIN)
            .args(args)
            .current_dir(output.path())
            .output()
            .unwrap()
            .status;
        assert!(status.code().is_some());
    }
    assert_eq!(snapshot(output.path()), before);
    assert_eq!(before.len(), 3);
}
