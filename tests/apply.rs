//! `campaignctl apply` end to end: the real binary against the mock ChitChatLabs API
//! (tests/mock_api.rs) on loopback, each test in its own directory with its own ledger.
//!
//! Exactly-once is checked from both sides: the mock counts a delivery only when it answers
//! 2xx, and the ledger (read with rusqlite and with `campaignctl status`) must say the same.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use crate::mock_api::{Answer, BLAST_PATH, Fault, MockApi, OK_BODY, SINGLE_PATH};
use crate::output::Run;

const BIN: &str = env!("CARGO_BIN_EXE_campaignctl");
/// A key distinctive enough to grep for in every output and file.
const KEY: &str = "cc-live-7Qx9-SECRET-d41d8cd98f00b204";
const NOW: &str = "2026-11-30T09:00:00+05:30";
/// Upper bound for any wait on the mock (generous: the suite runs tests in parallel).
const WAIT: Duration = Duration::from_secs(30);

/// `919000000000 + i`: distinct valid mobile numbers.
pub(crate) fn mobile(i: usize) -> String {
    format!("9190000{i:05}")
}

/// A single-send campaign file: template `welcome_message`, params name and `vars.event`.
pub(crate) fn campaign(name: &str, event: &str, recipients: &[String]) -> String {
    let mut text = format!(
        "name: {name}\n\
         template: welcome_message\n\
         language: en\n\
         tag: {name}_tag\n\
         vars:\n  event: {event}\n\
         params:\n  - \"{{{{ recipient.name }}}}\"\n  - \"{{{{ event }}}}\"\n\
         recipients:\n"
    );
    for (i, m) in recipients.iter().enumerate() {
        text.push_str(&format!("  - mobile: \"{m}\"\n    name: Runner{i}\n"));
    }
    text
}

pub(crate) fn mobiles(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(mobile).collect()
}

/// One test's world: a temporary directory (campaign files, ledger) and a mock API.
pub(crate) struct Sandbox {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) mock: MockApi,
}

impl Sandbox {
    pub(crate) fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("tempdir"),
            mock: MockApi::start(),
        }
    }

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub(crate) fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// The ledger of this test (passed with `--state`).
    pub(crate) fn state(&self) -> PathBuf {
        self.path("state/ledger.db")
    }

    /// `campaignctl ARGS` in the sandbox, with the API key and the mock's URL, no terminal.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("CAMPAIGNCTL_STATE")
            .env("CHITCHAT_API_KEY", KEY)
            .env("CHITCHAT_BASE_URL", self.mock.url())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run campaignctl"))
    }

    /// `apply campaigns --yes --now NOW --state STATE --rate 0 EXTRA...`; `--rate 0`
    /// (unlimited, fast tests) unless EXTRA gives a rate.
    pub(crate) fn apply_args(&self, extra: &[&str]) -> Vec<String> {
        let state = self.state().display().to_string();
        let mut args = vec![
            "apply",
            "campaigns",
            "--yes",
            "--now",
            NOW,
            "--state",
            &state,
        ];
        if !extra.contains(&"--rate") {
            args.extend(["--rate", "0"]);
        }
        args.extend(extra);
        args.into_iter().map(str::to_owned).collect()
    }

    pub(crate) fn apply(&self, extra: &[&str]) -> Run {
        let args = self.apply_args(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&args)
    }

    pub(crate) fn spawn_apply(&self, extra: &[&str]) -> Child {
        let args = self.apply_args(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.command(&args).spawn().expect("spawn campaignctl")
    }

    pub(crate) fn plan(&self, format: &str) -> Run {
        let state = self.state().display().to_string();
        self.run(&[
            "plan",
            "campaigns",
            "--now",
            NOW,
            "--format",
            format,
            "--state",
            &state,
        ])
    }

    /// `plan --format json`, parsed.
    pub(crate) fn plan_json(&self) -> Value {
        let run = self.plan("json");
        run.assert_code(0);
        serde_json::from_str(&run.stdout).expect("plan JSON")
    }

    /// `status --format json`, parsed: the `sends` array.
    pub(crate) fn status_json(&self) -> Vec<Value> {
        let state = self.state().display().to_string();
        let run = self.run(&["status", "--state", &state, "--format", "json"]);
        run.assert_code(0);
        let value: Value = serde_json::from_str(&run.stdout).expect("status JSON");
        value["sends"].as_array().expect("sends array").clone()
    }

    pub(crate) fn ledger(&self) -> Vec<Row> {
        ledger_rows(&self.state())
    }
}

/// A row of the `sends` table, read straight from the SQLite file.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) key: String,
    pub(crate) campaign: String,
    pub(crate) recipient: String,
    pub(crate) endpoint: String,
    pub(crate) request: String,
    pub(crate) status: String,
    pub(crate) attempts: i64,
    pub(crate) http_status: Option<i64>,
    pub(crate) response: Option<String>,
    pub(crate) error: Option<String>,
}

