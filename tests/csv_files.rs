//! CSV files as people export them: mapped columns, `;` and tab delimiters (detected or
//! given), a byte-order mark, headers with spaces, files that are not UTF-8.

use serde_json::Value;

use crate::test::Test;

const NOW: &str = "2026-11-30T03:35:00Z";

/// The requests' `to` and `params` of a JSON plan's first campaign.
fn sends(plan: &Value) -> Vec<(Value, Value)> {
    plan["campaigns"][0]["sends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["request"]["to"].clone(), s["request"]["params"].clone()))
        .collect()
}

fn plan(campaign: &str, file: &str, csv: impl crate::test::Contents) -> Value {
    Test::new()
        .file("c.yaml", campaign)
        .file(file, csv)
        .args(["plan", "c.yaml", "--format", "json", "--now", NOW])
        .stderr("")
        .run()
        .json()
}

/// Mapped columns become the fields they name; the other columns keep their header as
/// their name, reachable with a subscript; headers match trimmed and ignoring case.
#[test]
fn mapped_columns_and_headers_as_field_names() {
    let plan = plan(
        r#"
        template: order_update
        language: en
        default_country: IN
        params:
          - "{{ recipient.name }}"
          - "{{ recipient['Order Id'] }}"
          - "{{ recipient.city }}"
          - "{{ recipient.timezone }}"
        recipients:
          - file: data/export.csv
            columns:
              mobile: Phone Number
              name: first name
              city: Town
              timezone: TZ
        "#,
        "data/export.csv",
        " Phone Number ,First Name,Order Id,Town,TZ\n097399 78284,Partha,A-17,Pune,Asia/Kolkata\n",
    );
    assert_eq!(
        sends(&plan),
        [(
            serde_json::json!({"mobile": "919739978284", "name": "Partha"}),
            serde_json::json!(["Partha", "A-17", "Pune", "Asia/Kolkata"])
        )]
    );
}

/// `;` and tab are detected from the header line, or given; a byte-order mark is ignored.
#[test]
fn semicolon_and_tab_files_with_or_without_a_byte_order_mark() {
    let campaign = |delimiter: &str| {
        format!(
            "
            template: t
            language: en
            params: [\"{{{{ recipient.name }}}} {{{{ recipient.city }}}}\"]
            recipients:
              - file: list.csv{delimiter}
            "
        )
    };
    let expected = [(
        serde_json::json!({"mobile": "919739978284", "name": "Partha Sarathy"}),
        serde_json::json!(["Partha Sarathy Bengaluru, KA"]),
    )];
    for (text, delimiter) in [
        (
            &b"mobile;name;city\n+91 97399 78284;Partha Sarathy;Bengaluru, KA\n"[..],
            "",
        ),
        (
            b"\xef\xbb\xbfmobile;name;city\n+91 97399 78284;Partha Sarathy;Bengaluru, KA\n",
            "",
        ),
        (
            b"mobile\tname\tcity\n+91 97399 78284\tPartha Sarathy\tBengaluru, KA\n",
            "",
        ),
        (
            b"\xef\xbb\xbfmobile\tname\tcity\r\n+91 97399 78284\tPartha Sarathy\tBengaluru, KA\r\n",
            "",
        ),
        (
            b"mobile,name,city\n+91 97399 78284,Partha Sarathy,\"Bengaluru, KA\"\n",
            "",
        ),
        // Given.
        (
            b"mobile;name;city\n+91 97399 78284;Partha Sarathy;Bengaluru, KA\n",
            "\n                delimiter: \";\"",
        ),
        (
            b"mobile\tname\tcity\n+91 97399 78284\tPartha Sarathy\tBengaluru, KA\n",
            "\n                delimiter: \"\\t\"",
        ),
    ] {
        let plan = plan(&campaign(delimiter), "list.csv", text);
        assert_eq!(
            sends(&plan),
            expected,
            "{:?}",
            String::from_utf8_lossy(text)
        );
    }
}

/// A delimiter given in the entry is used even when the header line says otherwise.
#[test]
fn a_given_delimiter_wins_over_the_header_line() {
    let plan = plan(
        "
        template: t
        language: en
        params: [\"{{ recipient['a,b'] }}\"]
        recipients:
          - file: list.csv
            delimiter: \";\"
        ",
        "list.csv",
        "mobile;a,b;c,d\n919739978284;x,y;z\n",
    );
    assert_eq!(sends(&plan)[0].1, serde_json::json!(["x,y"]));
}

#[test]
fn a_missing_mapped_column_names_the_header_found() {
    Test::new()
        .file(
            "c.yaml",
            "
            template: t
            language: en
            params: [\"{{ recipient.name }}\"]
            recipients:
              - file: export.csv
                columns: {mobile: Phone, name: Full Name}
            ",
        )
        .file("export.csv", "Phone;First Name;Order Id\n919739978284;Partha;A-1\n")
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:6:36: error: CSV file `export.csv` has no column `Full Name` (for `name`); its header row: `Phone`, `First Name`, `Order Id`
              |
            6 |     columns: {mobile: Phone, name: Full Name}
              |                                    ^^^^^^^^^
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// A file in another encoding is one error, at its first row that is not UTF-8, that says
/// how to export it again; its other problems are still reported.
#[test]
fn a_file_that_is_not_utf8_is_one_error_at_its_first_bad_row() {
    Test::new()
        .file(
            "c.yaml",
            "
            template: t
            language: en
            params: [\"{{ recipient.name }}\"]
            recipients:
              - file: latin1.csv
            ",
        )
        .file(
            "latin1.csv",
            b"mobile;name\n919739978284;Partha\n919845012345;Jos\xe9\n919880011223;Ren\xe9e\n12345;Asha\n",
        )
        .args(["validate", "c.yaml"])
        .stderr(
            "
            latin1.csv:3: error: the file is not UTF-8: this is its first row that is not (later ones are not listed)
              = help: export the file again as UTF-8 (in Excel: Save As, then \"CSV UTF-8\"; in LibreOffice: character set \"Unicode (UTF-8)\")
            latin1.csv:5: error: mobile number `12345` (read as +1 2345) is not a valid number for the United States: 4 digits after +1, where mobile numbers have 10
            2 errors, 0 warnings
            ",
        )
        .status(1)
        .run();
    // A header row that is not UTF-8.
    Test::new()
        .file("c.yaml", "template: t\nlanguage: en\nparams: [Hi]\nrecipients:\n  - file: x.csv\n")
        .file("x.csv", b"mobile;T\xe9l\xe9phone\n919739978284;1\n")
        .args(["validate", "c.yaml"])
        .stderr(
            "
            x.csv:1: error: the header row is not UTF-8: this file is in another encoding
              = help: export the file again as UTF-8 (in Excel: Save As, then \"CSV UTF-8\"; in LibreOffice: character set \"Unicode (UTF-8)\")
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// `columns` and `delimiter` belong to CSV entries.
#[test]
fn columns_on_an_inline_recipient_is_an_error() {
    Test::new()
        .file(
            "c.yaml",
            "template: t\nlanguage: en\nparams: [Hi]\nrecipients:\n  - mobile: \"919739978284\"\n    delimiter: \";\"\n",
        )
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:6:5: error: `recipients[0]`: `columns` and `delimiter` are for CSV file entries (`file`)
              |
            6 |     delimiter: \";\"
              |     ^^^^^^^^^
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// A column whose name a mapped field takes is left out: the field is the mapping's.
#[test]
fn a_mapped_field_shadows_a_column_of_its_name() {
    let plan = plan(
        "
        template: t
        language: en
        params: [\"{{ recipient.city }} {{ recipient.mobile }}\"]
        recipients:
          - file: list.csv
            columns: {mobile: Phone, city: Town}
        ",
        "list.csv",
        "mobile,Phone,city,Town\nignored,919739978284,ignored too,Pune\n",
    );
    assert_eq!(sends(&plan)[0].1, serde_json::json!(["Pune 919739978284"]));
}
