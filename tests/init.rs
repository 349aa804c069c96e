//! `init`: a new repository of campaigns that validates as it is, created file by file,
//! never overwriting anything.

use std::path::Path;
use std::process::Command;

use crate::test::{BIN, Test};

const FILES: [&str; 7] = [
    "campaignctl.yaml",
    "campaigns/welcome.yaml",
    "campaigns/data/recipients.csv",
    "schemas/campaign.schema.json",
    "schemas/project.schema.json",
    ".gitignore",
    ".github/workflows/campaigns.yml",
];

/// `campaignctl ARGS` in `dir`: (status, stdout, stderr).
fn campaignctl(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("CAMPAIGNCTL_STATE")
        .output()
        .expect("run campaignctl");
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn into_an_empty_directory() {
    let output = Test::new()
        .arg("init")
        .stdout(
            "
            Created:
              campaignctl.yaml
              campaigns/welcome.yaml
              campaigns/data/recipients.csv
              schemas/campaign.schema.json
              schemas/project.schema.json
              .gitignore
              .github/workflows/campaigns.yml
            Next: edit campaigns/welcome.yaml and run `campaignctl validate` and `campaignctl plan`.
            ",
        )
        .run();
    let dir = output.path();
    assert_eq!(
        campaignctl(dir, &["validate"]),
        (
            0,
            "1 file(s) valid: 1 campaign(s), 2 send(s) rendered\n".to_owned(),
            String::new()
        )
    );
    // The example is disabled: a plan shows it, and nothing is due.
    let (status, plan, _) = campaignctl(dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(status, 0, "{plan}");
    assert!(
        plan.contains("disabled (`enabled: false`), will not be sent"),
        "{plan}"
    );
    assert!(
        plan.contains("919000000001    Asha  [\"Asha\",\"The Running Club\"]"),
        "{plan}"
    );
    // The modeline's schema is there, and is this binary's.
    let welcome = read(dir, "campaigns/welcome.yaml");
    assert!(
        welcome.starts_with("# yaml-language-server: $schema=../schemas/campaign.schema.json\n")
    );
    assert_eq!(
        read(dir, "schemas/campaign.schema.json"),
        campaignctl(dir, &["schema"]).1
    );
    // The project file lists the example's template in its catalogue, which `validate`
    // checked above (without a catalogue it would have added a note).
    let project = read(dir, "campaignctl.yaml");
    assert!(
        project.starts_with("# yaml-language-server: $schema=schemas/project.schema.json\n"),
        "{project}"
    );
    assert!(project.contains("  - name: welcome_message "), "{project}");
    assert_eq!(
        read(dir, "schemas/project.schema.json"),
        campaignctl(dir, &["schema", "--project"]).1
    );
    assert_eq!(
        read(dir, "campaigns/data/recipients.csv").lines().next(),
        Some("mobile,name")
    );
    assert!(
        read(dir, ".gitignore")
            .lines()
            .any(|line| line == ".campaignctl/")
    );
    assert_eq!(
        read(dir, ".github/workflows/campaigns.yml"),
        read(Path::new(crate::test::REPO), "examples/github-actions.yml")
    );
}

#[test]
fn never_overwrites() {
    let output = Test::new().arg("init").run();
    let dir = output.path();
    std::fs::write(dir.join(".gitignore"), "target/\n").unwrap();
    std::fs::write(dir.join("campaigns/welcome.yaml"), "edited\n").unwrap();
    let before: Vec<String> = FILES.iter().map(|file| read(dir, file)).collect();
    assert_eq!(
        campaignctl(dir, &["init"]),
        (
            0,
            "Skipped, already there (left as they are):\n  campaignctl.yaml\n  \
             campaigns/welcome.yaml\n  campaigns/data/recipients.csv\n  \
             schemas/campaign.schema.json\n  schemas/project.schema.json\n  .gitignore\n  \
             .github/workflows/campaigns.yml\n\
             note: .gitignore does not list .campaignctl/ (the local ledger): add it\n\
             Next: edit campaigns/welcome.yaml and run `campaignctl validate` and `campaignctl plan`.\n"
                .to_owned(),
            String::new()
        )
    );
    let after: Vec<String> = FILES.iter().map(|file| read(dir, file)).collect();
    assert_eq!(after, before);
    // A missing file is created, and only it.
    std::fs::remove_file(dir.join("campaigns/data/recipients.csv")).unwrap();
    let (status, stdout, _) = campaignctl(dir, &["init", "."]);
    assert_eq!(status, 0);
    assert!(
        stdout.starts_with("Created:\n  campaigns/data/recipients.csv\nSkipped, already there"),
        "{stdout}"
    );
    assert_eq!(read(dir, "campaigns/welcome.yaml"), "edited\n");
}

#[test]
fn into_a_new_directory() {
    let output = Test::new()
        .args(["init", "new/repo"])
        .stdout_contains("Created in new/repo:\n  campaignctl.yaml\n  campaigns/welcome.yaml\n")
        .stdout_contains("Next: cd new/repo, then edit campaigns/welcome.yaml")
        .run();
    let repo = output.path().join("new/repo");
    for file in FILES {
        assert!(repo.join(file).is_file(), "{file}");
    }
    assert_eq!(campaignctl(&repo, &["validate"]).0, 0);
}

/// Something in the way of a directory is an error, not a file to skip.
#[test]
fn a_file_where_a_directory_belongs() {
    Test::new()
        .file("campaigns", "not a directory\n")
        .arg("init")
        .stderr_contains("error: cannot create ./campaigns: ")
        .status(1)
        .run();
}