fn ledger_rows(path: &Path) -> Vec<Row> {
    assert!(path.exists(), "no ledger at {}", path.display());
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the ledger");
    let mut stmt = conn
        .prepare(
            "SELECT key, campaign, recipient, endpoint, request, status, attempts, http_status,
                    response, error
             FROM sends ORDER BY key",
        )
        .unwrap();
    stmt.query_map([], |row| {
        Ok(Row {
            key: row.get(0)?,
            campaign: row.get(1)?,
            recipient: row.get(2)?,
            endpoint: row.get(3)?,
            request: row.get(4)?,
            status: row.get(5)?,
            attempts: row.get(6)?,
            http_status: row.get(7)?,
            response: row.get(8)?,
            error: row.get(9)?,
        })
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Rows by recipient for one campaign.
pub(crate) fn by_recipient(rows: &[Row], campaign: &str) -> BTreeMap<String, Row> {
    rows.iter()
        .filter(|r| r.campaign == campaign)
        .map(|r| (r.recipient.clone(), r.clone()))
        .collect()
}

pub(crate) fn count_status(rows: &[Row], status: &str) -> usize {
    rows.iter().filter(|r| r.status == status).count()
}

/// Recipients of the requests with index `from..` (one run's requests).
fn recipients_since(mock: &MockApi, from: usize) -> Vec<String> {
    mock.requests()[from..]
        .iter()
        .map(|r| r.recipient.clone().expect("request with a recipient"))
        .collect()
}

fn set(items: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    items.into_iter().collect()
}

/// The plan's sends by key: (endpoint, state, due, request).
fn planned(plan: &Value) -> BTreeMap<String, (String, String, bool, Value)> {
    let mut out = BTreeMap::new();
    for campaign in plan["campaigns"].as_array().unwrap() {
        for send in campaign["sends"].as_array().unwrap() {
            out.insert(
                send["key"].as_str().unwrap().to_owned(),
                (
                    send["endpoint"].as_str().unwrap().to_owned(),
                    send["state"].as_str().unwrap().to_owned(),
                    send["due"].as_bool().unwrap(),
                    send["request"].clone(),
                ),
            );
        }
    }
    out
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM failed");
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_owned()
}

#[test]
fn sends_exact_paths_headers_and_bodies_as_planned() {
    let sb = Sandbox::new();
    sb.write(
        "campaigns/welcome.yaml",
        r#"name: welcome
template: welcome_message
language: en
media:
  type: image
  link: https://example.com/poster.png
tag: welcome_tag
vars:
  event: Habit Run
params:
  - "{{ recipient.name | default('runner') }}"
  - "{{ event }}"
recipients:
  - mobile: "+91 98450 12345"
    name: Asha
  - mobile: 919000000002
    name: Ravi
  - mobile: "919000000003"
"#,
    );
    sb.write(
        "campaigns/blast.yaml",
        r#"name: city-blast
template: habit_run_confirmation_message
language: en_US
search:
  city: Bengaluru
params:
  - "{{ contact.name }}"
  - November
"#,
    );
    let plan = planned(&sb.plan_json());
    assert_eq!(plan.len(), 4);
    assert!(
        !sb.state().exists(),
        "plan must not create the ledger it reads"
    );

    let run = sb.apply(&[]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("Applied: 4 sent, 0 failed, 0 unknown, 0 skipped as already sent."),
        "{}",
        run.stdout
    );

    let requests = sb.mock.requests();
    assert_eq!(requests.len(), 4, "{requests:#?}");
    let mut seen = BTreeSet::new();
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert_eq!(request.header("x-tenant-api-key"), KEY);
        assert_eq!(request.header("content-type"), "application/json");
        // A declared length, not chunked framing.
        assert_eq!(
            request.header("content-length"),
            request.body_text().len().to_string()
        );
        assert!(request.header_values("transfer-encoding").is_empty());
        let recipient = request.recipient.clone().unwrap();
        let campaign = if recipient == "blast" {
            "city-blast"
        } else {
            "welcome"
        };
        let key = format!("{campaign}/once/{recipient}");
        let (endpoint, state, due, body) = &plan[&key];
        assert_eq!((state.as_str(), *due), ("new", true));
        let path = match endpoint.as_str() {
            "single" => SINGLE_PATH,
            "blast" => BLAST_PATH,
            other => panic!("endpoint {other}"),
        };
        assert_eq!(request.path, path);
        assert_eq!(&request.json(), body, "body of {key} differs from the plan");
        assert_eq!(request.answer, Some(Answer::Delivered));
        seen.insert(key);
    }
    assert_eq!(seen.len(), 4, "one request per planned send");

    // Byte-exact bodies (compact JSON, fields in the API's order, normalised number).
    let asha = sb.mock.requests_for("919845012345");
    assert_eq!(
        asha[0].body_text(),
        r#"{"to":{"mobile":"919845012345","name":"Asha"},"fb_template":"welcome_message","language":"en","file":{"type":"image","link":"https://example.com/poster.png"},"params":["Asha","Habit Run"],"tag":"welcome_tag"}"#
    );
    let blast = sb.mock.requests_for("blast");
    assert_eq!(
        blast[0].body_text(),
        r#"{"searchSpec":{"city":"Bengaluru"},"fb_template":"habit_run_confirmation_message","language":"en_US","params":["{{name}}","November"]}"#
    );
    for recipient in ["919845012345", "919000000002", "919000000003", "blast"] {
        assert_eq!(sb.mock.deliveries(recipient), 1, "{recipient}");
    }

    // The ledger: one `sent` row per send with the exact request and the API's answer.
    let rows = sb.ledger();
    assert_eq!(rows.len(), 4);
    for row in &rows {
        let request = requests
            .iter()
            .find(|r| r.recipient.as_deref() == Some(row.recipient.as_str()))
            .unwrap();
        assert_eq!(row.status, "sent", "{row:?}");
        assert_eq!(row.attempts, 1);
        assert_eq!(row.http_status, Some(200));
        assert_eq!(row.response.as_deref(), Some(OK_BODY));
        assert_eq!(row.error, None);
        assert_eq!(row.request, request.body_text());
        assert_eq!(
            row.endpoint,
            if row.recipient == "blast" {
                "blast"
            } else {
                "single"
            }
        );
    }

    // Re-applying the same files sends nothing and succeeds.
    let again = sb.apply(&[]);
    again.assert_code(0);
    assert!(
        again.stdout.contains("Nothing to send ("),
        "{}",
        again.stdout
    );
    assert_eq!(sb.mock.requests().len(), 4);
}

#[test]
fn reapply_converges_new_recipients_only_and_edited_params_are_not_resent() {
    let sb = Sandbox::new();
    sb.write(
        "campaigns/c.yaml",
        &campaign("conv", "Habit Run", &mobiles(1..3)),
    );
    sb.apply(&[]).assert_code(0);
    assert_eq!(sb.mock.requests().len(), 2);

    let again = sb.apply(&[]);
    again.assert_code(0);
    assert!(
        again.stdout.contains("Nothing to send ("),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains("conv: 0 due, 2 already sent"),
        "{}",
        again.stdout
    );
    assert_eq!(sb.mock.requests().len(), 2, "re-apply sent something");

    // A recipient added to an applied campaign: only the new one is sent.
    sb.write(
        "campaigns/c.yaml",
        &campaign("conv", "Habit Run", &mobiles(1..4)),
    );
    let added = sb.apply(&[]);
    added.assert_code(0);
    assert!(
        added
            .stdout
            .contains("Applied: 1 sent, 0 failed, 0 unknown, 2 skipped as already sent."),
        "{}",
        added.stdout
    );
    assert_eq!(recipients_since(&sb.mock, 2), vec![mobile(3)]);

    // Params edited after the sends: nothing is resent, plan says `sent (changed since)`.
    sb.write(
        "campaigns/c.yaml",
        &campaign("conv", "Habit Run Finale", &mobiles(1..4)),
    );
    let text = sb.plan("text");
    text.assert_code(0);
    for m in mobiles(1..4) {
        let line = text
            .stdout
            .lines()
            .find(|l| l.contains(&m))
            .unwrap_or_else(|| panic!("{m} not in the plan:\n{}", text.stdout));
        assert!(line.trim_start().starts_with('~'), "{line}");
        assert!(line.ends_with("(sent (changed since))"), "{line}");
    }
    assert!(
        text.stdout
            .contains("3 single, 0 due, 3 sent (changed since)"),
        "{}",
        text.stdout
    );
    for (key, (_, state, due, request)) in planned(&sb.plan_json()) {
        assert_eq!(
            (state.as_str(), due),
            ("sent_changed_since", false),
            "{key}"
        );
        assert_eq!(request["params"][1], "Habit Run Finale");
    }
    let edited = sb.apply(&[]);
    edited.assert_code(0);
    assert!(
        edited.stdout.contains("Nothing to send ("),
        "{}",
        edited.stdout
    );
    assert_eq!(sb.mock.requests().len(), 3);
    for m in mobiles(1..4) {
        assert_eq!(sb.mock.deliveries(&m), 1, "{m}");
    }
    // The ledger keeps what was actually sent.
    for row in sb.ledger() {
        assert_eq!(row.status, "sent");
        assert!(row.request.contains("\"Habit Run\""), "{}", row.request);
    }
}

/// After a run with retried faults: every recipient delivered exactly once, the ledger all
/// `sent`, and each row's attempts equal to the requests the mock saw for it.
#[track_caller]
fn assert_each_delivered_once(sb: &Sandbox, campaign: &str, recipients: &[String]) {
    let rows = sb.ledger();
    let rows = by_recipient(&rows, campaign);
    assert_eq!(rows.len(), recipients.len());
    for m in recipients {
        assert_eq!(sb.mock.deliveries(m), 1, "deliveries to {m}");
        let row = &rows[m];
        assert_eq!(row.key, format!("{campaign}/once/{m}"));
        assert_eq!(row.status, "sent", "{row:?}");
        assert_eq!(row.http_status, Some(200), "{row:?}");
        assert_eq!(
            row.attempts as usize,
            sb.mock.requests_for(m).len(),
            "attempts of {m}"
        );
    }
}

#[test]
fn server_errors_are_retried_until_each_message_is_delivered_exactly_once() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..6);
    sb.write("campaigns/c.yaml", &campaign("fives", "E", &recipients));
    sb.mock
        .fail_first(3, Fault::Status(500))
        .for_mobile_first(&mobile(4), 2, Fault::Status(503));
    // A 500 may have been processed: retried only when asked.
    let run = sb.apply(&["--concurrency", "2", "--retry-ambiguous"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains(
            "Applied: 5 sent, 0 failed, 0 unknown, 0 skipped as already sent (5 retries)."
        ),
        "{}",
        run.stdout
    );
    assert_eq!(sb.mock.requests().len(), 10);
    assert!(sb.mock.requests_for(&mobile(4)).len() >= 3);
    assert_each_delivered_once(&sb, "fives", &recipients);
}

#[test]
fn rate_limits_are_retried_after_retry_after_and_delivered_exactly_once() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..4);
    sb.write("campaigns/c.yaml", &campaign("limited", "E", &recipients));
    sb.mock
        .for_mobile_first(&mobile(1), 1, Fault::RateLimited)
        .for_mobile_first(&mobile(2), 1, Fault::RateLimited);
    let run = sb.apply(&[]);
    run.assert_code(0);
    assert!(run.stdout.contains("(2 retries)"), "{}", run.stdout);
    for m in [mobile(1), mobile(2)] {
        let requests = sb.mock.requests_for(&m);
        assert_eq!(requests.len(), 2, "{m}");
        assert_eq!(requests[0].answer, Some(Answer::Fault(Fault::RateLimited)));
        assert_eq!(requests[1].answer, Some(Answer::Delivered));
        let waited = requests[1].at - requests[0].at;
        assert!(
            waited >= Duration::from_secs(1),
            "retried {m} after {waited:?}, before Retry-After: 1"
        );
    }
    assert_each_delivered_once(&sb, "limited", &recipients);
}

