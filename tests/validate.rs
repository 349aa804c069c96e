//! `validate`: which files are loaded, the summary line, and that every problem of every
//! file is reported in one run, in a stable order. Rules that need more than one file (or a
//! particular file name) are here; the one-file rules are fixtures (see `fixture.rs`).

use crate::test::{NO_CATALOGUE_NOTE, Test};

const VALID: &str = "
    template: welcome
    language: en
    params:
      - \"{{ recipient.name }}\"
    recipients:
      - mobile: \"919739978284\"
        name: Partha
";

const VALID_BLAST: &str = "
    template: welcome
    language: en
    params: [Hello]
    search:
      city: Pune
";

#[test]
fn defaults_to_the_campaigns_directory() {
    Test::new()
        .file("campaigns/a.yaml", VALID)
        .file("campaigns/b.yaml", VALID_BLAST)
        .args(["validate"])
        .stdout(&format!(
            "2 file(s) valid: 2 campaign(s), 2 send(s) rendered\n{NO_CATALOGUE_NOTE}"
        ))
        .stderr("")
        .run();
}

#[test]
fn missing_default_directory_is_an_error() {
    Test::new()
        .args(["validate"])
        .stdout("")
        .stderr(
            "
            campaigns: error: cannot read: No such file or directory
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

#[test]
fn missing_path_is_an_error_naming_it() {
    Test::new()
        .file("campaigns/a.yaml", VALID)
        .args([
            "validate",
            "campaigns/a.yaml",
            "campaigns/nope.yaml",
            "elsewhere",
        ])
        .stdout("")
        .stderr(
            "
            campaigns/nope.yaml: error: cannot read: No such file or directory
            elsewhere: error: cannot read: No such file or directory
            2 errors, 0 warnings
            ",
        )
        .status(1)
        .run();
}

#[test]
fn directory_without_campaign_files_is_an_error() {
    Test::new()
        .file("campaigns/notes.txt", "not a campaign\n")
        .file("campaigns/.hidden.yaml", "not: loaded\n")
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

/// Directories are searched recursively for *.yaml and *.yml; other and hidden files are
/// skipped; a file named twice (directly and through its directory) is loaded once.
#[test]
fn which_files_are_loaded() {
    Test::new()
        .file("campaigns/a.yaml", VALID)
        .file("campaigns/nested/deeper/b.yml", VALID_BLAST)
        .file("campaigns/README.md", "# not a campaign\n")
        .file("campaigns/data/list.csv", "mobile\n919739978284\n")
        .file("campaigns/.draft.yaml", "this is: [not valid\n")
        .file("campaigns/.git/config.yaml", "neither: [is this\n")
        .args([
            "validate",
            "campaigns",
            "campaigns/a.yaml",
            "./campaigns/nested",
        ])
        .stdout(&format!(
            "2 file(s) valid: 2 campaign(s), 2 send(s) rendered\n{NO_CATALOGUE_NOTE}"
        ))
        .run();
    // The campaign names come from the file stems.
    Test::new()
        .file("campaigns/a.yaml", VALID)
        .file("campaigns/nested/deeper/b.yml", VALID_BLAST)
        .args(["plan", "--now", "2026-11-30T03:35:00Z"])
        .stdout_contains("\ncampaign a (campaigns/a.yaml)\n")
        .stdout_contains("\ncampaign b (campaigns/nested/deeper/b.yml)\n")
        .run();
}

/// Exactly one campaign per file: the name defaults to the file stem.
#[test]
fn default_name_is_the_file_stem() {
    let plan = Test::new()
        .file("campaigns/nov-welcome_2.yaml", VALID)
        .args(["plan", "--format", "json", "--now", "2026-11-30T03:35:00Z"])
        .run()
        .json();
    assert_eq!(plan["campaigns"][0]["name"], "nov-welcome_2");
    assert_eq!(
        plan["campaigns"][0]["sends"][0]["key"],
        "nov-welcome_2/once/919739978284"
    );
}

#[test]
fn invalid_file_stem_needs_a_name() {
    Test::new()
        .file("campaigns/Nov Welcome.yaml", VALID)
        .args(["validate"])
        .stderr(
            "
            campaigns/Nov Welcome.yaml:1:1: error: the file name `Nov Welcome` is not a valid campaign name
              |
            1 | template: welcome
              | ^
              = help: add `name:` with lowercase letters, digits, `-` and `_`, or rename the file
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
    // An explicit name makes any file name fine.
    Test::new()
        .file(
            "campaigns/Nov Welcome.yaml",
            format!("name: nov-welcome\n{}", crate::test::unindent(VALID)),
        )
        .args(["validate"])
        .stdout(&format!(
            "1 file(s) valid: 1 campaign(s), 1 send(s) rendered\n{NO_CATALOGUE_NOTE}"
        ))
        .run();
}

#[test]
fn duplicate_names_across_files_name_both_files() {
    Test::new()
        .file("campaigns/one.yaml", format!("name: welcome\n{}", crate::test::unindent(VALID)))
        .file("campaigns/two.yaml", format!("{}name: welcome\n", crate::test::unindent(VALID_BLAST)))
        .args(["validate"])
        .stdout("")
        .stderr(
            "
            campaigns/two.yaml:6:7: error: campaign name `welcome` is already used by campaigns/one.yaml
              |
            6 | name: welcome
              |       ^^^^^^^
              = help: names must be unique: they key the send ledger
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// A name from a file stem collides with an explicit name in another file.
#[test]
fn duplicate_name_from_a_file_stem() {
    Test::new()
        .file("campaigns/a.yaml", format!("name: welcome\n{}", crate::test::unindent(VALID)))
        .file("campaigns/sub/welcome.yaml", VALID_BLAST)
        .args(["validate"])
        .stderr(
            "
            campaigns/sub/welcome.yaml:1:1: error: campaign name `welcome` is already used by campaigns/a.yaml
              |
            1 | template: welcome
              | ^
              = help: names must be unique: they key the send ledger
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// Three broken files: every problem of every file in one run, sorted by file and then by
/// line, whatever the order of the arguments.
#[test]
fn every_problem_of_every_file_is_reported_in_one_run() {
    Test::new()
        .file(
            "campaigns/a.yaml",
            r#"
            template: welcome
            language: en-GB
            params:
              - "{{ evnt }}"
            recipients:
              - mobile: "12345"
            "#,
        )
        .file(
            "campaigns/b.yaml",
            r#"
            tempalte: welcome
            language: en
            params: []
            search: {city: Pune}
            schedule:
              cron: "0 9 * * *"
              timezone: Asia/Calcuta
            "#,
        )
        .file("campaigns/c.yaml", "template: [unclosed\n")
        .file("campaigns/ok.yaml", VALID)
        .args(["validate", "campaigns/c.yaml", "campaigns"])
        .stdout("")
        .stderr(
            r#"
            campaigns/a.yaml:2:11: error: `en-GB` is not a WhatsApp template language code
              |
            2 | language: en-GB
              |           ^^^^^
              = help: did you mean `en_GB`? codes use an underscore: en, en_US, pt_BR
            campaigns/a.yaml:4:5: error: param 1: undefined variable `evnt`
              |
            4 |   - "{{ evnt }}"
              |     ^^^^^^^^^^^^
              = help: define it under `vars:`
            campaigns/a.yaml:6:13: error: mobile number `12345` (read as +1 2345) is not a valid number for the United States: 4 digits after +1, where mobile numbers have 10
              |
            6 |   - mobile: "12345"
              |             ^^^^^^^
            campaigns/b.yaml:1:1: error: missing required key `template`
              |
            1 | tempalte: welcome
              | ^
            campaigns/b.yaml:1:1: error: unknown key `tempalte`
              |
            1 | tempalte: welcome
              | ^^^^^^^^
              = help: did you mean `template`?
            campaigns/b.yaml:7:13: error: unknown time zone `Asia/Calcuta`
              |
            7 |   timezone: Asia/Calcuta
              |             ^^^^^^^^^^^^
              = help: did you mean `Asia/Calcutta`?
            campaigns/c.yaml:1:11: error: invalid YAML: unclosed bracket '['
              |
            1 | template: [unclosed
              |           ^
            7 errors, 0 warnings
            "#,
        )
        .status(1)
        .run();
}

/// All problems of one campaign at once: schema, names, language, media, params,
/// recipients and schedule, in line order.
#[test]
fn every_problem_of_one_file_is_reported() {
    Test::new()
        .file(
            "campaigns/many.yaml",
            r#"
            name: Many Problems
            template: welcome
            language: en-GB
            media:
              type: image
              link: http://example.com/poster.png
            params:
              - "{{ evnt }}"
              - "{{ contact.name }}"
            recipients:
              - mobile: "12345"
              - mobile: "919739978284"
                file: data/x.csv
            schedule:
              cron: "0 25 * * *"
              timezone: Asia/Calcuta
              catch_up: soon
            "#,
        )
        .args(["validate"])
        .stderr_contains("campaigns/many.yaml:1:7: error: invalid campaign name `Many Problems`\n")
        .stderr_contains("campaigns/many.yaml:3:11: error: `en-GB` is not a WhatsApp template language code\n")
        .stderr_contains("campaigns/many.yaml:6:9: error: media link `http://example.com/poster.png` is not an https:// URL\n")
        .stderr_contains("campaigns/many.yaml:8:5: error: param 1: undefined variable `evnt`\n")
        .stderr_contains("campaigns/many.yaml:9:5: error: param 2: `contact` is only available in search (blast) campaigns\n")
        .stderr_contains("campaigns/many.yaml:11:13: error: mobile number `12345` (read as +1 2345) is not a valid number")
        .stderr_contains("campaigns/many.yaml:13:5: error: `recipients[1]` has both `mobile` and `file`\n")
        .stderr_contains("campaigns/many.yaml:15:9: error: invalid cron expression `0 25 * * *`: hour value 25 is out of range (expected 0-23)\n")
        .stderr_contains("campaigns/many.yaml:16:13: error: unknown time zone `Asia/Calcuta`\n")
        .stderr_contains("campaigns/many.yaml:17:13: error: invalid duration `soon`\n")
        .stderr_contains("\n10 errors, 0 warnings\n")
        .status(1)
        .run();
}

#[test]
fn summary_counts_files_campaigns_and_sends() {
    Test::new()
        .file("campaigns/a.yaml", VALID)
        .file("campaigns/b.yaml", VALID_BLAST)
        .file(
            "campaigns/c.yaml",
            r#"
            template: welcome
            language: en
            params: ["{{ recipient.mobile }}"]
            recipients:
              - file: data/list.csv
              - mobile: "919900055501"
            "#,
        )
        .file(
            "campaigns/data/list.csv",
            "mobile\n919739978284\n919845012345\n",
        )
        .args(["validate"])
        .stdout(&format!(
            "3 file(s) valid: 3 campaign(s), 5 send(s) rendered\n{NO_CATALOGUE_NOTE}"
        ))
        .stderr("")
        .run();
}

/// A well-formed but unknown language code is a warning: printed, exit 0.
#[test]
fn unknown_language_is_only_a_warning() {
    let output = Test::new()
        .file(
            "campaigns/a.yaml",
            r#"
            template: welcome
            language: xx_YY
            params: []
            search: {city: Pune}
            "#,
        )
        .args(["validate"])
        .stderr(
            "
            campaigns/a.yaml:2:11: warning: `xx_YY` is not a language code known to be accepted by WhatsApp
              |
            2 | language: xx_YY
              |           ^^^^^
              = help: check the template's language in WhatsApp Manager; Meta adds regional codes over time
            ",
        )
        .run();
    assert!(
        output
            .stdout
            .starts_with("1 file(s) valid: 1 campaign(s), 1 send(s) rendered")
    );
    // Known codes, including three-letter and regional ones, are silent.
    for language in ["en", "en_US", "pt_BR", "fil", "zh_CN", "hi"] {
        Test::new()
            .file(
                "campaigns/a.yaml",
                format!("template: t\nlanguage: {language}\nparams: []\nsearch: {{city: Pune}}\n"),
            )
            .args(["validate"])
            .stderr("")
            .run();
    }
}

/// The summary counts warnings from rendering (a repeated number) but not the warnings of
/// the static checks (an unknown language), although both are printed.
#[test]
fn summary_counts_every_warning() {
    Test::new()
        .file(
            "campaigns/a.yaml",
            r#"
            template: welcome
            language: xx_YY
            params: []
            search: {city: Pune}
            "#,
        )
        .args(["validate"])
        .stdout(&format!(
            "1 file(s) valid: 1 campaign(s), 1 send(s) rendered, 1 warning(s)\n{NO_CATALOGUE_NOTE}"
        ))
        .run();
}

/// At most 100 problems are listed per campaign; the rest are counted.
#[test]
fn problems_beyond_the_cap_are_counted() {
    let mut csv = String::from("mobile\n");
    for i in 0..105 {
        csv.push_str(&format!("{}\n", 1000 + i));
    }
    let output = Test::new()
        .file(
            "campaigns/a.yaml",
            "
            template: t
            language: en
            params: []
            recipients:
              - file: data/bad.csv
            ",
        )
        .file("campaigns/data/bad.csv", csv.as_bytes())
        .args(["validate"])
        .stdout("")
        .status(1)
        .run();
    let lines: Vec<&str> = output.stderr.lines().collect();
    assert_eq!(lines.len(), 102, "{}", output.stderr);
    assert_eq!(
        lines[0],
        "campaigns/data/bad.csv:2: error: mobile number `1000` (read as +1 000) is not a valid number for the United States: 3 digits after +1, where mobile numbers have 10"
    );
    assert!(lines[99].starts_with("campaigns/data/bad.csv:101: error: "));
    assert_eq!(
        lines[100],
        "… and 5 more problem(s) not shown (at most 100 per campaign)"
    );
    assert_eq!(lines[101], "105 errors, 0 warnings");
}

/// `validate` accepts `--now` (the instant `run.at` is rendered for).
#[test]
fn validate_renders_at_now() {
    Test::new()
        .file(
            "campaigns/a.yaml",
            r#"
            template: t
            language: en
            params: ["{{ run.at | date('%d %b') }}"]
            search: {city: Pune}
            "#,
        )
        .args(["validate", "--now", "2026-11-30T03:35:00Z"])
        .stdout(&format!(
            "1 file(s) valid: 1 campaign(s), 1 send(s) rendered\n{NO_CATALOGUE_NOTE}"
        ))
        .run();
}

/// The bundled examples are valid.
#[test]
fn bundled_campaigns_are_valid() {
    Test::in_repo()
        .args(["validate", "campaigns"])
        .stdout("5 file(s) valid: 5 campaign(s), 14 send(s) rendered\n")
        .stderr("")
        .run();
}
