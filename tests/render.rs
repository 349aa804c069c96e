//! Params are minijinja templates: strict undefined, `recipient` vs `contact`, `vars`,
//! and WhatsApp's rules for rendered values. Errors name the file, the param's line, the
//! recipient and the param index.

use crate::test::{NO_CATALOGUE_NOTE, Test};

fn validate(yaml: &str) -> Test {
    Test::new()
        .file("c.yaml", yaml)
        .args(["validate", "c.yaml"])
}

#[test]
fn recipient_in_a_blast_suggests_contact() {
    validate(
        r#"
        template: welcome
        language: en
        params:
          - "Hi {{ recipient.first_name }}"
        search:
          city: Pune
        "#,
    )
    .stderr(
        r#"
        c.yaml:4:5: error: param 1: `recipient` is not available in a search (blast) campaign
          |
        4 |   - "Hi {{ recipient.first_name }}"
          |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
          = help: use `{{ contact.first_name }}`: the API fills in each contact's field
        1 error, 0 warnings
        "#,
    )
    .status(1)
    .run();
}

#[test]
fn contact_in_a_single_campaign_suggests_recipient() {
    validate(
        r#"
        template: welcome
        language: en
        params:
          - Hello
          - "{{ contact.name }}"
        recipients:
          - mobile: "919739978284"
        "#,
    )
    .stderr(
        r#"
        c.yaml:5:5: error: param 2: `contact` is only available in search (blast) campaigns
          |
        5 |   - "{{ contact.name }}"
          |     ^^^^^^^^^^^^^^^^^^^^
          = help: use `{{ recipient.name }}` for a recipients campaign
        1 error, 0 warnings
        "#,
    )
    .status(1)
    .run();
}

#[test]
fn undefined_variable_suggests_a_var() {
    validate(
        r#"
        template: welcome
        language: en
        vars:
          event_name: Habit Run
        params:
          - "{{ event_nme }}"
          - "{{ campain.name }}"
          - "{{ nothing_like_it }}"
        search:
          city: Pune
        "#,
    )
    .stderr(
        r#"
        c.yaml:6:5: error: param 1: undefined variable `event_nme`
          |
        6 |   - "{{ event_nme }}"
          |     ^^^^^^^^^^^^^^^^^
          = help: did you mean `event_name`?
        c.yaml:7:5: error: param 2: undefined variable `campain`
          |
        7 |   - "{{ campain.name }}"
          |     ^^^^^^^^^^^^^^^^^^^^
          = help: did you mean `campaign`?
        c.yaml:8:5: error: param 3: undefined variable `nothing_like_it`
          |
        8 |   - "{{ nothing_like_it }}"
          |     ^^^^^^^^^^^^^^^^^^^^^^^
          = help: define it under `vars:`
        3 errors, 0 warnings
        "#,
    )
    .status(1)
    .run();
}

#[test]
fn template_syntax_errors() {
    validate(
        r#"
        template: welcome
        language: en
        params:
          - "{{ recipient.name }"
          - "{% if recipient.name %}Hi"
        recipients:
          - mobile: "919739978284"
            name: Partha
        "#,
    )
    .stderr(
        r#"
        c.yaml:4:5: error: param 1: template syntax error: unexpected `}`, expected end of variable block
          |
        4 |   - "{{ recipient.name }"
          |     ^^^^^^^^^^^^^^^^^^^^^
        c.yaml:5:5: error: param 2: template syntax error: unexpected end of input, expected end of block
          |
        5 |   - "{% if recipient.name %}Hi"
          |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^
        2 errors, 0 warnings
        "#,
    )
    .status(1)
    .run();
}

/// minijinja resolves filters when rendering, so an unknown filter is reported per
/// recipient rather than once as a syntax error.
#[test]
fn unknown_filter_is_a_render_error() {
    validate(
        r#"
        template: welcome
        language: en
        params:
          - "{{ recipient.name | no_such_filter }}"
        recipients:
          - mobile: "919739978284"
            name: Partha
        "#,
    )
    .stderr(
        r#"
        c.yaml:4:5: error: param 1 for recipient 919739978284 (c.yaml:6:5): unknown filter: filter no_such_filter is unknown
          |
        4 |   - "{{ recipient.name | no_such_filter }}"
          |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
        1 error, 0 warnings
        "#,
    )
    .status(1)
    .run();
}

