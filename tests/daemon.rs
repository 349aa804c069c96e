//! `campaignctl run` end to end: the real daemon against the mock ChitChatLabs API
//! (tests/mock_api.rs) on loopback, each test in its own directory with its own ledger and
//! its own `--listen` port.
//!
//! Schedules are `at` times a few seconds ahead of the wall clock (whole seconds, computed
//! when the test runs), so every test waits for real fire times, but only a few seconds.
//! Conditions are polled with generous timeouts (the suite runs tests in parallel on small
//! machines); the only tight bound is the fire-time delay the issue asks for (a send leaves
//! within a second of its scheduled instant; checked with 1.5 s of slack).
//!
//! Sends are checked from three sides: the mock (what arrived, when, delivered how often),
//! the ledger (read with rusqlite while the daemon runs), and the daemon's own `/healthz`,
//! `/metrics` and log.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Timelike, Utc};
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use crate::mock_api::{Answer, Fault, MockApi, Received};
use crate::relay::Relay;

const BIN: &str = env!("CARGO_BIN_EXE_campaignctl");
/// A key distinctive enough to grep for in every output and file.
const KEY: &str = "cc-live-DAEMON-4f1c-SECRET-9e107d9d372bb682";
/// Upper bound for any "eventually" condition (generous: tests run in parallel).
const WAIT: Duration = Duration::from_secs(30);
/// How late after its scheduled second a send may reach the mock. The issue: "a fire time is
/// hit within one second"; half a second of slack for a loaded 2-core machine.
const MAX_FIRE_DELAY_MS: i64 = 1500;

/// `919000000000 + i`: distinct valid mobile numbers.
fn mobile(i: usize) -> String {
    format!("9190000{i:05}")
}

fn mobiles(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(mobile).collect()
}

/// RFC 3339 UTC with second precision, as the daemon writes occurrences.
/// How the daemon shows an `at` time in UTC (seconds only when there are any).
fn local_text(t: DateTime<Utc>) -> String {
    use chrono::Timelike;
    let format = if t.second() == 0 {
        "%a %Y-%m-%d %H:%M +00:00"
    } else {
        "%a %Y-%m-%d %H:%M:%S +00:00"
    };
    t.format(format).to_string()
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A whole second at least `secs` seconds from now (at most `secs + 1`).
fn seconds_ahead(secs: i64) -> DateTime<Utc> {
    let t = Utc::now() + TimeDelta::seconds(secs);
    t.duration_trunc(TimeDelta::seconds(1)).unwrap() + TimeDelta::seconds(1)
}

fn minute_floor(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::minutes(1)).unwrap()
}

/// `schedule:` with one `at` occurrence.
fn at(t: DateTime<Utc>) -> String {
    format!("schedule:\n  at: \"{}\"\n", rfc(t))
}

/// A project file whose send window opens at `opens` on London's clock (a whole minute)
/// and lasts 6 hours, with `max_delay: 2h`.
fn london_window(opens: DateTime<Utc>) -> String {
    let london = chrono_tz::Europe::London;
    let clock = |t: DateTime<Utc>| t.with_timezone(&london).format("%H:%M").to_string();
    format!(
        "window:\n  hours: \"{}-{}\"\n  max_delay: 2h\n",
        clock(opens),
        clock(opens + TimeDelta::hours(6))
    )
}

/// The first whole minute at least `secs` seconds after `t`.
fn minute_after(t: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    let mut minute = minute_floor(t) + TimeDelta::minutes(1);
    if minute - t < TimeDelta::seconds(secs) {
        minute += TimeDelta::minutes(1);
    }
    minute
}

/// `schedule:` with a cron expression in UTC and a catch-up window.
fn cron(expr: &str, catch_up: &str) -> String {
    format!("schedule:\n  cron: \"{expr}\"\n  catch_up: {catch_up}\n")
}

/// A single-send campaign file: template `welcome_message`, params the recipient's name and
/// `vars.event`, then `tail` (a schedule, `enabled: false`, ...).
fn campaign(name: &str, event: &str, recipients: &[String], tail: &str) -> String {
    let mut text = format!(
        "name: {name}\n\
         template: welcome_message\n\
         language: en\n\
         vars:\n  event: {event}\n\
         params:\n  - \"{{{{ recipient.name }}}}\"\n  - \"{{{{ event }}}}\"\n\
         recipients:\n"
    );
    for (i, m) in recipients.iter().enumerate() {
        text.push_str(&format!("  - mobile: \"{m}\"\n    name: Runner{i}\n"));
    }
    text.push_str(tail);
    text
}

/// `FILE:LINE:COL` of the first occurrence of `needle` in `text` (1-based, as diagnostics).
fn location_of(file: &str, text: &str, needle: &str) -> String {
    let offset = text.find(needle).expect("needle in text");
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap().chars().count() + 1;
    format!("{file}:{line}:{column}")
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A free loopback port (bound, read, released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `GET path` over plain HTTP/1.1; `None` when nothing answers.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_owned()))
}

/// The value of the sample `series` (name and labels, exactly as printed) in a Prometheus
/// text document.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// How late `request` reached the mock after `scheduled`, in ms (negative: early).
fn lateness_ms(mock: &MockApi, request: &Received, scheduled: DateTime<Utc>) -> i64 {
    let arrived: DateTime<Utc> = mock.arrival_time(request).into();
    (arrived - scheduled).num_milliseconds()
}

/// Asserts every request for `recipients` reached the mock at or after `scheduled` and at
/// most `MAX_FIRE_DELAY_MS` after it; returns the delays (ms) in arrival order.
#[track_caller]
fn assert_on_time(
    mock: &MockApi,
    recipients: &[String],
    scheduled: DateTime<Utc>,
    what: &str,
) -> Vec<i64> {
    let mut delays = Vec::new();
    for request in mock.requests() {
        if !recipients.contains(request.recipient.as_ref().unwrap()) {
            continue;
        }
        let late = lateness_ms(mock, &request, scheduled);
        assert!(
            (0..=MAX_FIRE_DELAY_MS).contains(&late),
            "{what}: a request for {:?} arrived {late} ms after its scheduled second {}",
            request.recipient,
            rfc(scheduled)
        );
        delays.push(late);
    }
    eprintln!("{what}: fire delays (ms after the scheduled second): {delays:?}");
    delays
}

/// `params[1]` (the `event` var) of each request for `recipients`.
fn events_sent(mock: &MockApi, recipients: &[String]) -> Vec<String> {
    mock.requests()
        .iter()
        .filter(|r| recipients.contains(r.recipient.as_ref().unwrap()))
        .map(|r| r.json()["params"][1].as_str().unwrap().to_owned())
        .collect()
}

#[track_caller]
fn assert_each_requested_once(mock: &MockApi, recipients: &[String]) {
    for m in recipients {
        assert_eq!(mock.requests_for(m).len(), 1, "requests for {m}");
        assert_eq!(mock.deliveries(m), 1, "deliveries to {m}");
    }
}

/// A row of the `sends` table.
#[derive(Debug, Clone)]
struct Row {
    key: String,
    campaign: String,
    occurrence: String,
    recipient: String,
    status: String,
}

