//! The PostgreSQL ledger end to end: the real binary with `--state postgres://...` against
//! the PostgreSQL server on loopback (`CAMPAIGNCTL_TEST_PG`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, trust auth) and the mock API
//! (tests/mock_api.rs). Each test gets its own database, dropped after it (`TestDb`).
//!
//! Covered: plan/apply/status with the URL in `--state` and `CAMPAIGNCTL_STATE`, passwords
//! never shown, connection errors; concurrent applies and the writer lock; `run` replicas
//! (leader and standby, SIGKILL of the leader, `pg_terminate_backend` of its session), a
//! database outage during `run` and during `apply`; `state migrate` from SQLite; `plan`,
//! `status` and `apply --dry-run` never creating tables. Bugs found are `#[ignore = "bug: ..."]`
//! tests that pass once they are fixed.
//!
//! The URLs carry a password (`secretpw`): trust auth ignores it, and every output is checked
//! not to contain it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use postgres::{Client, NoTls};
use serde_json::Value;

use crate::mock_api::{Answer, Fault, MockApi};
use crate::output::Run;

const BIN: &str = env!("CARGO_BIN_EXE_campaignctl");
const KEY: &str = "cc-live-pg-tests-key";
/// The password in every ledger URL the tests give campaignctl: it must never be printed.
const PASSWORD: &str = "secretpw";
/// Upper bound for eventual conditions (generous: the suite runs tests in parallel on two
/// cores).
const WAIT: Duration = Duration::from_secs(30);
/// The advisory lock key of the ledger's writer lock (src/postgres_ledger.rs).
const LOCK_KEY: i64 = 0x6361_6d70_6169_676e;

// ---------------------------------------------------------------------------------------
// Databases

fn admin_url() -> String {
    std::env::var("CAMPAIGNCTL_TEST_PG").unwrap_or_else(|_| {
        "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".to_owned()
    })
}

fn admin_config() -> postgres::Config {
    let url = admin_url();
    let base = url.split('?').next().expect("admin URL");
    postgres::Config::from_str(base).expect("CAMPAIGNCTL_TEST_PG is a postgres:// URL")
}

fn admin() -> Client {
    admin_config().connect(NoTls).unwrap_or_else(|e| {
        panic!(
            "the PostgreSQL tests need a server at {} (trust auth): {e}",
            admin_url()
        )
    })
}

/// A fresh database for one test, dropped (with every session on it) when this is dropped.
pub(crate) struct TestDb {
    name: String,
    user: String,
    host: String,
    port: u16,
}