#[test]
fn connection_resets_are_retried_until_each_message_is_delivered_exactly_once() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..5);
    sb.write("campaigns/c.yaml", &campaign("resets", "E", &recipients));
    sb.mock
        .for_mobile_first(&mobile(2), 2, Fault::Reset)
        .for_mobile_first(&mobile(3), 1, Fault::Reset);
    // A close after the request was read may follow a processed request: retried only when
    // asked.
    let run = sb.apply(&["--concurrency", "2", "--retry-ambiguous"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains(
            "Applied: 4 sent, 0 failed, 0 unknown, 0 skipped as already sent (3 retries)."
        ),
        "{}",
        run.stdout
    );
    let answers: Vec<_> = sb
        .mock
        .requests_for(&mobile(2))
        .into_iter()
        .map(|r| r.answer)
        .collect();
    assert_eq!(
        answers,
        vec![
            Some(Answer::Fault(Fault::Reset)),
            Some(Answer::Fault(Fault::Reset)),
            Some(Answer::Delivered)
        ]
    );
    assert_each_delivered_once(&sb, "resets", &recipients);
}

#[test]
fn a_400_is_recorded_failed_with_its_body_not_retried_and_retry_failed_resends_only_it() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..5);
    let bad = mobile(2);
    let error_body = r#"{"error":"invalid parameter","detail":"template param 1 is empty"}"#;
    sb.write("campaigns/c.yaml", &campaign("perm", "E", &recipients));
    sb.mock
        .for_mobile(&bad, Fault::Json(400, error_body.to_owned()));

    let run = sb.apply(&[]);
    run.assert_code(1);
    assert!(
        run.stdout
            .contains("Applied: 3 sent, 1 failed, 0 unknown, 0 skipped as already sent."),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Failed (resend with --retry-failed):"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("  perm/once/{bad}: HTTP 400: {error_body}")),
        "{}",
        run.stdout
    );
    assert_eq!(
        sb.mock.requests_for(&bad).len(),
        1,
        "a 400 must not be retried"
    );
    assert_eq!(sb.mock.requests().len(), 4);
    assert_eq!(sb.mock.deliveries(&bad), 0);

    // `status --format json` and the SQLite file agree.
    let status = sb.status_json();
    assert_eq!(status.len(), 4);
    let failed: Vec<&Value> = status.iter().filter(|s| s["status"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["key"], format!("perm/once/{bad}"));
    assert_eq!(failed[0]["recipient"], bad.as_str());
    assert_eq!(failed[0]["http_status"], 400);
    assert_eq!(failed[0]["response"], error_body);
    assert_eq!(failed[0]["attempts"], 1);
    let rows = sb.ledger();
    let row = &by_recipient(&rows, "perm")[&bad];
    assert_eq!(
        (row.status.as_str(), row.http_status, row.attempts),
        ("failed", Some(400), 1)
    );
    assert_eq!(row.response.as_deref(), Some(error_body));
    assert_eq!(count_status(&rows, "sent"), 3);
    let text = sb.run(&["status", "--state", &sb.state().display().to_string()]);
    text.assert_code(0);
    assert!(
        text.stdout.contains(&format!("HTTP 400: {error_body}")),
        "{}",
        text.stdout
    );

    // Without --retry-failed the failure is left alone.
    let plain = sb.apply(&[]);
    plain.assert_code(0);
    assert!(
        plain
            .stdout
            .contains("perm: 0 due, 3 already sent, 1 failed"),
        "{}",
        plain.stdout
    );
    assert_eq!(sb.mock.requests().len(), 4);

    // With it, only the failed send goes out again.
    sb.mock.clear_faults();
    let retried = sb.apply(&["--retry-failed"]);
    retried.assert_code(0);
    assert!(
        retried
            .stdout
            .contains("Applied: 1 sent, 0 failed, 0 unknown, 3 skipped as already sent."),
        "{}",
        retried.stdout
    );
    assert_eq!(recipients_since(&sb.mock, 4), vec![bad.clone()]);
    let rows = sb.ledger();
    let row = &by_recipient(&rows, "perm")[&bad];
    assert_eq!(
        (row.status.as_str(), row.http_status, row.attempts),
        ("sent", Some(200), 2)
    );
    assert_eq!(count_status(&rows, "sent"), 4);
    for m in &recipients {
        assert_eq!(sb.mock.deliveries(m), 1, "{m}");
    }
}

/// The header of `status --format csv`.
const CSV_HEADER: &str = "campaign,occurrence,recipient,status,attempts,http_status,wa_code,reason,created_at,updated_at";