/// One test's world: a temporary directory (campaign files under `campaigns/`, the ledger
/// under `state/`) and a mock API.
struct Sandbox {
    dir: tempfile::TempDir,
    mock: MockApi,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("tempdir"),
            mock: MockApi::start(),
        }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn state(&self) -> PathBuf {
        self.path("state/ledger.db")
    }

    /// `campaignctl ARGS` in the sandbox, with the API key and the mock's URL.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("CAMPAIGNCTL_STATE")
            .env_remove("RUST_LOG")
            .env("CHITCHAT_API_KEY", KEY)
            .env("CHITCHAT_BASE_URL", self.mock.url())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// `run campaigns --state STATE --listen 127.0.0.1:PORT EXTRA...`, not waited for.
    fn spawn(&self, extra: &[&str]) -> Daemon {
        self.spawn_with(extra, |_| {})
    }

    /// [`Sandbox::spawn`], with `configure` applied to the command first (another base URL,
    /// more environment).
    fn spawn_with(&self, extra: &[&str], configure: impl FnOnce(&mut Command)) -> Daemon {
        let port = free_port();
        let state = self.state().display().to_string();
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["run", "campaigns", "--state", &state, "--listen", &listen];
        args.extend(extra);
        let mut command = self.command(&args);
        configure(&mut command);
        let mut child = command.spawn().expect("spawn campaignctl run");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Daemon {
            child,
            port,
            log,
            reader: Some(reader),
            ready_at: Instant::now(),
        }
    }

    /// Spawns the daemon and waits until `/healthz` shows `campaigns` loaded campaigns.
    fn start(&self, extra: &[&str], campaigns: usize) -> Daemon {
        self.start_with(extra, campaigns, |_| {})
    }

    /// [`Sandbox::start`], with `configure` applied to the command first.
    fn start_with(
        &self,
        extra: &[&str],
        campaigns: usize,
        configure: impl FnOnce(&mut Command),
    ) -> Daemon {
        let mut daemon = self.spawn_with(extra, configure);
        daemon.wait_ready(campaigns);
        daemon
    }

    fn apply(&self, args: &[&str]) -> (i32, String, String) {
        let state = self.state().display().to_string();
        let mut all = vec!["apply", "--yes", "--rate", "0", "--state", &state];
        all.extend(args);
        let out = self.command(&all).output().expect("run apply");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn open_ledger(&self) -> Option<Connection> {
        let path = self.state();
        if !path.exists() {
            return None;
        }
        Some(
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .expect("open the ledger"),
        )
    }

    /// Every row of `sends`, by key (none when there is no ledger yet).
    fn sends(&self) -> Vec<Row> {
        let Some(conn) = self.open_ledger() else {
            return Vec::new();
        };
        let mut stmt = conn
            .prepare("SELECT key, campaign, occurrence, recipient, status FROM sends ORDER BY key")
            .unwrap();
        stmt.query_map([], |row| {
            Ok(Row {
                key: row.get(0)?,
                campaign: row.get(1)?,
                occurrence: row.get(2)?,
                recipient: row.get(3)?,
                status: row.get(4)?,
            })
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    fn sends_of(&self, campaign: &str) -> Vec<Row> {
        self.sends()
            .into_iter()
            .filter(|r| r.campaign == campaign)
            .collect()
    }

    /// `(campaign, occurrence)` of every row of `missed`, in order.
    fn missed(&self) -> Vec<(String, String)> {
        let Some(conn) = self.open_ledger() else {
            return Vec::new();
        };
        let mut stmt = conn
            .prepare("SELECT campaign, occurrence FROM missed ORDER BY campaign, occurrence")
            .unwrap();
        stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Waits until `campaign` has `n` rows, all `sent`.
    #[track_caller]
    fn wait_sent(&self, campaign: &str, n: usize) -> Vec<Row> {
        let mut rows = Vec::new();
        let ok = eventually(WAIT, || {
            rows = self.sends_of(campaign);
            rows.len() == n && rows.iter().all(|r| r.status == "sent")
        });
        assert!(ok, "expected {n} sent rows for {campaign}: {rows:#?}");
        rows
    }
}

/// How a daemon ended.
#[derive(Debug)]
struct Exit {
    status: ExitStatus,
    stderr: String,
}

impl Exit {
    #[track_caller]
    fn assert_success(&self) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(0),
            "daemon exit status {:?}\n--- stderr\n{}",
            self.status,
            self.stderr
        );
        self
    }
}

/// A running `campaignctl run`; killed (SIGKILL) if still running when dropped.
struct Daemon {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
    ready_at: Instant,
}

impl Daemon {
    /// Its stderr so far.
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn log_lines_with(&self, needle: &str) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect()
    }

    #[track_caller]
    fn get(&self, path: &str) -> String {
        let (code, body) = http_get(self.port, path)
            .unwrap_or_else(|| panic!("GET {path}: no answer\n--- log\n{}", self.log()));
        assert_eq!(code, 200, "GET {path}: {body}");
        body
    }

    #[track_caller]
    fn health(&self) -> Value {
        serde_json::from_str(&self.get("/healthz")).expect("/healthz is JSON")
    }

    #[track_caller]
    fn metrics(&self) -> String {
        self.get("/metrics")
    }

    /// `/healthz`'s entry for campaign `name`.
    #[track_caller]
    fn campaign(&self, name: &str) -> Value {
        let health = self.health();
        health["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not on /healthz: {health:#}"))
    }

    /// Waits until `condition` holds; panics with the log otherwise.
    #[track_caller]
    fn wait_for(&self, what: &str, mut condition: impl FnMut(&Daemon) -> bool) {
        if !eventually(WAIT, || condition(self)) {
            panic!("timed out waiting for {what}\n--- log\n{}", self.log());
        }
    }

    /// Waits until the log has a line containing every one of `needles`.
    #[track_caller]
    fn wait_log(&self, needles: &[&str]) {
        self.wait_for(&format!("a log line with {needles:?}"), |d| {
            d.log()
                .lines()
                .any(|l| needles.iter().all(|n| l.contains(n)))
        });
    }

    #[track_caller]
    fn wait_ready(&mut self, campaigns: usize) {
        let ok = eventually(WAIT, || {
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "the daemon exited during start\n--- log\n{}",
                self.log()
            );
            http_get(self.port, "/healthz")
                .and_then(|(_, body)| serde_json::from_str::<Value>(&body).ok())
                .is_some_and(|h| {
                    !h["last_reload"].is_null()
                        && h["campaigns"].as_array().map(Vec::len) == Some(campaigns)
                })
        });
        assert!(
            ok,
            "the daemon did not come up with {campaigns} campaigns\n--- log\n{}",
            self.log()
        );
        self.ready_at = Instant::now();
    }

    /// `kill -SIG PID`. The signal handlers are installed just after the campaigns are
    /// loaded, so a signal is never sent within 300 ms of the daemon becoming ready.
    fn signal(&self, signal: &str) {
        let settle = self.ready_at + Duration::from_millis(300);
        if let Some(wait) = settle.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits (up to 45 s: in-flight sends get 30 s) for the process to exit.
    fn wait_exit(&mut self) -> Exit {
        let deadline = Instant::now() + Duration::from_secs(45);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the daemon did not exit\n--- log\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        Exit {
            status,
            stderr: self.log(),
        }
    }

    /// SIGTERM, then waits for the exit.
    fn stop(&mut self) -> Exit {
        self.signal("TERM");
        self.wait_exit()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn an_at_occurrence_a_few_seconds_ahead_is_sent_once_at_its_time() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..4);
    let when = seconds_ahead(4);
    sb.write(
        "campaigns/soon.yaml",
        &campaign("soon", "Race day", &recipients, &at(when)),
    );
    let mut daemon = sb.start(&[], 1);
    assert!(
        Utc::now() < when - TimeDelta::milliseconds(500),
        "precondition: the daemon came up with time to spare before {}",
        rfc(when)
    );
    let entry = daemon.campaign("soon");
    assert_eq!(entry["next_run"], rfc(when), "{entry:#}");
    assert_eq!(entry["running"], false);
    assert_eq!(entry["enabled"], true);
    assert_eq!(entry["file"], "campaigns/soon.yaml");
    assert_eq!(
        entry["schedule"],
        format!("at {} (UTC), catch-up 15m", local_text(when))
    );
    assert!(
        sb.mock.requests().is_empty(),
        "nothing is sent before its time"
    );
    assert_eq!(
        sample(
            &daemon.metrics(),
            "campaignctl_next_fire_timestamp_seconds{campaign=\"soon\"}"
        ),
        Some(when.timestamp() as f64)
    );

    sb.mock.wait_for_deliveries(recipients.len(), WAIT);
    assert_on_time(&sb.mock, &recipients, when, "at occurrence");
    let rows = sb.wait_sent("soon", recipients.len());
    let occurrence = rfc(when);
    for (row, m) in rows.iter().zip(&recipients) {
        assert_eq!(row.key, format!("soon/{occurrence}/{m}"));
        assert_eq!(row.occurrence, occurrence);
        assert_eq!(&row.recipient, m);
    }
    daemon.wait_log(&["occurrence finished", "sent=3"]);
    let started = daemon.log_lines_with("occurrence started");
    assert_eq!(started.len(), 1, "{started:?}");
    eprintln!("daemon log: {}", started[0]);
    daemon.wait_for("next_run null and not running", |d| {
        let entry = d.campaign("soon");
        entry["next_run"].is_null() && entry["running"] == false
    });
    let metrics = daemon.metrics();
    assert_eq!(
        sample(
            &metrics,
            "campaignctl_sends_total{campaign=\"soon\",status=\"sent\"}"
        ),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "campaignctl_occurrences_total{campaign=\"soon\"}"),
        Some(1.0)
    );
    assert!(!metrics.contains("campaignctl_next_fire_timestamp_seconds{"));
    // Still exactly once, a moment later.
    std::thread::sleep(Duration::from_millis(500));
    assert_each_requested_once(&sb.mock, &recipients);
    daemon.stop().assert_success();
}

