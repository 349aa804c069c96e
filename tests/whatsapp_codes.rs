//! WhatsApp's error codes, as the API relays them, end to end: the real binary against the
//! mock API answering each code in a JSON error body (of several shapes), and what is
//! recorded, retried, opted out, held back or stopped. Opt-outs and `--retry-failed` run on
//! both ledgers. The daemon's side is in `daemon`.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;

use crate::apply::{Sandbox, by_recipient, campaign, mobile, mobiles};
use crate::mock_api::Fault;
use crate::world::{NOW, World};

/// 131050 as `error.code`, a number, beside WhatsApp's message.
const OPTED_OUT: &str = r#"{"error":{"code":131050,"message":"Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business."}}"#;
/// 131026 as a top-level `code`, a string of digits.
const UNDELIVERABLE: &str = r#"{"code":"131026","message":"Message undeliverable"}"#;
/// 132001 nested as `details.error_code`, beside the API's own fields.
const NO_TEMPLATE: &str = r#"{"status":"error","code":400,"details":{"error_code":132001,"title":"Template name does not exist in the translation"}}"#;
/// 131049 in a list of errors.
const MARKETING_LIMIT: &str = r#"{"errors":[{"code":131049,"title":"This message was not delivered to maintain healthy ecosystem engagement."}]}"#;
const THROUGHPUT: &str = r#"{"error":{"code":130429,"message":"Rate limit hit"}}"#;
const PAIR_RATE: &str = r#"{"error":{"error_code":"131056","message":"Pair rate limit hit"}}"#;
/// A code campaignctl does not know.
const UNKNOWN_CODE: &str = r#"{"error":{"code":131000,"message":"Something went wrong"}}"#;