/// `status --format csv`: a header, then one row per send in the order of campaign,
/// occurrence and recipient, with the reason of each failure as `status` shows it and CSV
/// quoting where a field needs it; `--since` (a duration or an instant), `--campaign` and
/// `--status` narrow it, and `--since` narrows the text and JSON output too.
#[test]
fn status_csv_has_a_row_per_send_with_its_reason_and_filters_by_since_campaign_and_state() {
    let sb = Sandbox::new();
    let state = sb.state().display().to_string();
    let (sent, failed, unknown) = (mobile(1), mobile(2), mobile(3));
    // A reason with commas, quotes and a backslash: all must survive the round trip.
    let error_body = r#"{"error":"invalid parameter","detail":"param 1, \"name\", is empty"}"#;
    sb.write(
        "campaigns/c.yaml",
        &campaign(
            "export",
            "E",
            &[unknown.clone(), sent.clone(), failed.clone()],
        ),
    );
    sb.mock
        .for_mobile(&failed, Fault::Json(400, error_body.to_owned()))
        .for_mobile(&unknown, Fault::Status(500));
    let run = sb.apply(&[]);
    run.assert_code(1);
    assert!(
        run.stdout
            .contains("Applied: 1 sent, 1 failed, 1 unknown, 0 skipped as already sent."),
        "{}",
        run.stdout
    );
    // A second campaign, applied after `between`. Its name sorts after `export`, its keys
    // before (`-` comes before `/`): rows come by campaign, not by key.
    std::thread::sleep(Duration::from_millis(20));
    let between = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    std::thread::sleep(Duration::from_millis(20));
    sb.write(
        "campaigns/later.yaml",
        &campaign("export-later", "E", &[mobile(4)]),
    );
    sb.apply(&[]).assert_code(0);

    let csv = |extra: &[&str]| {
        let mut args = vec!["status", "--state", &state, "--format", "csv"];
        args.extend(extra);
        let run = sb.run(&args);
        run.assert_code(0);
        assert!(
            run.stdout.starts_with(&format!("{CSV_HEADER}\n")),
            "{}",
            run.stdout
        );
        run
    };
    let all = csv(&[]);
    // The failure's reason, quoted: in quotes, each quote doubled.
    let quoted = format!("\"HTTP 400: {}\"", error_body.replace('"', "\"\""));
    assert!(
        all.stdout.contains(&format!(",failed,1,400,,{quoted},")),
        "{}",
        all.stdout
    );
    let records = all.csv();
    assert_eq!(records[0].join(","), CSV_HEADER);
    // Each row against `status --format json` (created_at and updated_at included).
    let json: BTreeMap<String, Value> = sb
        .status_json()
        .into_iter()
        .map(|s| (s["key"].as_str().unwrap().to_owned(), s))
        .collect();
    let row = |recipient: &str, status: &str, http: &str, reason: &str| {
        let campaign = if recipient == mobile(4) {
            "export-later"
        } else {
            "export"
        };
        let sent = &json[&format!("{campaign}/once/{recipient}")];
        [
            campaign,
            "once",
            recipient,
            status,
            "1",
            http,
            "",
            reason,
            sent["created_at"].as_str().unwrap(),
            sent["updated_at"].as_str().unwrap(),
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let expected = [
        row(&sent, "sent", "200", ""),
        row(&failed, "failed", "400", &format!("HTTP 400: {error_body}")),
        row(
            &unknown,
            "unknown",
            "500",
            r#"HTTP 500: {"error":"mock fault"}"#,
        ),
        row(&mobile(4), "sent", "200", ""),
    ];
    assert_eq!(records[1..], expected[..]);

    // --since: an instant, or a duration back from now.
    assert_eq!(csv(&["--since", &between]).csv()[1..], expected[3..]);
    assert_eq!(csv(&["--since", "1h"]).csv()[1..], expected[..]);
    assert_eq!(
        csv(&["--since", "2999-01-01T00:00:00Z"]).stdout,
        format!("{CSV_HEADER}\n")
    );
    // --campaign and --status.
    assert_eq!(csv(&["--campaign", "export"]).csv()[1..], expected[..3]);
    assert_eq!(
        csv(&["--campaign", "export", "--status", "failed"]).csv()[1..],
        expected[1..2]
    );
    assert_eq!(
        csv(&["--status", "sent", "--since", &between]).csv()[1..],
        expected[3..]
    );

    // --since narrows text and JSON the same way.
    let text = sb.run(&["status", "--state", &state, "--since", &between]);
    text.assert_code(0);
    assert_eq!(text.stdout, "campaign export-later\n  once: 1 sent\n");
    let none = sb.run(&[
        "status",
        "--state",
        &state,
        "--since",
        "2999-01-01T00:00:00Z",
    ]);
    assert_eq!(
        none.assert_code(0).stdout,
        format!("No sends recorded in {state} (for this filter).\n")
    );
    let json = sb.run(&[
        "status", "--state", &state, "--format", "json", "--since", &between,
    ]);
    let value: Value = serde_json::from_str(&json.assert_code(0).stdout).unwrap();
    let keys: Vec<&str> = value["sends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, [format!("export-later/once/{}", mobile(4))]);

    // A --since that is neither is refused, saying what it takes.
    let bad = sb.run(&[
        "status",
        "--state",
        &state,
        "--format",
        "csv",
        "--since",
        "yesterday",
    ]);
    bad.assert_code(1);
    assert!(
        bad.stderr.contains("--since") && bad.stderr.contains("RFC 3339"),
        "{}",
        bad.stderr
    );
    assert_eq!(bad.stdout, "");
}

/// An HTTPS server on loopback whose certificate (tests/fixtures/tls, for `localhost`) no
/// platform trusts. It counts the connections it accepts; every handshake fails.
struct UntrustedTlsServer {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl UntrustedTlsServer {
    fn start() -> UntrustedTlsServer {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
        let cert = CertificateDer::from_pem_file(fixtures.join("localhost.crt")).unwrap();
        let key = PrivateKeyDer::from_pem_file(fixtures.join("localhost.key")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert], key)
                .unwrap(),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        // Blocks in accept until the test binary exits.
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                counted.fetch_add(1, Ordering::SeqCst);
                let mut tls = rustls::ServerConnection::new(config.clone()).unwrap();
                let _ = tls.complete_io(&mut stream);
            }
        });
        UntrustedTlsServer { port, connections }
    }
}

/// A certificate the client rejects fails the send at once, recorded `failed` with the
/// reason, and stops the run: trying again cannot help, and every other send would fail
/// the same way: not retried with backoff like a refused connection.
#[test]
fn a_rejected_tls_certificate_fails_at_once_with_the_reason_and_stops_the_run() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..6);
    sb.write("campaigns/c.yaml", &campaign("tls", "E", &recipients));
    let server = UntrustedTlsServer::start();
    let args = sb.apply_args(&["--concurrency", "1"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = Run::from(
        sb.command(&args)
            .env(
                "CHITCHAT_BASE_URL",
                format!("https://localhost:{}", server.port),
            )
            .output()
            .unwrap(),
    );
    run.assert_code(1);
    let reason = format!(
        "the TLS certificate of localhost:{} was rejected: invalid peer certificate",
        server.port
    );
    let stopped = format!("Stopped: {reason}");
    assert!(run.stdout.contains(&stopped), "{}", run.stdout);
    assert!(
        run.stdout.contains("every send would fail the same way"),
        "{}",
        run.stdout
    );
    // The send that failed, and at most one more that started before the stop: the rest
    // were put back, and nothing is left in flight.
    let rows = sb.ledger();
    assert!((1..=2).contains(&rows.len()), "{} rows", rows.len());
    for row in &rows {
        assert_eq!(
            (row.status.as_str(), row.attempts),
            ("failed", 1),
            "{}",
            row.key
        );
        assert!(
            row.error.as_deref().unwrap().starts_with(&reason),
            "{:?}",
            row.error
        );
    }
    assert_eq!(
        server.connections.load(Ordering::SeqCst),
        rows.len(),
        "one connection per failed send: none was retried"
    );
}

#[test]
fn missing_api_key_is_a_clear_error_and_nothing_is_sent() {
    let sb = Sandbox::new();
    sb.write("campaigns/c.yaml", &campaign("nokey", "E", &mobiles(1..3)));
    for key in [None, Some(""), Some("   ")] {
        let args = sb.apply_args(&[]);
        let mut command = sb.command(&args.iter().map(String::as_str).collect::<Vec<_>>());
        match key {
            None => command.env_remove("CHITCHAT_API_KEY"),
            Some(key) => command.env("CHITCHAT_API_KEY", key),
        };
        let run = Run::from(command.output().unwrap());
        run.assert_code(1);
        assert!(
            run.stderr.contains("error: CHITCHAT_API_KEY is not set"),
            "{key:?}: {}",
            run.stderr
        );
        assert_eq!(sb.mock.requests().len(), 0);
        if sb.state().exists() {
            assert_eq!(sb.ledger().len(), 0, "rows written without a key");
        }
    }
}

#[test]
fn missing_api_key_writes_nothing() {
    let sb = Sandbox::new();
    sb.write("campaigns/c.yaml", &campaign("nokey", "E", &mobiles(1..3)));
    let mut command = sb.command(&["apply", "campaigns", "--yes", "--now", NOW]);
    command.env_remove("CHITCHAT_API_KEY");
    let run = Run::from(command.output().unwrap());
    run.assert_code(1);
    assert_eq!(sb.mock.requests().len(), 0);
    assert!(
        !sb.path(".campaignctl").exists(),
        "a run refused for a missing key created {}",
        sb.path(".campaignctl/state.db").display()
    );
}

#[test]
fn the_api_key_never_appears_in_output_or_in_the_ledger() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..6);
    sb.write("campaigns/c.yaml", &campaign("secret", "E", &recipients));
    sb.mock
        .for_mobile(
            &mobile(1),
            Fault::Json(401, r#"{"error":"bad key"}"#.to_owned()),
        )
        .for_mobile_first(&mobile(2), 1, Fault::Status(500))
        .for_mobile_first(&mobile(3), 1, Fault::Reset)
        .for_mobile_first(&mobile(4), 1, Fault::RateLimited);
    let state = sb.state().display().to_string();
    let runs = [
        sb.apply(&["--dry-run"]),
        sb.apply(&["--retry-ambiguous"]),
        sb.apply(&["--retry-failed", "--retry-ambiguous"]),
        sb.plan("text"),
        sb.plan("json"),
        sb.run(&["status", "--state", &state]),
        sb.run(&["status", "--state", &state, "--format", "json"]),
    ];
    assert!(sb.mock.requests().len() >= 8);
    assert!(
        sb.mock
            .requests()
            .iter()
            .all(|r| r.header("x-tenant-api-key") == KEY)
    );
    for run in &runs {
        assert!(!run.stdout.contains(KEY), "key in stdout:\n{}", run.stdout);
        assert!(!run.stderr.contains(KEY), "key in stderr:\n{}", run.stderr);
    }
    // Every file of the ledger (database, WAL, shared memory, lock), byte for byte.
    let mut files = 0;
    for entry in std::fs::read_dir(sb.path("state")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        files += 1;
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "the API key is in {}",
            path.display()
        );
    }
    assert!(files >= 2, "expected the ledger and its lock file");
}