#[test]
fn a_restart_sends_nothing_twice_and_a_new_occurrence_still_fires() {
    let sb = Sandbox::new();
    let first = mobiles(1..3);
    let when = seconds_ahead(3);
    sb.write(
        "campaigns/first.yaml",
        &campaign("first", "E", &first, &at(when)),
    );
    let mut daemon = sb.start(&[], 1);
    sb.mock.wait_for_deliveries(first.len(), WAIT);
    sb.wait_sent("first", first.len());
    daemon.wait_log(&["occurrence finished"]);
    let exit = daemon.stop();
    exit.assert_success();
    assert!(exit.stderr.contains("stopped"), "{}", exit.stderr);

    // Same files and ledger, plus a campaign due a few seconds after the restart. The first
    // occurrence is now in the past, well within its 15m catch-up window.
    let second = mobiles(11..13);
    let later = seconds_ahead(4);
    sb.write(
        "campaigns/second.yaml",
        &campaign("second", "E", &second, &at(later)),
    );
    let mut daemon = sb.start(&[], 2);
    assert!(daemon.campaign("first")["next_run"].is_null());
    assert_eq!(daemon.campaign("second")["next_run"], rfc(later));
    sb.mock
        .wait_for_deliveries(first.len() + second.len(), WAIT);
    assert_on_time(&sb.mock, &second, later, "occurrence after a restart");
    sb.wait_sent("second", second.len());
    daemon.wait_log(&["occurrence finished", "second"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sb.mock.requests().len(), first.len() + second.len());
    assert_each_requested_once(&sb.mock, &first);
    assert_each_requested_once(&sb.mock, &second);
    let restarted = daemon.stop();
    restarted.assert_success();
    let started = restarted
        .stderr
        .lines()
        .filter(|l| l.contains("occurrence started"))
        .collect::<Vec<_>>();
    assert_eq!(started.len(), 1, "{started:?}");
    assert!(started[0].contains("campaign=\"second\""), "{started:?}");
    assert_eq!(sb.wait_sent("first", first.len()).len(), 2);
}

/// A directory moved into the tree whole raises an event for the directory only, not for
/// the YAML file inside it: the watcher loads it all the same, and it fires at its time.
#[test]
fn the_watcher_loads_a_directory_moved_into_the_tree() {
    let sb = Sandbox::new();
    let far = seconds_ahead(86_400);
    sb.write(
        "campaigns/tomorrow.yaml",
        &campaign("tomorrow", "E", &mobiles(1..2), &at(far)),
    );
    let mut daemon = sb.start(&[], 1);

    let recipients = mobiles(11..13);
    let when = seconds_ahead(4);
    sb.write(
        "staging/new/moved.yaml",
        &campaign("moved", "E", &recipients, &at(when)),
    );
    std::fs::rename(sb.path("staging/new"), sb.path("campaigns/new")).unwrap();
    daemon.wait_for("the moved campaign on /healthz", |d| {
        d.health()["campaigns"].as_array().unwrap().len() == 2
    });
    let health = daemon.health();
    assert_eq!(
        health["last_reload"]["trigger"], "file change",
        "{health:#}"
    );
    assert_eq!(health["last_reload"]["ok"], true);
    let entry = daemon.campaign("moved");
    assert_eq!(entry["file"], "campaigns/new/moved.yaml");
    assert_eq!(entry["next_run"], rfc(when));

    sb.mock.wait_for_deliveries(recipients.len(), WAIT);
    assert_on_time(&sb.mock, &recipients, when, "after the move");
    sb.wait_sent("moved", recipients.len());
    assert_each_requested_once(&sb.mock, &recipients);
    assert_eq!(daemon.campaign("tomorrow")["next_run"], rfc(far));
    daemon.stop().assert_success();
}

/// A campaign whose recipients are the CSV file `path` (relative to the campaign file),
/// with the same params as [`campaign`], then `tail`.
fn campaign_from_csv(name: &str, path: &str, tail: &str) -> String {
    format!(
        "name: {name}\n\
         template: welcome_message\n\
         language: en\n\
         vars:\n  event: E\n\
         params:\n  - \"{{{{ recipient.name }}}}\"\n  - \"{{{{ event }}}}\"\n\
         recipients:\n  - file: {path}\n{tail}"
    )
}

/// A recipients CSV file of `numbers`.
fn recipients_csv(numbers: &[String]) -> String {
    let rows: String = numbers.iter().map(|n| format!("{n},Runner\n")).collect();
    format!("mobile,name\n{rows}")
}

/// The files a set reads outside the campaign paths are watched too, even one it names
/// only after the start: a campaign edited to read a CSV file kept elsewhere, then an edit
/// of that file, each reload it, and the occurrence goes to the last list only.
#[test]
fn the_watcher_follows_files_kept_outside_the_campaign_paths() {
    let sb = Sandbox::new();
    let (inline, listed, edited) = (mobiles(1..2), mobiles(11..13), mobiles(21..23));
    let when = seconds_ahead(10);
    sb.write(
        "campaigns/elsewhere.yaml",
        &campaign("elsewhere", "E", &inline, &at(when)),
    );
    let mut daemon = sb.start(&[], 1);
    let reloads = |d: &Daemon| d.log_lines_with("reloaded trigger=\"file change\"").len();

    sb.write("lists/people.csv", &recipients_csv(&listed));
    sb.write(
        "campaigns/elsewhere.yaml",
        &campaign_from_csv("elsewhere", "../lists/people.csv", &at(when)),
    );
    daemon.wait_for("the reload of the edited campaign", |d| reloads(d) == 1);
    sb.write("lists/people.csv", &recipients_csv(&edited));
    daemon.wait_for("the reload of the edited list", |d| reloads(d) == 2);

    sb.mock.wait_for_deliveries(edited.len(), WAIT);
    assert_on_time(&sb.mock, &edited, when, "after the reloads");
    sb.wait_sent("elsewhere", edited.len());
    assert_each_requested_once(&sb.mock, &edited);
    for number in inline.iter().chain(&listed) {
        assert!(sb.mock.requests_for(number).is_empty(), "{number} was sent");
    }
    daemon.stop().assert_success();
}

/// SIGHUP reloads what the watcher cannot see: here a CSV file edited in place through a
/// hard link in another directory (inotify reports the change to the directory the link is
/// in). The occurrence after it goes to the edited list.
#[test]
fn sighup_reloads_what_the_watcher_does_not_see() {
    let sb = Sandbox::new();
    let (before, after) = (mobiles(1..3), mobiles(11..13));
    sb.write("lists/hup.csv", &recipients_csv(&before));
    std::fs::create_dir_all(sb.path("hidden")).unwrap();
    std::fs::hard_link(sb.path("lists/hup.csv"), sb.path("hidden/hup.csv")).unwrap();
    let when = seconds_ahead(6);
    sb.write(
        "campaigns/hup.yaml",
        &campaign_from_csv("hup", "../lists/hup.csv", &at(when)),
    );
    let mut daemon = sb.start(&[], 1);

    // In place: the same file, through the other link.
    std::fs::write(sb.path("hidden/hup.csv"), recipients_csv(&after)).unwrap();
    assert_eq!(
        std::fs::read_to_string(sb.path("lists/hup.csv")).unwrap(),
        recipients_csv(&after)
    );
    std::thread::sleep(Duration::from_millis(800));
    let health = daemon.health();
    assert_eq!(
        health["last_reload"]["trigger"], "start",
        "precondition: the watcher did not see the edit: {health:#}"
    );

    daemon.signal("HUP");
    daemon.wait_log(&["reloaded", "trigger=\"SIGHUP\""]);
    let health = daemon.health();
    assert_eq!(health["last_reload"]["trigger"], "SIGHUP", "{health:#}");
    assert_eq!(health["last_reload"]["ok"], true);

    sb.mock.wait_for_deliveries(after.len(), WAIT);
    assert_on_time(&sb.mock, &after, when, "after SIGHUP");
    sb.wait_sent("hup", after.len());
    assert_each_requested_once(&sb.mock, &after);
    for number in &before {
        assert!(sb.mock.requests_for(number).is_empty(), "{number} was sent");
    }
    daemon.stop().assert_success();
}

#[test]
fn the_watcher_picks_up_a_new_file_and_a_removed_one_without_sighup() {
    let sb = Sandbox::new();
    let doomed = mobiles(1..3);
    let when = seconds_ahead(5);
    sb.write(
        "campaigns/doomed.yaml",
        &campaign("doomed", "E", &doomed, &at(when)),
    );
    let mut daemon = sb.start(&[], 1);

    let recipients = mobiles(11..13);
    let new_at = seconds_ahead(4);
    sb.write(
        "campaigns/watched.yaml",
        &campaign("watched", "E", &recipients, &at(new_at)),
    );
    std::fs::remove_file(sb.path("campaigns/doomed.yaml")).unwrap();
    daemon.wait_for("the reload by the watcher", |d| {
        let names: Vec<Value> = d.health()["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].clone())
            .collect();
        names == ["watched"]
    });
    let health = daemon.health();
    assert_eq!(
        health["last_reload"]["trigger"], "file change",
        "{health:#}"
    );
    assert_eq!(health["last_reload"]["ok"], true);
    assert_eq!(daemon.campaign("watched")["next_run"], rfc(new_at));
    assert!(
        daemon
            .log()
            .contains("campaign removed: no longer scheduled campaign=\"doomed\""),
        "{}",
        daemon.log()
    );

    sb.mock.wait_for_deliveries(recipients.len(), WAIT);
    assert_on_time(
        &sb.mock,
        &recipients,
        new_at,
        "file picked up by the watcher",
    );
    sb.wait_sent("watched", recipients.len());
    // The removed campaign's time passes without a send.
    let past = (when - Utc::now()).num_milliseconds().max(0) as u64 + 1000;
    std::thread::sleep(Duration::from_millis(past));
    assert_eq!(sb.mock.requests().len(), recipients.len());
    assert!(sb.sends_of("doomed").is_empty());
    assert_eq!(daemon.log_lines_with("occurrence started").len(), 1);
    daemon.stop().assert_success();
}

#[test]
fn an_invalid_edit_keeps_the_old_version_running_reports_it_and_a_fix_is_picked_up() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..4);
    let when = seconds_ahead(5);
    let old = campaign("edited", "OLD", &recipients, &at(when));
    sb.write("campaigns/edited.yaml", &old);
    let mut daemon = sb.start(&[], 1);

    // An invalid edit of the campaign (new params, an unknown key) and a second, invalid,
    // new file: two files, three problems.
    let broken = format!(
        "tempalte: typo\n{}",
        campaign("edited", "NEW", &recipients, &at(when))
    );
    let other = campaign(
        "other",
        "E",
        &mobiles(20..21),
        "schedule:\n  at: \"tomorrow\"\n",
    )
    .replace("language: en", "language: en-US");
    sb.write("campaigns/other.yaml", &other);
    sb.write("campaigns/edited.yaml", &broken);
    daemon.wait_for("the rejected reload on /healthz", |d| {
        d.health()["last_reload"]["ok"] == false
    });
    let health = daemon.health();
    assert_eq!(health["status"], "degraded", "{health:#}");
    assert_eq!(health["last_reload"]["trigger"], "file change");
    let problems: Vec<String> = health["last_reload"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    let expected = [
        format!(
            "{}: unknown key `tempalte`",
            location_of("campaigns/edited.yaml", &broken, "tempalte")
        ),
        format!("{}: ", location_of("campaigns/other.yaml", &other, "en-US")),
        format!(
            "{}: `tomorrow` is not an RFC 3339 time",
            location_of("campaigns/other.yaml", &other, "\"tomorrow\"")
        ),
    ];
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    for (problem, expected) in problems.iter().zip(&expected) {
        assert!(problem.starts_with(expected), "{problem:?} vs {expected:?}");
    }
    // The old version is still loaded and armed.
    let entry = daemon.campaign("edited");
    assert_eq!(entry["next_run"], rfc(when), "{entry:#}");
    assert_eq!(health["campaigns"].as_array().unwrap().len(), 1);
    let metrics = daemon.metrics();
    assert_eq!(
        sample(&metrics, "campaignctl_reload_errors_total"),
        Some(1.0)
    );
    assert_eq!(sample(&metrics, "campaignctl_reload_ok"), Some(0.0));
    let log = daemon.log();
    assert!(log.contains("reload rejected"), "{log}");
    for problem in &problems {
        assert!(
            log.contains(problem.as_str()),
            "{problem} not logged:\n{log}"
        );
    }

    // The old occurrence fires with the old params.
    sb.mock.wait_for_deliveries(recipients.len(), WAIT);
    assert_on_time(&sb.mock, &recipients, when, "old version");
    assert_eq!(events_sent(&sb.mock, &recipients), ["OLD"; 3]);
    sb.wait_sent("edited", recipients.len());
    daemon.wait_log(&["occurrence finished", "edited"]);

    // A fix (new params, a new time) is picked up.
    let fixed_at = seconds_ahead(3);
    std::fs::remove_file(sb.path("campaigns/other.yaml")).unwrap();
    sb.write(
        "campaigns/edited.yaml",
        &campaign("edited", "NEW", &recipients, &at(fixed_at)),
    );
    daemon.wait_for("the fix on /healthz", |d| {
        let h = d.health();
        h["last_reload"]["ok"] == true && h["status"] == "ok"
    });
    assert_eq!(
        daemon.health()["last_reload"]["problems"],
        Value::Array(vec![])
    );
    assert_eq!(daemon.campaign("edited")["next_run"], rfc(fixed_at));
    sb.mock.wait_for_deliveries(2 * recipients.len(), WAIT);
    assert_eq!(
        events_sent(&sb.mock, &recipients),
        ["OLD", "OLD", "OLD", "NEW", "NEW", "NEW"]
    );
    sb.wait_sent("edited", 2 * recipients.len());
    let metrics = daemon.metrics();
    assert_eq!(
        sample(&metrics, "campaignctl_reload_errors_total"),
        Some(1.0)
    );
    assert_eq!(sample(&metrics, "campaignctl_reload_ok"), Some(1.0));
    daemon.stop().assert_success();
}

/// Starts an `at` occurrence of 8 sends against a slow mock (0.5 s per answer, 2 at a time)
/// and SIGTERMs the daemon after 2 deliveries. Checks the exit and the ledger; returns the
/// recipients.
fn interrupt_mid_occurrence(sb: &Sandbox) -> (Vec<String>, DateTime<Utc>) {
    let recipients = mobiles(1..9);
    let when = seconds_ahead(3);
    sb.write(
        "campaigns/slow.yaml",
        &campaign("slow", "E", &recipients, &at(when)),
    );
    sb.mock.delay(Duration::from_millis(500));
    let mut daemon = sb.start(&["--rate", "0", "--concurrency", "2"], 1);
    sb.mock.wait_for_deliveries(2, WAIT);
    let exit = daemon.stop();
    exit.assert_success();
    assert!(
        exit.stderr.contains("stopping: no new occurrences") && exit.stderr.contains("stopped"),
        "{}",
        exit.stderr
    );
    sb.mock.wait_idle(WAIT);
    sb.mock.delay(Duration::ZERO);

    // The ledger matches the mock: a row per request, `sent` exactly for the delivered ones
    // (the requests in flight at the SIGTERM were waited for), nothing left `in_flight`.
    let rows = sb.sends();
    let requests = sb.mock.requests();
    assert!(rows.iter().all(|r| r.status != "in_flight"), "{rows:#?}");
    let by_recipient: BTreeMap<&str, &Row> =
        rows.iter().map(|r| (r.recipient.as_str(), r)).collect();
    assert_eq!(by_recipient.len(), rows.len());
    for request in &requests {
        let m = request.recipient.as_deref().unwrap();
        let row = by_recipient
            .get(m)
            .unwrap_or_else(|| panic!("a request for {m} without a ledger row: {rows:#?}"));
        let expected = match request.answer {
            Some(Answer::Delivered) => "sent",
            Some(Answer::Fault(_)) => "failed",
            _ => "unknown",
        };
        assert_eq!(row.status, expected, "{m}: {request:?}");
    }
    assert_eq!(rows.len(), requests.len(), "a ledger row without a request");
    assert!(
        rows.iter().all(|r| r.status == "sent"),
        "in-flight sends finish: {rows:#?}"
    );
    assert!(
        rows.len() >= 2 && rows.len() < recipients.len(),
        "the occurrence was interrupted: {} of {} sent",
        rows.len(),
        recipients.len()
    );
    eprintln!(
        "SIGTERM after 2 deliveries: {} of {} sent",
        rows.len(),
        recipients.len()
    );
    (recipients, when)
}

#[test]
fn sigterm_during_a_send_exits_0_with_the_ledger_consistent() {
    let sb = Sandbox::new();
    interrupt_mid_occurrence(&sb);
}

#[test]
fn after_a_sigterm_mid_occurrence_a_restart_sends_the_rest_exactly_once() {
    let sb = Sandbox::new();
    let (recipients, when) = interrupt_mid_occurrence(&sb);
    let sent_before = sb.sends().len();
    let mut daemon = sb.start(&["--rate", "0"], 1);
    let completed = eventually(Duration::from_secs(10), || {
        sb.mock.all_deliveries().len() == recipients.len()
    });
    let exit = daemon.stop();
    exit.assert_success();
    assert!(
        completed,
        "{} minutes after {}, the restarted daemon sent {} more of the {} left\n--- log\n{}",
        (Utc::now() - when).num_minutes(),
        rfc(when),
        sb.mock.all_deliveries().len() - sent_before,
        recipients.len() - sent_before,
        exit.stderr
    );
    assert_each_requested_once(&sb.mock, &recipients);
    assert_eq!(
        sb.wait_sent("slow", recipients.len()).len(),
        recipients.len()
    );
}

#[test]
fn missed_occurrences_are_recorded_and_only_the_latest_within_catch_up_is_sent() {
    let sb = Sandbox::new();
    let every = mobiles(1..3);
    let daily = mobiles(11..12);
    let fresh = mobiles(21..22);
    // Every minute, 90 s of catch-up; the ledger last saw it 10 minutes ago.
    let t0 = minute_floor(Utc::now()) - TimeDelta::minutes(10);
    sb.write(
        "campaigns/every-minute.yaml",
        &campaign("every-minute", "E", &every, &cron("* * * * *", "90s")),
    );
    // Daily, 5 minutes ago (more than its 90 s of catch-up); the ledger saw yesterday's.
    let d = minute_floor(Utc::now() - TimeDelta::minutes(5));
    let daily_cron = format!("{} {} * * *", d.minute(), d.hour());
    sb.write(
        "campaigns/daily.yaml",
        &campaign("daily", "E", &daily, &cron(&daily_cron, "90s")),
    );
    // The same daily time, never seen by the ledger: nothing is "missed" before it existed.
    sb.write(
        "campaigns/fresh.yaml",
        &campaign("fresh", "E", &fresh, &cron(&daily_cron, "90s")),
    );
    for (file, now) in [
        ("campaigns/every-minute.yaml", t0),
        ("campaigns/daily.yaml", d - TimeDelta::days(1)),
    ] {
        let (code, out, err) = sb.apply(&[file, "--now", &rfc(now)]);
        assert_eq!(code, 0, "apply {file} --now {}\n{out}\n{err}", rfc(now));
    }
    let applied = sb.mock.requests().len();
    assert_eq!(applied, every.len() + daily.len());

    let before = Utc::now();
    let mut daemon = sb.start(&[], 3);
    let ready = Utc::now();
    sb.mock.wait_for_deliveries(applied + every.len(), WAIT);
    daemon.wait_log(&["occurrence finished", "every-minute"]);
    let metrics = daemon.metrics();
    // Stopped before the checks: the ledger and the mock are final (a minute boundary
    // passing meanwhile legitimately sends the next minute).
    let exit = daemon.stop();
    exit.assert_success();

    // The catch-up send: the latest minute at or before the start, once per recipient.
    let mut occurrences: BTreeSet<String> = sb
        .sends_of("every-minute")
        .iter()
        .map(|r| r.occurrence.clone())
        .collect();
    assert!(occurrences.remove(&rfc(t0)), "{occurrences:?}");
    let caught_up = occurrences.pop_first().expect("a catch-up send");
    let s: DateTime<Utc> = caught_up.parse().unwrap();
    assert!(
        [minute_floor(before), minute_floor(ready)].contains(&s),
        "caught up {caught_up}, started between {} and {}",
        rfc(before),
        rfc(ready)
    );
    // Any other occurrence sent is a minute that came while the test ran.
    for later in &occurrences {
        assert!(later.parse::<DateTime<Utc>>().unwrap() > before, "{later}");
    }
    let requests = sb.mock.requests()[applied..].to_vec();
    assert_eq!(
        requests.len(),
        every.len() * (1 + occurrences.len()),
        "{requests:#?}"
    );
    let rows = sb.sends_of("every-minute");
    assert!(rows.iter().all(|r| r.status == "sent"), "{rows:#?}");

    // Every minute between the one the ledger knew and the caught-up one is missed.
    let missed = sb.missed();
    let mut expected = vec![("daily".to_owned(), rfc(d))];
    let mut m = t0 + TimeDelta::minutes(1);
    while m < s {
        expected.push(("every-minute".to_owned(), rfc(m)));
        m += TimeDelta::minutes(1);
    }
    assert_eq!(missed, expected);
    let missed_minutes = expected.len() - 1;
    assert!((9..=10).contains(&missed_minutes), "{missed_minutes}");
    assert!(sb.sends_of("daily").iter().all(|r| r.occurrence != rfc(d)));
    assert!(sb.sends_of("fresh").is_empty());
    assert_eq!(sb.mock.requests_for(&daily[0]).len(), 1);
    assert!(sb.mock.requests_for(&fresh[0]).is_empty());

    assert_eq!(
        sample(
            &metrics,
            "campaignctl_missed_occurrences_total{campaign=\"every-minute\"}"
        ),
        Some(missed_minutes as f64),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "campaignctl_missed_occurrences_total{campaign=\"daily\"}"
        ),
        Some(1.0)
    );
    assert!(!metrics.contains("campaignctl_missed_occurrences_total{campaign=\"fresh\"}"));
    let logged = exit
        .stderr
        .lines()
        .filter(|l| l.contains("occurrence missed"))
        .collect::<Vec<_>>();
    assert_eq!(logged.len(), missed.len(), "{logged:#?}");
    assert!(logged.iter().any(|l| l.contains(&rfc(d))));
}

