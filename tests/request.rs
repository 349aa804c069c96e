//! The request bodies in `plan --format json` are exactly the ChitChatLabs API bodies
//! (shared/chitchat-api.md): field names, optional fields left out, params rendered.

use serde_json::{Value, json};

use crate::test::{FIXTURES_CONFIG, Test};

const NOW: &str = "2026-11-30T03:35:00Z";

/// The JSON plan of one campaign file.
fn plan(yaml: &str) -> Value {
    Test::new()
        .file("campaigns/c.yaml", yaml)
        .args(["plan", "--format", "json", "--now", NOW])
        .run()
        .json()
}

fn requests(plan: &Value) -> Vec<Value> {
    plan["campaigns"][0]["sends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["request"].clone())
        .collect()
}

#[test]
fn single_with_media_and_tag() {
    let plan = plan(
        r#"
        name: nov-welcome
        template: habit_run_confirmation_message
        language: en
        media:
          type: image
          link: https://chitchatlabs.github.io/image-service/CCLABS_TENANT/test.png
        tag: test_tag
        vars:
          event: Habit Run November Edition
        params:
          - "{{ recipient.name }}"
          - "{{ event }}"
          - 24th Nov
        recipients:
          - mobile: "919739978284"
            name: Partha
        "#,
    );
    let send = &plan["campaigns"][0]["sends"][0];
    assert_eq!(
        send["request"],
        json!({
            "to": {"mobile": "919739978284", "name": "Partha"},
            "fb_template": "habit_run_confirmation_message",
            "language": "en",
            "file": {
                "type": "image",
                "link": "https://chitchatlabs.github.io/image-service/CCLABS_TENANT/test.png"
            },
            "params": ["Partha", "Habit Run November Edition", "24th Nov"],
            "tag": "test_tag"
        })
    );
    assert_eq!(send["endpoint"], "single");
    assert_eq!(send["key"], "nov-welcome/once/919739978284");
    assert_eq!(send["occurrence"], "once");
    assert_eq!(send["due"], true);
}

/// The body is spliced into the plan as the exact compact JSON `apply` sends, in the
/// documented field order.
#[test]
fn single_body_text_is_compact_and_in_api_order() {
    let output = Test::new()
        .file(
            "campaigns/c.yaml",
            r#"
            template: habit_run_confirmation_message
            language: en
            media:
              type: video
              link: https://example.com/v.mp4
            tag: t1
            params: [a, b]
            recipients:
              - mobile: "919739978284"
                name: Partha
            "#,
        )
        .args(["plan", "--format", "json", "--now", NOW])
        .run();
    assert!(
        output.stdout.contains(
            r#""request":{"to":{"mobile":"919739978284","name":"Partha"},"fb_template":"habit_run_confirmation_message","language":"en","file":{"type":"video","link":"https://example.com/v.mp4"},"params":["a","b"],"tag":"t1"}}"#
        ),
        "{}",
        output.stdout
    );
}

#[test]
fn optional_fields_are_left_out() {
    let plan = plan(
        r#"
        template: hello_world
        language: en_US
        params: []
        recipients:
          - mobile: "+91 97399 78284"
        "#,
    );
    assert_eq!(
        requests(&plan),
        [json!({
            "to": {"mobile": "919739978284"},
            "fb_template": "hello_world",
            "language": "en_US",
            "params": []
        })]
    );
}

/// Spaces, dashes, dots, parentheses and one leading `+` are dropped; unquoted integers work.
#[test]
fn mobiles_are_normalised_in_the_request() {
    let plan = plan(
        r#"
        template: t
        language: en
        params: []
        recipients:
          - mobile: "+91 97399 78284"
          - mobile: "(91) 98450-12345"
          - mobile: "91.98800.11223"
          - mobile: 919820044556
          - mobile: " +1 (415) 555-0100 "
          - mobile: "+44-7700 900.123"
        "#,
    );
    let mobiles: Vec<Value> = requests(&plan)
        .iter()
        .map(|r| r["to"]["mobile"].clone())
        .collect();
    assert_eq!(
        mobiles,
        [
            "919739978284",
            "919845012345",
            "919880011223",
            "919820044556",
            "14155550100",
            "447700900123"
        ]
    );
    // The send keys use the normalised number too.
    assert_eq!(
        plan["campaigns"][0]["sends"][1]["key"],
        "c/once/919845012345"
    );
}

#[test]
fn csv_recipients_become_requests_with_fields() {
    let plan = Test::new()
        .file(
            "campaigns/kit.yaml",
            r#"
            template: kit_pickup
            language: en
            params:
              - "{{ recipient.name | default('runner') }}"
              - "{{ recipient.bib }} at {{ recipient.City }}"
            recipients:
              - file: data/runners.csv
            "#,
        )
        .file(
            "campaigns/data/runners.csv",
            "
            Mobile,Name,bib,City
            +91 97399 78284 , Partha ,M-0101,Bengaluru
            919845012345,,M-0102,Pune
            ",
        )
        .args(["plan", "--format", "json", "--now", NOW])
        .run()
        .json();
    assert_eq!(
        requests(&plan),
        [
            json!({
                "to": {"mobile": "919739978284", "name": "Partha"},
                "fb_template": "kit_pickup",
                "language": "en",
                "params": ["Partha", "M-0101 at Bengaluru"]
            }),
            json!({
                "to": {"mobile": "919845012345"},
                "fb_template": "kit_pickup",
                "language": "en",
                "params": ["runner", "M-0102 at Pune"]
            }),
        ]
    );
}

#[test]
fn blast_request_with_contact_placeholders() {
    let plan = plan(
        r#"
        name: habit-run-blast
        template: habit_run_confirmation_message
        language: en
        media:
          type: document
          link: https://example.com/guide.pdf
        tag: test_tag_bulk
        search:
          name: Partha
        params:
          - "{{ contact.name }}"
          - "Hi {{ contact.first_name }}, see you at {{ contact.city }}!"
          - 24th Nov
        "#,
    );
    let send = &plan["campaigns"][0]["sends"][0];
    assert_eq!(
        send["request"],
        json!({
            "searchSpec": {"name": "Partha"},
            "fb_template": "habit_run_confirmation_message",
            "language": "en",
            "file": {"type": "document", "link": "https://example.com/guide.pdf"},
            "params": ["{{name}}", "Hi {{first_name}}, see you at {{city}}!", "24th Nov"],
            "tag": "test_tag_bulk"
        })
    );
    assert_eq!(send["endpoint"], "blast");
    assert_eq!(send["key"], "habit-run-blast/once/blast");
    assert_eq!(plan["campaigns"][0]["kind"], "blast");
    assert_eq!(plan["campaigns"][0]["sends"].as_array().unwrap().len(), 1);
}

/// The search mapping is passed through as `searchSpec`, values and nesting included.
#[test]
fn blast_search_spec_is_passed_through() {
    let plan = plan(
        r#"
        template: t
        language: en
        params: []
        search:
          city: Bengaluru
          age: 30
          active: true
          tags: [runner, "2026"]
          address: {pin: "560001"}
        "#,
    );
    assert_eq!(
        requests(&plan),
        [json!({
            "searchSpec": {
                "city": "Bengaluru",
                "age": 30,
                "active": true,
                "tags": ["runner", "2026"],
                "address": {"pin": "560001"}
            },
            "fb_template": "t",
            "language": "en",
            "params": []
        })]
    );
}

#[test]
fn run_at_is_the_occurrence_in_the_schedule_time_zone() {
    let plan = Test::new()
        .file(
            "campaigns/checkin.yaml",
            r#"
            template: daily_checkin
            language: en
            params:
              - "{{ run.at | date('%A, %d %B %Y %H:%M') }}"
              - "{{ run.at }}"
              - "{{ run.at | date }}"
              - "{{ run.occurrence }}"
              - "{{ campaign.name }}"
            recipients:
              - mobile: "919739978284"
            schedule:
              cron: "0 9 * * MON-FRI"
              timezone: Asia/Kolkata
              catch_up: 30m
            "#,
        )
        .args(["plan", "--format", "json", "--now", NOW])
        .run()
        .json();
    let send = &plan["campaigns"][0]["sends"][0];
    assert_eq!(
        send["request"]["params"],
        json!([
            "Monday, 30 November 2026 09:00",
            "2026-11-30T09:00:00+05:30",
            "2026-11-30",
            "2026-11-30T03:30:00Z",
            "checkin"
        ])
    );
    assert_eq!(send["key"], "checkin/2026-11-30T03:30:00Z/919739978284");
    // Before the occurrence, the plan lists the next one, rendered for its own date.
    let plan = Test::new()
        .file(
            "campaigns/checkin.yaml",
            r#"
            template: daily_checkin
            language: en
            params:
              - "{{ run.at | date('%a %d %b') }}"
            search: {segment: cohort}
            schedule:
              cron: "0 9 * * MON-FRI"
              timezone: Asia/Kolkata
            "#,
        )
        .args(["plan", "--format", "json", "--now", "2026-11-28T00:00:00Z"])
        .run()
        .json();
    let send = &plan["campaigns"][0]["sends"][0];
    assert_eq!(send["request"]["params"], json!(["Mon 30 Nov"]));
    assert_eq!(send["due"], false);
}

#[test]
fn run_at_of_an_unscheduled_campaign_is_now_in_utc() {
    let plan = plan(
        r#"
        template: t
        language: en
        params:
          - "{{ run.at }}"
          - "{{ run.occurrence }}"
        search: {name: x}
        "#,
    );
    assert_eq!(
        plan["campaigns"][0]["sends"][0]["request"]["params"],
        json!(["2026-11-30T03:35:00Z", "once"])
    );
}

#[test]
fn vars_of_any_shape_are_usable() {
    let plan = plan(
        r#"
        template: t
        language: en
        vars:
          venue_by_city:
            Pune: Balewadi
          distances: [5, 10, 21]
          year: 2026
        params:
          - "{{ venue_by_city[recipient.city] }}"
          - "{{ distances | join('/') }} km"
          - "{{ year + 1 }}"
          - "{{ recipient.name | upper }}"
        recipients:
          - mobile: "919739978284"
            name: Asha
            city: Pune
        "#,
    );
    assert_eq!(
        requests(&plan)[0]["params"],
        json!(["Balewadi", "5/10/21 km", "2027", "ASHA"])
    );
}

/// Recipient fields that are YAML numbers or booleans render as their text.
#[test]
fn scalar_recipient_fields_render_as_text() {
    let plan = plan(
        r#"
        template: t
        language: en
        params:
          - "{{ recipient.bib }}"
          - "{{ recipient.pace }}"
          - "{{ recipient.vip }}"
          - "{{ recipient.answer }}"
        recipients:
          - mobile: "919739978284"
            bib: 101
            pace: 5.5
            vip: true
            answer: no
        "#,
    );
    assert_eq!(
        requests(&plan)[0]["params"],
        json!(["101", "5.5", "true", "no"])
    );
}

/// YAML anchors and `<<` merges apply to recipients; explicit keys win over merged ones.
#[test]
fn merge_keys_apply() {
    let plan = Test::in_repo()
        .args([
            "plan",
            "--config",
            FIXTURES_CONFIG,
            "tests/fixtures/valid/ok_merge_keys.yaml",
            "--format",
            "json",
            "--now",
            NOW,
        ])
        .run()
        .json();
    let params: Vec<Value> = requests(&plan)
        .iter()
        .map(|r| r["params"].clone())
        .collect();
    assert_eq!(
        params,
        [
            json!(["Partha (Bengaluru)", "Habit Run November Edition"]),
            json!(["Asha (Pune)", "Habit Run November Edition"])
        ]
    );
}
