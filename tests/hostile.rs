//! Hostile input is an error with a location, never a hang, crash or panic: YAML syntax
//! errors, alias bombs, deep nesting, non-UTF-8 bytes, empty files, non-mapping documents,
//! oversized files.

use std::time::{Duration, Instant};

use crate::test::{NO_CATALOGUE_NOTE, Output, Test};

/// Runs `validate` on one file in a fresh directory; it must fail, quickly, without a panic.
fn validate_fails(contents: Vec<u8>) -> Output {
    let start = Instant::now();
    let output = Test::new()
        .file("c.yaml", contents)
        .args(["validate", "c.yaml"])
        .stdout("")
        .status(1)
        .run();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
    assert!(
        output.stderr.ends_with("1 error, 0 warnings\n"),
        "{}",
        output.stderr
    );
    output
}

fn first_line(output: &Output) -> &str {
    output.stderr.lines().next().unwrap()
}

#[test]
fn yaml_syntax_error() {
    Test::new()
        .file(
            "c.yaml",
            "
            template: welcome
            language: en
            params: [\"{{ recipient.name }}\"
            ",
        )
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:3:9: error: invalid YAML: unclosed bracket '['
              |
            3 | params: [\"{{ recipient.name }}\"
              |         ^
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

#[test]
fn duplicate_keys_are_errors() {
    Test::new()
        .file(
            "c.yaml",
            "
            template: welcome
            language: en
            params: []
            search: {city: Pune, city: Mumbai}
            ",
        )
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:4:22: error: invalid YAML: duplicate mapping key `city` is not allowed here
              |
            4 | search: {city: Pune, city: Mumbai}
              |                      ^^^^
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// Billion laughs: nine aliases per level; expanding it would make 9^10 nodes.
#[test]
fn alias_bomb() {
    let mut yaml = String::from(
        "template: t\nlanguage: en\nparams: []\nsearch: {name: x}\nvars:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
    for pair in names.windows(2) {
        let refs = vec![format!("*{}", pair[0]); 9].join(",");
        yaml.push_str(&format!("  {}: &{} [{refs}]\n", pair[1], pair[1]));
    }
    let output = validate_fails(yaml.into_bytes());
    assert_eq!(
        first_line(&output),
        "c.yaml:11:16: error: invalid YAML: the document expands to more than 250000 values (an alias repeated over and over?)"
    );
}

/// An alias that refers to itself.
#[test]
fn recursive_alias() {
    let output = validate_fails(b"template: &a [*a]\n".to_vec());
    assert!(
        first_line(&output).starts_with("c.yaml:1:"),
        "{}",
        output.stderr
    );
    assert!(first_line(&output).contains("error: invalid YAML: "));
}

#[test]
fn deep_nesting_of_flow_sequences() {
    let output = validate_fails("[".repeat(20_000).into_bytes());
    assert_eq!(
        first_line(&output),
        "c.yaml:1:256: error: invalid YAML: recursion limit exceeded"
    );
}

#[test]
fn deep_nesting_of_flow_mappings() {
    let yaml = format!(
        "template: t\nlanguage: en\nparams: []\nsearch: {{name: x}}\nvars: {{x: {}1{}}}\n",
        "{a: ".repeat(20_000),
        "}".repeat(20_000)
    );
    let output = validate_fails(yaml.into_bytes());
    assert_eq!(
        first_line(&output),
        "c.yaml:5:259: error: invalid YAML: the document is nested 65 levels deep, beyond the safety limit"
    );
}

#[test]
fn deep_nesting_of_block_mappings() {
    let mut yaml =
        String::from("template: t\nlanguage: en\nparams: []\nsearch: {name: x}\nvars:\n");
    for depth in 1..=2_000 {
        yaml.push_str(&" ".repeat(depth));
        yaml.push_str("a:\n");
    }
    let output = validate_fails(yaml.into_bytes());
    assert!(
        first_line(&output).ends_with(
            ": error: invalid YAML: the document is nested 65 levels deep, beyond the safety limit"
        ),
        "{}",
        output.stderr
    );
}

/// The position of the first invalid byte: line, and column in characters.
#[test]
fn non_utf8_bytes_are_located() {
    let output = validate_fails(b"name: caf\xc3\xa9\ntemplate: t\xff\nlanguage: en\n".to_vec());
    assert_eq!(
        output.stderr,
        "c.yaml:2:12: error: file is not valid UTF-8 (campaign files must be UTF-8 text)\n1 error, 0 warnings\n"
    );
    // Multi-byte characters before the bad byte count as one column each.
    let output = validate_fails(
        "template: \"Ünïcödé\"\nlanguage: é\u{20ac}"
            .bytes()
            .chain([0xe2, 0x82, b'\n'])
            .collect(),
    );
    assert_eq!(
        first_line(&output),
        "c.yaml:2:13: error: file is not valid UTF-8 (campaign files must be UTF-8 text)"
    );
    // On the first line, at the very start.
    let output = validate_fails(vec![0xfe, 0xff, b'a']);
    assert_eq!(
        first_line(&output),
        "c.yaml:1:1: error: file is not valid UTF-8 (campaign files must be UTF-8 text)"
    );
}

#[test]
fn nul_byte() {
    let output = validate_fails(b"template: t\0\nlanguage: en\n".to_vec());
    assert_eq!(
        first_line(&output),
        "c.yaml:1:12: error: invalid YAML: unexpected character: `\\u{0}'"
    );
}

#[test]
fn empty_file() {
    Test::new()
        .file("c.yaml", "")
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:1:1: error: empty campaign file
              = help: a campaign needs at least `template`, `language`, `params` and `recipients` or `search`
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
    // Blank lines, comments only, or an explicit null are empty too.
    for text in ["\n\n   \n", "# nothing yet\n", "~\n", "null\n", "---\n"] {
        let output = validate_fails(text.as_bytes().to_vec());
        assert_eq!(
            first_line(&output),
            "c.yaml:1:1: error: empty campaign file",
            "{text:?}"
        );
    }
}

#[test]
fn top_level_list() {
    Test::new()
        .file("c.yaml", "- template: welcome\n  language: en\n")
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:1:1: error: a campaign file must be a mapping of keys (template, language, ...), found a list
              |
            1 | - template: welcome
              | ^
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

#[test]
fn top_level_scalars() {
    for (text, found) in [
        ("hello\n", "the string \"hello\""),
        ("42\n", "the number 42"),
        ("true\n", "the boolean true"),
    ] {
        let output = validate_fails(text.as_bytes().to_vec());
        assert_eq!(
            first_line(&output),
            format!(
                "c.yaml:1:1: error: a campaign file must be a mapping of keys (template, language, ...), found {found}"
            )
        );
    }
}

#[test]
fn complex_mapping_keys() {
    let output = validate_fails(b"? [a, b]\n: c\n".to_vec());
    assert_eq!(
        first_line(&output),
        "c.yaml:1:3: error: a mapping key must be a plain value, not a list or mapping"
    );
}

#[test]
fn unknown_alias() {
    let output = validate_fails(b"template: &t welcome\nlanguage: *en\n".to_vec());
    assert_eq!(
        first_line(&output),
        "c.yaml:2:11: error: invalid YAML: reference to unknown value"
    );
}

#[test]
fn multiple_documents() {
    let output = validate_fails(
        b"template: t\nlanguage: en\nparams: []\nsearch: {name: x}\n---\ntemplate: u\n".to_vec(),
    );
    assert_eq!(
        first_line(&output),
        "c.yaml:6:1: error: invalid YAML: only single YAML document expected but multiple found"
    );
}

/// Campaign files over 8 MiB are refused before they are read.
#[test]
fn oversized_file_is_refused() {
    let mut text = String::from("# ");
    text.push_str(&"x".repeat(9_000_000));
    text.push('\n');
    let output = validate_fails(text.into_bytes());
    assert_eq!(
        output.stderr,
        "c.yaml: error: file is 9000003 bytes; campaign files are limited to 8388608 (put recipients in a CSV file)\n1 error, 0 warnings\n"
    );
}

/// A UTF-8 byte order mark and CRLF line endings are fine; positions stay right.
#[test]
fn bom_and_crlf() {
    Test::new()
        .file(
            "c.yaml",
            b"\xef\xbb\xbftemplate: t\r\nlanguage: en\r\nparams: []\r\nsearch: {name: x}\r\n",
        )
        .args(["validate", "c.yaml"])
        .stdout(&format!(
            "1 file(s) valid: 1 campaign(s), 1 send(s) rendered\n{NO_CATALOGUE_NOTE}"
        ))
        .run();
    Test::new()
        .file(
            "c.yaml",
            b"template: t\r\nlanguage: en-US\r\nparams: []\r\nsearch: {name: x}\r\n",
        )
        .args(["validate", "c.yaml"])
        .stderr(
            "
            c.yaml:2:11: error: `en-US` is not a WhatsApp template language code
              |
            2 | language: en-US
              |           ^^^^^
              = help: did you mean `en_US`? codes use an underscore: en, en_US, pt_BR
            1 error, 0 warnings
            ",
        )
        .status(1)
        .run();
}

/// A million-character line must not be echoed whole under the message.
#[test]
fn snippet_of_a_huge_line_is_truncated() {
    let output = validate_fails("[".repeat(20_000).into_bytes());
    assert!(output.stderr.len() < 2_000, "{} bytes", output.stderr.len());
}

/// YAML 1.1 booleans and leading-zero numbers stay strings (`no` is Norway, `0042` a bib).
#[test]
fn yaml_1_1_surprises_stay_strings() {
    let plan = Test::new()
        .file(
            "c.yaml",
            r#"
            template: t
            language: en
            params: ["{{ recipient.country }}", "{{ recipient.bib }}", "{{ recipient.ok }}"]
            recipients:
              - mobile: "919739978284"
                country: no
                bib: 0042
                ok: on
            "#,
        )
        .args([
            "plan",
            "c.yaml",
            "--format",
            "json",
            "--now",
            "2026-11-30T03:35:00Z",
        ])
        .run()
        .json();
    assert_eq!(
        plan["campaigns"][0]["sends"][0]["request"]["params"],
        serde_json::json!(["no", "0042", "on"])
    );
}