#[test]
fn an_occurrence_due_while_the_previous_is_sending_waits_and_never_runs_in_parallel() {
    let sb = Sandbox::new();
    let first = mobiles(1..6);
    let second = mobiles(11..16);
    let t1 = seconds_ahead(3);
    sb.write(
        "campaigns/busy.yaml",
        &campaign("busy", "E", &first, &at(t1)),
    );
    // One request at a time, a second each: the first occurrence takes about 5 s.
    sb.mock.delay(Duration::from_secs(1));
    let mut daemon = sb.start(&["--rate", "0", "--concurrency", "1"], 1);
    assert!(
        sb.mock.wait_until(WAIT, |m| !m.requests().is_empty()),
        "the first occurrence did not start"
    );

    // Its next occurrence, 2-3 s from now: the first is still sending then.
    let t2 = seconds_ahead(2);
    sb.write(
        "campaigns/busy.yaml",
        &campaign("busy", "E", &second, &at(t2)),
    );
    daemon.wait_for("the re-armed schedule", |d| {
        d.campaign("busy")["next_run"] == rfc(t2)
    });
    daemon.wait_log(&["waits", "busy", &rfc(t2)]);
    assert!(
        sb.mock.requests().len() < first.len(),
        "precondition: the first occurrence was still sending at the second's time"
    );
    assert_eq!(daemon.campaign("busy")["running"], true);
    sb.mock.delay(Duration::from_millis(100));
    sb.mock
        .wait_for_deliveries(first.len() + second.len(), WAIT);
    daemon.wait_log(&["occurrence finished", &rfc(t2)]);

    // All of the first occurrence's requests were answered before the second's first one
    // arrived: no interleaving, never two occurrences in flight.
    let requests = sb.mock.requests();
    let recipients: Vec<String> = requests
        .iter()
        .map(|r| r.recipient.clone().unwrap())
        .collect();
    let expected: Vec<String> = first.iter().chain(&second).cloned().collect();
    assert_eq!(recipients, expected);
    assert_eq!(
        sb.mock.max_pending(),
        1,
        "two requests were in flight at once"
    );
    assert!(lateness_ms(&sb.mock, &requests[first.len()], t2) > 0);
    let log = daemon.log();
    let finished_first = log
        .find(&format!(
            "occurrence finished campaign=\"busy\" occurrence={}",
            rfc(t1)
        ))
        .expect("first finished");
    let started_second = log
        .find(&format!(
            "occurrence started campaign=\"busy\" occurrence={}",
            rfc(t2)
        ))
        .expect("second started");
    assert!(finished_first < started_second, "{log}");
    let rows = sb.wait_sent("busy", first.len() + second.len());
    let per_occurrence: BTreeMap<&str, usize> = rows.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.occurrence.as_str()).or_default() += 1;
        m
    });
    assert_eq!(
        per_occurrence,
        BTreeMap::from([(rfc(t1).as_str(), 5), (rfc(t2).as_str(), 5)])
    );
    daemon.stop().assert_success();
}

