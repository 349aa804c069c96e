//! The project file, `campaignctl.yaml`: found in the working directory, or named with
//! `--config` or `CAMPAIGNCTL_CONFIG` (the flag winning); paths in it relative to it; and
//! every problem of it located, with its line.

use crate::apply::{Sandbox, campaign, mobile, mobiles};

/// A project file in `conf/` whose opt-out list sits beside it, `;`-separated as European
/// spreadsheets export it.
fn with_project_in_conf(sb: &Sandbox) {
    sb.write(
        "conf/project.yaml",
        "suppressions:\n  - file: lists/optouts.csv\n    delimiter: \";\"\n",
    );
    sb.write(
        "conf/lists/optouts.csv",
        &format!("mobile;reason\n{};STOP\n", mobile(2)),
    );
    sb.write(
        "campaigns/welcome.yaml",
        &campaign("welcome", "Run", &mobiles(1..4)),
    );
}

fn suppressed(run: &crate::output::Run) -> bool {
    run.stdout.contains("1 suppressed (opted out, never sent)")
}

#[test]
fn a_project_file_is_found_by_flag_or_environment_and_reads_its_paths_from_its_own_place() {
    let sb = Sandbox::new();
    with_project_in_conf(&sb);
    // Not in the working directory: without naming it, nothing is suppressed.
    let plain = sb.run(&["plan", "campaigns"]);
    plain.assert_code(0);
    assert!(!suppressed(&plain), "{}", plain.stdout);

    let flag = sb.run(&["plan", "campaigns", "--config", "conf/project.yaml"]);
    flag.assert_code(0);
    assert!(suppressed(&flag), "{}\n{}", flag.stdout, flag.stderr);

    let mut env = sb.command(&["plan", "campaigns"]);
    env.env("CAMPAIGNCTL_CONFIG", "conf/project.yaml");
    let env = crate::output::Run::from(env.output().unwrap());
    env.assert_code(0);
    assert!(suppressed(&env), "{}", env.stdout);

    // The flag wins over the environment.
    sb.write("conf/empty.yaml", "");
    let mut both = sb.command(&["plan", "campaigns", "--config", "conf/empty.yaml"]);
    both.env("CAMPAIGNCTL_CONFIG", "conf/project.yaml");
    let both = crate::output::Run::from(both.output().unwrap());
    both.assert_code(0);
    assert!(!suppressed(&both), "{}", both.stdout);

    // A project file named but missing is an error, not silence.
    let missing = sb.run(&["plan", "campaigns", "--config", "conf/nope.yaml"]);
    missing.assert_code(1);
    assert!(
        missing
            .stderr
            .starts_with("conf/nope.yaml: error: cannot read the project file"),
        "{}",
        missing.stderr
    );
}

#[test]
fn every_problem_of_a_project_file_is_located() {
    let sb = Sandbox::new();
    sb.write(
        "campaigns/welcome.yaml",
        &campaign("welcome", "Run", &mobiles(1..2)),
    );
    let cases = [
        (
            "default_country: IN\nsuppresions: [optouts.csv]\n",
            "campaignctl.yaml:2:1: error: unknown key `suppresions`",
        ),
        (
            "default_country: [IN]\n",
            "campaignctl.yaml:1:18: error: `default_country`",
        ),
        (
            "default_country: IN\nwindow: {hours: \"09:00-20:00\"\n",
            "campaignctl.yaml:",
        ),
        (
            "default_country: XX\n",
            "campaignctl.yaml:1:18: error: unknown country `XX`",
        ),
    ];
    for (project, said) in cases {
        sb.write("campaignctl.yaml", project);
        let run = sb.run(&["validate", "campaigns"]);
        run.assert_code(1);
        assert!(run.stderr.starts_with(said), "{said}\n{}", run.stderr);
        // Each with the line it is about, and a caret.
        assert!(run.stderr.contains("\n  |\n"), "{}", run.stderr);
    }
    // A country code as people write it names the country meant.
    for (code, meant) in [("in", "`IN` (India)"), ("UK", "`GB` (the United Kingdom)")] {
        sb.write("campaignctl.yaml", &format!("default_country: {code}\n"));
        let run = sb.run(&["validate", "campaigns"]);
        run.assert_code(1);
        assert!(
            run.stderr.contains(&format!("help: did you mean {meant}?")),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_project_file_with_a_mistake_keeps_its_default_country_for_the_campaigns_numbers() {
    let sb = Sandbox::new();
    sb.write(
        "campaigns/welcome.yaml",
        &campaign("welcome", "Run", &["097399 78284".to_owned()]),
    );
    sb.write(
        "campaignctl.yaml",
        "default_country: IN\nsuppresions: [optouts.csv]\n",
    );
    let run = sb.run(&["validate", "campaigns"]);
    run.assert_code(1);
    assert!(
        run.stderr
            .starts_with("campaignctl.yaml:2:1: error: unknown key `suppresions`"),
        "{}",
        run.stderr
    );
    // The local number is read as Indian: the only error is the project file's.
    assert_eq!(run.stderr.matches("error:").count(), 1, "{}", run.stderr);
}
