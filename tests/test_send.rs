//! `apply CAMPAIGN_FILE --to NUMBER [--as RECIPIENT]`: one message, rendered as one of the
//! campaign's recipients gets it, sent to another number and recorded as a test that never
//! stands for the recipient's own send.

use serde_json::Value;

use crate::apply::{Sandbox, campaign, mobile, mobiles};

/// The team's own phone, written as people write it.
const TEAM_PHONE: &str = "+91 98450 00999";
const TEAM_DIGITS: &str = "919845000999";

fn test_send(sb: &Sandbox, extra: &[&str]) -> crate::output::Run {
    let mut args = sb.apply_args(&["--to", TEAM_PHONE]);
    // `apply campaigns ...` names the directory: a test send takes the campaign's file.
    args[1] = "campaigns/welcome.yaml".to_owned();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sb.run(&args)
}

/// The body of the one request the mock received for `to`.
fn only_body(sb: &Sandbox, to: &str) -> Value {
    let requests = sb.mock.requests_for(to);
    assert_eq!(requests.len(), 1, "{to}: {requests:?}");
    requests[0].json()
}

#[test]
fn a_test_send_is_the_first_recipients_message_to_another_number_and_blocks_nothing() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..4);
    sb.write(
        "campaigns/welcome.yaml",
        &campaign("welcome", "Run", &recipients),
    );
    let run = test_send(&sb, &[]);
    run.assert_code(0);
    assert!(
        run.stdout.starts_with(&format!(
            "Test send of campaign `welcome` (template welcome_message, en) to {TEAM_DIGITS}, as its recipient Runner0, {}",
            recipients[0]
        )),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("  param 1: Runner0\n  param 2: Run\n"));
    assert_eq!(
        sb.mock.request_count(),
        1,
        "one request, to the team's phone"
    );
    // The first recipient's exact body, but for the number it goes to.
    let body = only_body(&sb, TEAM_DIGITS);
    assert_eq!(body["to"]["mobile"], TEAM_DIGITS);
    assert_eq!(body["to"]["name"], "Runner0");
    assert_eq!(body["params"], serde_json::json!(["Runner0", "Run"]));
    assert_eq!(body["fb_template"], "welcome_message");

    let rows = sb.status_json();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let key = rows[0]["key"].as_str().unwrap();
    assert!(
        key.starts_with("welcome/test-") && key.ends_with(&format!("/{TEAM_DIGITS}")),
        "{key}"
    );
    assert_eq!(
        (&rows[0]["status"], &rows[0]["test"]),
        (&Value::from("sent"), &Value::from(true))
    );

    // The real apply sends to every recipient, the first one too, each once; the test
    // send is not resent.
    let real = sb.apply(&[]);
    real.assert_code(0);
    for m in &recipients {
        assert_eq!(sb.mock.deliveries(m), 1, "{m}");
    }
    assert_eq!(sb.mock.requests_for(TEAM_DIGITS).len(), 1);
    // And a second test send is a new one.
    test_send(&sb, &[]).assert_code(0);
    assert_eq!(sb.mock.requests_for(TEAM_DIGITS).len(), 2);
}

#[test]
fn a_test_send_renders_the_recipient_named_with_as() {
    let sb = Sandbox::new();
    sb.write(
        "campaigns/welcome.yaml",
        &campaign("welcome", "Run", &mobiles(1..4)),
    );
    let run = test_send(&sb, &["--as", &mobile(3)]);
    run.assert_code(0);
    let body = only_body(&sb, TEAM_DIGITS);
    assert_eq!(body["to"]["name"], "Runner2");
    assert_eq!(body["params"][0], "Runner2");
}

#[test]
fn a_test_send_that_cannot_be_made_says_why_and_sends_nothing() {
    let sb = Sandbox::new();
    sb.write(
        "campaigns/welcome.yaml",
        &campaign("welcome", "Run", &mobiles(1..3)),
    );
    sb.write(
        "campaigns/blast.yaml",
        "name: everyone\ntemplate: welcome_message\nlanguage: en\nparams: [\"{{ contact.name }}\"]\nsearch: {city: Pune}\n",
    );
    let cases: [(&[&str], String); 4] = [
        (
            &["--as", "919845000123"],
            "error: 919845000123 is not a recipient of campaign `welcome`".to_owned(),
        ),
        (
            &["--to", "12345"],
            "error: --to: mobile number `12345`".to_owned(),
        ),
        (
            &["campaigns"],
            "error: --to sends one campaign: give one campaign file, not campaigns".to_owned(),
        ),
        (
            &["campaigns/blast.yaml"],
            "error: campaign `everyone` is a blast to a contact search".to_owned(),
        ),
    ];
    for (extra, said) in cases {
        let mut args = sb.apply_args(&["--to", TEAM_PHONE]);
        args[1] = "campaigns/welcome.yaml".to_owned();
        for pair in extra.chunks(2) {
            match pair {
                [flag, value] if flag.starts_with("--") => {
                    match args.iter().position(|a| a == flag) {
                        Some(i) => args[i + 1] = (*value).to_owned(),
                        None => args.extend([(*flag).to_owned(), (*value).to_owned()]),
                    }
                }
                [path] => args[1] = (*path).to_owned(),
                _ => unreachable!(),
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = sb.run(&args);
        run.assert_code(1);
        assert!(run.stderr.starts_with(&said), "{said}\n{}", run.stderr);
    }
    assert_eq!(sb.mock.request_count(), 0);
    assert!(!sb.state().exists(), "nothing was written");
}