#[test]
fn an_invalid_set_at_start_exits_1_listing_every_problem() {
    let sb = Sandbox::new();
    let when = seconds_ahead(2);
    sb.write(
        "campaigns/good.yaml",
        &campaign("good", "E", &mobiles(1..2), &at(when)),
    );
    let bad = campaign(
        "bad",
        "E",
        &mobiles(2..3),
        "schedule:\n  cron: \"61 * * * *\"\n",
    )
    .replace("template: welcome_message", "template: Welcome-Message");
    sb.write("campaigns/bad.yaml", &bad);
    let worse = campaign("worse", "E", &mobiles(3..4), &at(when))
        .replace("name: worse\n", "name: worse\nname: again\n");
    sb.write("campaigns/worse.yaml", &worse);
    let mut daemon = sb.spawn(&[]);
    let exit = daemon.wait_exit();
    assert_eq!(exit.status.code(), Some(1), "{}", exit.stderr);
    let locations = [
        location_of("campaigns/bad.yaml", &bad, "Welcome-Message"),
        location_of("campaigns/bad.yaml", &bad, "\"61 * * * *\""),
        location_of("campaigns/worse.yaml", &worse, "name: again"),
    ];
    for location in &locations {
        assert!(
            exit.stderr.contains(&format!("{location}: error: ")),
            "{location} missing:\n{}",
            exit.stderr
        );
    }
    assert_eq!(
        exit.stderr.matches(": error: ").count(),
        locations.len(),
        "{}",
        exit.stderr
    );
    assert!(exit.stderr.contains("3 errors"), "{}", exit.stderr);
    assert!(sb.mock.requests().is_empty());
    assert!(
        !sb.state().exists(),
        "no ledger is created for an invalid set"
    );
    assert!(http_get(daemon.port, "/healthz").is_none());
}

