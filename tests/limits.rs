//! WhatsApp's rules of the project file end to end, on both ledgers: the daily number of
//! unique recipients, frequency caps across campaigns, and send windows read on each
//! recipient's clock. The daemon's side is in `daemon`.

use chrono::{SecondsFormat, Utc};
use serde_json::Value;

use crate::apply::{campaign, mobile, mobiles};
use crate::world::World;

/// The instant real sends are recorded at, for `--now`: the limits count the ledger's
/// recorded timestamps, which are real time.
fn real_now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The sends of the JSON plan: `(campaign, recipient, state, due, the send itself)`.
fn sends(plan: &Value) -> Vec<(String, String, String, bool, Value)> {
    plan["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| {
            c["sends"].as_array().unwrap().iter().map(move |s| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    s["request"]["to"]["mobile"]
                        .as_str()
                        .unwrap_or("blast")
                        .to_owned(),
                    s["state"].as_str().unwrap().to_owned(),
                    s["due"].as_bool().unwrap(),
                    s.clone(),
                )
            })
        })
        .collect()
}

#[test]
fn the_daily_limit_sends_what_it_allows_and_the_rest_once_the_24_hours_free_up() {
    for w in World::both("limits_daily") {
        w.sb.write("campaignctl.yaml", "limits:\n  daily_recipients: 10\n");
        w.sb.write("campaigns/a.yaml", &campaign("a", "A", &mobiles(1..16)));
        w.sb.write("campaigns/b.yaml", &campaign("b", "B", &mobiles(16..26)));
        let now = real_now();
        let plan = w.run(&["plan", "campaigns", "--now", &now, "--format", "json"]);
        plan.assert_code(0);
        let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
        assert_eq!(
            plan["summary"]["daily_limit"],
            serde_json::json!({"limit": 10, "used": 0, "needed": 10, "waiting": 15, "uncounted_blasts": 0})
        );
        let waiting = sends(&plan)
            .into_iter()
            .filter(|s| s.2 == "waiting")
            .collect::<Vec<_>>();
        assert_eq!(waiting.len(), 15);
        assert_eq!(waiting[0].4["waiting"]["reason"], "daily_limit");

        let run = w.apply_at(&now, &[]);
        run.assert_code(0);
        assert_eq!(w.sb.mock.delivery_count(), 10, "{}", run.stdout);
        for said in [
            "Daily limit: 10 unique recipient(s) in any 24 hours; 0 messaged in the last 24 hours, 10 more in this plan, 15 wait for the 24 hours to free up.",
            "a: 5 over the daily limit (`apply` again then sends them): 5 wait",
            "b: 10 over the daily limit (`apply` again then sends them): 10 wait",
        ] {
            assert!(run.stdout.contains(said), "{said}\n{}", run.stdout);
        }
        // Nothing more today, whoever asks.
        let again = w.apply_at(&real_now(), &[]);
        again.assert_code(0);
        assert!(again.stdout.contains("Nothing to send"), "{}", again.stdout);
        assert_eq!(w.sb.mock.delivery_count(), 10);

        // A day later the 24 hours have room again: ten more, each number once.
        w.age_ledger(25);
        let later = w.apply_at(&real_now(), &[]);
        later.assert_code(0);
        assert_eq!(w.sb.mock.delivery_count(), 20, "{}", later.stdout);
        assert!(w.sb.mock.all_deliveries().values().all(|n| *n == 1));
        assert!(
            later
                .stdout
                .contains("0 messaged in the last 24 hours, 10 more in this plan, 5 wait"),
            "{}",
            later.stdout
        );
    }
}

/// A catalogue naming `welcome_message` (what [`campaign`] sends) a marketing template, and
/// `receipt` a utility one; a cap of one marketing message per recipient per week.
const CAPPED_PROJECT: &str = "templates:
  - {name: welcome_message, languages: [en], category: marketing, params: 2}
  - {name: receipt, languages: [en], category: utility, params: 1}
limits:
  per_recipient:
    - {max: 1, per: 7d, category: marketing}
";

fn receipt(name: &str, to: &str) -> String {
    format!(
        "name: {name}\ntemplate: receipt\nlanguage: en\nparams: [\"{{{{ recipient.name }}}}\"]\nrecipients:\n  - {{mobile: \"{to}\", name: R}}\n"
    )
}

