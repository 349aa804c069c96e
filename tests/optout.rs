//! Opt-outs end to end: `optout add|remove|list|import` on both ledgers, the project file's
//! opt-out lists (`suppressions:`), and what every command does with them: `plan` shows a
//! suppressed send with where its opt-out comes from, `apply` never sends it (the mock API
//! never receives it), a saved plan made before an opt-out is refused, a blast warns that
//! opt-outs cannot apply to it, and a campaign that would send to nobody says so.
//! The daemon's side is in `daemon` (it needs its harness).

use serde_json::Value;

use crate::apply::{Sandbox, campaign, mobile, mobiles};
use crate::output::Run;
use crate::test::NO_CATALOGUE_NOTE;
use crate::world::{NOW, World};

/// What only the opt-out tests ask of a world.
impl World {
    fn optout(&self, args: &[&str]) -> Run {
        let mut all = vec!["optout"];
        all.extend(args);
        self.run(&all)
    }

    fn listed(&self) -> Vec<Value> {
        let run = self.optout(&["list", "--format", "json"]);
        run.assert_code(0);
        let list: Value = serde_json::from_str(&run.stdout).expect("optout list JSON");
        list["optouts"].as_array().unwrap().clone()
    }
}

/// The sends of the JSON plan by recipient: (state, due, suppressed_by).
fn sends(plan: &Value) -> Vec<(String, String, bool, Option<String>)> {
    plan["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["sends"].as_array().unwrap())
        .map(|s| {
            (
                s["request"]["to"]["mobile"]
                    .as_str()
                    .unwrap_or("blast")
                    .to_owned(),
                s["state"].as_str().unwrap().to_owned(),
                s["due"].as_bool().unwrap(),
                s["suppressed_by"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

#[test]
fn an_opted_out_number_is_never_sent_and_apply_says_so_until_it_is_removed() {
    for w in World::both("optout_apply") {
        w.sb.write(
            "campaigns/welcome.yaml",
            &campaign("welcome", "Run", &mobiles(1..4)),
        );
        let add = w.optout(&["add", "+91 90000 00002", "--reason", "replied STOP"]);
        add.assert_code(0);
        assert!(
            add.stdout.contains("opted out 919000000002\n")
                && add
                    .stdout
                    .contains("1 number(s) opted out, 0 already opted out"),
            "{}",
            add.stdout
        );
        let by = format!("ledger, {}, optout add, reason replied STOP", today());

        let plan = w.plan_json();
        assert_eq!(
            sends(&plan),
            [
                (mobile(1), "new".to_owned(), true, None),
                (mobile(2), "suppressed".to_owned(), false, Some(by.clone())),
                (mobile(3), "new".to_owned(), true, None),
            ]
        );
        assert_eq!(plan["summary"]["by_state"]["suppressed"], 1);
        let text = w.plan("text");
        text.assert_code(0);
        assert!(
            text.stdout.contains(&format!(
                "    - 919000000002    Runner1  [\"Runner1\",\"Run\"]  (suppressed: {by})\n"
            )) && text
                .stdout
                .contains("  sends        3 single, 2 due, 1 suppressed\n")
                && text
                    .stdout
                    .contains("; 1 suppressed (opted out, never sent)."),
            "{}",
            text.stdout
        );
        let markdown = w.plan("markdown");
        assert!(
            markdown.stdout.contains(&format!("| suppressed: {by} |"))
                && markdown.stdout.contains(", 1 suppressed (opted out)"),
            "{}",
            markdown.stdout
        );

        let run = w.apply(&[]);
        run.assert_code(0);
        assert!(
            run.stdout.contains(&format!(
                "Not sent, opted out (1 suppressed; `campaignctl plan` lists them all):\n  welcome: 919000000002 ({by})\n"
            )) && run.stdout.contains(
                "Applied: 2 sent, 0 failed, 0 unknown, 0 skipped as already sent, 1 skipped as opted out."
            ),
            "{}",
            run.stdout
        );
        assert!(
            w.sb.mock.requests_for(&mobile(2)).is_empty(),
            "the API got an opted-out number"
        );
        assert_eq!(w.sb.mock.requests().len(), 2);

        // Removed: sendable again, and the next apply sends it (only it).
        let remove = w.optout(&["remove", "919000000002", "919000000009"]);
        remove.assert_code(0);
        assert!(
            remove.stdout.contains(&format!(
                "removed the opt-out of 919000000002 (since {}, optout add, reason replied STOP)",
                today()
            )) && remove
                .stdout
                .contains("919000000009 was not opted out in the ledger; nothing to remove")
                && remove.stdout.contains("1 opt-out(s) removed from"),
            "{}",
            remove.stdout
        );
        let run = w.apply(&[]);
        run.assert_code(0);
        assert!(
            run.stdout
                .contains("Applied: 1 sent, 0 failed, 0 unknown, 2 skipped as already sent."),
            "{}",
            run.stdout
        );
        assert_eq!(w.sb.mock.requests_for(&mobile(2)).len(), 1);
    }
}

#[test]
fn a_number_added_twice_keeps_its_first_opt_out() {
    for w in World::both("optout_twice") {
        w.optout(&["add", "919000000001", "--reason", "first"])
            .assert_code(0);
        let again = w.optout(&["add", "919000000001", "919000000002", "--reason", "second"]);
        again.assert_code(0);
        assert!(
            again.stdout.contains(&format!(
                "919000000001 was already opted out (since {}, optout add, reason first); kept as it was\nopted out 919000000002\n1 number(s) opted out, 1 already opted out",
                today()
            )),
            "{}",
            again.stdout
        );
        let listed = w.listed();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0]["reason"], "first");
    }
}

#[test]
fn a_bad_number_names_itself_and_why_and_writes_nothing() {
    for w in World::both("optout_bad") {
        let run = w.optout(&["add", "919000000001", "123", "09739978284"]);
        run.assert_code(1);
        assert_eq!(
            run.stderr,
            "error: 2 invalid numbers; nothing was written:\n\
             \x20 - mobile number `123` (read as +1 23) is not a valid number for the United States: 2 digits after +1, where mobile numbers have 10\n\
             \x20 - invalid mobile number `09739978284`: starts with 0; write the country code instead of a trunk prefix (e.g. 91… not 0…), or set `default_country`\n"
        );
        let one = w.optout(&["remove", "91x"]);
        one.assert_code(1);
        assert_eq!(
            one.stderr,
            "error: invalid mobile number `91x`: unexpected character `x`; nothing was written\n"
        );
        assert!(w.listed().is_empty());
    }
    // The number is checked before the ledger is opened: not even created.
    let w = World::sqlite();
    w.optout(&["add", "12"]).assert_code(1);
    assert!(!w.sb.state().exists());
}

#[test]
fn optout_list_prints_text_json_and_csv() {
    for w in World::both("optout_list") {
        // Before any ledger exists: nothing, and nothing created.
        let empty = w.optout(&["list"]);
        empty.assert_code(0);
        assert!(
            empty.stdout.starts_with("No opt-outs in "),
            "{}",
            empty.stdout
        );
        let json: Value =
            serde_json::from_str(&w.optout(&["list", "--format", "json"]).stdout).unwrap();
        assert_eq!(json["format_version"], 1);
        assert_eq!(json["optouts"], serde_json::json!([]));
        assert_eq!(
            w.optout(&["list", "--format", "csv"]).stdout,
            "mobile,reason,source,created_at\n"
        );
        if w.is_sqlite() {
            assert!(!w.sb.state().exists(), "optout list created a ledger");
        }

        w.optout(&["add", "919000000002", "--reason", "said \"stop\", twice"])
            .assert_code(0);
        w.optout(&["add", "919000000001"]).assert_code(0);
        let text = w.optout(&["list"]);
        text.assert_code(0);
        let lines: Vec<&str> = text.stdout.lines().collect();
        assert_eq!(lines.len(), 3, "{}", text.stdout);
        assert!(lines[0].starts_with("919000000001     20") && lines[0].ends_with("Z  optout add"));
        assert!(
            lines[1].ends_with("Z  optout add  said \"stop\", twice"),
            "{}",
            lines[1]
        );
        assert!(lines[2].starts_with("2 opt-out(s) in "));

        let listed = w.listed();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0]["mobile"], "919000000001");
        assert_eq!(listed[0]["reason"], Value::Null);
        assert_eq!(listed[1]["reason"], "said \"stop\", twice");
        assert_eq!(listed[1]["source"], "optout add");
        assert!(
            listed[1]["created_at"]
                .as_str()
                .unwrap()
                .starts_with(&today())
        );

        let csv = w.optout(&["list", "--format", "csv"]);
        let mut reader = csv::Reader::from_reader(csv.stdout.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(
            reader.headers().unwrap(),
            vec!["mobile", "reason", "source", "created_at"]
        );
        assert_eq!(&rows[1][0], "919000000002");
        assert_eq!(&rows[1][1], "said \"stop\", twice");
        // The CSV is an opt-out list itself: importing it elsewhere changes nothing here.
        w.sb.write("export.csv", &csv.stdout);
        let again = w.optout(&["import", "export.csv"]);
        again.assert_code(0);
        assert!(
            again
                .stdout
                .contains("Imported export.csv: 0 number(s) opted out, 2 already opted out"),
            "{}",
            again.stdout
        );
    }
}

#[test]
fn optout_import_records_a_csv_in_one_go_and_a_bad_row_writes_nothing() {
    for w in World::both("optout_import") {
        w.optout(&["add", "919000000003"]).assert_code(0);
        w.sb.write(
            "optouts.csv",
            "Mobile,Reason,Note\n+91 90000 00001,replied STOP,x\n919000000002,,y\n919000000003,again,z\n919000000001,twice,w\n",
        );
        let run = w.optout(&["import", "optouts.csv"]);
        run.assert_code(0);
        assert!(
            run.stdout.contains(
                "Imported optouts.csv: 2 number(s) opted out, 1 already opted out (kept as they were), 1 listed more than once, in "
            ),
            "{}",
            run.stdout
        );
        let listed = w.listed();
        let summary: Vec<(String, String, Value)> = listed
            .iter()
            .map(|o| {
                (
                    o["mobile"].as_str().unwrap().to_owned(),
                    o["source"].as_str().unwrap().to_owned(),
                    o["reason"].clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    mobile(1),
                    "optout import optouts.csv".to_owned(),
                    "replied STOP".into()
                ),
                (
                    mobile(2),
                    "optout import optouts.csv".to_owned(),
                    Value::Null
                ),
                (mobile(3), "optout add".to_owned(), Value::Null),
            ]
        );

        // One bad row among good ones: it is named, and nothing is written.
        w.sb.write(
            "more.csv",
            "mobile,reason\n919000000010,ok\n12345,bad\n919000000011,ok\n919000000012\n",
        );
        let bad = w.optout(&["import", "more.csv"]);
        bad.assert_code(1);
        assert_eq!(
            bad.stderr,
            "more.csv:3: error: mobile number `12345` (read as +1 2345) is not a valid number for the United States: 4 digits after +1, where mobile numbers have 10\n\
             more.csv:5: error: row has 1 fields, the header has 2\n\
             error: 2 bad row(s) in more.csv; nothing was written\n"
        );
        assert_eq!(w.listed().len(), 3);
        w.sb.write("nomobile.csv", "phone\n919000000010\n");
        let header = w.optout(&["import", "nomobile.csv"]);
        header.assert_code(1);
        assert!(
            header.stderr.contains(
                "CSV file `nomobile.csv` has no `mobile` column (header row: `phone`); nothing was written"
            ),
            "{}",
            header.stderr
        );
    }
}

/// The project file's opt-out lists, with their own column names.
fn with_suppressions(sb: &Sandbox) {
    sb.write(
        "campaignctl.yaml",
        "suppressions:\n  - optouts.csv\n  - file: lists/crm.csv\n    columns: {mobile: Phone Number, reason: Note}\n",
    );
    sb.write("optouts.csv", "mobile,reason\n919000000002,replied STOP\n");
    sb.write("lists/crm.csv", "Phone Number,Note\n+91 90000 00003,\n");
}

#[test]
fn the_project_files_opt_out_lists_are_honoured_by_validate_plan_and_apply() {
    let w = World::sqlite();
    with_suppressions(&w.sb);
    w.sb.write(
        "campaigns/welcome.yaml",
        &campaign("welcome", "Run", &mobiles(1..5)),
    );
    let validate = w.sb.run(&["validate", "campaigns"]);
    validate.assert_code(0);
    assert_eq!(
        validate.stdout,
        format!("1 file(s) valid: 1 campaign(s), 4 send(s) rendered\n{NO_CATALOGUE_NOTE}")
    );
    let plan = w.plan_json();
    assert_eq!(
        sends(&plan),
        [
            (mobile(1), "new".to_owned(), true, None),
            (
                mobile(2),
                "suppressed".to_owned(),
                false,
                Some("optouts.csv:2, reason replied STOP".to_owned())
            ),
            (
                mobile(3),
                "suppressed".to_owned(),
                false,
                Some("lists/crm.csv:2".to_owned())
            ),
            (mobile(4), "new".to_owned(), true, None),
        ]
    );
    let run = w.apply(&[]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("  welcome: 919000000002 (optouts.csv:2, reason replied STOP)\n")
            && run.stdout.contains("2 skipped as opted out."),
        "{}",
        run.stdout
    );
    let sent: Vec<String> =
        w.sb.mock
            .requests()
            .iter()
            .map(|r| r.recipient.clone().unwrap())
            .collect();
    assert_eq!(sent.len(), 2);
    assert!(
        !sent.contains(&mobile(2)) && !sent.contains(&mobile(3)),
        "{sent:?}"
    );

    // `optout remove` leaves the project file's lists alone, and says so.
    let remove = w.optout(&["remove", "919000000002"]);
    assert!(
        remove.stdout.contains(
            "note: 919000000002 is still opted out by optouts.csv:2, reason replied STOP (an opt-out list of the project file)"
        ),
        "{}",
        remove.stdout
    );
}

#[test]
fn a_bad_opt_out_list_is_an_error_at_its_row_or_its_entry() {
    let sb = Sandbox::new();
    sb.write(
        "campaigns/welcome.yaml",
        &campaign("welcome", "Run", &mobiles(1..3)),
    );
    sb.write(
        "campaignctl.yaml",
        "suppressions:\n  - optouts.csv\n  - missing.csv\n  - file: other.csv\n    columns: {mobile: phone}\n",
    );
    sb.write("optouts.csv", "mobile,reason\n919000000002,ok\n91 bad,x\n");
    sb.write("other.csv", "mobile\n919000000002\n");
    let run = sb.run(&["validate", "campaigns"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("optouts.csv:3: error: invalid mobile number `91 bad`: unexpected character `b`\n")
            && run.stderr.contains(
                "campaignctl.yaml:3:5: error: cannot read the opt-out list `missing.csv`: No such file or directory\n"
            )
            && run.stderr.contains(
                "campaignctl.yaml:4:5: error: CSV file `other.csv` has no `phone` column (header row: `mobile`)\n"
            )
            && run.stderr.contains("3 errors, 0 warnings"),
        "{}",
        run.stderr
    );
    // Nothing is sent from an invalid set.
    let apply = sb.apply(&[]);
    apply.assert_code(1);
    assert!(sb.mock.requests().is_empty());
}

/// The help of a CSV file that is not UTF-8, as campaigns' CSV files give it.
const NOT_UTF8_HELP: &str = "  = help: export the file again as UTF-8 (in Excel: Save As, then \"CSV UTF-8\"; in LibreOffice: character set \"Unicode (UTF-8)\")\n";

/// Opt-out lists are read as campaigns' CSV files are: `;` and tab detected, a byte-order
/// mark ignored, headers matched trimmed and ignoring case; a file that is not UTF-8 is one
/// error at its first row that is not.
#[test]
fn the_project_files_opt_out_lists_are_read_as_campaign_csv_files_are() {
    let w = World::sqlite();
    w.sb.write(
        "campaignctl.yaml",
        "suppressions:\n  - file: crm.csv\n    columns: {mobile: phone number, reason: NOTE}\n  - tabs.tsv\n",
    );
    // Excel's export where the decimal separator is a comma: `;`, a byte-order mark.
    w.sb.write(
        "crm.csv",
        "\u{feff}Phone Number;Note;Opted out on\n+91 90000 00002;replied STOP, twice;1,5\n",
    );
    w.sb.write(
        "tabs.tsv",
        " Mobile \t Reason \n919000000003\tasked by phone\n",
    );
    w.sb.write(
        "campaigns/welcome.yaml",
        &campaign("welcome", "Run", &mobiles(1..5)),
    );
    w.sb.run(&["validate", "campaigns"]).assert_code(0);
    assert_eq!(
        sends(&w.plan_json()),
        [
            (mobile(1), "new".to_owned(), true, None),
            (
                mobile(2),
                "suppressed".to_owned(),
                false,
                Some("crm.csv:2, reason replied STOP, twice".to_owned())
            ),
            (
                mobile(3),
                "suppressed".to_owned(),
                false,
                Some("tabs.tsv:2, reason asked by phone".to_owned())
            ),
            (mobile(4), "new".to_owned(), true, None),
        ]
    );

    // In another encoding (Windows-1252): one error, at its first row that is not UTF-8,
    // with the help campaigns' CSV files give; its other bad rows are still named.
    std::fs::write(
        w.sb.path("crm.csv"),
        b"Phone Number;Note\n919000000002;ok\n919000000005;d\xe9j\xe0 vu\n919000000006;\xe9t\xe9\n12345;x\n",
    )
    .unwrap();
    let validate = w.sb.run(&["validate", "campaigns"]);
    validate.assert_code(1);
    assert!(
        validate.stderr.contains(&format!(
            "crm.csv:3: error: the file is not UTF-8: this is its first row that is not (later ones are not listed)\n{NOT_UTF8_HELP}"
        )) && validate.stderr.contains("crm.csv:5: error: mobile number `12345`")
            && validate.stderr.contains("2 errors, 0 warnings"),
        "{}",
        validate.stderr
    );
    assert!(
        !validate.stderr.contains("crm.csv:4"),
        "{}",
        validate.stderr
    );
}

/// `optout import` reads as the project file's lists do, and names the columns and the
/// delimiter of files exported otherwise.
#[test]
fn optout_import_reads_any_delimiter_and_mapped_columns() {
    let w = World::sqlite();
    w.sb.write(
        "crm.csv",
        "\u{feff}Phone Number;Note\n+91 90000 00001;replied STOP\n919000000002;\n",
    );
    // Without its columns: the header row found, split at the `;` detected.
    let unmapped = w.optout(&["import", "crm.csv"]);
    unmapped.assert_code(1);
    assert!(
        unmapped.stderr.contains(
            "CSV file `crm.csv` has no `mobile` column (header row: `Phone Number`, `Note`); nothing was written"
        ),
        "{}",
        unmapped.stderr
    );
    // A delimiter given wins over the header line's.
    let comma = w.optout(&[
        "import",
        "crm.csv",
        "--mobile-column",
        "phone number",
        "--delimiter",
        ",",
    ]);
    comma.assert_code(1);
    assert!(
        comma.stderr.contains(
            "CSV file `crm.csv` has no `phone number` column (header row: `Phone Number;Note`); nothing was written"
        ),
        "{}",
        comma.stderr
    );
    // A reason column named must be there.
    let reason = w.optout(&[
        "import",
        "crm.csv",
        "--mobile-column",
        "Phone Number",
        "--reason-column",
        "Reason",
    ]);
    reason.assert_code(1);
    assert!(
        reason.stderr.contains(
            "CSV file `crm.csv` has no `Reason` column (header row: `Phone Number`, `Note`)"
        ),
        "{}",
        reason.stderr
    );
    assert!(w.listed().is_empty());

    let run = w.optout(&[
        "import",
        "crm.csv",
        "--mobile-column",
        "Phone Number",
        "--reason-column",
        "note",
        "--delimiter",
        ";",
    ]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("Imported crm.csv: 2 number(s) opted out, 0 already opted out"),
        "{}",
        run.stdout
    );
    // A tab-separated file, with the default columns.
    w.sb.write(
        "more.tsv",
        "mobile\treason\n919000000003\tcall, then STOP\n",
    );
    w.optout(&["import", "more.tsv"]).assert_code(0);
    let reasons: Vec<(String, Value)> = w
        .listed()
        .iter()
        .map(|o| {
            (
                o["mobile"].as_str().unwrap().to_owned(),
                o["reason"].clone(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (mobile(1), "replied STOP".into()),
            (mobile(2), Value::Null),
            (mobile(3), "call, then STOP".into()),
        ]
    );

    // Not UTF-8: named at its first such row, with how to export it again; nothing written.
    std::fs::write(
        w.sb.path("latin1.csv"),
        b"mobile,reason\n919000000004,ok\n919000000005,d\xe9j\xe0 vu\n919000000006,\xe9t\xe9\n",
    )
    .unwrap();
    let latin1 = w.optout(&["import", "latin1.csv"]);
    latin1.assert_code(1);
    assert_eq!(
        latin1.stderr,
        format!(
            "latin1.csv:3: error: the file is not UTF-8: this is its first row that is not (later ones are not listed)\n{NOT_UTF8_HELP}error: 1 bad row(s) in latin1.csv; nothing was written\n"
        )
    );
    assert_eq!(w.listed().len(), 3);
}

#[test]
fn a_saved_plan_made_before_an_opt_out_is_refused_naming_the_number() {
    let w = World::sqlite();
    with_suppressions(&w.sb);
    w.sb.write(
        "campaigns/welcome.yaml",
        &campaign("welcome", "Run", &mobiles(1..5)),
    );
    let plan = w.sb.path("plan.json");
    let save = w.run(&[
        "plan",
        "campaigns",
        "--now",
        NOW,
        "--out",
        plan.to_str().unwrap(),
    ]);
    save.assert_code(0);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    assert_eq!(saved["format_version"], "1.4");
    let files: Vec<&str> = saved["plan"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "campaignctl.yaml",
            "optouts.csv",
            "lists/crm.csv",
            "campaigns/welcome.yaml"
        ]
    );
    let suppressed = &saved["plan"]["campaigns"][0]["sends"][1];
    assert_eq!(suppressed["state"], "suppressed");
    assert_eq!(
        suppressed["suppressed_by"],
        "optouts.csv:2, reason replied STOP"
    );
    let show = w.sb.run(&["show", plan.to_str().unwrap()]);
    assert!(
        show.stdout
            .contains("(suppressed: optouts.csv:2, reason replied STOP)"),
        "{}",
        show.stdout
    );

    w.optout(&["add", "919000000004", "--reason", "blocked us"])
        .assert_code(0);
    let apply = w.run(&["apply", plan.to_str().unwrap(), "--now", NOW, "--rate", "0"]);
    apply.assert_code(1);
    assert!(
        apply.stderr.contains("is stale, so nothing was sent")
            && apply.stderr.contains(&format!(
                "1 number(s) the plan sends to opted out since the plan: 919000000004 (ledger, {}, optout add, reason blocked us)",
                today()
            )),
        "{}",
        apply.stderr
    );
    let dry = w.run(&["apply", plan.to_str().unwrap(), "--now", NOW, "--dry-run"]);
    dry.assert_code(1);
    assert!(w.sb.mock.requests().is_empty(), "a stale plan sent");

    // Removed again: the plan applies, its suppressed sends left out.
    w.optout(&["remove", "919000000004"]).assert_code(0);
    let apply = w.run(&["apply", plan.to_str().unwrap(), "--now", NOW, "--rate", "0"]);
    apply.assert_code(0);
    assert!(apply.stdout.contains("Applied: 2 sent"), "{}", apply.stdout);

    // An opt-out list edited since the plan makes it stale too.
    let save = w.run(&[
        "plan",
        "campaigns",
        "--now",
        NOW,
        "--out",
        plan.to_str().unwrap(),
    ]);
    save.assert_code(0);
    w.sb.write(
        "optouts.csv",
        "mobile,reason\n919000000002,replied STOP\n919000000001,\n",
    );
    let apply = w.run(&["apply", plan.to_str().unwrap(), "--now", NOW, "--rate", "0"]);
    apply.assert_code(1);
    assert!(
        apply.stderr.contains("optouts.csv changed since the plan"),
        "{}",
        apply.stderr
    );
}

const BLAST: &str = "name: city-blast\ntemplate: habit_run_confirmation_message\nlanguage: en_US\nsearch:\n  city: Bengaluru\nparams:\n  - \"{{ contact.name }}\"\n";

const BLAST_WARNING: &str = "campaigns/blast.yaml:4:1: warning: campaign `city-blast` is a blast to a contact search: opt-outs are not applied to it\n";

#[test]
fn a_blast_warns_that_opt_outs_do_not_apply_to_it_only_when_there_are_opt_outs() {
    let w = World::sqlite();
    w.sb.write("campaigns/blast.yaml", BLAST);
    // No opt-outs anywhere: no warning.
    let validate = w.sb.run(&["validate", "campaigns"]);
    validate.assert_code(0);
    assert_eq!(validate.stderr, "");
    assert_eq!(w.plan("text").stderr, "");

    // An opt-out in the ledger: `plan` (which reads it) warns, `validate` cannot know.
    w.optout(&["add", "919000000001"]).assert_code(0);
    let plan = w.plan("text");
    plan.assert_code(0);
    assert!(plan.stderr.starts_with(BLAST_WARNING), "{}", plan.stderr);
    assert_eq!(w.sb.run(&["validate", "campaigns"]).stderr, "");
    let apply = w.apply(&[]);
    apply.assert_code(0);
    assert!(apply.stderr.contains(BLAST_WARNING), "{}", apply.stderr);

    // The project file's lists: both warn.
    with_suppressions(&w.sb);
    let validate = w.sb.run(&["validate", "campaigns"]);
    validate.assert_code(0);
    assert!(
        validate.stderr.starts_with(BLAST_WARNING),
        "{}",
        validate.stderr
    );
    assert!(
        validate
            .stderr
            .contains("= help: the server picks a blast's recipients"),
        "{}",
        validate.stderr
    );
    assert_eq!(
        validate.stdout,
        format!(
            "1 file(s) valid: 1 campaign(s), 1 send(s) rendered, 1 warning(s)\n{NO_CATALOGUE_NOTE}"
        )
    );
}

/// The warning of a campaign `empty` that sends to nobody, for `why`.
fn empty_warning(line: usize, why: &str) -> String {
    format!("campaigns/empty.yaml:{line}:1: warning: campaign `empty` sends to nobody: {why}\n")
}

const EMPTY_HEAD: &str = "name: empty\ntemplate: welcome_message\nlanguage: en\nparams: [Hello]\n";

#[test]
fn a_campaign_that_sends_to_nobody_says_so_and_why() {
    // (recipients, the CSV file, the reason, whether the ledger opts a number out too)
    let cases: [(&str, &str, &str, bool); 5] = [
        (
            "recipients: []\n",
            "",
            "its `recipients` list is empty",
            false,
        ),
        (
            "recipients:\n  - file: data/list.csv\n",
            "mobile,name\n",
            "its CSV file `campaigns/data/list.csv` has only a header row",
            false,
        ),
        (
            "recipients:\n  - mobile: \"919000000002\"\n",
            "",
            "its one recipient opted out",
            false,
        ),
        (
            "recipients:\n  - mobile: \"919000000002\"\n  - file: data/list.csv\n",
            "mobile,name\n919000000003,A\n",
            "all 2 of its recipients opted out",
            true,
        ),
        (
            "recipients:\n  - mobile: \"919000000002\"\n  - mobile: \"+91 90000 00002\"\n  - mobile: \"919000000003\"\n",
            "",
            "of its 3 recipients, 2 opted out and 1 is listed again",
            true,
        ),
    ];
    for (recipients, csv, why, ledger) in cases {
        let w = World::sqlite();
        w.sb.write("campaignctl.yaml", "suppressions: [optouts.csv]\n");
        w.sb.write("optouts.csv", "mobile\n919000000002\n");
        w.sb.write("campaigns/empty.yaml", &format!("{EMPTY_HEAD}{recipients}"));
        w.sb.write("campaigns/data/list.csv", csv);
        if ledger {
            // One opt-out from the project file, one from the ledger.
            w.optout(&["add", "919000000003"]).assert_code(0);
        }
        let warning = empty_warning(5, why);
        let plan = w.plan("text");
        plan.assert_code(0);
        assert!(plan.stderr.contains(&warning), "{why}: {}", plan.stderr);
        let apply = w.apply(&[]);
        apply.assert_code(0);
        assert!(apply.stderr.contains(&warning), "{why}: {}", apply.stderr);
        assert!(apply.stdout.contains("Nothing to send"), "{}", apply.stdout);
        assert!(w.sb.mock.requests().is_empty());
        if !ledger {
            // `validate` reads no ledger: it says so for the project file's lists alone.
            let validate = w.sb.run(&["validate", "campaigns"]);
            validate.assert_code(0);
            assert!(
                validate.stderr.contains(&warning),
                "{why}: {}",
                validate.stderr
            );
        }
    }
}

#[test]
fn what_the_ledgers_opt_outs_call_for_is_painted_like_every_other_problem() {
    let w = World::sqlite();
    w.sb.write(
        "campaigns/empty.yaml",
        &format!("{EMPTY_HEAD}recipients:\n  - mobile: \"919000000003\"\n"),
    );
    // Only the ledger knows the number opted out: apply finds it in its second pass.
    w.optout(&["add", "919000000003"]).assert_code(0);
    let apply = w.run(&[
        "--color",
        "always",
        "apply",
        "campaigns",
        "--yes",
        "--now",
        NOW,
        "--rate",
        "0",
    ]);
    apply.assert_code(0);
    let line = apply
        .stderr
        .lines()
        .find(|l| l.contains("sends to nobody: its one recipient opted out"))
        .unwrap_or_else(|| panic!("no warning in:\n{}", apply.stderr));
    assert!(line.contains("\u{1b}["), "not painted: {line:?}");
    assert!(w.sb.mock.requests().is_empty());
}

#[test]
fn state_migrate_carries_the_opt_outs_with_their_records() {
    let from = World::sqlite();
    from.optout(&["add", "919000000001", "919000000002", "--reason", "STOP"])
        .assert_code(0);
    let to = World::postgres("optout_migrate");
    let migrate = || {
        let run = from
            .sb
            .run(&["state", "migrate", "--from", &from.state, "--to", &to.state]);
        run.assert_code(0);
        run
    };
    let first = migrate();
    assert!(
        first.stdout.ends_with(
            "Copied 2 opt-out(s), each with its date, reason and source; 0 were there already (kept as they were).\n"
        ),
        "{}",
        first.stdout
    );
    assert_eq!(
        to.listed(),
        from.listed(),
        "the same records, dates included"
    );
    let second = migrate();
    assert!(
        second.stdout.ends_with("Copied 0 opt-out(s), each with its date, reason and source; 2 were there already (kept as they were).\n"),
        "{}",
        second.stdout
    );
}
