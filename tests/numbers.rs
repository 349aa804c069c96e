//! Mobile numbers as libphonenumber reads them: local numbers with `default_country` (the
//! campaign file's, or the project file's), numbers with their country code with or without
//! `+`, and the numbers WhatsApp cannot reach, inline and in CSV rows alike.

use serde_json::Value;

use crate::test::{NO_CATALOGUE_NOTE, Test};

const NOW: &str = "2026-11-30T03:35:00Z";

/// A single campaign, its `default_country` if any, and its recipients (YAML list items).
fn campaign(default_country: Option<&str>, entries: &str) -> String {
    let country = default_country.map_or_else(String::new, |c| format!("default_country: {c}\n"));
    format!(
        "template: welcome\nlanguage: en\n{country}params:\n  - \"{{{{ recipient.mobile }}}}\"\nrecipients:\n{entries}"
    )
}

/// The `to.mobile` of every send of every campaign of a JSON plan, by campaign.
fn sent_to(plan: &Value) -> Vec<Vec<String>> {
    plan["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["sends"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["request"]["to"]["mobile"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

/// `written`, inline (`a.yaml`) and as a CSV row (`b.yaml`), with `country` as the
/// campaigns' default country: the number each sends to.
fn read_as(country: Option<&str>, written: &str) -> Vec<Vec<String>> {
    let output = Test::new()
        .file(
            "a.yaml",
            campaign(country, &format!("  - mobile: {written:?}\n")),
        )
        .file("b.yaml", campaign(country, "  - file: list.csv\n"))
        .file("list.csv", format!("mobile\n\"{written}\"\n"))
        .args(["plan", "a.yaml", "b.yaml", "--format", "json", "--now", NOW])
        .run();
    assert_eq!(output.stderr, "", "{written}");
    sent_to(&output.json())
}

#[test]
fn local_numbers_are_read_with_the_default_country() {
    for (country, written, e164) in [
        ("IN", "09739978284", "919739978284"),
        ("IN", "97399 78284", "919739978284"),
        ("IN", "+91 97399 78284", "919739978284"),
        ("IN", "919739978284", "919739978284"),
        // The international prefix of the default country.
        ("IN", "00 44 7400 123456", "447400123456"),
        ("GB", "07700 900123", "447700900123"),
        ("GB", "07400 123456", "447400123456"),
        ("GB", "+44 (0)7400 123456", "447400123456"),
        ("US", "(415) 555-2671", "14155552671"),
        ("US", "415.555.2671", "14155552671"),
        ("US", "1 415 555 2671", "14155552671"),
        ("US", "011 91 97399 78284", "919739978284"),
    ] {
        assert_eq!(
            read_as(Some(country), written),
            [[e164], [e164]],
            "{country} {written}"
        );
    }
}

/// Today's format: the country code without `+`, with any default country or none.
#[test]
fn numbers_with_their_country_code_read_the_same_with_any_default_country() {
    for country in [None, Some("IN"), Some("GB"), Some("US")] {
        for (written, e164) in [
            ("919739978284", "919739978284"),
            ("+91 97399-78284", "919739978284"),
            ("(91) 973.997.8284", "919739978284"),
            ("447700900123", "447700900123"),
            ("14155552671", "14155552671"),
        ] {
            assert_eq!(
                read_as(country, written),
                [[e164], [e164]],
                "{country:?} {written}"
            );
        }
    }
}

/// A campaign's `default_country` wins over the project file's.
#[test]
fn the_campaigns_default_country_wins_over_the_project_files() {
    let output = Test::new()
        .file("campaignctl.yaml", "default_country: GB\n")
        .file("a.yaml", campaign(None, "  - mobile: \"07400 123456\"\n"))
        .file(
            "b.yaml",
            campaign(
                Some("IN"),
                "  - mobile: \"09739978284\"\n  - file: list.csv\n",
            ),
        )
        .file("list.csv", "mobile\n098450 12345\n")
        .args(["plan", "a.yaml", "b.yaml", "--format", "json", "--now", NOW])
        .run();
    assert_eq!(
        sent_to(&output.json()),
        [vec!["447400123456"], vec!["919739978284", "919845012345"]]
    );
}

#[test]
fn an_unknown_default_country_is_a_located_error() {
    Test::new()
        .file(
            "c.yaml",
            campaign(Some("UK"), "  - mobile: \"+44 7400 123456\"\n"),
        )
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:3:18: error: unknown country `UK`: libphonenumber has no numbers for it
              |
            3 | default_country: UK
              |                  ^^
              = help: did you mean `GB` (the United Kingdom)?
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
    Test::new()
        .file("campaignctl.yaml", "# the project\ndefault_country: XX\n")
        .file(
            "c.yaml",
            campaign(None, "  - mobile: \"+44 7400 123456\"\n"),
        )
        .args(["validate", "c.yaml"])
        .stderr(
            "
            campaignctl.yaml:2:18: error: unknown country `XX`: libphonenumber has no numbers for it
              |
            2 | default_country: XX
              |                  ^^
              = help: use an ISO 3166 alpha-2 country code such as IN, GB or US
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// Numbers that are not valid for their country, or of a kind WhatsApp cannot reach: the
/// same error inline (at the value) and in a CSV file (at the row).
#[test]
fn numbers_whatsapp_cannot_reach_are_errors_inline_and_in_csv_rows() {
    for (country, written, message) in [
        (
            "IN",
            "+91 12345",
            "mobile number `+91 12345` is not a valid number for India: 5 digits after +91, where mobile numbers have 10",
        ),
        (
            "IN",
            "12345",
            "mobile number `12345` (read as +91 12345) is not a valid number for India: 5 digits after +91, where mobile numbers have 10",
        ),
        (
            "GB",
            "07400 12345",
            "mobile number `07400 12345` (read as +44 740012345) is not a valid number for the United Kingdom: 9 digits after +44, where mobile numbers have 10",
        ),
        (
            "IN",
            "1800 123 456",
            "mobile number `1800 123 456` is a toll-free number in India, which cannot receive WhatsApp messages",
        ),
        (
            "GB",
            "0901 234 5678",
            "mobile number `0901 234 5678` is a premium-rate number in the United Kingdom, which cannot receive WhatsApp messages",
        ),
        (
            "IN",
            "1860 345 1234",
            "mobile number `1860 345 1234` is a shared-cost number in India, which cannot receive WhatsApp messages",
        ),
        (
            "DE",
            "0177 991234567",
            "mobile number `0177 991234567` is a voicemail number in Germany, which cannot receive WhatsApp messages",
        ),
        (
            "GB",
            "07640 123456",
            "mobile number `07640 123456` is a pager number in the United Kingdom, which cannot receive WhatsApp messages",
        ),
        (
            "GB",
            "055 1234 5678",
            "mobile number `055 1234 5678` is a UAN (universal access) number in the United Kingdom, which cannot receive WhatsApp messages",
        ),
        (
            "US",
            "+1 415 555 2671 ext. 5",
            "mobile number `+1 415 555 2671 ext. 5` has an extension (5); WhatsApp messages go to numbers, not extensions",
        ),
    ] {
        let quoted = format!("{written:?}");
        Test::new()
            .file(
                "c.yaml",
                campaign(Some(country), &format!("  - mobile: {quoted}\n  - file: list.csv\n")),
            )
            .file("list.csv", format!("mobile\n919739978284\n\"{written}\"\n"))
            .args(["validate", "c.yaml"])
            .stderr(&format!(
                "c.yaml:7:13: error: {message}\n  |\n7 |   - mobile: {quoted}\n  | {}{}\nlist.csv:3: error: {message}\n2 errors, 0 warnings\n",
                " ".repeat(12),
                "^".repeat(quoted.chars().count())
            ))
            .status(1)
            .run();
    }
}

/// A fixed-line number is sent, with a warning: it may not be on WhatsApp.
#[test]
fn a_fixed_line_number_is_a_warning_inline_and_in_csv_rows() {
    Test::new()
        .file(
            "c.yaml",
            campaign(Some("IN"), "  - mobile: \"080 2222 3333\"\n  - file: list.csv\n"),
        )
        .file("list.csv", "mobile\n+91 11 2345 6789\n")
        .args(["validate", "c.yaml"])
        .stdout(&format!("1 file(s) valid: 1 campaign(s), 2 send(s) rendered, 2 warning(s)\n{NO_CATALOGUE_NOTE}"))
        .stderr(
            "
            c.yaml:7:13: warning: mobile number `080 2222 3333` is a fixed-line number in India; it may not be on WhatsApp
              |
            7 |   - mobile: \"080 2222 3333\"
              |             ^^^^^^^^^^^^^^^
            list.csv:2: warning: mobile number `+91 11 2345 6789` is a fixed-line number in India; it may not be on WhatsApp
            ",
        )
        .run();
}

/// Without a default country a local number is an error that says how to fix it, and a
/// typo is never read as a keypad letter.
#[test]
fn local_numbers_without_a_default_country_and_stray_letters_are_errors() {
    for (written, message) in [
        (
            "09739978284",
            "invalid mobile number `09739978284`: starts with 0; write the country code instead of a trunk prefix (e.g. 91… not 0…), or set `default_country`",
        ),
        (
            "+0 91 97399 78284",
            "invalid mobile number `+0 91 97399 78284`: no country code starts with 0",
        ),
        (
            "+999 123 456",
            "invalid mobile number `+999 123 456`: it starts with no known country code",
        ),
        (
            "9197399782B4",
            "invalid mobile number `9197399782B4`: unexpected character `B`",
        ),
        (
            "tel:+919739978284",
            "invalid mobile number `tel:+919739978284`: unexpected character `:`",
        ),
    ] {
        Test::new()
            .file("c.yaml", campaign(None, "  - file: list.csv\n"))
            .file("list.csv", format!("mobile\n\"{written}\"\n"))
            .args(["validate", "c.yaml"])
            .stderr(&format!(
                "list.csv:2: error: {message}\n1 error, 0 warnings\n"
            ))
            .status(1)
            .run();
    }
}