#[test]
fn a_frequency_cap_holds_back_a_second_marketing_message_across_campaigns() {
    for w in World::both("limits_caps") {
        w.sb.write("campaignctl.yaml", CAPPED_PROJECT);
        let (m1, m2, m3) = (mobile(1), mobile(2), mobile(3));
        w.sb.write(
            "campaigns/a.yaml",
            &campaign("a", "A", &[m1.clone(), m2.clone()]),
        );
        w.sb.write(
            "campaigns/b.yaml",
            &campaign("b", "B", &[m2.clone(), m3.clone()]),
        );
        w.sb.write("campaigns/c.yaml", &receipt("c", &m2));
        let now = real_now();
        let plan = w.run(&["plan", "campaigns", "--now", &now, "--format", "json"]);
        plan.assert_code(0);
        let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
        let capped: Vec<_> = sends(&plan)
            .into_iter()
            .filter(|s| s.2 == "capped")
            .collect();
        assert_eq!(capped.len(), 1, "{plan}");
        assert_eq!(
            (capped[0].0.as_str(), capped[0].1.as_str()),
            ("b", m2.as_str())
        );
        assert_eq!(
            capped[0].4["capped"],
            serde_json::json!({
                "cap": "1 marketing message(s) per 7d",
                "count": 1,
                "against": [format!("a/once/{m2}")]
            })
        );

        let run = w.apply_at(&now, &[]);
        run.assert_code(0);
        // a's two, b's other, and c's utility message to the capped number.
        assert_eq!(w.sb.mock.delivery_count(), 4, "{}", run.stdout);
        assert_eq!(w.sb.mock.deliveries(&m2), 2);
        assert!(
            run.stdout.contains(
                "b: 1 capped, not sent (resend with --retry-capped once the cap allows):"
            ),
            "{}",
            run.stdout
        );
        let status: Value = serde_json::from_str(&w.status("json").stdout).unwrap();
        let row = status["sends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == format!("b/once/{m2}"))
            .unwrap()
            .clone();
        assert_eq!(row["status"], "capped", "{row}");
        assert_eq!(row["category"], "marketing");

        // Recorded: not sent again, not even once the week has passed, unless asked.
        w.age_ledger(8 * 24);
        let later = w.apply_at(&real_now(), &[]);
        later.assert_code(0);
        assert_eq!(w.sb.mock.delivery_count(), 4, "{}", later.stdout);
        let asked = w.apply_at(&real_now(), &["--retry-capped"]);
        asked.assert_code(0);
        assert_eq!(w.sb.mock.requests_for(&m2).len(), 3, "{}", asked.stdout);
        // Asked again within the week, the cap holds it back once more.
        w.sb.write(
            "campaigns/d.yaml",
            &campaign("d", "D", std::slice::from_ref(&m2)),
        );
        let capped_again = w.apply_at(&real_now(), &[]);
        capped_again.assert_code(0);
        assert_eq!(w.sb.mock.requests_for(&m2).len(), 3);
    }
}

/// A window open until 22:00 on the recipient's clock: at 03:00 in India it is 21:30 the
/// evening before in London and 16:30 in New York.
const WINDOW_PROJECT: &str = "window:\n  hours: \"09:00-22:00\"\n";
const AT_3AM_IST: &str = "2026-12-07T03:00:00+05:30";

#[test]
fn a_send_window_is_read_on_each_recipients_clock_and_apply_sends_what_is_inside() {
    let w = World::sqlite();
    w.sb.write("campaignctl.yaml", WINDOW_PROJECT);
    let (india, britain) = ("+91 97399 78284", "+44 7400 123456");
    w.sb.write(
        "campaigns/mixed.yaml",
        &format!(
            "template: welcome_message\nlanguage: en\nparams: [\"{{{{ recipient.name }}}}\", x]\nrecipients:\n  - {{mobile: \"{india}\", name: Asha}}\n  - {{mobile: \"{britain}\", name: Ben}}\n  - file: people.csv\n"
        ),
    );
    // A column says where this recipient is: her number is Indian, she lives in New York.
    w.sb.write(
        "campaigns/people.csv",
        "mobile,name,timezone\n919739978285,Chitra,America/New_York\n",
    );
    let plan = w.run(&["plan", "campaigns", "--now", AT_3AM_IST, "--format", "json"]);
    plan.assert_code(0);
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    let by_number: Vec<(String, String, Value, Value)> = sends(&plan)
        .into_iter()
        .map(|(_, to, state, _, send)| (to, state, send["window"].clone(), send["waiting"].clone()))
        .collect();
    assert_eq!(
        by_number,
        [
            (
                "919739978284".to_owned(),
                "waiting".to_owned(),
                serde_json::json!({"zone": "Asia/Kolkata", "zone_from": "country"}),
                serde_json::json!({"reason": "window", "until": "2026-12-07T03:30:00Z"}),
            ),
            (
                "447400123456".to_owned(),
                "new".to_owned(),
                serde_json::json!({"zone": "Europe/London", "zone_from": "country"}),
                Value::Null,
            ),
            (
                "919739978285".to_owned(),
                "new".to_owned(),
                serde_json::json!({"zone": "America/New_York", "zone_from": "recipient"}),
                Value::Null,
            ),
        ]
    );
    let text = w.run(&["plan", "campaigns", "--now", AT_3AM_IST]);
    assert!(
        text.stdout.contains(
            "  window       09:00-22:00 MON-SUN, each recipient's time zone, max_delay 24h: 2 inside now, 1 wait (until 2026-12-07T03:30:00Z)"
        ),
        "{}",
        text.stdout
    );

    let run = w.apply_at(AT_3AM_IST, &[]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("mixed: 1 outside their send window (`apply` again then sends them): 1 wait (until 2026-12-07T03:30:00Z)"),
        "{}",
        run.stdout
    );
    assert_eq!(w.sb.mock.deliveries("447400123456"), 1);
    assert_eq!(w.sb.mock.deliveries("919739978285"), 1);
    assert_eq!(w.sb.mock.deliveries("919739978284"), 0);
    // At 09:05 in India her window is open: she gets it, the others nothing more.
    let run = w.apply_at("2026-12-07T09:05:00+05:30", &[]);
    run.assert_code(0);
    assert_eq!(w.sb.mock.delivery_count(), 3, "{}", run.stdout);
    assert_eq!(w.sb.mock.deliveries("919739978284"), 1);
}

#[test]
fn a_saved_plan_records_who_waits_and_is_stale_once_a_planned_window_has_closed() {
    let w = World::sqlite();
    w.sb.write("campaignctl.yaml", WINDOW_PROJECT);
    w.sb.write(
        "campaigns/mixed.yaml",
        "template: welcome_message\nlanguage: en\nparams: [x, y]\nrecipients:\n  - {mobile: \"+91 97399 78284\"}\n  - {mobile: \"+44 7400 123456\"}\n",
    );
    let saved = w.sb.path("plan.json");
    let save = w.run(&[
        "plan",
        "campaigns",
        "--now",
        AT_3AM_IST,
        "--out",
        saved.to_str().unwrap(),
    ]);
    save.assert_code(0);
    let show =
        w.sb.run(&["show", saved.to_str().unwrap(), "--format", "json"]);
    show.assert_code(0);
    let shown: Value = serde_json::from_str(&show.stdout).unwrap();
    let first = &shown["campaigns"][0];
    assert_eq!(first["sends"][0]["state"], "waiting", "{first}");
    assert_eq!(
        first["sends"][0]["waiting"],
        serde_json::json!({"reason": "window", "until": "2026-12-07T03:30:00Z"})
    );
    assert_eq!(first["window"]["hours"], "09:00-22:00");

    // Applied 40 minutes later, the British recipient's window (until 22:00) has closed.
    let apply = w.run(&[
        "apply",
        saved.to_str().unwrap(),
        "--now",
        "2026-12-07T03:40:00+05:30",
        "--rate",
        "0",
    ]);
    apply.assert_code(1);
    assert!(
        apply.stderr.contains(
            "1 planned send(s) are outside their send window now (the first: 447400123456 in Europe/London)"
        ),
        "{}",
        apply.stderr
    );
    assert_eq!(w.sb.mock.request_count(), 0);
}

#[test]
fn a_bad_window_or_limit_is_an_error_at_its_place() {
    let w = World::sqlite();
    w.sb.write(
        "campaignctl.yaml",
        "window:\n  hours: \"09:00-20:00\"\n  days: MON-FUN\nlimits:\n  per_recipient:\n    - {max: 2, per: soon}\n    - {max: 1, per: 7d, category: marketing}\n",
    );
    w.sb.write(
        "campaigns/a.yaml",
        "template: welcome_message\nlanguage: en\nparams: [x]\nrecipients: [{mobile: \"919739978284\"}]\nwindow:\n  hours: \"9-5\"\n",
    );
    let run = w.sb.run(&["validate", "campaigns"]);
    run.assert_code(1);
    for said in [
        "campaignctl.yaml:3:9: error: `MON-FUN`",
        "campaignctl.yaml:6:21: error: `soon` is not a duration such as 24h, 7d or 30d",
        "campaignctl.yaml:7:35: error: a cap by category needs the template catalogue",
        "campaigns/a.yaml:6:10: error: `9-5`: hours are HH:MM-HH:MM, e.g. 09:00-20:00",
    ] {
        assert!(run.stderr.contains(said), "{said}\n{}", run.stderr);
    }
}