#[test]
fn plain_http_is_refused_unless_the_host_is_loopback() {
    let sb = Sandbox::new();
    sb.write(
        "campaigns/c.yaml",
        &campaign("insecure", "E", &mobiles(1..3)),
    );
    let args = sb.apply_args(&[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    for url in [
        "http://example.com",
        "http://10.0.0.1:8080",
        "http://[::2]:80",
        "http://127.0.0.1.nip.io",
        "http://localhost.example.com",
        "http://127.0.0.1@example.com",
    ] {
        let run = Run::from(
            sb.command(&args)
                .env("CHITCHAT_BASE_URL", url)
                .output()
                .unwrap(),
        );
        run.assert_code(1);
        assert!(
            run.stderr.contains(&format!(
                "CHITCHAT_BASE_URL `{url}` uses plain http://, which is refused except on loopback"
            )),
            "{url}: {}",
            run.stderr
        );
    }
    assert_eq!(sb.mock.requests().len(), 0);
    if sb.state().exists() {
        assert_eq!(sb.ledger().len(), 0);
    }
    // Loopback by name is allowed.
    let url = format!("http://localhost:{}", sb.mock.addr().port());
    let run = Run::from(
        sb.command(&args)
            .env("CHITCHAT_BASE_URL", &url)
            .output()
            .unwrap(),
    );
    run.assert_code(0);
    assert_eq!(sb.mock.requests().len(), 2);
}

#[test]
fn without_yes_and_without_a_terminal_apply_refuses_and_sends_nothing() {
    let sb = Sandbox::new();
    sb.write(
        "campaigns/c.yaml",
        &campaign("confirm", "E", &mobiles(1..3)),
    );
    let state = sb.state().display().to_string();
    let run = sb.run(&[
        "apply",
        "campaigns",
        "--rate",
        "0",
        "--now",
        NOW,
        "--state",
        &state,
    ]);
    run.assert_code(1);
    assert!(
        run.stderr.contains(
            "error: refusing to send without confirmation: stdin is not a terminal; pass --yes"
        ),
        "{}",
        run.stderr
    );
    // Refused before anything was planned against, created or locked.
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_eq!(sb.mock.requests().len(), 0);
    assert!(!sb.state().exists(), "a refused apply created the ledger");
}

#[test]
fn an_invalid_file_among_valid_ones_reports_every_problem_and_sends_nothing() {
    let sb = Sandbox::new();
    sb.write(
        "campaigns/a.yaml",
        &campaign("valid-a", "E", &mobiles(1..3)),
    );
    sb.write(
        "campaigns/c.yaml",
        &campaign("valid-c", "E", &mobiles(3..5)),
    );
    sb.write(
        "campaigns/b.yaml",
        "name: broken\n\
         tempalte: welcome_message\n\
         language: en-US\n\
         params:\n  - \"{{ recipient.name }}\"\n\
         recipients:\n  - mobile: \"12\"\n    name: X\n",
    );
    let run = sb.apply(&[]);
    run.assert_code(1);
    for expected in [
        "campaigns/b.yaml:1:1: error: missing required key `template`",
        "campaigns/b.yaml:2:1: error: unknown key `tempalte`",
        "campaigns/b.yaml:3:11: error: `en-US` is not a WhatsApp template language code",
        "campaigns/b.yaml:7:13: error: mobile number `12` (read as +1 2) is not a valid number",
        "4 errors, 0 warnings",
    ] {
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
    }
    assert!(!run.stdout.contains("Applied"), "{}", run.stdout);
    assert_eq!(sb.mock.requests().len(), 0);
    if sb.state().exists() {
        assert_eq!(sb.ledger().len(), 0);
    }
}

/// Regression: apply read a CSV file once to validate it and again to send it, so rows
/// edited while it sent (for hours at a slow rate) went out without being validated, or not
/// at all. It now validates and sends from a copy taken before either.
#[test]
fn regression_a_csv_file_edited_during_apply_changes_nothing_that_is_sent() {
    let sb = Sandbox::new();
    // More rows than apply plans ahead of its requests (about a thousand), long enough to
    // fill more than its read buffer (256 KiB): most rows are read after the edit.
    const ROWS: usize = 3000;
    let note = "n".repeat(200);
    let csv = |name: &str| {
        let mut text = "mobile,name,note\n".to_owned();
        for i in 0..ROWS {
            text.push_str(&format!("{},{name}{i:05},{note}\n", mobile(i)));
        }
        text
    };
    sb.write("campaigns/recipients.csv", &csv("Valid"));
    sb.write(
        "campaigns/c.yaml",
        "name: pinned\ntemplate: welcome_message\nlanguage: en\n\
         params:\n  - \"{{ recipient.name }}\"\nrecipients:\n  - file: recipients.csv\n",
    );
    sb.mock.delay(Duration::from_millis(300));
    let child = sb.spawn_apply(&["--concurrency", "4"]);
    assert!(
        sb.mock.wait_until(WAIT, |m| !m.requests().is_empty()),
        "apply never sent"
    );
    // Rewritten in place, to the same length: a reader still open on the file would read
    // on into the new text.
    std::fs::write(sb.path("campaigns/recipients.csv"), csv("Edit_")).unwrap();
    sb.mock.delay(Duration::ZERO);
    let run = Run::from(child.wait_with_output().unwrap());
    run.assert_code(0);

    let requests = sb.mock.requests();
    let names: BTreeSet<String> = requests
        .iter()
        .map(|r| r.json()["params"][0].as_str().unwrap()[..5].to_owned())
        .collect();
    assert_eq!(names, set(["Valid".to_owned()]));
    assert_eq!(requests.len(), ROWS);
    assert_eq!(sb.mock.all_deliveries().len(), ROWS);
}

#[test]
fn the_progress_line_comes_while_nothing_finishes() {
    // Without a terminal, a line every 5 s: also while the only send waits for its answer.
    let sb = Sandbox::new();
    let recipients = mobiles(1..2);
    sb.write("campaigns/c.yaml", &campaign("slow", "E", &recipients));
    sb.mock.delay(Duration::from_secs(7));
    let run = sb.apply(&[]);
    run.assert_code(0);
    assert!(
        run.stderr
            .contains("progress: 0/1 (0 sent, 0 failed, 0 unknown), 0/s\n"),
        "no progress line while the send was in flight:\n{}",
        run.stderr
    );
    assert_each_delivered_once(&sb, "slow", &recipients);
}

#[test]
fn a_second_apply_on_a_ledger_in_use_is_refused_naming_the_holder() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..7);
    sb.write("campaigns/c.yaml", &campaign("locked", "E", &recipients));
    sb.mock.delay(Duration::from_millis(250));
    let first = sb.spawn_apply(&["--concurrency", "1"]);
    assert!(
        sb.mock.wait_until(WAIT, |m| !m.requests().is_empty()),
        "the first apply never sent"
    );

    // The second run uses another key, so any request it made would be visible.
    let args = sb.apply_args(&[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = chrono::Utc::now();
    let second = Run::from(
        sb.command(&args)
            .env("CHITCHAT_API_KEY", "second-run-key")
            .output()
            .unwrap(),
    );
    let mut first = first;
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first apply finished before the second started: the test proves nothing"
    );
    second.assert_code(1);
    let prefix = format!(
        "error: the ledger {} is in use by `campaignctl apply` (pid {} on {}, since ",
        sb.state().display(),
        first.id(),
        hostname()
    );
    let line = second
        .stderr
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("expected `{prefix}…`, got:\n{}", second.stderr));
    let since = line[prefix.len()..].split(')').next().unwrap();
    let since = chrono::DateTime::parse_from_rfc3339(since).expect("`since` is RFC 3339");
    let age = started.signed_duration_since(since);
    assert!(
        age >= chrono::TimeDelta::seconds(-1) && age <= chrono::TimeDelta::seconds(60),
        "since {since} vs now {started}"
    );
    assert!(
        line.ends_with("only one apply or run may use a ledger at a time"),
        "{line}"
    );
    assert_eq!(second.stdout, "", "the refused run printed a plan");

    let first = Run::from(first.wait_with_output().unwrap());
    first.assert_code(0);
    assert!(
        sb.mock
            .requests()
            .iter()
            .all(|r| r.header("x-tenant-api-key") == KEY),
        "the refused run sent a request"
    );
    assert_each_delivered_once(&sb, "locked", &recipients);
    assert_eq!(sb.mock.requests().len(), 6);
}

