//! The audience: inline recipients, CSV files, mobile number rules, repeated numbers, and
//! `recipients` versus `search`.

use serde_json::Value;

use crate::test::{NO_CATALOGUE_NOTE, Test};

const NOW: &str = "2026-11-30T03:35:00Z";

/// A single campaign (recipients on lines 6 onwards) whose recipients are `entries`, YAML
/// list items that are (re)indented by 2.
fn campaign(entries: &str) -> String {
    let entries: String = crate::test::unindent(entries)
        .lines()
        .map(|line| format!("  {line}\n"))
        .collect();
    format!(
        "template: welcome\nlanguage: en\nparams:\n  - \"{{{{ recipient.mobile }}}}\"\nrecipients:\n{entries}"
    )
}

fn mobiles(plan: &Value) -> Vec<String> {
    plan["campaigns"][0]["sends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["request"]["to"]["mobile"].as_str().unwrap().to_owned())
        .collect()
}

/// Each bad number: the exact message, at the value's line and column.
#[test]
fn invalid_mobiles() {
    for (mobile, message) in [
        (
            "\"1234567\"",
            "mobile number `1234567` (read as +1 234567) is not a valid number for the United States: 6 digits after +1, where mobile numbers have 10",
        ),
        (
            "\"+91 97399 78284 12345\"",
            "mobile number `+91 97399 78284 12345` is not a valid number for India: 15 digits after +91, where mobile numbers have 10",
        ),
        (
            "\"09739978284\"",
            "invalid mobile number `09739978284`: starts with 0; write the country code instead of a trunk prefix (e.g. 91… not 0…), or set `default_country`",
        ),
        // Unquoted, a leading zero keeps the number a string.
        (
            "09739978284",
            "invalid mobile number `09739978284`: starts with 0; write the country code instead of a trunk prefix (e.g. 91… not 0…), or set `default_country`",
        ),
        (
            "\"91973997828x\"",
            "invalid mobile number `91973997828x`: unexpected character `x`",
        ),
        (
            "\"++919739978284\"",
            "invalid mobile number `++919739978284`: unexpected character `+`",
        ),
        (
            "\"91 9739 978284 ext 5\"",
            "mobile number `91 9739 978284 ext 5` has an extension (5); WhatsApp messages go to numbers, not extensions",
        ),
        ("\"\"", "the mobile number is empty"),
        (
            "1234567890123456",
            "mobile number `1234567890123456` (read as +1 234567890123456) is not a valid number for the United States: 15 digits after +1, where mobile numbers have 10",
        ),
    ] {
        let output = Test::new()
            .file(
                "c.yaml",
                campaign(&format!(
                    "  - mobile: \"919739978284\"\n  - mobile: {mobile}\n"
                )),
            )
            .args(["validate", "c.yaml"])
            .stdout("")
            .status(1)
            .run();
        assert_eq!(
            output.stderr,
            format!(
                "c.yaml:7:13: error: {message}\n  |\n7 |   - mobile: {mobile}\n  | {}{}\n1 error, 0 warnings\n",
                " ".repeat(12),
                "^".repeat(mobile.chars().count())
            ),
        );
    }
}

#[test]
fn wrong_mobile_types_are_schema_errors() {
    Test::new()
        .file("c.yaml", campaign("  - mobile: [919739978284]\n  - mobile: 9197399782.5\n"))
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:6:13: error: `recipients[0].mobile` must be an integer or a string, found a list
              |
            6 |   - mobile: [919739978284]
              |             ^
            c.yaml:7:13: error: `recipients[1].mobile` must be an integer or a string, found the number 9197399782.5
              |
            7 |   - mobile: 9197399782.5
              |             ^^^^^^^^^^^^
            2 errors, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// A number written as a YAML float with no fraction, a negative integer, or an integer
/// too large for 64 bits passes the schema (`integer`) but not deserialisation, and the
/// recipient is silently left out: `validate` exits 0 and the plan has one send fewer.
#[test]
fn numeric_mobiles_that_do_not_fit_are_errors_not_dropped() {
    for mobile in [
        "919739978284.0",
        "-919739978284",
        "99999999999999999999",
        "9.19739978284e11",
    ] {
        let output = Test::new()
            .file(
                "c.yaml",
                campaign(&format!(
                    "  - mobile: {mobile}\n  - mobile: \"919845012345\"\n"
                )),
            )
            .args(["validate", "c.yaml"])
            .status(1)
            .run();
        assert!(
            output.stderr.starts_with("c.yaml:6:13: error: "),
            "{mobile}: {}",
            output.stderr
        );
    }
}

#[test]
fn a_number_listed_twice_is_sent_once_with_a_warning() {
    let test = || {
        Test::new()
            .file(
                "c.yaml",
                campaign(
                    r#"
                      - mobile: "919739978284"
                      - mobile: "+91 98450 12345"
                      - mobile: "+91 97399-78284"
                      - file: data/more.csv
                    "#,
                ),
            )
            .file("data/more.csv", "mobile\n919845012345\n919880011223\n")
    };
    test()
        .args(["validate", "c.yaml"])
        .stdout(&format!("1 file(s) valid: 1 campaign(s), 3 send(s) rendered, 2 warning(s)\n{NO_CATALOGUE_NOTE}"))
        .stderr(
            "
            c.yaml:8:5: warning: 919739978284 is listed more than once in campaign `c`; it is sent once
              |
            8 |   - mobile: \"+91 97399-78284\"
              |     ^
              = help: first listed at c.yaml:6
            data/more.csv:2: warning: 919845012345 is listed more than once in campaign `c`; it is sent once
              = help: first listed at c.yaml:7
            ",
        )
        .run();
    let output = test()
        .args([
            "plan",
            "c.yaml",
            "--format",
            "json",
            "--now",
            NOW,
            "--detailed-exitcode",
        ])
        .status(2)
        .run();
    let plan = output.json();
    assert_eq!(
        mobiles(&plan),
        ["919739978284", "919845012345", "919880011223"]
    );
    assert_eq!(plan["summary"]["sends"], 3);
    // The warnings are printed by `plan` too.
    assert_eq!(output.stderr.matches(": warning: ").count(), 2);
}

/// The same number in two campaigns is two sends: the rule is per campaign.
#[test]
fn the_same_number_in_two_campaigns_is_not_a_duplicate() {
    Test::new()
        .file("a.yaml", campaign("  - mobile: \"919739978284\"\n"))
        .file("b.yaml", campaign("  - mobile: \"919739978284\"\n"))
        .args(["validate", "a.yaml", "b.yaml"])
        .stdout(&format!(
            "2 file(s) valid: 2 campaign(s), 2 send(s) rendered\n{NO_CATALOGUE_NOTE}"
        ))
        .stderr("")
        .run();
}

#[test]
fn recipients_and_search_together() {
    Test::new()
        .file(
            "c.yaml",
            "
            template: welcome
            language: en
            params: [Hello]
            recipients:
              - mobile: \"919739978284\"
            search:
              city: Pune
            ",
        )
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:6:1: error: give either `recipients` or `search`, not both
              |
            6 | search:
              | ^^^^^^
              = help: `recipients` sends one message per listed number; `search` sends one bulk message to matching contacts
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

#[test]
fn neither_recipients_nor_search() {
    Test::new()
        .file(
            "c.yaml",
            "template: welcome\nlanguage: en\nparams: [Hello]\n",
        )
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:1:1: error: missing `recipients` or `search`: a campaign needs an audience
              |
            1 | template: welcome
              | ^
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// `recipients: []` is accepted: a campaign that sends nothing, and says so.
#[test]
fn empty_recipient_list_sends_nothing() {
    Test::new()
        .file(
            "c.yaml",
            "template: welcome\nlanguage: en\nparams: [Hello]\nrecipients: []\n",
        )
        .args(["validate", "c.yaml"])
        .stdout(&format!(
            "1 file(s) valid: 1 campaign(s), 0 send(s) rendered, 1 warning(s)\n{NO_CATALOGUE_NOTE}"
        ))
        .stderr(
            "
            c.yaml:4:1: warning: campaign `c` sends to nobody: its `recipients` list is empty
              |
            4 | recipients: []
              | ^^^^^^^^^^
              = help: nothing is sent; list recipients, or remove the campaign
            ",
        )
        .run();
}

#[test]
fn recipient_with_both_mobile_and_file() {
    Test::new()
        .file(
            "c.yaml",
            campaign("  - mobile: \"919739978284\"\n    file: data/list.csv\n"),
        )
        .file("data/list.csv", "mobile\n919845012345\n")
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:7:5: error: `recipients[0]` has both `mobile` and `file`
              |
            7 |     file: data/list.csv
              |     ^^^^
              = help: list a recipient (`mobile`, `name`, fields) or a CSV file (`file`), one per entry
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

#[test]
fn recipient_without_mobile_suggests_the_key() {
    Test::new()
        .file(
            "c.yaml",
            campaign("  - mobil: \"919739978284\"\n    name: Partha\n"),
        )
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:6:5: error: `recipients[0]` has no `mobile` (or `file` for a CSV file)
              |
            6 |   - mobil: \"919739978284\"
              |     ^
              = help: `mobil`: did you mean `mobile`?
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// The CSV path is relative to the campaign file, and messages show it that way.
#[test]
fn missing_csv() {
    Test::new()
        .file("campaigns/c.yaml", campaign("  - file: data/runners.csv\n"))
        .file("data/runners.csv", "mobile\n919739978284\n")
        .args(["validate"])
        .stderr(
            "
            campaigns/c.yaml:6:11: error: cannot read CSV file `campaigns/data/runners.csv`: No such file or directory
              |
            6 |   - file: data/runners.csv
              |           ^^^^^^^^^^^^^^^^
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

#[test]
fn csv_without_mobile_column() {
    Test::new()
        .file("c.yaml", campaign("  - file: phones.csv\n  - file: empty.csv\n"))
        .file("phones.csv", "phone,name\n919739978284,Partha\n")
        .file("empty.csv", "")
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:6:11: error: CSV file `phones.csv` has no `mobile` column (header row: `phone`, `name`)
              |
            6 |   - file: phones.csv
              |           ^^^^^^^^^^
              = help: map its column: `columns: {mobile: \"phone\"}`
            c.yaml:7:11: error: CSV file `empty.csv` has no `mobile` column (header row: empty)
              |
            7 |   - file: empty.csv
              |           ^^^^^^^^^
              = help: name the column of the numbers `mobile`, or map it: `columns: {mobile: \"Phone\"}`
            2 errors, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// Bad rows are reported as `FILE.csv:ROW: error:`, every one of them.
#[test]
fn csv_bad_rows() {
    Test::new()
        .file(
            "campaigns/c.yaml",
            "
            template: welcome
            language: en
            params:
              - \"{{ recipient.name }}\"
              - \"{{ recipient.city }}\"
            recipients:
              - file: data/runners.csv
            ",
        )
        .file(
            "campaigns/data/runners.csv",
            b"mobile,name,city\n919739978284,Partha,Bengaluru\n12345,Short,Pune\n919845012345,Asha\n\"919880011223\",Rohan,\"Mum\nbai\"\n919820044556,Fatima,\xffPune\n919900055501,Meera,\n",
        )
        .args(["validate"])
        .stdout("")
        .stderr(
            r#"
            campaigns/c.yaml:5:5: error: param 2 for recipient 919880011223 (campaigns/data/runners.csv:5): renders to "Mum\nbai", which contains a newline; WhatsApp rejects newlines in parameters
              |
            5 |   - "{{ recipient.city }}"
              |     ^^^^^^^^^^^^^^^^^^^^^^
            campaigns/c.yaml:5:5: error: param 2 for recipient 919900055501 (campaigns/data/runners.csv:8): renders to an empty value; WhatsApp rejects empty parameters
              |
            5 |   - "{{ recipient.city }}"
              |     ^^^^^^^^^^^^^^^^^^^^^^
            campaigns/data/runners.csv:3: error: mobile number `12345` (read as +1 2345) is not a valid number for the United States: 4 digits after +1, where mobile numbers have 10
            campaigns/data/runners.csv:4: error: row has 2 fields, the header has 3
            campaigns/data/runners.csv:7: error: the file is not UTF-8: this is its first row that is not (later ones are not listed)
              = help: export the file again as UTF-8 (in Excel: Save As, then "CSV UTF-8"; in LibreOffice: character set "Unicode (UTF-8)")
            5 errors, 0 warnings
            "#,
        )
        .status(1)
        .run();
}

/// CSV headers match `mobile` and `name` case-insensitively; cells are trimmed; a BOM is fine.
#[test]
fn csv_header_and_cells() {
    let plan = Test::new()
        .file(
            "c.yaml",
            "
            template: t
            language: en
            params: [\"{{ recipient.name }} {{ recipient.Team }}\"]
            recipients:
              - file: list.csv
            ",
        )
        .file(
            "list.csv",
            b"\xef\xbb\xbfMOBILE , Name ,Team\n  +91 97399 78284 ,  Partha  , Red \n",
        )
        .args(["plan", "c.yaml", "--format", "json", "--now", NOW])
        .run()
        .json();
    assert_eq!(
        plan["campaigns"][0]["sends"][0]["request"]["to"],
        serde_json::json!({"mobile": "919739978284", "name": "Partha"})
    );
    assert_eq!(
        plan["campaigns"][0]["sends"][0]["request"]["params"],
        serde_json::json!(["Partha Red"])
    );
}

#[test]
fn csv_entry_takes_no_other_keys() {
    Test::new()
        .file("c.yaml", campaign("  - file: list.csv\n    city: Pune\n"))
        .file("list.csv", "mobile\n919739978284\n")
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:6:5: error: `recipients[0]` is a CSV file entry and takes no other keys
              |
            6 |   - file: list.csv
              |     ^
              = help: put names and fields in the CSV columns
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// Row problems of a CSV file are only found while rendering, which is skipped for a
/// campaign with any other error: fixing one error then reveals the next batch.
#[test]
fn csv_row_errors_are_reported_with_other_errors() {
    Test::new()
        .file(
            "c.yaml",
            campaign("  - file: bad.csv\n  - file: missing.csv\n"),
        )
        .file("bad.csv", "mobile\n12345\n")
        .args(["validate", "c.yaml"])
        .stderr_contains("c.yaml:7:11: error: cannot read CSV file `missing.csv`")
        .stderr_contains(
            "bad.csv:2: error: mobile number `12345` (read as +1 2345) is not a valid number",
        )
        .status(1)
        .run();
}