/// A missing recipient field is an error for that recipient only (strict undefined: never
/// an empty string), one error per recipient.
#[test]
fn recipient_field_missing_for_some_recipients() {
    validate(
        r#"
        template: welcome
        language: en
        params:
          - "{{ recipient.name }}"
          - "{{ recipient.city }}"
        recipients:
          - mobile: "919739978284"
            name: Partha
            city: Bengaluru
          - mobile: "919845012345"
            name: Asha
          - mobile: "919880011223"
            name: Rohan
        "#,
    )
    .stderr(
        r#"
        c.yaml:5:5: error: param 2 for recipient 919845012345 (c.yaml:10:5): `recipient.city` is not set for this recipient
          |
        5 |   - "{{ recipient.city }}"
          |     ^^^^^^^^^^^^^^^^^^^^^^
        c.yaml:5:5: error: param 2 for recipient 919880011223 (c.yaml:12:5): `recipient.city` is not set for this recipient
          |
        5 |   - "{{ recipient.city }}"
          |     ^^^^^^^^^^^^^^^^^^^^^^
        2 errors, 0 warnings
        "#,
    )
    .status(1)
    .run();
}

#[test]
fn default_filter_covers_a_missing_field() {
    validate(
        r#"
        template: welcome
        language: en
        params:
          - "{{ recipient.name | default('runner') }}"
          - "{{ recipient.city if recipient.city is defined else 'your city' }}"
        recipients:
          - mobile: "919739978284"
        "#,
    )
    .stdout(&format!(
        "1 file(s) valid: 1 campaign(s), 1 send(s) rendered\n{NO_CATALOGUE_NOTE}"
    ))
    .run();
}

/// The WhatsApp param rules, each for one recipient: file, param line, recipient (number
/// and where it is listed) and param index.
#[test]
fn rendered_param_rules() {
    validate(
        r#"
        template: welcome
        language: en
        params:
          - "{{ recipient.name }}"
          - "{{ recipient.note }}"
        recipients:
          - mobile: "919739978284"
            name: Partha
            note: "   "
          - mobile: "919845012345"
            name: Asha
            note: "line one\nline two"
          - mobile: "919880011223"
            name: Rohan
            note: "a\tb"
          - mobile: "919820044556"
            name: Fatima
            note: "five     spaces"
          - mobile: "919900055501"
            name: Meera
            note: "four    spaces is fine"
          - mobile: "447700900123"
            name: Oliver
            note: "carriage\rreturn"
        "#,
    )
    .stderr(
        r#"
        c.yaml:5:5: error: param 2 for recipient 919739978284 (c.yaml:7:5): renders to an empty value; WhatsApp rejects empty parameters
          |
        5 |   - "{{ recipient.note }}"
          |     ^^^^^^^^^^^^^^^^^^^^^^
        c.yaml:5:5: error: param 2 for recipient 919845012345 (c.yaml:10:5): renders to "line one\nline two", which contains a newline; WhatsApp rejects newlines in parameters
          |
        5 |   - "{{ recipient.note }}"
          |     ^^^^^^^^^^^^^^^^^^^^^^
        c.yaml:5:5: error: param 2 for recipient 919880011223 (c.yaml:13:5): renders to "a\tb", which contains a tab; WhatsApp rejects tabs in parameters
          |
        5 |   - "{{ recipient.note }}"
          |     ^^^^^^^^^^^^^^^^^^^^^^
        c.yaml:5:5: error: param 2 for recipient 919820044556 (c.yaml:16:5): renders to "five     spaces", which has more than 4 spaces in a row; WhatsApp rejects that
          |
        5 |   - "{{ recipient.note }}"
          |     ^^^^^^^^^^^^^^^^^^^^^^
        c.yaml:5:5: error: param 2 for recipient 447700900123 (c.yaml:22:5): renders to "carriage\rreturn", which contains a newline; WhatsApp rejects newlines in parameters
          |
        5 |   - "{{ recipient.note }}"
          |     ^^^^^^^^^^^^^^^^^^^^^^
        5 errors, 0 warnings
        "#,
    )
    .status(1)
    .run();
}

/// Literal params are checked too, once (a blast has one send).
#[test]
fn literal_params_of_a_blast_are_checked() {
    validate(
        "
        template: welcome
        language: en
        params:
          - ''
          - |
            two
            lines
        search:
          city: Pune
        ",
    )
    .stderr(
        r#"
        c.yaml:4:5: error: param 1: renders to an empty value; WhatsApp rejects empty parameters
          |
        4 |   - ''
          |     ^^
        c.yaml:6:5: error: param 2: renders to "two\nlines", which contains a newline; WhatsApp rejects newlines in parameters
          |
        6 |     two
          |     ^^^
        2 errors, 0 warnings
        "#,
    )
    .status(1)
    .run();
}

/// Regression: rendering stopped at the first bad param of a recipient; the second was only
/// found after the first was fixed.
#[test]
fn every_bad_param_of_a_recipient_is_reported() {
    validate(
        r#"
        template: welcome
        language: en
        params:
          - "{{ recipient.city }}"
          - "{{ recipient.bib }}"
        recipients:
          - mobile: "919739978284"
        "#,
    )
    .stderr_contains("param 1 for recipient 919739978284 (c.yaml:7:5): `recipient.city` is not set")
    .stderr_contains("param 2 for recipient 919739978284 (c.yaml:7:5): `recipient.bib` is not set")
    .status(1)
    .run();
}