#[test]
fn disabled_campaigns_are_loaded_but_never_sent_and_json_logs_are_one_object_per_line() {
    let sb = Sandbox::new();
    let on = mobiles(1..3);
    let off = mobiles(11..13);
    let manual = mobiles(21..22);
    let when = seconds_ahead(4);
    sb.write("campaigns/on.yaml", &campaign("on", "E", &on, &at(when)));
    sb.write(
        "campaigns/off.yaml",
        &campaign("off", "E", &off, &format!("{}enabled: false\n", at(when))),
    );
    // Unscheduled campaigns are left to apply.
    sb.write(
        "campaigns/manual.yaml",
        &campaign("manual", "E", &manual, ""),
    );
    let mut daemon = sb.start(&["--log-format", "json"], 3);
    let entry = daemon.campaign("off");
    assert_eq!(entry["enabled"], false, "{entry:#}");
    assert!(entry["next_run"].is_null());
    assert_eq!(
        entry["schedule"],
        format!("at {} (UTC), catch-up 15m", local_text(when))
    );
    let entry = daemon.campaign("manual");
    assert!(
        entry["schedule"].is_null() && entry["next_run"].is_null(),
        "{entry:#}"
    );
    assert_eq!(daemon.campaign("on")["next_run"], rfc(when));
    let metrics = daemon.metrics();
    assert_eq!(sample(&metrics, "campaignctl_campaigns_loaded"), Some(3.0));
    assert!(!metrics.contains("campaignctl_next_fire_timestamp_seconds{campaign=\"off\"}"));

    sb.mock.wait_for_deliveries(on.len(), WAIT);
    daemon.wait_log(&["occurrence finished"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sb.mock.requests().len(), on.len());
    assert_each_requested_once(&sb.mock, &on);
    assert!(sb.sends_of("off").is_empty() && sb.sends_of("manual").is_empty());
    let exit = daemon.stop();
    exit.assert_success();

    let events: Vec<Value> = exit
        .stderr
        .lines()
        .map(|line| {
            let event: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON object ({e}): {line}"));
            assert!(event.is_object(), "{line}");
            assert!(
                event["timestamp"].is_string() && event["level"].is_string(),
                "{line}"
            );
            event
        })
        .collect();
    let named = |message: &str| -> Vec<&Value> {
        events.iter().filter(|e| e["message"] == message).collect()
    };
    let started = named("occurrence started");
    assert_eq!(started.len(), 1, "{events:#?}");
    assert_eq!(started[0]["campaign"], "on");
    assert_eq!(started[0]["occurrence"], rfc(when));
    let late = started[0]["late_ms"].as_i64().expect("late_ms is a number");
    eprintln!("json log: occurrence started late_ms={late}");
    assert!((0..=MAX_FIRE_DELAY_MS).contains(&late), "{late}");
    let finished = named("occurrence finished");
    assert_eq!(finished.len(), 1, "{events:#?}");
    assert_eq!(finished[0]["campaign"], "on");
    assert_eq!(finished[0]["occurrence"], rfc(when));
    assert_eq!(finished[0]["sent"], 2);
    assert_eq!(finished[0]["failed"], 0);
    assert_eq!(named("stopped").len(), 1);
}

#[test]
fn the_api_key_never_appears_in_the_daemon_log_its_endpoints_or_the_ledger() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..6);
    let when = seconds_ahead(3);
    sb.write(
        "campaigns/secret.yaml",
        &campaign("secret", "E", &recipients, &at(when)),
    );
    sb.mock
        .for_mobile(
            &mobile(1),
            Fault::Json(401, r#"{"error":"bad key"}"#.to_owned()),
        )
        .for_mobile_first(&mobile(2), 1, Fault::Status(500))
        .for_mobile_first(&mobile(3), 1, Fault::Reset)
        .for_mobile_first(&mobile(4), 1, Fault::RateLimited);
    // The 500 and the reset are retried (ambiguous outcomes are retried only when asked).
    let mut daemon = sb.start(&["--retry-ambiguous"], 1);
    daemon.wait_log(&["occurrence finished", "sent=4", "failed=1"]);
    // A rejected reload and a SIGHUP log their own lines too.
    sb.write("campaigns/broken.yaml", "name: [unclosed\n");
    daemon.wait_for("the rejected reload", |d| {
        d.health()["last_reload"]["ok"] == false
    });
    daemon.signal("HUP");
    daemon.wait_log(&["reload rejected", "SIGHUP"]);
    let bodies = [daemon.get("/healthz"), daemon.get("/metrics")];
    let exit = daemon.stop();
    exit.assert_success();

    assert!(sb.mock.requests().len() >= 8);
    assert!(
        sb.mock
            .requests()
            .iter()
            .all(|r| r.header("x-tenant-api-key") == KEY)
    );
    assert!(exit.stderr.contains("send failed"), "{}", exit.stderr);
    assert!(
        !exit.stderr.contains(KEY),
        "key in stderr:\n{}",
        exit.stderr
    );
    for body in &bodies {
        assert!(!body.contains(KEY), "key served:\n{body}");
    }
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
fn removing_the_last_campaign_file_stops_its_campaign() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..3);
    let when = seconds_ahead(4);
    sb.write(
        "campaigns/only.yaml",
        &campaign("only", "E", &recipients, &at(when)),
    );
    let mut daemon = sb.start(&[], 1);
    std::fs::remove_file(sb.path("campaigns/only.yaml")).unwrap();
    let reloaded = eventually(Duration::from_secs(3), || {
        !daemon.health()["last_reload"]["trigger"]
            .as_str()
            .unwrap()
            .eq("start")
    });
    assert!(reloaded, "the watcher did not reload");
    let past = (when - Utc::now()).num_milliseconds().max(0) as u64 + 1500;
    std::thread::sleep(Duration::from_millis(past));
    let health = daemon.health();
    let exit = daemon.stop();
    exit.assert_success();
    assert!(
        sb.mock.requests().is_empty(),
        "the removed campaign sent {} requests\n--- healthz\n{health:#}\n--- log\n{}",
        sb.mock.requests().len(),
        exit.stderr
    );
    assert_eq!(health["campaigns"], Value::Array(vec![]), "{health:#}");
    assert_eq!(health["last_reload"]["ok"], true, "{health:#}");
}

/// A campaign whose recipients are in `campaigns/people.csv`.
fn csv_campaign(name: &str, tail: &str) -> String {
    format!(
        "name: {name}\n\
         template: welcome_message\n\
         language: en\n\
         params:\n  - \"{{{{ recipient.name }}}}\"\n\
         recipients:\n  - file: people.csv\n{tail}"
    )
}

#[test]
fn an_invalid_csv_edit_keeps_the_last_good_recipients() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..4);
    let mut csv = String::from("mobile,name\n");
    for (i, m) in recipients.iter().enumerate() {
        csv.push_str(&format!("{m},Runner{i}\n"));
    }
    sb.write("campaigns/people.csv", &csv);
    let when = seconds_ahead(5);
    sb.write("campaigns/people.yaml", &csv_campaign("people", &at(when)));
    let mut daemon = sb.start(&[], 1);
    // An invalid row is appended: the reload is rejected, as it should be.
    sb.write("campaigns/people.csv", &format!("{csv}123,Bad\n"));
    daemon.wait_for("the rejected reload", |d| {
        d.health()["last_reload"]["ok"] == false
    });
    let problems = daemon.health()["last_reload"]["problems"].clone();
    assert!(
        problems[0]
            .as_str()
            .unwrap()
            .starts_with("campaigns/people.csv:5"),
        "{problems:#}"
    );
    let sent = sb.mock.wait_until(Duration::from_secs(10), |m| {
        m.delivered() == recipients.len()
    });
    let exit = daemon.stop();
    exit.assert_success();
    assert!(
        sent,
        "the last good version was not sent: {} requests\n--- log\n{}",
        sb.mock.requests().len(),
        exit.stderr
    );
    assert_each_requested_once(&sb.mock, &recipients);
}

#[test]
fn a_sighup_during_start_does_not_kill_the_daemon() {
    let sb = Sandbox::new();
    // Enough rows that loading takes a moment (about 0.4 s in a debug build).
    let mut csv = String::from("mobile,name\n");
    for i in 0..100_000 {
        csv.push_str(&format!("9170{i:08},R{i}\n"));
    }
    sb.write("campaigns/people.csv", &csv);
    sb.write(
        "campaigns/people.yaml",
        &csv_campaign("people", &at(seconds_ahead(86_400))),
    );
    let mut daemon = sb.spawn(&[]);
    // Once the binary runs (exec done), it is loading the files.
    let exe = format!("/proc/{}/exe", daemon.child.id());
    assert!(eventually(WAIT, || std::fs::read_link(&exe)
        .is_ok_and(|p| p.ends_with("campaignctl"))));
    // Past process start-up (the first milliseconds after exec, before `main` can install
    // anything, belong to the loader): well inside the load of the CSV.
    std::thread::sleep(Duration::from_millis(100));
    let status = Command::new("kill")
        .args(["-HUP", &daemon.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let alive = eventually(WAIT, || {
        if daemon.child.try_wait().unwrap().is_some() {
            return true;
        }
        http_get(daemon.port, "/healthz").is_some_and(|(_, body)| body.contains("\"people\""))
    }) && daemon.child.try_wait().unwrap().is_none();
    if !alive {
        let exit = daemon.wait_exit();
        panic!(
            "the daemon died: exit code {:?}, killed by signal {:?}\n--- log\n{}",
            exit.status.code(),
            exit.status.signal(),
            exit.stderr
        );
    }
    daemon.stop().assert_success();
}

#[test]
fn a_restart_does_not_start_a_sent_fractional_second_occurrence_again() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..2);
    let when = seconds_ahead(3) + TimeDelta::milliseconds(500);
    let schedule = format!(
        "schedule:\n  at: \"{}\"\n",
        when.to_rfc3339_opts(SecondsFormat::Millis, true)
    );
    sb.write(
        "campaigns/frac.yaml",
        &campaign("frac", "E", &recipients, &schedule),
    );
    let mut daemon = sb.start(&[], 1);
    sb.mock.wait_for_deliveries(1, WAIT);
    daemon.wait_log(&["occurrence finished"]);
    daemon.stop().assert_success();
    let mut daemon = sb.start(&[], 1);
    std::thread::sleep(Duration::from_millis(1000));
    let metrics = daemon.metrics();
    let exit = daemon.stop();
    exit.assert_success();
    assert_eq!(sb.mock.requests().len(), 1, "nothing is resent");
    assert!(
        !exit.stderr.contains("occurrence started"),
        "{}",
        exit.stderr
    );
    assert!(
        !metrics.contains("campaignctl_occurrences_total{"),
        "{metrics}"
    );
}