#[test]
fn sigkill_mid_apply_leaves_unknown_rows_and_the_next_apply_sends_every_other_message_once() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..21);
    sb.write("campaigns/c.yaml", &campaign("killed", "E", &recipients));
    sb.mock.delay(Duration::from_millis(150));
    let mut child = sb.spawn_apply(&["--concurrency", "2"]);
    sb.mock.wait_for_deliveries(6, WAIT);
    child.kill().unwrap(); // SIGKILL
    let killed = Run::from(child.wait_with_output().unwrap());
    assert_eq!(killed.signal, Some(9), "{killed:?}");
    // Requests the dead process left with the mock finish (or are abandoned) first.
    sb.mock.wait_idle(WAIT);
    sb.mock.delay(Duration::ZERO);
    let first_run = sb.mock.requests().len();
    let delivered_before: HashMap<String, usize> = sb.mock.all_deliveries();

    let rows = sb.ledger();
    let in_flight = set(rows
        .iter()
        .filter(|r| r.status == "in_flight")
        .map(|r| r.recipient.clone()));
    let sent = set(rows
        .iter()
        .filter(|r| r.status == "sent")
        .map(|r| r.recipient.clone()));
    assert!(!in_flight.is_empty(), "no send was in flight: {rows:#?}");
    assert_eq!(in_flight.len() + sent.len(), rows.len(), "{rows:#?}");
    assert!(rows.len() < recipients.len(), "the run was not interrupted");
    // Every `sent` row was delivered exactly once.
    for m in &sent {
        assert_eq!(delivered_before.get(m), Some(&1), "{m}");
    }
    // `plan` (read-only) sees the rows as in flight, and does not change them.
    let plan = planned(&sb.plan_json());
    let in_flight_planned = plan.values().filter(|p| p.1 == "in_flight").count();
    assert_eq!(in_flight_planned, in_flight.len());

    // The next apply turns them into `unknown`, does not resend them, sends the rest.
    let next = sb.apply(&["--concurrency", "2"]);
    next.assert_code(0);
    assert!(
        next.stderr.contains(&format!(
            "note: {} send(s) were in flight when an earlier run stopped",
            in_flight.len()
        )),
        "{}",
        next.stderr
    );
    let resent = recipients_since(&sb.mock, first_run);
    let expected: BTreeSet<String> = recipients
        .iter()
        .filter(|m| !in_flight.contains(*m) && !sent.contains(*m))
        .cloned()
        .collect();
    assert_eq!(resent.len(), expected.len(), "a message was sent twice");
    assert_eq!(set(resent), expected);
    let rows = sb.ledger();
    assert_eq!(count_status(&rows, "in_flight"), 0);
    let unknown = set(rows
        .iter()
        .filter(|r| r.status == "unknown")
        .map(|r| r.recipient.clone()));
    assert_eq!(unknown, in_flight);
    assert_eq!(
        count_status(&rows, "sent"),
        recipients.len() - unknown.len()
    );
    for row in rows.iter().filter(|r| r.status == "unknown") {
        assert!(
            row.error
                .as_deref()
                .unwrap_or("")
                .contains("may or may not"),
            "{row:?}"
        );
    }
    for m in recipients.iter().filter(|m| !unknown.contains(*m)) {
        assert_eq!(sb.mock.deliveries(m), 1, "{m}");
    }

    // Unknown sends stay put on a plain apply...
    let plain = sb.apply(&[]);
    plain.assert_code(0);
    assert!(
        plain.stdout.contains("Nothing to send ("),
        "{}",
        plain.stdout
    );
    // ...and go out, exactly those, with --retry-unknown.
    let before = sb.mock.requests().len();
    let retried = sb.apply(&["--retry-unknown"]);
    retried.assert_code(0);
    assert_eq!(set(recipients_since(&sb.mock, before)), unknown);
    assert_eq!(sb.mock.requests().len() - before, unknown.len());
    let rows = sb.ledger();
    assert_eq!(count_status(&rows, "sent"), recipients.len());
    for m in &unknown {
        // Delivered once now, plus once before the kill if the mock had answered it then.
        let earlier = delivered_before.get(m).copied().unwrap_or(0);
        assert_eq!(sb.mock.deliveries(m), earlier + 1, "{m}");
    }
}