/// What only these tests ask of a world.
impl World {
    /// The send of `recipient` in the JSON plan.
    fn planned(&self, recipient: &str) -> Value {
        let plan: Value = serde_json::from_str(&self.plan("json").stdout).unwrap();
        plan["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["sends"].as_array().unwrap())
            .find(|s| s["request"]["to"]["mobile"] == recipient)
            .cloned()
            .unwrap_or_else(|| panic!("{recipient} is not in the plan"))
    }

    /// The row of `recipient` in `status --format json`.
    fn row(&self, recipient: &str) -> Value {
        let status: Value = serde_json::from_str(&self.status("json").stdout).unwrap();
        status["sends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["recipient"] == recipient)
            .cloned()
            .unwrap_or_else(|| panic!("no row for {recipient}"))
    }
}

#[test]
fn a_number_that_stopped_marketing_messages_is_opted_out_and_then_suppressed() {
    for w in World::both("wa_optout") {
        w.sb.write(
            "campaigns/welcome.yaml",
            &campaign("welcome", "Run", &mobiles(1..4)),
        );
        w.sb.mock
            .for_mobile(&mobile(2), Fault::Json(400, OPTED_OUT.to_owned()));
        let run = w.apply(&[]);
        run.assert_code(1);
        let meaning = "the user stopped marketing messages from this business";
        for said in [
            format!("WhatsApp 131050 ({meaning}): the number is added to the ledger's opt-outs"),
            "1 number(s) stopped marketing messages (WhatsApp 131050): added to the ledger's opt-outs".to_owned(),
        ] {
            assert!(run.stdout.contains(&said), "{said}\n{}", run.stdout);
        }
        assert_eq!(w.sb.mock.requests_for(&mobile(2)).len(), 1, "not retried");

        let row = w.row(&mobile(2));
        assert_eq!(
            (&row["status"], &row["wa_code"], &row["wa_meaning"]),
            (
                &Value::from("failed"),
                &Value::from(131050),
                &Value::from(meaning)
            )
        );
        let sent = w.row(&mobile(1));
        assert_eq!(
            (&sent["status"], &sent["wa_code"], &sent["wa_meaning"]),
            (&Value::from("sent"), &Value::Null, &Value::Null)
        );
        let text = w.status("text").stdout;
        assert!(
            text.contains(&format!("}}}} — WhatsApp 131050 ({meaning})")),
            "{text}"
        );

        // The opt-out, with the code as its source.
        let list = w.run(&["optout", "list", "--format", "json"]);
        list.assert_code(0);
        let list: Value = serde_json::from_str(&list.stdout).unwrap();
        let optouts = list["optouts"].as_array().unwrap();
        assert_eq!(optouts.len(), 1, "{optouts:?}");
        assert_eq!(
            (
                &optouts[0]["mobile"],
                &optouts[0]["reason"],
                &optouts[0]["source"]
            ),
            (
                &Value::from(mobile(2)),
                &Value::from(meaning),
                &Value::from("api 131050")
            )
        );

        // From now on it is suppressed, even with --retry-failed, and never requested.
        let planned = w.planned(&mobile(2));
        assert_eq!(planned["state"], "suppressed", "{planned}");
        assert!(
            planned["suppressed_by"]
                .as_str()
                .unwrap()
                .contains("api 131050"),
            "{planned}"
        );
        let again = w.apply(&["--retry-failed"]);
        again.assert_code(0);
        assert!(
            again.stdout.contains("1 suppressed as opted out"),
            "{}",
            again.stdout
        );
        assert_eq!(w.sb.mock.requests_for(&mobile(2)).len(), 1);
        for m in [mobile(1), mobile(3)] {
            assert_eq!(w.sb.mock.deliveries(&m), 1, "{m}");
        }
    }
}

/// A number that opts out in the middle of a run gets none of the run's other messages:
/// the opt-out is recorded right after the answer, and every claim checks the ledger's
/// opt-outs (two campaigns to one number, the first answered 131050). The summary counts
/// numbers that stopped marketing messages, not the sends answered so.
#[test]
fn a_number_that_opts_out_during_a_run_gets_none_of_its_other_messages() {
    let w = World::sqlite();
    w.sb.write(
        "campaigns/a.yaml",
        &campaign("first", "A", &[mobile(1), mobile(2)]),
    );
    w.sb.write(
        "campaigns/b.yaml",
        &campaign("second", "B", &[mobile(1), mobile(3)]),
    );
    w.sb.mock
        .for_mobile(&mobile(1), Fault::Json(400, OPTED_OUT.to_owned()));
    let run = w.apply(&[]);
    run.assert_code(1);
    assert_eq!(
        w.sb.mock.requests_for(&mobile(1)).len(),
        1,
        "the second campaign's send is not made: {}",
        run.stdout
    );
    for said in [
        "Applied: 2 sent, 1 failed,",
        "\n1 send(s) not sent: their number opted out after the plan was made",
        "\n1 number(s) stopped marketing messages (WhatsApp 131050): added to the ledger's opt-outs",
    ] {
        assert!(run.stdout.contains(said), "{said}\n{}", run.stdout);
    }
    for m in [mobile(2), mobile(3)] {
        assert_eq!(w.sb.mock.deliveries(&m), 1, "{m}");
    }
    // Nothing is recorded for the send that was not made, and the plan shows it suppressed.
    let status: Value = serde_json::from_str(&w.status("json").stdout).unwrap();
    let rows = status["sends"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["recipient"] == mobile(1).as_str())
        .count();
    assert_eq!(rows, 1);
    let plan: Value = serde_json::from_str(&w.plan("json").stdout).unwrap();
    let second = plan["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "second")
        .unwrap();
    assert_eq!(second["sends"][0]["state"], "suppressed", "{second}");
    let list = w.run(&["optout", "list", "--format", "csv"]);
    list.assert_code(0);
    assert_eq!(
        list.csv().len(),
        2,
        "a header and one opt-out: {}",
        list.stdout
    );
}

#[test]
fn a_template_error_stops_its_campaign_while_the_other_campaign_goes_on() {
    let sb = Sandbox::new();
    let (broken, fine) = (mobiles(1..201), mobiles(1001..1031));
    sb.write("campaigns/a.yaml", &campaign("broken", "E", &broken));
    sb.write("campaigns/b.yaml", &campaign("fine", "E", &fine));
    for m in &broken {
        sb.mock
            .for_mobile(m, Fault::Json(400, NO_TEMPLATE.to_owned()));
    }
    // Slow answers, and the 64 requests in flight of an unlimited rate: many of the
    // campaign's sends fail together, more than --max-failures, yet the run goes on.
    sb.mock.delay(Duration::from_millis(50));
    let run = sb.apply(&[]);
    run.assert_code(1);
    assert!(!run.stdout.contains("in a row"), "{}", run.stdout);
    let said = "Stopped: campaign `broken` stopped after WhatsApp 132001 (template does not exist in this language, or is not approved): ";
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with(said))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    let not_started: usize = line[said.len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        line.ends_with("of its send(s) not started (nothing recorded for them); every one would fail the same way. Fix the template or its params, then apply again (with --retry-failed for the sends that failed)."),
        "{line}"
    );

    // The other campaign of the run: every recipient delivered once.
    for m in &fine {
        assert_eq!(sb.mock.deliveries(m), 1, "{m}");
    }
    // The stopped one: what was sent is failed with its code, the rest has no row at all
    // (never claimed, or put back), nothing is left in flight.
    let rows = by_recipient(&sb.ledger(), "broken");
    assert!(
        not_started > 0 && !rows.is_empty(),
        "{not_started} {rows:?}"
    );
    assert_eq!(rows.len() + not_started, broken.len(), "{}", run.stdout);
    for (m, row) in &rows {
        assert_eq!(row.status, "failed", "{m}");
        assert_eq!(sb.mock.requests_for(m).len(), 1, "{m}");
    }
    assert_eq!(sb.mock.requests().len(), fine.len() + rows.len());

    // Fixed: the next apply sends the rest, and --retry-failed the failed ones.
    sb.mock.clear_faults();
    sb.apply(&[]).assert_code(0);
    sb.apply(&["--retry-failed"]).assert_code(0);
    for m in broken.iter().chain(&fine) {
        assert_eq!(sb.mock.deliveries(m), 1, "{m}");
    }
}

/// Every template error code stops its campaign, named with its code and meaning, while
/// the other campaigns of the run go on: one run, a campaign per code (132001 is above, and
/// 132015 in `daemon`).
#[test]
fn every_template_error_code_stops_its_campaign_and_the_others_go_on() {
    const CODES: [(u32, &str); 5] = [
        (
            132000,
            "template parameter count mismatch: the params do not match the template's variables",
        ),
        (
            132005,
            "template text too long once translated and filled in",
        ),
        (132007, "template format violates a WhatsApp policy"),
        (
            132012,
            "template parameter format mismatch: a param is not in the format the template expects",
        ),
        (
            132016,
            "template disabled: paused too many times for low quality",
        ),
    ];
    const EACH: usize = 4;
    let sb = Sandbox::new();
    let fine = mobiles(1001..1006);
    sb.write("campaigns/fine.yaml", &campaign("fine", "E", &fine));
    let mut broken = Vec::new();
    for (i, (code, _)) in CODES.iter().enumerate() {
        let numbers = mobiles(100 * (i + 1)..100 * (i + 1) + EACH);
        let name = format!("t{code}");
        sb.write(
            &format!("campaigns/{name}.yaml"),
            &campaign(&name, "E", &numbers),
        );
        // The code in a different place of the body for each campaign.
        let body = match i % 3 {
            0 => format!(r#"{{"error":{{"code":{code},"message":"template error"}}}}"#),
            1 => format!(r#"{{"code":"{code}","message":"template error"}}"#),
            _ => format!(r#"{{"status":"error","code":400,"details":{{"error_code":{code}}}}}"#),
        };
        for m in &numbers {
            sb.mock.for_mobile(m, Fault::Json(400, body.clone()));
        }
        broken.push((name, numbers));
    }
    // One request slot: each campaign's first answer stops it before its next send starts.
    let run = sb.apply(&["--concurrency", "1"]);
    run.assert_code(1);
    assert!(!run.stdout.contains("in a row"), "{}", run.stdout);
    assert!(
        run.stdout.contains("Applied: 5 sent, 5 failed, 0 unknown,"),
        "{}",
        run.stdout
    );
    let status = sb.status_json();
    for ((code, meaning), (name, numbers)) in CODES.iter().zip(&broken) {
        let said = format!(
            "Stopped: campaign `{name}` stopped after WhatsApp {code} ({meaning}): {} of its send(s) not started (nothing recorded for them); every one would fail the same way.",
            EACH - 1
        );
        assert!(run.stdout.contains(&said), "{said}\n{}", run.stdout);
        // One send went out and failed with the code; the others were never requested.
        let requested: usize = numbers.iter().map(|m| sb.mock.requests_for(m).len()).sum();
        assert_eq!(requested, 1, "{name}");
        let rows: Vec<&Value> = status.iter().filter(|s| s["campaign"] == *name).collect();
        assert_eq!(rows.len(), 1, "{name}: {rows:?}");
        assert_eq!(
            (
                &rows[0]["status"],
                &rows[0]["wa_code"],
                &rows[0]["wa_meaning"]
            ),
            (
                &Value::from("failed"),
                &Value::from(*code),
                &Value::from(*meaning)
            ),
            "{name}"
        );
    }
    // The other campaign: every recipient delivered once.
    for m in &fine {
        assert_eq!(sb.mock.deliveries(m), 1, "{m}");
    }
}

#[test]
fn throughput_exceeded_is_retried_and_slows_the_whole_run() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..11);
    sb.write("campaigns/c.yaml", &campaign("busy", "E", &recipients));
    sb.mock
        .for_mobile_first(&mobile(1), 1, Fault::Json(400, THROUGHPUT.to_owned()));
    let run = sb.apply(&["--rate", "20"]);
    run.assert_code(0);
    assert!(run.stdout.contains("(1 retries)"), "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "the API said to slow down (HTTP 429, or WhatsApp 130429), so the run slowed down to"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(sb.mock.requests_for(&mobile(1)).len(), 2);
    for m in &recipients {
        assert_eq!(sb.mock.deliveries(m), 1, "{m}");
    }
    let rows = by_recipient(&sb.ledger(), "busy");
    assert_eq!(
        (rows[&mobile(1)].status.as_str(), rows[&mobile(1)].attempts),
        ("sent", 2)
    );
}

#[test]
fn a_pair_rate_limit_holds_back_only_that_number() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..9);
    sb.write("campaigns/c.yaml", &campaign("pair", "E", &recipients));
    sb.mock
        .for_mobile_first(&mobile(1), 1, Fault::Json(400, PAIR_RATE.to_owned()));
    // One request slot: the others go on only if the number waiting gives it up.
    let run = sb.apply(&["--rate", "20", "--concurrency", "1"]);
    run.assert_code(0);
    assert!(run.stdout.contains("(1 retries)"), "{}", run.stdout);
    assert!(!run.stdout.contains("Slower than asked"), "{}", run.stdout);
    let held = sb.mock.requests_for(&mobile(1));
    assert_eq!(held.len(), 2);
    assert!(
        held[1].at - held[0].at >= Duration::from_secs(6),
        "retried {:?} after the pair rate limit",
        held[1].at - held[0].at
    );
    for m in &recipients[1..] {
        let requests = sb.mock.requests_for(m);
        assert_eq!(requests.len(), 1, "{m}");
        assert!(
            requests[0].at < held[1].at,
            "{m} waited for the number held back"
        );
    }
    for m in &recipients {
        assert_eq!(sb.mock.deliveries(m), 1, "{m}");
    }
    // Recorded as the retry went: sent, on its second attempt, and no code left on it
    // (the last answer carried none).
    let status = sb.status_json();
    let row = status
        .iter()
        .find(|s| s["recipient"] == mobile(1))
        .expect("a row for the number held back");
    assert_eq!(
        (&row["status"], &row["attempts"], &row["wa_code"]),
        (&Value::from("sent"), &Value::from(2), &Value::Null),
        "{row}"
    );
}

#[test]
fn a_marketing_limit_is_failed_and_not_retried_for_a_day() {
    for w in World::both("wa_hold") {
        w.sb.write(
            "campaigns/welcome.yaml",
            &campaign("welcome", "Run", &mobiles(1..4)),
        );
        w.sb.mock
            .for_mobile(&mobile(2), Fault::Json(400, MARKETING_LIMIT.to_owned()));
        let before = Utc::now();
        w.apply(&[]).assert_code(1);
        let after = Utc::now();
        assert_eq!(w.sb.mock.requests_for(&mobile(2)).len(), 1, "not retried");
        let row = w.row(&mobile(2));
        assert_eq!(
            (&row["status"], &row["wa_code"]),
            (&Value::from("failed"), &Value::from(131049))
        );
        let until: DateTime<Utc> = row["retry_not_before"].as_str().unwrap().parse().unwrap();
        let day = TimeDelta::hours(24);
        assert!(
            until >= before + day - TimeDelta::seconds(1) && until <= after + day,
            "{until}"
        );

        // The plan says when it may be retried.
        let shown_at = until.to_rfc3339_opts(SecondsFormat::Secs, true);
        let text = w.plan("text").stdout;
        assert!(
            text.contains(&format!("(failed: retry not before {shown_at})")),
            "{text}"
        );
        let planned = w.planned(&mobile(2));
        assert_eq!(
            (
                &planned["state"],
                &planned["due"],
                &planned["retry_not_before"]
            ),
            (
                &Value::from("failed"),
                &Value::from(false),
                &Value::from(shown_at.as_str())
            )
        );
        assert!(w.status("text").stdout.contains("; retry not before "));
        // So does a saved plan.
        w.run(&["plan", "campaigns", "--now", NOW, "--out", "plan.json"])
            .assert_code(0);
        let shown = w.sb.run(&["show", "plan.json"]);
        shown.assert_code(0);
        assert!(
            shown
                .stdout
                .contains(&format!("(failed: retry not before {shown_at})")),
            "{}",
            shown.stdout
        );

        // --retry-failed leaves it alone until then.
        let again = w.apply(&["--retry-failed"]);
        again.assert_code(0);
        assert!(again.stdout.contains("Nothing to send"), "{}", again.stdout);
        assert_eq!(w.sb.mock.requests_for(&mobile(2)).len(), 1);

        // A day later (the hold moved into the past), --retry-failed sends it.
        w.sb.mock.clear_faults();
        w.execute(
            "UPDATE sends SET retry_not_before = '2026-11-01T00:00:00.000Z'
             WHERE retry_not_before IS NOT NULL",
        );
        w.apply(&["--retry-failed"]).assert_code(0);
        assert_eq!(w.sb.mock.deliveries(&mobile(2)), 1);
        let row = w.row(&mobile(2));
        assert_eq!(
            (&row["status"], &row["wa_code"], &row["retry_not_before"]),
            (&Value::from("sent"), &Value::Null, &Value::Null)
        );
    }
}

#[test]
fn an_undeliverable_number_is_resent_only_with_include_undeliverable() {
    for w in World::both("wa_undeliverable") {
        w.sb.write(
            "campaigns/welcome.yaml",
            &campaign("welcome", "Run", &mobiles(1..5)),
        );
        w.sb.mock
            .for_mobile_first(&mobile(3), 1, Fault::Json(400, UNDELIVERABLE.to_owned()))
            .for_mobile_first(&mobile(4), 1, Fault::Json(400, UNKNOWN_CODE.to_owned()));
        let run = w.apply(&[]);
        run.assert_code(1);
        assert!(
            run.stdout.contains("— WhatsApp 131026 (undeliverable: the number is not on WhatsApp, its app is too old, or its user has not accepted the terms); --retry-failed resends it only with --include-undeliverable"),
            "{}",
            run.stdout
        );
        let (undeliverable, unknown) = (w.row(&mobile(3)), w.row(&mobile(4)));
        assert_eq!(
            (&undeliverable["status"], &undeliverable["wa_code"]),
            (&Value::from("failed"), &Value::from(131026))
        );
        // An unknown code changes nothing: a 400 is failed, as ever.
        assert_eq!(
            (&unknown["status"], &unknown["wa_code"]),
            (&Value::from("failed"), &Value::Null)
        );
        let csv = w.status("csv").csv();
        let wa_code = csv[0].iter().position(|c| c == "wa_code").unwrap();
        let of = |m: &str| csv.iter().find(|r| r[2] == m).unwrap()[wa_code].clone();
        assert_eq!(
            (of(&mobile(3)), of(&mobile(4))),
            ("131026".to_owned(), String::new())
        );
        let text = w.plan("text").stdout;
        assert!(
            text.contains("(failed: undeliverable (WhatsApp 131026): resent only with --retry-failed --include-undeliverable)"),
            "{text}"
        );

        // --retry-failed resends the other failure only; so does its dry run.
        let dry = w.apply(&["--retry-failed", "--dry-run"]);
        assert!(
            dry.stdout.contains("Dry run: 1 send(s) would be sent"),
            "{}",
            dry.stdout
        );
        w.apply(&["--retry-failed"]).assert_code(0);
        assert_eq!(w.sb.mock.deliveries(&mobile(4)), 1);
        assert_eq!(w.sb.mock.requests_for(&mobile(3)).len(), 1);

        // The flag goes with --retry-failed, and then resends it.
        let alone = w.apply(&["--include-undeliverable"]);
        alone.assert_code(1);
        assert!(alone.stderr.contains("--retry-failed"), "{}", alone.stderr);
        let dry = w.apply(&["--retry-failed", "--include-undeliverable", "--dry-run"]);
        assert!(
            dry.stdout.contains("Dry run: 1 send(s) would be sent"),
            "{}",
            dry.stdout
        );
        w.apply(&["--retry-failed", "--include-undeliverable"])
            .assert_code(0);
        for m in mobiles(1..5) {
            assert_eq!(w.sb.mock.deliveries(&m), 1, "{m}");
        }
    }
}