#[test]
fn an_occurrence_due_during_a_slow_reload_still_fires_on_time() {
    let sb = Sandbox::new();
    // A large recipient list: loading and checking the set takes a few seconds (debug).
    let mut csv = String::from("mobile,name\n");
    for i in 0..600_000 {
        csv.push_str(&format!("9170{i:08},R{i}\n"));
    }
    sb.write("campaigns/people.csv", &csv);
    sb.write(
        "campaigns/people.yaml",
        &csv_campaign("people", &at(seconds_ahead(86_400))),
    );
    let recipients = mobiles(1..2);
    sb.write(
        "campaigns/punctual.yaml",
        &campaign("punctual", "E", &recipients, &at(seconds_ahead(86_400))),
    );
    let mut daemon = sb.start(&[], 2);
    // Re-time the small campaign; the watcher reloads the set, which shows how long that takes.
    let when = seconds_ahead(15);
    let loading = Instant::now();
    sb.write(
        "campaigns/punctual.yaml",
        &campaign("punctual", "E", &recipients, &at(when)),
    );
    daemon.wait_for("the new time", |d| {
        d.campaign("punctual")["next_run"] == rfc(when)
    });
    let reload = loading.elapsed();
    eprintln!("one reload of the set: {reload:?}");
    // A reload that starts 200 ms before the fire time.
    let start_reload = when - TimeDelta::milliseconds(200);
    let wait = (start_reload - Utc::now())
        .to_std()
        .expect("time left before the fire time");
    std::thread::sleep(wait);
    daemon.signal("HUP");
    sb.mock.wait_for_deliveries(1, WAIT);
    let late = lateness_ms(&sb.mock, &sb.mock.requests()[0], when);
    daemon.stop().assert_success();
    assert!(
        late <= MAX_FIRE_DELAY_MS,
        "sent {late} ms after its time; a reload takes {reload:?}"
    );
}

/// A connection left idle in the pool while something on the path (a NAT, a firewall)
/// silently dropped it would swallow the next occurrence's request: no answer, the request
/// timeout, `unknown`, and no automatic resend. `--pool-idle-timeout` bounds how long an
/// idle connection may be reused: here 1 s, in front of a relay that blackholes connections
/// idle for 2 s, with the second occurrence 6 s after the first, so it must go out on a new
/// connection. (The flag takes the schedule's durations, whole s/m/h: `500ms` does not
/// parse, hence 1 s and 2 s.)
#[test]
fn an_idle_connection_dropped_silently_by_a_relay_is_not_reused() {
    let sb = Sandbox::new();
    let relay = Relay::start(sb.mock.addr(), Some(Duration::from_secs(2)));
    let first = seconds_ahead(3);
    let second = first + TimeDelta::seconds(6);
    sb.write(
        "campaigns/first.yaml",
        &campaign("first", "E", &mobiles(1..2), &at(first)),
    );
    sb.write(
        "campaigns/second.yaml",
        &campaign("second", "E", &mobiles(2..3), &at(second)),
    );
    let mut daemon = sb.start_with(&["--pool-idle-timeout", "1s"], 2, |command| {
        command.env("CHITCHAT_BASE_URL", relay.url());
        for name in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "NO_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
            "no_proxy",
        ] {
            command.env_remove(name);
        }
    });
    sb.wait_sent("first", 1);
    assert!(
        Utc::now() < second - TimeDelta::seconds(2),
        "precondition: the first occurrence was sent well before the second"
    );
    // Until the second send has settled: `sent`, or `unknown` after the daemon's 30 s
    // request timeout on a swallowed request.
    let mut rows = Vec::new();
    let settled = eventually(Duration::from_secs(60), || {
        rows = sb.sends_of("second");
        rows.len() == 1 && rows[0].status != "in_flight"
    });
    assert!(settled, "{rows:#?}\n--- log\n{}", daemon.log());
    assert_eq!(
        rows[0].status,
        "sent",
        "the second occurrence went out on the dead connection\n--- log\n{}",
        daemon.log()
    );
    for m in mobiles(1..3) {
        assert_eq!(sb.mock.deliveries(&m), 1, "deliveries to {m}");
    }
    assert_eq!(sb.mock.request_count(), 2);
    assert!(
        relay.counts().connections >= 2,
        "one connection per occurrence: {:?}",
        relay.counts()
    );
    daemon.stop().assert_success();
}

#[test]
fn opt_outs_of_the_project_file_and_of_the_ledger_at_fire_time_are_never_sent() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..5);
    let when = seconds_ahead(6);
    sb.write("campaignctl.yaml", "suppressions: [optouts.csv]\n");
    sb.write(
        "optouts.csv",
        &format!("mobile,reason\n{},replied STOP\n", mobile(1)),
    );
    sb.write(
        "campaigns/soon.yaml",
        &campaign("soon", "Race day", &recipients, &at(when)),
    );
    let mut daemon = sb.start(&[], 1);
    // Opted out while the daemon runs (it holds the ledger's lock), before the fire time:
    // the occurrence is planned against the ledger's opt-outs of that moment.
    let state = sb.state().display().to_string();
    let out = sb
        .command(&["optout", "add", &mobile(2), "--state", &state])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "optout add while the daemon runs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        Utc::now() < when,
        "precondition: opted out before the fire time"
    );
    let rows = sb.wait_sent("soon", 2);
    daemon.wait_log(&["occurrence finished", "sent=2"]);
    let sent: Vec<&str> = rows.iter().map(|r| r.recipient.as_str()).collect();
    assert_eq!(sent, [mobile(3), mobile(4)]);
    for m in [mobile(1), mobile(2)] {
        assert!(
            sb.mock.requests_for(&m).is_empty(),
            "{m} opted out, yet was sent"
        );
    }
    let started = daemon.log_lines_with("occurrence started");
    assert!(
        started.len() == 1 && started[0].contains("suppressed=2"),
        "{started:?}"
    );
    daemon.stop().assert_success();
}

#[test]
fn a_template_error_stops_the_rest_of_its_occurrence_and_is_logged() {
    let sb = Sandbox::new();
    let (paused, fine) = (mobiles(1..11), mobiles(101..104));
    let when = seconds_ahead(4);
    sb.write(
        "campaigns/paused.yaml",
        &campaign("paused", "E", &paused, &at(when)),
    );
    sb.write(
        "campaigns/fine.yaml",
        &campaign("fine", "E", &fine, &at(when)),
    );
    let body = r#"{"error":{"code":132015,"message":"Template is paused"}}"#;
    for m in &paused {
        sb.mock.for_mobile(m, Fault::Json(400, body.to_owned()));
    }
    // One request slot for both occurrences: a send of the stopped one that is waiting for
    // it is not sent when it gets it.
    let mut daemon = sb.start(&["--concurrency", "1"], 2);
    daemon.wait_log(&[
        "campaign `paused` stopped after WhatsApp 132015 (template paused for low quality): 9 of its send(s) not started",
        "every one would fail the same way: fix the template or its params",
    ]);
    sb.wait_sent("fine", fine.len());
    daemon.wait_log(&["occurrence finished", "campaign=\"fine\"", "sent=3"]);
    daemon.wait_log(&["occurrence finished", "campaign=\"paused\"", "failed=1"]);
    let rows = sb.sends_of("paused");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].status, "failed");
    let requested: usize = paused.iter().map(|m| sb.mock.requests_for(m).len()).sum();
    assert_eq!(requested, 1);
    assert_each_requested_once(&sb.mock, &fine);
    daemon.stop().assert_success();
}

#[test]
fn an_occurrence_slower_than_its_rate_logs_why_and_its_ambiguous_retries() {
    let sb = Sandbox::new();
    let recipients = mobiles(1..9);
    let when = seconds_ahead(3);
    sb.write(
        "campaigns/slow.yaml",
        &campaign("slow", "E", &recipients, &at(when)),
    );
    // One request in flight at 250 ms each reaches 4 sends per second, not 50.
    sb.mock.delay(Duration::from_millis(250));
    // A 500 is ambiguous: retried only because the daemon is asked to.
    sb.mock.for_mobile_first(&mobile(2), 1, Fault::Status(500));
    let mut daemon = sb.start(
        &[
            "--rate",
            "50",
            "--max-concurrency",
            "1",
            "--retry-ambiguous",
        ],
        1,
    );
    daemon.wait_log(&[
        "occurrence finished",
        "sent=8",
        " retries=1",
        "ambiguous_retries=1",
    ]);
    let slow = daemon.log_lines_with("occurrence slower than asked");
    assert_eq!(slow.len(), 1, "{}", daemon.log());
    let line = &slow[0];
    eprintln!("{line}");
    for needle in [
        "WARN",
        "campaign=\"slow\"",
        "sends/s of the 50 asked (--rate): at most 1 requests in flight at ",
        "(--max-concurrency); raise it to reach the rate",
        "asked=50",
        "limit=1",
        "latency_ms=",
    ] {
        assert!(line.contains(needle), "{needle:?} not in {line}");
    }
    assert!(!line.contains("slowed_to"), "{line}");
    let achieved: f64 = line
        .split("achieved=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no achieved rate in {line}"));
    assert!(0.0 < achieved && achieved < 10.0, "{line}");
    let latency: u64 = line
        .split("latency_ms=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no latency in {line}"));
    assert!(latency >= 250, "{line}");
    assert_each_requested_once(&sb.mock, &[mobile(1), mobile(3), mobile(8)]);
    assert_eq!(sb.mock.requests_for(&mobile(2)).len(), 2);
    daemon.stop().assert_success();
}