impl TestDb {
    pub(crate) fn create(label: &str) -> TestDb {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "campaignctl_it_{}_{}_{label}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let config = admin_config();
        let host = match config.get_hosts().first() {
            Some(postgres::config::Host::Tcp(host)) => host.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        let db = TestDb {
            name,
            user: config.get_user().unwrap_or("postgres").to_owned(),
            host,
            port: config.get_ports().first().copied().unwrap_or(5432),
        };
        admin()
            .batch_execute(&format!("CREATE DATABASE {}", db.name))
            .expect("create the test database");
        db
    }

    /// The URL campaignctl is given: with a password (ignored by trust auth).
    pub(crate) fn url(&self) -> String {
        format!(
            "postgres://{}:{PASSWORD}@{}:{}/{}?sslmode=disable",
            self.user, self.host, self.port, self.name
        )
    }

    /// [`TestDb::url`] as campaignctl shows it.
    fn redacted(&self) -> String {
        format!(
            "postgres://{}:***@{}:{}/{}?sslmode=disable",
            self.user, self.host, self.port, self.name
        )
    }

    fn client(&self) -> Client {
        let mut config = admin_config();
        config.dbname(&self.name);
        config.connect(NoTls).expect("connect to the test database")
    }

    /// Waits until no other session is connected to this database: a process killed with
    /// SIGKILL leaves its session to the server, which may still be committing its last
    /// transaction (or rolling it back) when the test reads the rows.
    fn wait_sessions_gone(&self) {
        let mut client = self.client();
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let others: i64 = client
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    &[],
                )
                .expect("count sessions")
                .get(0);
            if others == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{others} sessions still on {} after {WAIT:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every `sends` row, by key.
    fn sends(&self) -> Vec<Record> {
        self.client()
            .query(
                "SELECT key, campaign, file, occurrence, recipient, endpoint, request, request_hash,
                        status, attempts, http_status, response, error, created_at, updated_at
                 FROM sends ORDER BY key COLLATE \"C\"",
                &[],
            )
            .expect("read sends")
            .iter()
            .map(|r| Record {
                key: r.get(0),
                campaign: r.get(1),
                file: r.get(2),
                occurrence: r.get(3),
                recipient: r.get(4),
                endpoint: r.get(5),
                request: r.get(6),
                request_hash: r.get(7),
                status: r.get(8),
                attempts: i64::from(r.get::<_, i32>(9)),
                http_status: r.get::<_, Option<i32>>(10).map(i64::from),
                response: r.get(11),
                error: r.get(12),
                created_at: r.get(13),
                updated_at: r.get(14),
            })
            .collect()
    }

    /// Every `missed` row: (campaign, occurrence, file, recorded_at).
    fn missed(&self) -> Vec<(String, String, String, String)> {
        self.client()
            .query(
                "SELECT campaign, occurrence, file, recorded_at FROM missed
                 ORDER BY campaign COLLATE \"C\", occurrence COLLATE \"C\"",
                &[],
            )
            .expect("read missed")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect()
    }

    /// Every `fired` row: (campaign, occurrence, fired_at).
    fn fired(&self) -> Vec<(String, String, String)> {
        self.client()
            .query(
                "SELECT campaign, occurrence, fired_at FROM fired
                 ORDER BY campaign COLLATE \"C\", occurrence COLLATE \"C\"",
                &[],
            )
            .expect("read fired")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    /// Relations in the database outside the system schemas.
    fn relations(&self) -> Vec<String> {
        self.client()
            .query(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                   AND n.nspname NOT LIKE 'pg_toast%'
                 ORDER BY 1",
                &[],
            )
            .expect("list relations")
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// The backend holding the ledger's writer lock, if any.
    fn lock_holder_backend(&self) -> Option<i32> {
        admin()
            .query_opt(
                "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                 WHERE d.datname = $1 AND l.locktype = 'advisory' AND l.granted
                   AND l.classid::BIGINT = ($2::BIGINT >> 32)
                   AND l.objid::BIGINT = ($2::BIGINT & 4294967295) AND l.objsubid = 1",
                &[&self.name, &LOCK_KEY],
            )
            .expect("query pg_locks")
            .map(|r| r.get(0))
    }

    /// Sessions on this database, by application name.
    fn sessions(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for row in admin()
            .query(
                "SELECT coalesce(application_name, '') FROM pg_stat_activity WHERE datname = $1",
                &[&self.name],
            )
            .expect("query pg_stat_activity")
        {
            *out.entry(row.get::<_, String>(0)).or_default() += 1;
        }
        out
    }

    /// Ends backends on this database (`pg_terminate_backend`); returns how many.
    fn terminate(&self, only: Option<i32>) -> usize {
        admin()
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = $1 AND pid <> pg_backend_pid() AND ($2::INT IS NULL OR pid = $2)",
                &[&self.name, &only],
            )
            .expect("pg_terminate_backend")
            .len()
    }

    /// `ALTER DATABASE ... ALLOW_CONNECTIONS`: a blocked database refuses every new session.
    fn allow_connections(&self, allow: bool) {
        admin()
            .batch_execute(&format!(
                "ALTER DATABASE {} ALLOW_CONNECTIONS {allow}",
                self.name
            ))
            .expect("alter database");
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = admin_config().connect(NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// One ledger row, every column (from PostgreSQL or from the SQLite file).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    key: String,
    campaign: String,
    file: String,
    occurrence: String,
    recipient: String,
    endpoint: String,
    request: String,
    request_hash: String,
    status: String,
    attempts: i64,
    http_status: Option<i64>,
    response: Option<String>,
    error: Option<String>,
    created_at: String,
    updated_at: String,
}

fn sqlite_sends(path: &Path) -> Vec<Record> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the SQLite ledger");
    let mut stmt = conn
        .prepare(
            "SELECT key, campaign, file, occurrence, recipient, endpoint, request, request_hash,
                    status, attempts, http_status, response, error, created_at, updated_at
             FROM sends ORDER BY key",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok(Record {
            key: r.get(0)?,
            campaign: r.get(1)?,
            file: r.get(2)?,
            occurrence: r.get(3)?,
            recipient: r.get(4)?,
            endpoint: r.get(5)?,
            request: r.get(6)?,
            request_hash: r.get(7)?,
            status: r.get(8)?,
            attempts: r.get(9)?,
            http_status: r.get(10)?,
            response: r.get(11)?,
            error: r.get(12)?,
            created_at: r.get(13)?,
            updated_at: r.get(14)?,
        })
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn sqlite_missed(path: &Path) -> Vec<(String, String, String, String)> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the SQLite ledger");
    let mut stmt = conn
        .prepare("SELECT campaign, occurrence, file, recorded_at FROM missed ORDER BY campaign, occurrence")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn sqlite_fired(path: &Path) -> Vec<(String, String, String)> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the SQLite ledger");
    let mut stmt = conn
        .prepare("SELECT campaign, occurrence, fired_at FROM fired ORDER BY campaign, occurrence")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn statuses(records: &[Record]) -> BTreeMap<String, String> {
    records
        .iter()
        .map(|r| (r.key.clone(), r.status.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Campaign files

/// `919000000000 + i`: distinct valid mobile numbers.
fn mobile(i: usize) -> String {
    format!("9190000{i:05}")
}

/// A single-send campaign: template `welcome_message`, one param (the recipient's name),
/// optionally with `schedule: at: AT`.
fn campaign(name: &str, recipients: &[String], at: Option<DateTime<Utc>>) -> String {
    let mut text = format!(
        "name: {name}\n\
         template: welcome_message\n\
         language: en\n\
         params:\n  - \"{{{{ recipient.name }}}}\"\n\
         recipients:\n"
    );
    for (i, m) in recipients.iter().enumerate() {
        text.push_str(&format!("  - mobile: \"{m}\"\n    name: Runner{i}\n"));
    }
    if let Some(at) = at {
        text.push_str(&format!("schedule:\n  at: \"{}\"\n", rfc3339(at)));
    }
    text
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The next whole second after now, plus `seconds`.
fn seconds_from_now(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(Utc::now().timestamp() + 1 + seconds, 0).expect("a valid instant")
}

// ---------------------------------------------------------------------------------------
// Processes

/// One test's world: a temporary directory (campaign files), a mock API and a database.
struct Pg {
    dir: tempfile::TempDir,
    mock: MockApi,
    /// When the mock started (its request times are relative to this), give or take a
    /// millisecond.
    mock_epoch: DateTime<Utc>,
    db: TestDb,
}

impl Pg {
    fn new(label: &str) -> Pg {
        let mock_epoch = Utc::now();
        let mock = MockApi::start();
        Pg {
            dir: tempfile::tempdir().expect("tempdir"),
            mock,
            mock_epoch,
            db: TestDb::create(label),
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

    /// `campaignctl ARGS` in the temporary directory, with the API key and the mock's URL, no
    /// terminal, and no ledger or PostgreSQL settings from the environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("CHITCHAT_API_KEY", KEY)
            .env("CHITCHAT_BASE_URL", self.mock.url())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for var in [
            "CAMPAIGNCTL_STATE",
            "PGUSER",
            "PGPASSWORD",
            "PGHOST",
            "PGPORT",
            "PGDATABASE",
            "PGSSLMODE",
            "PGSSLROOTCERT",
        ] {
            command.env_remove(var);
        }
        command
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run campaignctl"))
    }

    /// `apply campaigns --yes --rate 0 --state URL EXTRA...`
    fn apply(&self, extra: &[&str]) -> Run {
        let url = self.db.url();
        let mut args = vec![
            "apply",
            "campaigns",
            "--yes",
            "--rate",
            "0",
            "--state",
            &url,
        ];
        args.extend(extra);
        self.run(&args)
    }

    /// A `run` replica on the test's ledger, with its own API key (so the mock can tell which
    /// replica sent what) and `/healthz` on a free port.
    fn spawn_replica(&self, name: &str, extra: &[&str]) -> Replica {
        let port = free_port();
        let url = self.db.url();
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec![
            "run",
            "campaigns",
            "--state",
            &url,
            "--listen",
            &listen,
            "--rate",
            "0",
        ];
        args.extend(extra);
        let log = self.path(&format!("replica-{name}.log"));
        let file = File::create(&log).expect("replica log");
        let key = format!("{KEY}-replica-{name}");
        let child = self
            .command(&args)
            .env("CHITCHAT_API_KEY", &key)
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("spawn campaignctl run");
        let replica = Replica {
            name: name.to_owned(),
            key,
            port,
            log,
            child,
        };
        wait_for(WAIT, &format!("replica {name} to serve /healthz"), || {
            replica.health().is_some()
        });
        replica
    }

    /// When the mock received the delivered request for `mobile` (wall clock).
    fn delivered_at(&self, mobile: &str) -> Option<DateTime<Utc>> {
        self.mock
            .requests_for(mobile)
            .iter()
            .find(|r| r.answer == Some(Answer::Delivered))
            .map(|r| self.mock_epoch + TimeDelta::from_std(r.at).unwrap())
    }

    /// Waits until `mobile` has a delivery.
    #[track_caller]
    fn wait_delivered(&self, mobile: &str, timeout: Duration) -> DateTime<Utc> {
        assert!(
            self.mock
                .wait_until(timeout, |m| m.requests().iter().any(|r| r
                    .recipient
                    .as_deref()
                    == Some(mobile)
                    && r.answer == Some(Answer::Delivered))),
            "{mobile} was not delivered within {timeout:?}; requests: {:?}",
            self.mock
                .requests()
                .iter()
                .map(|r| (&r.recipient, &r.answer))
                .collect::<Vec<_>>()
        );
        self.delivered_at(mobile).expect("delivered")
    }

    /// The API key the request for `mobile` carried (which replica sent it).
    fn sender_of(&self, mobile: &str) -> String {
        let requests = self.mock.requests_for(mobile);
        assert_eq!(requests.len(), 1, "requests for {mobile}: {requests:?}");
        requests[0].header("x-tenant-api-key").to_owned()
    }
}

/// A `campaignctl run` process; killed when dropped.
struct Replica {
    name: String,
    key: String,
    port: u16,
    log: PathBuf,
    child: Child,
}

impl Replica {
    fn health(&self) -> Option<Value> {
        http_get(self.port, "/healthz").and_then(|body| serde_json::from_str(&body).ok())
    }

    fn role(&self) -> Option<String> {
        self.health()
            .and_then(|h| h["role"].as_str().map(str::to_owned))
    }

    fn metrics(&self) -> Option<String> {
        http_get(self.port, "/metrics")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn sigkill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// SIGTERM, then waits for the exit (the daemon lets sends in flight finish).
    fn sigterm(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "replica {} did not stop after SIGTERM; log:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `GET path` on 127.0.0.1:port; the body of a 200 answer.
fn http_get(port: u16, path: &str) -> Option<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

/// Polls `condition` every 50 ms until it holds; panics after `timeout`.
#[track_caller]
fn wait_for(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until exactly one replica reports `leader` and every other `standby`; returns the
/// leader's index.
#[track_caller]
fn wait_single_leader(replicas: &[&Replica]) -> usize {
    let mut leader = None;
    wait_for(WAIT, "exactly one leader and the rest on standby", || {
        let roles: Vec<Option<String>> = replicas.iter().map(|r| r.role()).collect();
        let leaders: Vec<usize> = (0..roles.len())
            .filter(|i| roles[*i].as_deref() == Some("leader"))
            .collect();
        let standbys = roles
            .iter()
            .filter(|r| r.as_deref() == Some("standby"))
            .count();
        leader = leaders.first().copied();
        leaders.len() == 1 && standbys == replicas.len() - 1
    });
    leader.expect("a leader")
}

/// A metric's value in Prometheus text (`name value` lines without labels).
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_owned()
}

// ---------------------------------------------------------------------------------------
// plan, apply, status

#[test]
fn plan_apply_status_on_postgres_by_flag_and_by_environment_never_showing_the_password() {
    let pg = Pg::new("basic");
    let recipients: Vec<String> = (1..4).map(mobile).collect();
    pg.write(
        "campaigns/welcome.yaml",
        &campaign("welcome", &recipients, None),
    );
    let url = pg.db.url();
    let mut runs = Vec::new();

    let plan = pg.run(&["plan", "campaigns", "--state", &url]);
    plan.assert_code(0);
    assert!(
        plan.stdout.ends_with(
            "Plan: 3 send(s) due now in 1 of 1 campaign(s); 0 not due; 0 already sent.\n"
        ),
        "{}",
        plan.stdout
    );
    runs.push(plan);

    let apply = pg.apply(&[]);
    apply.assert_code(0);
    assert_eq!(
        apply.stdout,
        "welcome: 3 due (once due)\nApplied: 3 sent, 0 failed, 0 unknown, 0 skipped as already sent.\n"
    );
    runs.push(apply);

    let again = pg.apply(&[]);
    again.assert_code(0);
    assert_eq!(
        again.stdout,
        "welcome: 0 due, 3 already sent (once due)\nNothing to send (3 already sent).\n"
    );
    assert_eq!(
        pg.mock.requests().len(),
        3,
        "the second apply sent something"
    );
    runs.push(again);

    let status = pg.run(&["status", "--state", &url]);
    status.assert_code(0);
    assert_eq!(status.stdout, "campaign welcome\n  once: 3 sent\n");
    runs.push(status);

    // The same ledger through CAMPAIGNCTL_STATE: a new recipient is the only send.
    let mut more = recipients.clone();
    more.push(mobile(4));
    pg.write("campaigns/welcome.yaml", &campaign("welcome", &more, None));
    let by_env = |args: &[&str]| {
        Run::from(
            pg.command(args)
                .env("CAMPAIGNCTL_STATE", &url)
                .output()
                .unwrap(),
        )
    };
    let plan = by_env(&["plan", "campaigns", "--format", "json"]);
    plan.assert_code(0);
    let value: Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let states: BTreeMap<String, String> = value["campaigns"][0]["sends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap().to_owned(),
                s["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = more
        .iter()
        .map(|m| {
            let state = if *m == mobile(4) {
                "new"
            } else {
                "already_sent"
            };
            (format!("welcome/once/{m}"), state.to_owned())
        })
        .collect();
    assert_eq!(states, expected);
    runs.push(plan);

    let apply = by_env(&["apply", "campaigns", "--yes", "--rate", "0"]);
    apply.assert_code(0);
    assert_eq!(
        apply.stdout,
        "welcome: 1 due, 3 already sent (once due)\nApplied: 1 sent, 0 failed, 0 unknown, 3 skipped as already sent.\n"
    );
    runs.push(apply);

    let status = by_env(&["status", "--format", "json"]);
    status.assert_code(0);
    let value: Value = serde_json::from_str(&status.stdout).expect("status JSON");
    assert_eq!(value["ledger"], pg.db.redacted());
    assert_eq!(value["sends"].as_array().unwrap().len(), 4);
    runs.push(status);

    // The parts left out of the URL come from the standard PG* variables.
    let by_pg_env = Run::from(
        pg.command(&["status", "--state", "postgres://"])
            .env("PGHOST", &pg.db.host)
            .env("PGPORT", pg.db.port.to_string())
            .env("PGUSER", &pg.db.user)
            .env("PGPASSWORD", PASSWORD)
            .env("PGDATABASE", &pg.db.name)
            .env("PGSSLMODE", "disable")
            .output()
            .unwrap(),
    );
    by_pg_env.assert_code(0);
    assert_eq!(by_pg_env.stdout, "campaign welcome\n  once: 4 sent\n");
    runs.push(by_pg_env);

    // --help shows where the ledger comes from, never the value of CAMPAIGNCTL_STATE.
    let help = by_env(&["apply", "--help"]);
    help.assert_code(0);
    assert!(help.stdout.contains("CAMPAIGNCTL_STATE"), "{}", help.stdout);
    runs.push(help);

    for run in &runs {
        run.assert_hides(PASSWORD);
    }
    for m in &more {
        assert_eq!(pg.mock.deliveries(m), 1, "deliveries to {m}");
    }
    assert_eq!(pg.mock.requests().len(), 4);
    let rows: Vec<(String, String, i64, Option<i64>)> = pg
        .db
        .sends()
        .into_iter()
        .map(|r| (r.key, r.status, r.attempts, r.http_status))
        .collect();
    let expected: Vec<(String, String, i64, Option<i64>)> = more
        .iter()
        .map(|m| (format!("welcome/once/{m}"), "sent".to_owned(), 1, Some(200)))
        .collect();
    assert_eq!(rows, expected);
    assert!(
        !pg.path(".campaignctl").exists(),
        "a local SQLite ledger was created beside the PostgreSQL one"
    );
}

#[test]
fn a_missing_database_or_an_unreachable_server_is_a_clear_error_with_the_password_redacted() {
    let pg = Pg::new("errors");
    pg.write(
        "campaigns/welcome.yaml",
        &campaign("welcome", &[mobile(1)], None),
    );
    let missing_db = format!("{}_missing", pg.db.name);
    let port = free_port();
    let cases = [
        (
            format!("postgres://postgres:{PASSWORD}@127.0.0.1:5432/{missing_db}?sslmode=disable"),
            format!(
                "error: ledger postgres://postgres:***@127.0.0.1:5432/{missing_db}?sslmode=disable: \
                 cannot connect: 3D000: database \"{missing_db}\" does not exist\n"
            ),
        ),
        (
            format!(
                "postgres://postgres:{PASSWORD}@127.0.0.1:{port}/{}?sslmode=disable",
                pg.db.name
            ),
            format!(
                "error: ledger postgres://postgres:***@127.0.0.1:{port}/{}?sslmode=disable: \
                 cannot connect: error connecting to server: Connection refused (os error 111)\n",
                pg.db.name
            ),
        ),
    ];
    for (url, expected) in &cases {
        for args in [
            vec!["plan", "campaigns", "--state", url],
            vec!["apply", "campaigns", "--yes", "--state", url],
            vec!["status", "--state", url],
            vec!["run", "campaigns", "--state", url],
        ] {
            let run = pg.run(&args);
            run.assert_code(1).assert_hides(PASSWORD);
            assert_eq!(&run.stderr, expected, "{args:?}");
            assert_eq!(run.stdout, "", "{args:?}");
        }
    }
    assert_eq!(pg.mock.requests().len(), 0);
}

#[test]
fn a_password_containing_a_slash_is_never_printed() {
    let pg = Pg::new("slash");
    pg.write(
        "campaigns/welcome.yaml",
        &campaign("welcome", &[mobile(1)], None),
    );
    // Accepted by the URL parser campaignctl uses (it connects with it), so it must be
    // redacted too. An unreachable port makes the connection fail and print the URL.
    let port = free_port();
    let url = format!("postgres://postgres:pass/word@127.0.0.1:{port}/ledger?sslmode=disable");
    let run = pg.run(&["plan", "campaigns", "--state", &url]);
    run.assert_code(1);
    assert!(
        !run.stderr.contains("pass/word") && !run.stderr.contains("word@"),
        "the password is shown:\n{}",
        run.stderr
    );
}

#[test]
fn a_postgres_url_with_a_capitalised_scheme_is_never_a_local_file() {
    let pg = Pg::new("scheme_case");
    pg.write(
        "campaigns/welcome.yaml",
        &campaign("welcome", &[mobile(1)], None),
    );
    // URL schemes are case-insensitive (RFC 3986 3.1).
    let url = pg.db.url().replacen("postgres://", "Postgres://", 1);
    let run = pg.run(&[
        "apply",
        "campaigns",
        "--yes",
        "--rate",
        "0",
        "--state",
        &url,
    ]);
    run.assert_hides(PASSWORD);
    let created: Vec<String> = std::fs::read_dir(pg.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "campaigns")
        .collect();
    assert_eq!(
        created,
        Vec::<String>::new(),
        "created beside the campaigns"
    );
    // Whatever was sent is recorded in the PostgreSQL ledger the URL names.
    assert_eq!(pg.db.sends().len(), pg.mock.delivery_count() as usize);
}

#[test]
fn plan_status_and_dry_run_on_a_database_without_a_ledger_create_nothing() {
    let pg = Pg::new("readonly");
    pg.write(
        "campaigns/welcome.yaml",
        &campaign("welcome", &[mobile(1), mobile(2)], None),
    );
    let url = pg.db.url();
    let plan = pg.run(&["plan", "campaigns", "--state", &url, "--detailed-exitcode"]);
    plan.assert_code(2).assert_hides(PASSWORD);
    assert!(
        plan.stdout.ends_with(
            "Plan: 2 send(s) due now in 1 of 1 campaign(s); 0 not due; 0 already sent.\n"
        ),
        "{}",
        plan.stdout
    );
    let postgresql = url.replacen("postgres://", "postgresql://", 1);
    let json = pg.run(&[
        "plan",
        "campaigns",
        "--state",
        &postgresql,
        "--format",
        "json",
    ]);
    json.assert_code(0).assert_hides(PASSWORD);
    let dry = pg.apply(&["--dry-run"]);
    dry.assert_code(0).assert_hides(PASSWORD);
    assert!(
        dry.stdout
            .ends_with("Dry run: 2 send(s) would be sent; nothing was sent or recorded.\n"),
        "{}",
        dry.stdout
    );
    let status = pg.run(&["status", "--state", &url]);
    status.assert_code(1).assert_hides(PASSWORD);
    assert_eq!(
        status.stderr,
        format!(
            "error: no ledger at {}: nothing has been applied with this state yet\n",
            pg.db.redacted()
        )
    );
    assert_eq!(
        pg.db.relations(),
        Vec::<String>::new(),
        "tables were created"
    );
    assert_eq!(pg.mock.requests().len(), 0);
}

/// `status --format csv` on PostgreSQL: the same rows, order, reasons and quoting as on
/// SQLite (tests/apply.rs), read through a portal; `--since` and `--campaign` filter.
#[test]
fn status_csv_on_postgres_has_a_row_per_send_with_its_reason_and_filters() {
    let pg = Pg::new("csv");
    let url = pg.db.url();
    let error_body = r#"{"error":"bad number","detail":"write \"91\", then, the number"}"#;
    pg.write(
        "campaigns/a.yaml",
        &campaign("export", &[mobile(3), mobile(1), mobile(2)], None),
    );
    pg.mock
        .for_mobile(&mobile(2), Fault::Json(400, error_body.to_owned()))
        .for_mobile(&mobile(3), Fault::Status(500));
    pg.apply(&[]).assert_code(1);
    std::thread::sleep(Duration::from_millis(20));
    let between = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    std::thread::sleep(Duration::from_millis(20));
    // Sorts after `export` by campaign, before it by key.
    pg.write(
        "campaigns/b.yaml",
        &campaign("export-later", &[mobile(4)], None),
    );
    pg.apply(&[]).assert_code(0);

    let csv = |extra: &[&str]| {
        let mut args = vec!["status", "--state", &url, "--format", "csv"];
        args.extend(extra);
        let run = pg.run(&args);
        run.assert_code(0).assert_hides(PASSWORD);
        run
    };
    let all = csv(&[]);
    let quoted = format!("\"HTTP 400: {}\"", error_body.replace('"', "\"\""));
    assert!(
        all.stdout.contains(&format!(",failed,1,400,,{quoted},")),
        "{}",
        all.stdout
    );
    let records = all.csv();
    assert_eq!(
        records[0].join(","),
        "campaign,occurrence,recipient,status,attempts,http_status,wa_code,reason,created_at,updated_at"
    );
    let ledger: BTreeMap<String, Record> = pg
        .db
        .sends()
        .into_iter()
        .map(|r| (r.recipient.clone(), r))
        .collect();
    let row = |i: usize, status: &str, http: &str, reason: &str| {
        let r = &ledger[&mobile(i)];
        [
            r.campaign.as_str(),
            "once",
            r.recipient.as_str(),
            status,
            "1",
            http,
            "",
            reason,
            r.created_at.as_str(),
            r.updated_at.as_str(),
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let expected = [
        row(1, "sent", "200", ""),
        row(2, "failed", "400", &format!("HTTP 400: {error_body}")),
        row(3, "unknown", "500", r#"HTTP 500: {"error":"mock fault"}"#),
        row(4, "sent", "200", ""),
    ];
    assert_eq!(records[1..], expected[..]);
    assert_eq!(expected[3][0], "export-later");

    assert_eq!(csv(&["--since", &between]).csv()[1..], expected[3..]);
    assert_eq!(csv(&["--since", "1d"]).csv()[1..], expected[..]);
    assert_eq!(csv(&["--campaign", "export"]).csv()[1..], expected[..3]);
    assert_eq!(
        csv(&["--campaign", "export", "--status", "unknown"]).csv()[1..],
        expected[2..3]
    );
    let json = pg.run(&[
        "status", "--state", &url, "--format", "json", "--since", &between,
    ]);
    let value: Value = serde_json::from_str(&json.assert_code(0).stdout).unwrap();
    assert_eq!(value["sends"].as_array().unwrap().len(), 1);
    assert_eq!(value["sends"][0]["campaign"], "export-later");
}

// ---------------------------------------------------------------------------------------
// Concurrent applies and the writer lock

#[test]
fn two_concurrent_applies_with_a_lock_timeout_deliver_every_message_exactly_once() {
    let pg = Pg::new("concurrent");
    let recipients: Vec<String> = (1..9).map(mobile).collect();
    pg.write("campaigns/c.yaml", &campaign("c", &recipients, None));
    // Slow enough that the two overlap: 8 sends one at a time take 2.4 s.
    pg.mock.delay(Duration::from_millis(300));
    let url = pg.db.url();
    let args = [
        "apply",
        "campaigns",
        "--yes",
        "--rate",
        "0",
        "--concurrency",
        "1",
        "--state",
        &url,
        "--lock-timeout",
        "30s",
    ];
    // Both start at once; each has its own key, to tell their requests apart.
    let first = pg
        .command(&args)
        .env("CHITCHAT_API_KEY", "key-first")
        .spawn()
        .unwrap();
    let second = pg
        .command(&args)
        .env("CHITCHAT_API_KEY", "key-second")
        .spawn()
        .unwrap();
    assert!(
        pg.mock.wait_until(WAIT, |m| !m.requests().is_empty()),
        "neither apply sent"
    );
    let first = Run::from(first.wait_with_output().unwrap());
    let second = Run::from(second.wait_with_output().unwrap());
    first.assert_code(0).assert_hides(PASSWORD);
    second.assert_code(0).assert_hides(PASSWORD);
    let requests = pg.mock.requests();
    let senders: BTreeSet<&str> = requests
        .iter()
        .map(|r| r.header("x-tenant-api-key"))
        .collect();
    assert_eq!(senders.len(), 1, "both applies sent: {senders:?}");
    // The one that waited for the lock found everything sent.
    let (sender, waiter) = if senders.contains("key-first") {
        (&first, &second)
    } else {
        (&second, &first)
    };
    assert_eq!(
        sender.stdout,
        "c: 8 due (once due)\nApplied: 8 sent, 0 failed, 0 unknown, 0 skipped as already sent.\n"
    );
    assert_eq!(
        waiter.stdout,
        "c: 0 due, 8 already sent (once due)\nNothing to send (8 already sent).\n"
    );
    assert_eq!(requests.len(), 8);
    for m in &recipients {
        assert_eq!(pg.mock.deliveries(m), 1, "deliveries to {m}");
    }
    let rows = pg.db.sends();
    assert_eq!(rows.len(), 8);
    assert!(rows.iter().all(|r| r.status == "sent"), "{rows:?}");
}

#[test]
fn a_second_apply_without_lock_timeout_is_refused_at_once_naming_the_holder() {
    let pg = Pg::new("refused");
    let recipients: Vec<String> = (1..7).map(mobile).collect();
    pg.write("campaigns/c.yaml", &campaign("c", &recipients, None));
    pg.mock.delay(Duration::from_millis(300));
    let url = pg.db.url();
    let first = pg
        .command(&[
            "apply",
            "campaigns",
            "--yes",
            "--rate",
            "0",
            "--concurrency",
            "1",
            "--state",
            &url,
        ])
        .spawn()
        .unwrap();
    assert!(
        pg.mock.wait_until(WAIT, |m| !m.requests().is_empty()),
        "the first apply never sent"
    );
    let started = Utc::now();
    let clock = Instant::now();
    let second = Run::from(
        pg.command(&[
            "apply",
            "campaigns",
            "--yes",
            "--rate",
            "0",
            "--state",
            &url,
        ])
        .env("CHITCHAT_API_KEY", "second-run-key")
        .output()
        .unwrap(),
    );
    let took = clock.elapsed();
    let mut first = first;
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first apply finished before the second started: the test proves nothing"
    );
    second.assert_code(1).assert_hides(PASSWORD);
    assert!(took < Duration::from_secs(5), "refused only after {took:?}");
    let prefix = format!(
        "error: the ledger {} is in use by `campaignctl apply` (pid {} on {}, since ",
        pg.db.redacted(),
        first.id(),
        hostname()
    );
    let rest = second
        .stderr
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("expected `{prefix}…`, got:\n{}", second.stderr));
    let (since, tail) = rest.split_once(')').expect("since ...)");
    assert_eq!(tail, "; only one apply or run may use a ledger at a time\n");
    let since = DateTime::parse_from_rfc3339(since).expect("`since` is RFC 3339");
    let age = started.signed_duration_since(since);
    assert!(
        age >= TimeDelta::seconds(-1) && age <= TimeDelta::seconds(60),
        "since {since} vs now {started}"
    );
    assert_eq!(second.stdout, "");
    let first = Run::from(first.wait_with_output().unwrap());
    first.assert_code(0);
    assert!(
        pg.mock
            .requests()
            .iter()
            .all(|r| r.header("x-tenant-api-key") == KEY),
        "the refused apply sent a request"
    );
    for m in &recipients {
        assert_eq!(pg.mock.deliveries(m), 1, "deliveries to {m}");
    }
    assert!(pg.db.sends().iter().all(|r| r.status == "sent"));
}

// ---------------------------------------------------------------------------------------
// run: leader and standby replicas

/// `count` campaigns `occ1`.. with one recipient each (`mobile(1)`..), at `first`,
/// `first + spacing`, ...; returns (mobile, at) per occurrence.
fn occurrences(
    pg: &Pg,
    count: usize,
    first: DateTime<Utc>,
    spacing: i64,
) -> Vec<(String, DateTime<Utc>)> {
    (0..count)
        .map(|i| {
            let (m, at) = (
                mobile(i + 1),
                first + TimeDelta::seconds(spacing * i as i64),
            );
            pg.write(
                &format!("campaigns/occ{}.yaml", i + 1),
                &campaign(&format!("occ{}", i + 1), std::slice::from_ref(&m), Some(at)),
            );
            (m, at)
        })
        .collect()
}

/// Each occurrence delivered exactly once, and recorded `sent` under its key.
#[track_caller]
fn assert_each_occurrence_once(pg: &Pg, occurrences: &[(String, DateTime<Utc>)]) {
    for (m, _) in occurrences {
        assert_eq!(pg.mock.deliveries(m), 1, "deliveries to {m}");
    }
    assert_eq!(
        pg.mock.requests().len(),
        occurrences.len(),
        "requests: {:?}",
        pg.mock.requests()
    );
    let expected: BTreeMap<String, String> = occurrences
        .iter()
        .enumerate()
        .map(|(i, (m, at))| {
            (
                format!("occ{}/{}/{m}", i + 1, rfc3339(*at)),
                "sent".to_owned(),
            )
        })
        .collect();
    assert_eq!(statuses(&pg.db.sends()), expected);
    assert_eq!(pg.db.missed(), Vec::new());
}

/// How late `mobile` was delivered after `at`.
fn lateness(pg: &Pg, mobile: &str, at: DateTime<Utc>) -> Duration {
    let delivered = pg.delivered_at(mobile).expect("delivered");
    (delivered - at).to_std().unwrap_or(Duration::ZERO)
}

#[test]
fn two_replicas_send_each_occurrence_once_and_the_standby_takes_over_a_killed_leader() {
    let pg = Pg::new("ha_kill");
    let occ = occurrences(&pg, 4, seconds_from_now(5), 5);
    let a = pg.spawn_replica("a", &[]);
    let b = pg.spawn_replica("b", &[]);
    let mut replicas = [a, b];
    let leader = wait_single_leader(&[&replicas[0], &replicas[1]]);
    let standby = 1 - leader;
    for (i, r) in replicas.iter().enumerate() {
        let health = r.health().unwrap();
        assert_eq!(health["status"], "ok", "{health:#}");
        assert_eq!(health["ledger"], pg.db.redacted());
        assert_eq!(health["ledger_problem"], Value::Null);
        let metrics = r.metrics().unwrap();
        assert_eq!(
            metric(&metrics, "campaignctl_leader"),
            Some(if i == leader { 1.0 } else { 0.0 }),
            "{metrics}"
        );
    }
    // Both replicas are connected as `campaignctl`; the leader's session holds the lock.
    assert!(pg.db.sessions().get("campaignctl").copied().unwrap_or(0) >= 2);
    assert!(pg.db.lock_holder_backend().is_some());

    // An apply meanwhile is refused, naming the leader.
    let url = pg.db.url();
    let apply = pg.run(&["apply", "campaigns", "--yes", "--state", &url]);
    apply.assert_code(1).assert_hides(PASSWORD);
    let prefix = format!(
        "error: the ledger {} is in use by `campaignctl run` (pid {} on {}, since ",
        pg.db.redacted(),
        replicas[leader].pid(),
        hostname()
    );
    assert!(apply.stderr.starts_with(&prefix), "{}", apply.stderr);

    pg.wait_delivered(&occ[0].0, WAIT);
    assert_eq!(pg.sender_of(&occ[0].0), replicas[leader].key);
    // Killed after the outcome is recorded: a send killed before that is `unknown`.
    wait_for(WAIT, "the first occurrence to be recorded sent", || {
        pg.db.sends().iter().any(|r| r.status == "sent")
    });
    assert!(
        Utc::now() < occ[1].1,
        "the first occurrence came too late to kill the leader before the second"
    );

    replicas[leader].sigkill();
    let killed = Instant::now();
    wait_for(Duration::from_secs(15), "the standby to take over", || {
        replicas[standby].role().as_deref() == Some("leader")
    });
    let takeover = killed.elapsed();
    eprintln!("takeover after SIGKILL of the leader: {takeover:?}");
    assert!(
        takeover < Duration::from_secs(10),
        "takeover took {takeover:?}"
    );

    // A replacement replica joins as a standby.
    let c = pg.spawn_replica("c", &[]);
    assert_eq!(wait_single_leader(&[&replicas[standby], &c]), 0);

    for (m, at) in &occ[1..] {
        pg.wait_delivered(m, WAIT);
        let late = lateness(&pg, m, *at);
        eprintln!("{m} delivered {late:?} after its occurrence");
        assert!(late < Duration::from_secs(10), "{m} was {late:?} late");
        assert_eq!(pg.sender_of(m), replicas[standby].key);
    }
    let mut c = c;
    for r in [&mut replicas[standby], &mut c] {
        let status = r.sigterm();
        assert_eq!(status.code(), Some(0), "{}", r.log());
        assert!(!r.log().contains(PASSWORD), "{}", r.log());
    }
    assert_each_occurrence_once(&pg, &occ);
}

#[test]
fn terminating_the_leaders_session_hands_over_without_a_double_send() {
    let pg = Pg::new("ha_terminate");
    let occ = occurrences(&pg, 3, seconds_from_now(5), 6);
    let a = pg.spawn_replica("a", &[]);
    let b = pg.spawn_replica("b", &[]);
    let replicas = [a, b];
    let leader = wait_single_leader(&[&replicas[0], &replicas[1]]);
    pg.wait_delivered(&occ[0].0, WAIT);
    assert_eq!(pg.sender_of(&occ[0].0), replicas[leader].key);
    wait_for(WAIT, "the first occurrence to be recorded sent", || {
        pg.db.sends().iter().any(|r| r.status == "sent")
    });

    let backend = pg
        .db
        .lock_holder_backend()
        .expect("the leader holds the lock");
    assert_eq!(pg.db.terminate(Some(backend)), 1);
    // Another session takes the lock: the standby's, or the old leader's new one.
    wait_for(
        Duration::from_secs(15),
        "a new session to hold the lock",
        || {
            pg.db
                .lock_holder_backend()
                .is_some_and(|pid| pid != backend)
        },
    );
    // The old leader noticed it lost its session: an outage was counted.
    wait_for(Duration::from_secs(15), "the old leader to notice", || {
        replicas[leader]
            .metrics()
            .and_then(|m| metric(&m, "campaignctl_ledger_errors_total"))
            .is_some_and(|n| n >= 1.0)
    });
    let new_leader = wait_single_leader(&[&replicas[0], &replicas[1]]);
    eprintln!(
        "after pg_terminate_backend of replica {}'s session, replica {} leads",
        replicas[leader].name, replicas[new_leader].name
    );
    for (m, at) in &occ[1..] {
        pg.wait_delivered(m, WAIT);
        let late = lateness(&pg, m, *at);
        assert!(late < Duration::from_secs(10), "{m} was {late:?} late");
    }
    let mut replicas = replicas;
    for r in &mut replicas {
        assert_eq!(r.sigterm().code(), Some(0), "{}", r.log());
    }
    assert_each_occurrence_once(&pg, &occ);
}

#[test]
fn terminating_the_leaders_session_mid_occurrence_sends_the_rest_once() {
    let pg = Pg::new("ha_mid");
    let recipients: Vec<String> = (1..9).map(mobile).collect();
    let at = seconds_from_now(4);
    pg.write(
        "campaigns/big.yaml",
        &campaign("big", &recipients, Some(at)),
    );
    pg.mock.delay(Duration::from_millis(400));
    let a = pg.spawn_replica("a", &["--concurrency", "1"]);
    let b = pg.spawn_replica("b", &["--concurrency", "1"]);
    let replicas = [a, b];
    wait_single_leader(&[&replicas[0], &replicas[1]]);
    assert!(
        pg.mock.wait_until(WAIT, |m| m.delivered() >= 1),
        "the occurrence did not start"
    );
    let backend = pg
        .db
        .lock_holder_backend()
        .expect("the leader holds the lock");
    assert_eq!(pg.db.terminate(Some(backend)), 1);
    wait_for(
        Duration::from_secs(15),
        "a new session to hold the lock",
        || {
            pg.db
                .lock_holder_backend()
                .is_some_and(|pid| pid != backend)
        },
    );
    // No message twice, and (within catch_up) every one of them eventually.
    let all = pg.mock.wait_until(WAIT, |m| {
        recipients.iter().all(|r| {
            m.requests()
                .iter()
                .any(|q| q.recipient.as_deref() == Some(r) && q.answer == Some(Answer::Delivered))
        })
    });
    for m in &recipients {
        assert!(pg.mock.deliveries(m) <= 1, "{m} was delivered twice");
    }
    let rows = pg.db.sends();
    assert!(
        all,
        "only {} of {} delivered; ledger: {:?}\n--- replica a\n{}--- replica b\n{}",
        pg.mock.requests().len(),
        recipients.len(),
        statuses(&rows),
        replicas[0].log(),
        replicas[1].log()
    );
}

#[test]
fn a_database_outage_during_run_stops_sending_shows_on_healthz_and_sending_resumes() {
    let pg = Pg::new("outage");
    let before = (mobile(1), seconds_from_now(4));
    let during = (mobile(2), before.1 + TimeDelta::seconds(8));
    pg.write(
        "campaigns/before.yaml",
        &campaign("before", std::slice::from_ref(&before.0), Some(before.1)),
    );
    pg.write(
        "campaigns/during.yaml",
        &campaign("during", std::slice::from_ref(&during.0), Some(during.1)),
    );
    let mut daemon = pg.spawn_replica("solo", &[]);
    wait_single_leader(&[&daemon]);
    pg.wait_delivered(&before.0, WAIT);
    // Between occurrences: once the outcome is recorded (an outcome that cannot be written
    // stays `in_flight` and becomes `unknown`).
    wait_for(WAIT, "the first occurrence to be recorded sent", || {
        pg.db.sends().iter().any(|r| r.status == "sent")
    });

    // The database goes away: no new sessions, and the daemon's are cut.
    pg.db.allow_connections(false);
    let down = Instant::now();
    assert!(pg.db.terminate(None) >= 1, "the daemon had no session");
    let mut outage_health = Value::Null;
    wait_for(
        Duration::from_secs(15),
        "/healthz to report the outage",
        || {
            outage_health = daemon.health().unwrap_or(Value::Null);
            outage_health["status"] != "ok" && outage_health["ledger_problem"].is_string()
        },
    );
    assert!(
        Utc::now() < during.1,
        "the outage was noticed only after the occurrence: the test proves nothing"
    );
    assert_eq!(
        outage_health["status"], "ledger_unavailable",
        "{outage_health:#}"
    );
    assert_eq!(outage_health["ledger"], pg.db.redacted());
    assert!(!outage_health.to_string().contains(PASSWORD));
    // Down across the occurrence, at least 5 s in all: nothing is sent meanwhile.
    let until = (during.1 + TimeDelta::seconds(3)).max(Utc::now() + TimeDelta::seconds(1));
    while Utc::now() < until || down.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            daemon.health().is_some_and(|h| h["status"] != "ok"),
            "/healthz stopped reporting the outage while the database is down"
        );
    }
    assert_eq!(
        pg.mock.requests().len(),
        1,
        "sent while the database was down: {:?}",
        pg.mock.requests()
    );

    pg.db.allow_connections(true);
    let up = Instant::now();
    pg.wait_delivered(&during.0, WAIT);
    eprintln!(
        "occurrence sent {:?} after the database came back (down {:?})",
        up.elapsed(),
        up - down
    );
    wait_for(WAIT, "/healthz ok again", || {
        daemon
            .health()
            .is_some_and(|h| h["status"] == "ok" && h["role"] == "leader")
    });
    let metrics = daemon.metrics().unwrap();
    assert!(
        metric(&metrics, "campaignctl_ledger_errors_total").is_some_and(|n| n >= 1.0),
        "{metrics}"
    );
    let status = daemon.sigterm();
    assert_eq!(status.code(), Some(0), "{}", daemon.log());
    let log = daemon.log();
    assert!(!log.contains(PASSWORD), "{log}");
    assert!(log.contains("not sending: "), "{log}");
    assert_each_occurrence_once_named(&pg, &[("before", &before), ("during", &during)]);
}

#[track_caller]
fn assert_each_occurrence_once_named(pg: &Pg, occurrences: &[(&str, &(String, DateTime<Utc>))]) {
    for (_, (m, _)) in occurrences {
        assert_eq!(pg.mock.deliveries(m), 1, "deliveries to {m}");
    }
    assert_eq!(pg.mock.requests().len(), occurrences.len());
    let expected: BTreeMap<String, String> = occurrences
        .iter()
        .map(|(name, (m, at))| (format!("{name}/{}/{m}", rfc3339(*at)), "sent".to_owned()))
        .collect();
    assert_eq!(
        statuses(&pg.db.sends()),
        expected,
        "no row may stay in_flight"
    );
}

// ---------------------------------------------------------------------------------------
// state migrate

#[test]
fn state_migrate_copies_an_sqlite_ledger_idempotently_and_refuses_conflicts() {
    let pg = Pg::new("migrate");
    let sqlite = pg.path("state/ledger.db");
    let file = sqlite.display().to_string();
    // An SQLite ledger with sent and failed sends ...
    let mut welcome: Vec<String> = (1..5).map(mobile).collect();
    pg.write(
        "campaigns/welcome.yaml",
        &campaign("welcome", &welcome, None),
    );
    pg.mock.for_mobile(
        &mobile(4),
        Fault::Json(400, r#"{"error":"not a WhatsApp number"}"#.to_owned()),
    );
    let apply = pg.run(&[
        "apply",
        "campaigns",
        "--yes",
        "--rate",
        "0",
        "--state",
        &file,
    ]);
    apply.assert_code(1);
    // ... and missed occurrences: a per-minute cron last sent five minutes ago, then a
    // daemon that records the minutes in between as missed and sends the latest (which it
    // records as fired).
    pg.write(
        "cron/tick.yaml",
        &format!(
            "{}schedule:\n  cron: \"* * * * *\"\n  catch_up: 2m\n",
            campaign("tick", &[mobile(9)], None)
        ),
    );
    let past = rfc3339(Utc::now() - TimeDelta::minutes(5));
    pg.run(&[
        "apply", "cron", "--yes", "--rate", "0", "--state", &file, "--now", &past,
    ])
    .assert_code(0);
    let mut daemon = pg
        .command(&["run", "cron", "--state", &file])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        WAIT,
        "the daemon to record missed and fired occurrences",
        || sqlite_missed(&sqlite).len() >= 3 && !sqlite_fired(&sqlite).is_empty(),
    );
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    assert_eq!(daemon.wait().unwrap().code(), Some(0));
    let sends = sqlite_sends(&sqlite);
    let missed = sqlite_missed(&sqlite);
    let fired = sqlite_fired(&sqlite);
    assert!(sends.iter().any(|r| r.status == "failed"), "{sends:?}");
    assert!(sends.iter().all(|r| r.status != "in_flight"), "{sends:?}");

    // First copy: everything; the target is created.
    let url = pg.db.url();
    let migrate = |expected_code: i32| {
        let run = pg.run(&["state", "migrate", "--from", &file, "--to", &url]);
        run.assert_code(expected_code).assert_hides(PASSWORD);
        run
    };
    let first = migrate(0);
    assert_eq!(
        first.stdout,
        format!(
            "Copied {} send(s) and {} missed occurrence(s) from {file} to {}; 0 send(s) and 0 missed occurrence(s) were there already.\n",
            sends.len(),
            missed.len(),
            pg.db.redacted()
        )
    );
    assert_eq!(
        pg.db.sends(),
        sends,
        "the copy differs from the SQLite ledger"
    );
    assert_eq!(pg.db.missed(), missed);
    assert_eq!(
        pg.db.fired(),
        fired,
        "a waiting occurrence is taken up from these"
    );

    // Second copy: nothing new.
    let second = migrate(0);
    assert_eq!(
        second.stdout,
        format!(
            "Copied 0 send(s) and 0 missed occurrence(s) from {file} to {}; {} send(s) and {} missed occurrence(s) were there already.\n",
            pg.db.redacted(),
            sends.len(),
            missed.len()
        )
    );
    assert_eq!(pg.db.sends(), sends);

    // A conflict: the same key with another status in PostgreSQL, while the SQLite ledger
    // has a new send to copy. Nothing is written, and the key is named.
    let conflict = format!("welcome/once/{}", mobile(1));
    pg.db
        .client()
        .execute(
            "UPDATE sends SET status = 'unknown' WHERE key = $1",
            &[&conflict],
        )
        .unwrap();
    welcome.push(mobile(5));
    pg.write(
        "campaigns/welcome.yaml",
        &campaign("welcome", &welcome, None),
    );
    pg.run(&[
        "apply",
        "campaigns",
        "--yes",
        "--rate",
        "0",
        "--state",
        &file,
    ])
    .assert_code(0);
    let refused = migrate(1);
    assert_eq!(
        refused.stderr,
        format!(
            "error: ledger {}: 1 send(s) are recorded differently here; refusing to overwrite them (nothing was copied): {conflict}\n",
            pg.db.redacted()
        )
    );
    assert_eq!(refused.stdout, "");
    let after = pg.db.sends();
    assert_eq!(after.len(), sends.len(), "the refused migrate wrote rows");
    assert_eq!(
        after.iter().find(|r| r.key == conflict).unwrap().status,
        "unknown"
    );

    // Resolved (the row says what the file says): the new send is copied.
    pg.db
        .client()
        .execute(
            "UPDATE sends SET status = 'sent' WHERE key = $1",
            &[&conflict],
        )
        .unwrap();
    let third = migrate(0);
    assert!(
        third
            .stdout
            .starts_with("Copied 1 send(s) and 0 missed occurrence(s)"),
        "{}",
        third.stdout
    );
    assert_eq!(pg.db.sends(), sqlite_sends(&sqlite));

    // apply on PostgreSQL now sends only what was never sent: the sixth recipient.
    welcome.push(mobile(6));
    pg.write(
        "campaigns/welcome.yaml",
        &campaign("welcome", &welcome, None),
    );
    let requests_before = pg.mock.requests().len();
    let apply = pg.apply(&[]);
    apply.assert_code(0).assert_hides(PASSWORD);
    assert_eq!(
        apply.stdout,
        "welcome: 1 due, 4 already sent, 1 failed (once due)\nApplied: 1 sent, 0 failed, 0 unknown, 4 skipped as already sent.\n"
    );
    let new: Vec<String> = pg.mock.requests()[requests_before..]
        .iter()
        .map(|r| r.recipient.clone().unwrap())
        .collect();
    assert_eq!(new, vec![mobile(6)]);
    for m in welcome.iter().filter(|m| **m != mobile(4)) {
        assert_eq!(pg.mock.deliveries(m), 1, "deliveries to {m}");
    }
    assert_eq!(
        pg.mock.requests_for(&mobile(4)).len(),
        1,
        "the failed send was retried"
    );
}

/// An apply whose database goes away after its first delivery (blocked and its session cut);
/// returns the first apply's output, and the second's once the database is back.
fn apply_through_an_outage(pg: &Pg, recipients: &[String]) -> (Run, Run) {
    pg.write("campaigns/c.yaml", &campaign("c", recipients, None));
    pg.mock.delay(Duration::from_millis(300));
    let url = pg.db.url();
    let child = pg
        .command(&[
            "apply",
            "campaigns",
            "--yes",
            "--rate",
            "0",
            "--concurrency",
            "2",
            "--state",
            &url,
        ])
        .spawn()
        .unwrap();
    assert!(
        pg.mock.wait_until(WAIT, |m| m.delivered() >= 1),
        "the apply never sent"
    );
    pg.db.allow_connections(false);
    pg.db.terminate(None);
    let first = Run::from(child.wait_with_output().unwrap());
    pg.db.allow_connections(true);
    pg.mock.wait_idle(WAIT);
    let second = pg.apply(&[]);
    (first, second)
}

#[test]
fn a_database_outage_during_apply_stops_it_and_nothing_is_sent_twice_or_silently_lost() {
    let pg = Pg::new("apply_outage");
    let recipients: Vec<String> = (1..13).map(mobile).collect();
    let (first, second) = apply_through_an_outage(&pg, &recipients);
    first.assert_code(1).assert_hides(PASSWORD);
    let stopped = format!(
        "Stopped: the ledger failed, so nothing more was sent: ledger {}: ",
        pg.db.redacted()
    );
    assert!(
        first.stdout.lines().any(|l| l.starts_with(&stopped)),
        "{}",
        first.stdout
    );
    second.assert_code(0).assert_hides(PASSWORD);
    // Every recipient is delivered once, or recorded `unknown` (listed by status, resent
    // only with --retry-unknown); nothing is left in flight, nothing delivered twice, and a
    // `sent` row was delivered.
    let rows = pg.db.sends();
    let by_recipient: BTreeMap<String, String> = rows
        .iter()
        .map(|r| (r.recipient.clone(), r.status.clone()))
        .collect();
    for m in &recipients {
        let deliveries = pg.mock.deliveries(m);
        match by_recipient.get(m).map(String::as_str) {
            Some("sent") => assert_eq!(deliveries, 1, "{m}"),
            Some("unknown") => assert!(deliveries <= 1, "{m} delivered {deliveries} times"),
            other => {
                panic!("{m}: recorded {other:?}, delivered {deliveries}; ledger {by_recipient:?}")
            }
        }
    }
    assert!(
        rows.iter().filter(|r| r.status == "sent").count() > 0,
        "the second apply sent nothing"
    );
}

#[test]
fn after_a_database_outage_during_apply_nothing_is_silently_lost() {
    let pg = Pg::new("apply_outage_rest");
    let recipients: Vec<String> = (1..13).map(mobile).collect();
    let (first, second) = apply_through_an_outage(&pg, &recipients);
    first.assert_code(1);
    second.assert_code(0);
    // Regression: the first apply claimed that sends it could not put back "were put back;
    // apply again to send them", and they were then never sent. The ledger was down until
    // the apply ended, so they stay claimed: the first apply must say so, and every message
    // not delivered must be an `unknown` row, never missing and never `sent`.
    assert!(!first.stdout.contains("were put back"), "{}", first.stdout);
    assert!(
        first.stdout.contains("could not be recorded"),
        "{}",
        first.stdout
    );
    let rows = statuses(&pg.db.sends());
    for m in &recipients {
        let status = rows.get(&format!("c/once/{m}")).map(String::as_str);
        match pg.mock.deliveries(m) {
            0 => assert_eq!(status, Some("unknown"), "{m} was never delivered: {rows:?}"),
            1 => assert!(matches!(status, Some("sent" | "unknown")), "{m}: {rows:?}"),
            n => panic!("{m} delivered {n} times"),
        }
    }
    assert!(second.stdout.contains("unknown"), "{}", second.stdout);
}

#[test]
fn after_sigkill_mid_apply_the_unknown_rows_are_at_most_the_requests_in_flight() {
    // As on SQLite: claims are committed just before each request leaves.
    let pg = Pg::new("apply_sigkill");
    let recipients: Vec<String> = (1..401).map(mobile).collect();
    pg.write("campaigns/c.yaml", &campaign("c", &recipients, None));
    pg.mock.delay(Duration::from_millis(40));
    let url = pg.db.url();
    let mut child = pg
        .command(&[
            "apply",
            "campaigns",
            "--yes",
            "--rate",
            "0",
            "--concurrency",
            "8",
            "--state",
            &url,
        ])
        .spawn()
        .unwrap();
    pg.mock.wait_for_deliveries(120, WAIT);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    pg.mock.wait_idle(WAIT);
    pg.mock.delay(Duration::ZERO);
    pg.db.wait_sessions_gone();
    let rows = pg.db.sends();
    let in_flight = rows.iter().filter(|r| r.status == "in_flight").count();
    assert!(
        in_flight <= 8,
        "{in_flight} rows in flight after SIGKILL at --concurrency 8"
    );
    assert!(rows.len() < recipients.len(), "the run was not interrupted");
    pg.apply(&["--concurrency", "8"]).assert_code(0);
    let statuses = statuses(&pg.db.sends());
    let unknown = statuses.values().filter(|s| *s == "unknown").count();
    assert_eq!(unknown, in_flight);
    for m in &recipients {
        match statuses.get(&format!("c/once/{m}")).map(String::as_str) {
            Some("sent") => assert_eq!(pg.mock.deliveries(m), 1, "{m}"),
            Some("unknown") => assert!(pg.mock.deliveries(m) <= 1, "{m}"),
            other => panic!("{m}: {other:?}"),
        }
    }
}