#[test]
fn vars_may_not_shadow_built_ins() {
    validate(
        r#"
        template: welcome
        language: en
        vars:
          campaign: Habit Run
          contact: me
          recipient: everyone
          run: 5k
        params: [Hello]
        search:
          city: Pune
        "#,
    )
    .stderr(
        "
        c.yaml:4:3: error: `vars.campaign` would hide the built-in `campaign` variable
          |
        4 |   campaign: Habit Run
          |   ^^^^^^^^
          = help: rename it
        c.yaml:5:3: error: `vars.contact` would hide the built-in `contact` variable
          |
        5 |   contact: me
          |   ^^^^^^^
          = help: rename it
        c.yaml:6:3: error: `vars.recipient` would hide the built-in `recipient` variable
          |
        6 |   recipient: everyone
          |   ^^^^^^^^^
          = help: rename it
        c.yaml:7:3: error: `vars.run` would hide the built-in `run` variable
          |
        7 |   run: 5k
          |   ^^^
          = help: rename it
        4 errors, 0 warnings
        ",
    )
    .status(1)
    .run();
}

#[test]
fn vars_must_be_identifiers() {
    validate(
        r#"
        template: welcome
        language: en
        vars:
          event-name: Habit Run
          2026_edition: yes
        params: [Hello]
        search:
          city: Pune
        "#,
    )
    .stderr(
        "
        c.yaml:4:3: error: `vars.event-name` cannot be used in a template
          |
        4 |   event-name: Habit Run
          |   ^^^^^^^^^^
          = help: variable names are letters, digits and `_`, not starting with a digit
        c.yaml:5:3: error: `vars.2026_edition` cannot be used in a template
          |
        5 |   2026_edition: yes
          |   ^^^^^^^^^^^^
          = help: variable names are letters, digits and `_`, not starting with a digit
        2 errors, 0 warnings
        ",
    )
    .status(1)
    .run();
}

#[test]
fn date_filter_with_a_bad_format() {
    validate(
        r#"
        template: welcome
        language: en
        params:
          - "{{ run.at | date('%Q') }}"
        search:
          city: Pune
        "#,
    )
    .stderr(
        r#"
        c.yaml:4:5: error: param 1: invalid operation: invalid date format "%Q"
          |
        4 |   - "{{ run.at | date('%Q') }}"
          |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^
        1 error, 0 warnings
        "#,
    )
    .status(1)
    .run();
}

#[test]
fn date_filter_needs_a_time() {
    validate(
        r#"
        template: welcome
        language: en
        vars:
          day: tomorrow
        params:
          - "{{ day | date }}"
        search:
          city: Pune
        "#,
    )
    .stderr_contains(
        "c.yaml:6:5: error: param 1: invalid operation: date filter needs an RFC 3339 time such as run.at, got \"tomorrow\"",
    )
    .status(1)
    .run();
}

/// `{{ contact.X }}` is the literal `{{X}}` placeholder the blast API fills in per contact.
#[test]
fn contact_placeholders_in_the_text_plan() {
    Test::new()
        .file(
            "c.yaml",
            r#"
            template: welcome
            language: en
            params:
              - "{{ contact.name }}"
              - "Hello {{ contact.first_name }} from {{ contact.city }}"
            search:
              tag: runners
            "#,
        )
        .args(["plan", "c.yaml", "--now", "2026-11-30T03:35:00Z"])
        .stdout_contains("    + blast  [\"{{name}}\",\"Hello {{first_name}} from {{city}}\"]\n")
        .run();
}

/// minijinja's global functions (`range`, `dict`, `namespace`) are available when rendering,
/// but the variable check reports them as undefined variables.
#[test]
fn builtin_functions_are_not_undefined_variables() {
    validate(
        r#"
        template: welcome
        language: en
        params:
          - "{% for i in range(3) %}*{% endfor %}"
          - "{{ dict(a='x').a }}"
        search:
          city: Pune
        "#,
    )
    .stdout(&format!(
        "1 file(s) valid: 1 campaign(s), 1 send(s) rendered\n{NO_CATALOGUE_NOTE}"
    ))
    .run();
}

/// Regression: a filter on a contact placeholder (`upper`) silently sent `{{NAME}}`, which the
/// API does not fill in.
#[test]
fn a_filtered_contact_placeholder_is_an_error() {
    validate(
        r#"
        template: welcome
        language: en
        params:
          - "{{ contact.name | upper }}"
          - "Dear {{ contact.name }}!"
        search:
          city: Pune
        "#,
    )
    .stderr(
        r#"
        c.yaml:4:5: error: param 1: renders to "{{NAME}}": the placeholder {{name}} must reach the API unchanged for it to fill in each contact's name; drop the filter
          |
        4 |   - "{{ contact.name | upper }}"
          |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^
        1 error, 0 warnings
        "#,
    )
    .status(1)
    .run();
}