/// The daemon keeps each recipient's send window: at the occurrence it sends the recipient
/// whose window is open, plans the occurrence again when the next one opens (within a
/// minute, on the clock of London) and sends that recipient then, once; a recipient whose
/// window does not open within `max_delay` is recorded missed with the reason.
#[test]
fn recipients_outside_their_window_are_sent_when_it_opens_or_recorded_missed() {
    let sb = Sandbox::new();
    let when = seconds_ahead(3);
    // The window opens at a whole minute of London's clock, at least 10 s after the
    // occurrence, and lasts 6 hours: India's clock (4:30 or 5:30 ahead) is inside it already;
    // Kiritimati's (14 hours ahead of London) is not, and opens only many hours later.
    let opens = minute_after(when, 10);
    sb.write("campaignctl.yaml", &london_window(opens));
    let (india, britain, kiritimati) = ("919739978284", "447400123456", "919739978285");
    sb.write(
        "campaigns/windowed.yaml",
        &format!(
            "name: windowed\ntemplate: welcome_message\nlanguage: en\nparams: [x, y]\nrecipients:\n  - mobile: \"{india}\"\n  - mobile: \"{britain}\"\n  - mobile: \"{kiritimati}\"\n    timezone: Pacific/Kiritimati\n{}",
            at(when)
        ),
    );
    let mut daemon = sb.start(&[], 1);
    sb.mock.wait_for_deliveries(1, Duration::from_secs(20));
    daemon.wait_log(&[
        "sends wait for their send window or the daily limit",
        "waiting=1",
    ]);
    let missed = daemon.log_lines_with("recorded as missed");
    assert_eq!(missed.len(), 1, "{}", daemon.log());
    assert_eq!(
        sb.mock.deliveries(britain),
        0,
        "not before its window opens"
    );
    sb.mock
        .wait_for_deliveries(2, (opens - Utc::now()).to_std().unwrap() + WAIT);
    // When the send was claimed, just before its request left, by the daemon's clock (the
    // mock's clock of arrivals runs apart from the wall clock by a few milliseconds).
    let claimed: String = sb
        .open_ledger()
        .unwrap()
        .query_row(
            "SELECT created_at FROM sends WHERE recipient = ?1",
            [britain],
            |row| row.get(0),
        )
        .unwrap();
    let claimed: DateTime<Utc> = claimed.parse().unwrap();
    assert!(
        claimed >= opens,
        "claimed at {claimed}, before its window opened at {opens}\n{}",
        daemon.log()
    );
    daemon.wait_log(&["occurrence resumed: its waiting sends may go"]);
    let statuses = || {
        let rows = sb.sends_of("windowed");
        let status = |number: &str| {
            rows.iter()
                .find(|r| r.recipient == number)
                .map(|r| r.status.clone())
        };
        (status(india), status(britain), status(kiritimati))
    };
    let expected = (
        Some("sent".to_owned()),
        Some("sent".to_owned()),
        Some("missed".to_owned()),
    );
    // The answer is recorded a moment after the mock received the request.
    eventually(WAIT, || statuses() == expected);
    assert_eq!(statuses(), expected);
    assert_each_requested_once(&sb.mock, &[india.to_owned(), britain.to_owned()]);
    assert_eq!(sb.mock.requests_for(kiritimati).len(), 0);
    daemon.stop().assert_success();
}

/// A daemon restarted after an occurrence's `catch_up`, while its only send still waits for
/// its window, completes the occurrence: the send goes when the window opens, once, and
/// the occurrence is not recorded missed. Nothing of it was in `sends` at the restart.
#[test]
fn a_restart_keeps_an_occurrence_whose_sends_all_wait_for_their_window() {
    let sb = Sandbox::new();
    let when = seconds_ahead(3);
    // The window opens on a whole minute of London's clock, late enough for the daemon to
    // stop and start again after the occurrence's 10 s of catch_up.
    let opens = minute_after(when, 30);
    sb.write("campaignctl.yaml", &london_window(opens));
    let britain = "447400123456";
    sb.write(
        "campaigns/waits.yaml",
        &format!(
            "name: waits\ntemplate: welcome_message\nlanguage: en\nparams: [x, y]\nrecipients:\n  - mobile: \"{britain}\"\n{}  catch_up: 10s\n",
            at(when)
        ),
    );
    let mut daemon = sb.start(&[], 1);
    daemon.wait_log(&[
        "sends wait for their send window or the daily limit",
        "waiting=1",
    ]);
    daemon.stop().assert_success();
    assert!(
        sb.sends_of("waits").is_empty(),
        "nothing sent or recorded yet"
    );
    let past_catch_up = when + TimeDelta::seconds(11) - Utc::now();
    std::thread::sleep(past_catch_up.to_std().unwrap_or_default());

    let mut daemon = sb.start(&[], 1);
    daemon.wait_log(&["occurrence still within its deadline"]);
    // Planned again at once, it waits for the window, and says so on /healthz.
    let waiting = serde_json::json!([{ "occurrence": rfc(when), "next": rfc(opens) }]);
    daemon.wait_for("the waiting occurrence on /healthz", |d| {
        d.campaign("waits")["waiting"] == waiting
    });
    let metrics = daemon.metrics();
    assert!(
        metrics.contains("campaignctl_waiting_occurrences{campaign=\"waits\"} 1\n"),
        "{metrics}"
    );
    sb.mock
        .wait_for_deliveries(1, (opens - Utc::now()).to_std().unwrap() + WAIT);
    let sent = || {
        sb.sends_of("waits")
            .iter()
            .map(|r| (r.recipient.clone(), r.status.clone()))
            .collect::<Vec<_>>()
    };
    let expected = vec![(britain.to_owned(), "sent".to_owned())];
    eventually(WAIT, || sent() == expected);
    assert_eq!(sent(), expected, "{}", daemon.log());
    assert_each_requested_once(&sb.mock, &[britain.to_owned()]);
    daemon.wait_for("nothing waiting on /healthz", |d| {
        d.campaign("waits")["waiting"] == serde_json::json!([])
    });
    assert!(
        !daemon
            .metrics()
            .contains("campaignctl_waiting_occurrences{"),
        "{}",
        daemon.metrics()
    );
    assert!(
        daemon.log_lines_with("occurrence missed").is_empty(),
        "{}",
        daemon.log()
    );
    daemon.stop().assert_success();
}

/// A restart takes up every occurrence whose sends may still wait, not only the latest:
/// two earlier minutes of a per-minute cron whose starts are in the ledger (their only send
/// waiting for its window) are sent when the window opens, once each.
#[test]
fn a_restart_keeps_every_occurrence_whose_sends_wait() {
    let sb = Sandbox::new();
    let now = Utc::now();
    let opens = minute_after(now, 20);
    sb.write("campaignctl.yaml", &london_window(opens));
    let britain = "447400123456".to_owned();
    sb.write(
        "campaigns/minutely.yaml",
        &campaign(
            "minutely",
            "E",
            std::slice::from_ref(&britain),
            &cron("* * * * *", "5s"),
        ),
    );
    // The ledger, as a daemon leaves it; then two earlier minutes it started.
    sb.start(&[], 1).stop().assert_success();
    let earlier = [2, 3].map(|m| rfc(minute_floor(now) - TimeDelta::minutes(m)));
    let ledger = Connection::open(sb.state()).unwrap();
    for at in &earlier {
        ledger
            .execute(
                "INSERT INTO fired (campaign, occurrence, fired_at) VALUES ('minutely', ?1, ?1)",
                [at],
            )
            .unwrap();
    }
    drop(ledger);

    let mut daemon = sb.start(&[], 1);
    for at in &earlier {
        daemon.wait_log(&["occurrence still within its deadline", at]);
    }
    let sent = |at: &str| {
        sb.sends_of("minutely")
            .iter()
            .filter(|r| r.occurrence == at && r.status == "sent")
            .count()
    };
    let wait = (opens - Utc::now()).to_std().unwrap() + WAIT;
    assert!(
        eventually(wait, || earlier.iter().all(|at| sent(at) == 1)),
        "{}",
        daemon.log()
    );
    daemon.stop().assert_success();
    // Nothing twice: one request per row (later minutes of the cron send too).
    let rows = sb.sends_of("minutely");
    assert_eq!(sb.mock.requests().len(), rows.len(), "{rows:#?}");
}

/// Occurrences of two campaigns at the same second share the daily limit: each counts what
/// the other admitted though the ledger does not have it yet, so together they send no
/// more than the limit, and the rest wait for the 24 hours to free up.
#[test]
fn occurrences_at_the_same_time_share_the_daily_limit() {
    let sb = Sandbox::new();
    sb.write("campaignctl.yaml", "limits:\n  daily_recipients: 4\n");
    let when = seconds_ahead(3);
    sb.write(
        "campaigns/first.yaml",
        &campaign("first", "A", &mobiles(1..4), &at(when)),
    );
    sb.write(
        "campaigns/second.yaml",
        &campaign("second", "B", &mobiles(11..14), &at(when)),
    );
    let mut daemon = sb.start(&[], 2);
    daemon.wait_log(&["sends wait for their send window or the daily limit"]);
    daemon.wait_log(&["occurrence finished", "campaign=\"first\""]);
    daemon.wait_log(&["occurrence finished", "campaign=\"second\""]);
    sb.mock.wait_idle(WAIT);
    assert_eq!(sb.mock.delivery_count(), 4, "{}", daemon.log());
    let waiting: usize = daemon
        .log_lines_with("sends wait for their send window or the daily limit")
        .iter()
        .map(|line| {
            line.split("waiting=")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(waiting, 2, "{}", daemon.log());
    daemon.stop().assert_success();
}
