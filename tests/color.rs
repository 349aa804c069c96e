//! `--color` and the environment: the text plan, diagnostics and errors are coloured on a
//! terminal (or when forced), never on a pipe under `auto`, never with `NO_COLOR` (which
//! wins over `CLICOLOR_FORCE`), and the text without colour is exactly the plain text.
//! Snapshots show the escape character as `␛`, so the codes can be read.

use std::process::Command;

use crate::test::{BIN, FIXTURES_CONFIG, REPO};

const NOW: &str = "2026-11-30T03:35:00Z";
/// Never created (`plan` never writes): no ledger, every send `new`.
const NO_LEDGER: &str = "tests/fixtures/no-such-ledger.db";
/// An error with a caret and a help line.
const INVALID: &str = "tests/fixtures/invalid/err_language_hyphen.yaml";

const ESC: &str = "\u{1b}[";

/// `campaignctl ARGS` in the repository root, with none of the colour variables of the
/// environment the tests run in.
fn campaignctl(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.current_dir(REPO).args(args);
    for var in ["NO_COLOR", "CLICOLOR_FORCE", "CLICOLOR"] {
        command.env_remove(var);
    }
    command
}

fn plan(color: &str) -> Command {
    campaignctl(&[
        "plan",
        "campaigns",
        "--now",
        NOW,
        "--state",
        NO_LEDGER,
        "--color",
        color,
    ])
}

fn validate(color: &str) -> Command {
    campaignctl(&[
        "validate",
        "--config",
        FIXTURES_CONFIG,
        INVALID,
        "--color",
        color,
    ])
}

