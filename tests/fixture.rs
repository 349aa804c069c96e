//! Validation errors as fixture files (minijinja-style): every `fixtures/invalid/err_*.yaml`
//! exercises one rule and must fail `validate` with exit 1; its complete stderr is
//! snapshotted. Every `fixtures/valid/ok_*.yaml` must validate with exit 0.
//!
//! The binary runs in the repository root with a relative path, so the paths in messages
//! (and in the snapshots) are `tests/fixtures/...` on every machine. It is given the
//! fixtures' own project file, which sets nothing: the repository's `campaignctl.yaml` has
//! the bundled campaigns' template catalogue, which the fixtures are not about.

use std::path::Path;
use std::process::Command;

use crate::test::{BIN, FIXTURES_CONFIG, REPO};

fn validate(path: &Path) -> Command {
    let relative = path
        .strip_prefix(REPO)
        .expect("fixtures live in the repository");
    let mut command = Command::new(BIN);
    command
        .current_dir(REPO)
        .args(["validate", "--config", FIXTURES_CONFIG])
        .arg(relative);
    command
}

#[test]
fn invalid() {
    insta::glob!("fixtures/invalid/err_*.yaml", |path| {
        let output = validate(path).output().unwrap();
        let stderr = String::from_utf8(output.stderr.clone()).unwrap();
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}\n{stderr}",
            path.display()
        );
        assert!(
            output.stdout.is_empty(),
            "nothing on stdout for invalid files"
        );
        // Every error is located: `FILE:LINE:COL: error:` (or `FILE.csv:ROW: error:`).
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("tests/fixtures/invalid/") && first.contains(": error: "),
            "{first}"
        );
        insta_cmd::assert_cmd_snapshot!(validate(path));
    });
}

#[test]
fn valid() {
    insta::glob!("fixtures/valid/ok_*.yaml", |path| {
        let output = validate(path).output().unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}\n{stderr}",
            path.display()
        );
        assert!(
            stdout.starts_with("1 file(s) valid: 1 campaign(s), "),
            "{stdout}"
        );
        assert!(!stderr.contains("error"), "{stderr}");
        // Warnings, if any, are part of the contract too.
        insta::assert_snapshot!(stderr);
    });
}