#[test]
fn sigterm_mid_apply_stops_cleanly_and_the_next_apply_completes_the_rest_once() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..21);
    sb.write("campaigns/c.yaml", &campaign("termed", "E", &recipients));
    sb.mock.delay(Duration::from_millis(200));
    let child = sb.spawn_apply(&["--concurrency", "2"]);
    sb.mock.wait_for_deliveries(4, WAIT);
    terminate(&child);
    let stopped = Run::from(child.wait_with_output().unwrap());
    stopped.assert_code(1);
    assert!(
        stopped.stderr.contains("stopping: no new sends"),
        "{}",
        stopped.stderr
    );
    assert!(
        stopped.stdout.contains("Stopped: interrupted."),
        "{}",
        stopped.stdout
    );
    sb.mock.wait_idle(WAIT);
    sb.mock.delay(Duration::ZERO);

    // Nothing in flight or unknown: the sends in flight were waited for and recorded.
    let rows = sb.ledger();
    assert_eq!(count_status(&rows, "in_flight"), 0, "{rows:#?}");
    assert_eq!(count_status(&rows, "unknown"), 0, "{rows:#?}");
    assert_eq!(count_status(&rows, "sent"), rows.len());
    let delivered = sb.mock.requests().len();
    assert_eq!(rows.len(), delivered, "every request answered is recorded");
    assert!(delivered < recipients.len(), "the run was not interrupted");
    assert!(
        stopped.stdout.contains(&format!(
            "Applied: {delivered} sent, 0 failed, 0 unknown, 0 skipped as already sent."
        )),
        "{}",
        stopped.stdout
    );

    let next = sb.apply(&[]);
    next.assert_code(0);
    assert!(
        next.stdout.contains(&format!(
            "Applied: {} sent, 0 failed, 0 unknown, {delivered} skipped as already sent.",
            recipients.len() - delivered
        )),
        "{}",
        next.stdout
    );
    assert!(!next.stderr.contains("were in flight"), "{}", next.stderr);
    assert_eq!(sb.mock.requests().len(), recipients.len());
    assert_each_delivered_once(&sb, "termed", &recipients);
}

#[test]
fn more_consecutive_failures_than_max_failures_stop_the_run_early() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..61);
    sb.write("campaigns/c.yaml", &campaign("failing", "E", &recipients));
    sb.mock.fail_first(
        usize::MAX,
        Fault::Json(403, r#"{"error":"template not approved"}"#.to_owned()),
    );
    let run = sb.apply(&["--concurrency", "1", "--max-failures", "3"]);
    run.assert_code(1);
    assert!(
        run.stdout.contains(
            "Stopped: stopped early: 4 sends failed in a row (is the API or the key wrong?)"
        ),
        "{}",
        run.stdout
    );
    // The recorder counts failures after committing them, so a few more sends may have
    // left by the time the stop is seen; far from all 60.
    let requests = sb.mock.requests().len();
    assert!(
        (4..=20).contains(&requests),
        "{requests} requests: the run did not stop soon after 4 failures"
    );
    // The ledger keeps what happened: one `failed` row per request, nothing else.
    let rows = sb.ledger();
    assert_eq!(rows.len(), requests, "{rows:#?}");
    for row in &rows {
        assert_eq!(
            (row.status.as_str(), row.http_status, row.attempts),
            ("failed", Some(403), 1)
        );
    }
    assert!(
        run.stdout.contains(&format!(
            "Applied: 0 sent, {requests} failed, 0 unknown, 0 skipped as already sent."
        )),
        "{}",
        run.stdout
    );
}