/// stdout and stderr of a run.
fn output(mut command: Command) -> (String, String) {
    let output = command.output().expect("run campaignctl");
    (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn strip(text: &str) -> String {
    let mut plain = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(ESC) {
        plain.push_str(&rest[..start]);
        let end = rest[start..]
            .find('m')
            .expect("an SGR sequence ends with m");
        rest = &rest[start + end + 1..];
    }
    plain.push_str(rest);
    plain
}

macro_rules! snapshot {
    ($name:expr, $command:expr) => {
        insta::with_settings!({ filters => vec![("\x1b", "␛")] }, {
            insta_cmd::assert_cmd_snapshot!($name, $command);
        })
    };
}

#[test]
fn plan_in_colour_and_without() {
    snapshot!("plan_color_always", plan("always"));
    snapshot!("plan_color_never", plan("never"));
}

#[test]
fn validation_error_in_colour_and_without() {
    snapshot!("validate_color_always", validate("always"));
    snapshot!("validate_color_never", validate("never"));
}

/// Without its codes the coloured text is the plain text, byte for byte; `never` and a pipe
/// under `auto` are that plain text.
#[test]
fn colour_only_adds_escape_codes() {
    for (colored, plain) in [
        (plan("always"), plan("auto")),
        (validate("always"), validate("auto")),
    ] {
        let (colored, plain) = (output(colored), output(plain));
        assert!(
            colored.0.contains(ESC) || colored.1.contains(ESC),
            "{colored:?}"
        );
        assert!(
            !plain.0.contains(ESC) && !plain.1.contains(ESC),
            "{plain:?}"
        );
        assert_eq!(strip(&colored.0), plain.0);
        assert_eq!(strip(&colored.1), plain.1);
    }
    assert_eq!(output(plan("never")), output(plan("auto")));
    assert_eq!(output(validate("never")), output(validate("auto")));
}

#[test]
fn environment_under_auto() {
    let run = |vars: &[(&str, &str)]| {
        let mut command = plan("auto");
        command.envs(vars.iter().copied());
        output(command).0
    };
    assert!(run(&[("CLICOLOR_FORCE", "1")]).contains(ESC));
    assert!(!run(&[("NO_COLOR", "1")]).contains(ESC));
    // NO_COLOR wins when both are set.
    assert!(!run(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]).contains(ESC));
    // An explicit flag beats the environment, both ways.
    let mut command = plan("never");
    command.env("CLICOLOR_FORCE", "1");
    assert!(!output(command).0.contains(ESC));
    let mut command = plan("always");
    command.env("NO_COLOR", "1");
    assert!(output(command).0.contains(ESC));
    // Diagnostics (stderr) follow the same rules.
    let mut command = validate("auto");
    command.env("CLICOLOR_FORCE", "1");
    assert!(output(command).1.contains(ESC));
    let mut command = validate("auto");
    command.envs([("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(!output(command).1.contains(ESC));
}

/// JSON is never coloured, even when colour is forced.
#[test]
fn json_is_never_coloured() {
    let mut command = campaignctl(&[
        "plan",
        "campaigns",
        "--now",
        NOW,
        "--state",
        NO_LEDGER,
        "--format",
        "json",
        "--color",
        "always",
    ]);
    command.env("CLICOLOR_FORCE", "1");
    let (stdout, _) = output(command);
    assert!(!stdout.contains('\u{1b}'));
    serde_json::from_str::<serde_json::Value>(&stdout).expect("JSON");
}

/// A top-level error's `error:` is red too.
#[test]
fn errors_in_colour() {
    let (_, stderr) = output(campaignctl(&[
        "status", "--state", NO_LEDGER, "--color", "always",
    ]));
    assert!(
        stderr.starts_with("\u{1b}[1m\u{1b}[31merror:\u{1b}[0m no ledger at "),
        "{stderr:?}"
    );
}

/// On a terminal (a pseudo-terminal from util-linux's `script`), `auto` colours, and
/// `NO_COLOR` turns it off.
#[test]
fn terminal_under_auto() {
    let script = std::path::Path::new("/usr/bin/script");
    if !script.exists() {
        eprintln!("skipped: no /usr/bin/script to run campaignctl on a pseudo-terminal");
        return;
    }
    let on_terminal = |no_color: bool| {
        let line = format!("'{BIN}' plan campaigns --now {NOW} --state {NO_LEDGER}");
        let mut command = Command::new(script);
        command
            .current_dir(REPO)
            .args(["-q", "-e", "-c", &line, "/dev/null"])
            .env("TERM", "xterm-256color")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("CLICOLOR")
            .env_remove("NO_COLOR");
        if no_color {
            command.env("NO_COLOR", "1");
        }
        let output = command.output().expect("run script");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let colored = on_terminal(false);
    assert!(colored.contains(ESC), "{colored:?}");
    assert!(colored.contains("Plan: 12 send(s) due now"), "{colored:?}");
    let plain = on_terminal(true);
    assert!(!plain.contains(ESC), "{plain:?}");
    assert!(plain.contains("Plan: 12 send(s) due now"), "{plain:?}");
}

/// Every mark of the plan and every line of `apply`'s summary, with a ledger: `=` already
/// sent (dim), `~` changed since (yellow), `!` failed (red), `+` due (green).
#[test]
fn ledger_states_and_the_apply_summary_in_colour() {
    use crate::mock_api::{Fault, MockApi};

    let mock = MockApi::start();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, event: &str, mobiles: &[&str]| {
        let mut text = format!(
            "template: welcome_message\nlanguage: en\nvars:\n  event: {event}\n\
             params:\n  - \"{{{{ recipient.name }}}}\"\n  - \"{{{{ event }}}}\"\nrecipients:\n"
        );
        for (i, m) in mobiles.iter().enumerate() {
            text.push_str(&format!("  - mobile: \"{m}\"\n    name: Runner{i}\n"));
        }
        std::fs::create_dir_all(dir.path().join("campaigns")).unwrap();
        std::fs::write(dir.path().join(format!("campaigns/{name}.yaml")), text).unwrap();
    };
    let run = |args: &[&str]| {
        let mut command = Command::new(BIN);
        command
            .current_dir(dir.path())
            .args(args)
            .args(["--now", NOW, "--state", "ledger.db", "--color", "always"])
            .env("CHITCHAT_API_KEY", "test-key")
            .env("CHITCHAT_BASE_URL", mock.url())
            .env_remove("CAMPAIGNCTL_STATE")
            .stdin(std::process::Stdio::null());
        output(command)
    };
    write("kept", "Run", &["919000000001"]);
    write("edited", "Run", &["919000000002", "919000000003"]);
    mock.for_mobile(
        "919000000003",
        Fault::Json(400, r#"{"error":"no"}"#.to_owned()),
    );
    let (stdout, _) = run(&["apply", "campaigns", "--yes", "--rate", "0"]);
    for line in [
        "\u{1b}[1m\u{1b}[33mApplied:\u{1b}[0m 2 sent, 1 failed, 0 unknown, 0 skipped as already sent.\n",
        "\u{1b}[1m\u{1b}[31mFailed\u{1b}[0m (resend with --retry-failed):\n",
    ] {
        assert!(stdout.contains(line), "{stdout:?}");
    }
    // Edited params, and a recipient added.
    write(
        "edited",
        "Run again",
        &["919000000002", "919000000003", "919000000004"],
    );
    let (stdout, stderr) = run(&["plan", "campaigns"]);
    assert_eq!(stderr, "");
    insta::with_settings!({ filters => vec![("\x1b", "␛")] }, {
        insta::assert_snapshot!("plan_color_ledger_states", stdout);
    });
    mock.clear_faults();
    let (stdout, _) = run(&["apply", "campaigns", "--yes", "--rate", "0"]);
    // Nothing failed this time: `Applied:` is green.
    assert!(
        stdout.contains(
            "\u{1b}[1m\u{1b}[32mApplied:\u{1b}[0m 1 sent, 0 failed, 0 unknown, 2 skipped as already sent.\n"
        ),
        "{stdout:?}"
    );
}
