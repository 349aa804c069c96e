//! `completions` and `man`: generated from the command line itself, so every subcommand is
//! in them.

use crate::test::Test;

/// Every subcommand, as `campaignctl --help` lists them.
const SUBCOMMANDS: [&str; 12] = [
    "validate",
    "plan",
    "apply",
    "run",
    "status",
    "state",
    "optout",
    "show",
    "schema",
    "init",
    "completions",
    "man",
];

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let script = Test::new().args(["completions", shell]).run().stdout;
        assert!(!script.is_empty(), "{shell}");
        for word in ["campaignctl", "validate", "detailed-exitcode"] {
            assert!(
                script.contains(word),
                "{shell} does not mention {word}:\n{script}"
            );
        }
        assert!(!script.contains('\u{1b}'), "{shell}");
    }
    Test::new()
        .args(["completions", "tcsh"])
        .stderr_contains("invalid value 'tcsh'")
        .status(1)
        .run();
}

/// One file: campaignctl(1), then the page of every command it lists.
#[test]
fn man_page() {
    let page = Test::new().arg("man").run().stdout;
    // clap_mangen's two lines of string definitions, then the title.
    let title = page
        .lines()
        .find(|line| !line.starts_with(".ie ") && !line.starts_with(".el "))
        .unwrap();
    assert_eq!(
        title,
        format!(
            ".TH campaignctl 1  \"campaignctl {}\" ",
            env!("CARGO_PKG_VERSION")
        )
    );
    for command in SUBCOMMANDS {
        assert!(
            page.contains(&format!("\n.TP\ncampaignctl\\-{command}(1)\n")),
            "campaignctl(1) does not list {command}"
        );
        assert!(
            page.contains(&format!("\n.TH campaignctl-{command} 1 ")),
            "no page for {command}"
        );
    }
    assert!(page.contains("\n.TH campaignctl-state-migrate 1 "));
    assert!(page.contains("\\fB\\-\\-color\\fR"), "{page}");
    assert!(page.contains("CAMPAIGNCTL_STATE"), "{page}");
    assert!(!page.contains('\u{1b}'));
}

/// The help lists every subcommand, so the lists above cover them all.
#[test]
fn help_lists_every_subcommand() {
    let help = Test::new().arg("--help").run().stdout;
    let listed: Vec<&str> = help
        .lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter(|line| line.as_bytes().get(2) != Some(&b' '))
        .map(|line| line.split_whitespace().next().unwrap())
        .filter(|command| *command != "help")
        .collect();
    assert_eq!(listed, SUBCOMMANDS, "{help}");
}