/// Applies campaigns `a` and `b`, which share the mobile `shared`: it must be sent once per
/// campaign, the two requests at least 6 s apart, without holding back the other sends.
fn same_mobile_in_two_campaigns(a: &[String], b: &[String], shared: &str, extra: &[&str]) {
    let sb = Sandbox::new();
    sb.write("campaigns/a.yaml", &campaign("pair-a", "A", a));
    sb.write("campaigns/b.yaml", &campaign("pair-b", "B", b));
    let run = sb.apply(extra);
    run.assert_code(0);
    let total = a.len() + b.len();
    assert!(
        run.stdout.contains(&format!(
            "Applied: {total} sent, 0 failed, 0 unknown, 0 skipped as already sent."
        )),
        "{}",
        run.stdout
    );
    let to_shared = sb.mock.requests_for(shared);
    assert_eq!(to_shared.len(), 2, "{shared} is in both campaigns");
    let campaigns: BTreeSet<String> = to_shared
        .iter()
        .map(|r| r.json()["tag"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(campaigns.len(), 2, "one send per campaign");
    let gap = to_shared[1].at - to_shared[0].at;
    assert!(
        gap >= Duration::from_secs(6),
        "two sends to {shared} only {gap:?} apart"
    );
    // The hold on X does not hold back anyone else.
    let start = sb.mock.requests()[0].at;
    let others_done = sb
        .mock
        .requests()
        .iter()
        .filter(|r| r.recipient.as_deref() != Some(shared))
        .map(|r| r.at - start)
        .max()
        .unwrap_or_default();
    assert!(
        others_done < Duration::from_secs(3),
        "other sends waited for {shared}: last at {others_done:?}"
    );
    assert_eq!(sb.mock.deliveries(shared), 2);
}

#[test]
fn the_same_mobile_in_two_campaigns_is_sent_twice_at_least_six_seconds_apart() {
    // With one request at a time the two sends to X fall into different claim batches.
    let x = mobile(50);
    let a = vec![mobile(1), x.clone(), mobile(2)];
    let b = vec![x.clone(), mobile(3), mobile(4)];
    same_mobile_in_two_campaigns(&a, &b, &x, &["--concurrency", "1"]);
}

#[test]
fn the_same_mobile_in_two_campaigns_is_spaced_even_within_one_batch() {
    let x = mobile(50);
    // Default pacing (20/s, 8 in flight): claims are batched 5 at a time.
    let one = std::slice::from_ref(&x);
    same_mobile_in_two_campaigns(one, one, &x, &["--rate", "20"]);
}

#[test]
fn dry_run_sends_nothing_and_leaves_the_ledger_unchanged() {
    let sb = Sandbox::new();
    sb.write("campaigns/c.yaml", &campaign("dry", "E", &mobiles(1..3)));
    sb.apply(&[]).assert_code(0);
    sb.write("campaigns/c.yaml", &campaign("dry", "E", &mobiles(1..4)));
    let before = std::fs::read(sb.state()).unwrap();
    let rows_before = sb.ledger().len();

    let run = sb.apply(&["--dry-run"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("Dry run: 1 send(s) would be sent; nothing was sent or recorded."),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("dry: 1 due, 2 already sent"),
        "{}",
        run.stdout
    );
    assert_eq!(sb.mock.requests().len(), 2);
    assert_eq!(sb.ledger().len(), rows_before);
    assert_eq!(
        std::fs::read(sb.state()).unwrap(),
        before,
        "the ledger file changed"
    );
    // Also without an API key: a dry run needs none.
    let args = sb.apply_args(&["--dry-run"]);
    let mut command = sb.command(&args.iter().map(String::as_str).collect::<Vec<_>>());
    Run::from(command.env_remove("CHITCHAT_API_KEY").output().unwrap()).assert_code(0);
}

#[test]
fn dry_run_creates_no_ledger() {
    let sb = Sandbox::new();
    sb.write("campaigns/c.yaml", &campaign("dry", "E", &mobiles(1..3)));
    let run = sb.apply(&["--dry-run"]);
    run.assert_code(0);
    assert_eq!(sb.mock.requests().len(), 0);
    let created: Vec<_> = std::fs::read_dir(sb.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "campaigns")
        .collect();
    assert!(created.is_empty(), "a dry run created {created:?}");
}

#[test]
fn plan_with_state_shows_already_sent_and_never_creates_a_ledger() {
    let sb = Sandbox::new();
    sb.write(
        "campaigns/c.yaml",
        &campaign("planned", "E", &mobiles(1..3)),
    );
    let fresh = sb.plan("text");
    fresh.assert_code(0);
    assert!(!sb.state().exists(), "plan created the ledger");
    assert!(
        !sb.path("state").exists(),
        "plan created the ledger's directory"
    );
    assert!(
        fresh
            .stdout
            .contains("Plan: 2 send(s) due now in 1 of 1 campaign(s); 0 not due; 0 already sent."),
        "{}",
        fresh.stdout
    );

    sb.apply(&[]).assert_code(0);
    let after = sb.plan("text");
    after.assert_code(0);
    assert!(
        after.stdout.contains("2 single, 0 due, 2 already sent"),
        "{}",
        after.stdout
    );
    for m in mobiles(1..3) {
        let line = after.stdout.lines().find(|l| l.contains(&m)).unwrap();
        assert!(line.trim_start().starts_with('='), "{line}");
        assert!(line.ends_with("(already sent)"), "{line}");
    }
    assert!(
        after
            .stdout
            .contains("Plan: 0 send(s) due now in 0 of 1 campaign(s); 2 not due; 2 already sent."),
        "{}",
        after.stdout
    );
    for (key, (_, state, due, _)) in planned(&sb.plan_json()) {
        assert_eq!((state.as_str(), due), ("already_sent", false), "{key}");
    }
}

#[test]
fn concurrency_caps_requests_in_flight_and_rate_spaces_them() {
    // --concurrency: never more requests waiting on a slow API than allowed, and all used.
    let sb = Sandbox::new();
    let recipients = mobiles(1..13);
    sb.write("campaigns/c.yaml", &campaign("capped", "E", &recipients));
    sb.mock.delay(Duration::from_millis(150));
    sb.apply(&["--concurrency", "3"]).assert_code(0);
    assert_eq!(sb.mock.max_pending(), 3);
    assert_each_delivered_once(&sb, "capped", &recipients);

    // --rate: one token bucket without burst, 10/s = a request every 100 ms.
    let sb = Sandbox::new();
    let recipients = mobiles(1..7);
    sb.write("campaigns/c.yaml", &campaign("paced", "E", &recipients));
    sb.apply(&["--rate", "10"]).assert_code(0);
    let at: Vec<Duration> = sb.mock.requests().iter().map(|r| r.at).collect();
    assert_eq!(at.len(), 6);
    for pair in at.windows(2) {
        // Slots are exactly 100 ms apart when they are booked; arrival adds a little jitter.
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(80),
            "requests {:?} apart at --rate 10",
            pair[1] - pair[0]
        );
    }
    assert!(at[5] - at[0] >= Duration::from_millis(490), "{at:?}");
    assert_each_delivered_once(&sb, "paced", &recipients);
}

#[test]
fn a_stop_sends_no_new_request_for_a_send_waiting_out_its_backoff() {
    let sb = Sandbox::new();
    sb.write(
        "campaigns/c.yaml",
        &campaign("backoff", "E", &mobiles(1..2)),
    );
    sb.mock.for_mobile(&mobile(1), Fault::RateLimited);
    let child = sb.spawn_apply(&[]);
    // The 429 is answered: the send now waits 1 s (Retry-After) before its next attempt.
    assert!(
        sb.mock
            .wait_until(WAIT, |m| m.requests().len() == 1 && m.pending() == 0)
    );
    // The only sleep of the suite: whether the client has read the 429 and started its
    // wait cannot be seen from outside; 300 ms is well inside the 1 s it must wait.
    std::thread::sleep(Duration::from_millis(300));
    terminate(&child);
    let run = Run::from(child.wait_with_output().unwrap());
    run.assert_code(1);
    assert!(
        run.stdout.contains("Stopped: interrupted."),
        "{}",
        run.stdout
    );
    let requests = sb.mock.requests();
    assert_eq!(
        requests.len(),
        1,
        "a request left after the stop, {:?} after the 429 that said Retry-After: 1",
        requests.last().unwrap().at - requests[0].at
    );
}

#[test]
fn after_sigkill_the_unknown_rows_are_at_most_the_requests_in_flight() {
    // Claims are committed just before each request leaves: a crash leaves no more rows
    // `in_flight` than requests were in flight, never a batch claimed ahead.
    let sb = Sandbox::new();
    let recipients = mobiles(1..401);
    sb.write("campaigns/c.yaml", &campaign("crash", "E", &recipients));
    sb.mock.delay(Duration::from_millis(40));
    let mut child = sb.spawn_apply(&["--concurrency", "8"]);
    sb.mock.wait_for_deliveries(120, WAIT);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    sb.mock.wait_idle(WAIT);
    sb.mock.delay(Duration::ZERO);
    let rows = sb.ledger();
    let in_flight = count_status(&rows, "in_flight");
    assert!(
        in_flight <= 8,
        "{in_flight} rows in flight after SIGKILL at --concurrency 8"
    );
    assert!(rows.len() < recipients.len(), "the run was not interrupted");
    let before = sb.mock.requests().len();
    let delivered_before: HashMap<String, usize> = sb.mock.all_deliveries();
    let next = sb.apply(&["--concurrency", "8"]);
    next.assert_code(0);
    let rows = sb.ledger();
    assert_eq!(count_status(&rows, "unknown"), in_flight);
    let unknown: BTreeSet<String> = rows
        .iter()
        .filter(|r| r.status == "unknown")
        .map(|r| r.recipient.clone())
        .collect();
    // Every recipient but the unknown ones was delivered exactly once, over both runs.
    for m in &recipients {
        if !unknown.contains(m) {
            assert_eq!(sb.mock.deliveries(m), 1, "{m}");
        }
    }
    let resent = recipients_since(&sb.mock, before);
    assert!(
        resent
            .iter()
            .all(|m| !unknown.contains(m) && !delivered_before.contains_key(m))
    );
}

#[test]
fn concurrency_follows_the_rate_against_a_slow_api() {
    // 200 sends per second against an API answering in 500 ms need about 100 in flight.
    let sb = Sandbox::new();
    let recipients = mobiles(1..601);
    sb.write("campaigns/c.yaml", &campaign("slow", "E", &recipients));
    sb.mock.delay(Duration::from_millis(500));
    let run = sb.apply(&["--rate", "200"]);
    run.assert_code(0);
    assert!(
        sb.mock.max_pending() >= 80,
        "{} requests in flight at most",
        sb.mock.max_pending()
    );
    assert_each_delivered_once(&sb, "slow", &recipients);
}

#[test]
fn a_fixed_concurrency_too_low_for_the_rate_is_reported() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..41);
    sb.write("campaigns/c.yaml", &campaign("capped", "E", &recipients));
    sb.mock.delay(Duration::from_millis(200));
    // 2 in flight at 200 ms each reach 10 per second, not 50.
    let run = sb.apply(&["--rate", "50", "--concurrency", "2"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("Slower than asked: ") && run.stdout.contains("of the 50 asked"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("(--concurrency)"), "{}", run.stdout);
}

#[test]
fn a_long_retry_after_at_the_end_of_a_run_puts_the_send_back() {
    // The 429 says: not before two minutes. The run does not wait (nor record `unknown` after
    // waiting): the send was certainly not delivered, so it is put back for the next apply.
    let sb = Sandbox::new();
    let recipients = mobiles(1..4);
    sb.write("campaigns/c.yaml", &campaign("later", "E", &recipients));
    sb.mock
        .for_mobile_first(&mobile(2), 1, Fault::RetryAfter(120));
    let started = std::time::Instant::now();
    let run = sb.apply(&[]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "apply waited {:?}",
        started.elapsed()
    );
    // Not every due send was sent: exit 1, saying what to do.
    run.assert_code(1);
    assert!(
        run.stdout
            .contains("1 send(s) waiting to be retried were put back"),
        "{}",
        run.stdout
    );
    let rows = by_recipient(&sb.ledger(), "later");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(!rows.contains_key(&mobile(2)));
    // The next apply sends it, and only it.
    sb.apply(&[]).assert_code(0);
    let rows = by_recipient(&sb.ledger(), "later");
    for m in &recipients {
        assert_eq!(sb.mock.deliveries(m), 1, "{m}");
        assert_eq!(rows[m].status, "sent");
    }
    assert_eq!(sb.mock.requests().len(), 4);
}
