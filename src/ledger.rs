//! The send ledger: one row per send key, committed as `in_flight` before its request leaves
//! and updated with the outcome after, so nothing is ever sent twice or silently lost.
//! One interface, two backends: a local SQLite file and (for CI runners and replicated
//! daemons) PostgreSQL.

use std::fmt;
use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::planner::{RecordedSends, Status};
use crate::schedule::Occurrence;

pub use crate::postgres_ledger::{PgLedger, PgLocation};
pub use crate::sqlite_ledger::SqliteLedger;

/// Schema version 1 of both backends (plain SQL both understand): sends, missed occurrences,
/// and who holds the writer lock (the SQLite backend locks a file instead and leaves `holder`
/// empty). Each backend lists its migrations from here on (SQLite in `PRAGMA user_version`,
/// PostgreSQL in `campaignctl_schema`): a change one backend needs does not bump the other's
/// version, which would make older campaignctl refuse a ledger it could still use.
pub const SCHEMA_V1: &str = "CREATE TABLE sends (
        key          TEXT PRIMARY KEY,
        campaign     TEXT NOT NULL,
        file         TEXT NOT NULL,
        occurrence   TEXT NOT NULL,
        recipient    TEXT NOT NULL,
        endpoint     TEXT NOT NULL,
        request      TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        status       TEXT NOT NULL CHECK (status IN ('in_flight', 'sent', 'failed', 'unknown')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        http_status  INTEGER,
        response     TEXT,
        error        TEXT,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL
    );
    CREATE INDEX sends_by_occurrence ON sends (campaign, occurrence);
    -- Partial: the common in_flight -> sent update then leaves the index alone.
    CREATE INDEX sends_not_sent ON sends (status) WHERE status <> 'sent';
    CREATE TABLE missed (
        campaign    TEXT NOT NULL,
        occurrence  TEXT NOT NULL,
        file        TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (campaign, occurrence)
    );
    CREATE TABLE holder (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        pid     BIGINT NOT NULL,
        host    TEXT NOT NULL,
        since   TEXT NOT NULL,
        command TEXT NOT NULL
    );";

/// Refuses a ledger written by a newer campaignctl (more migrations than the backend's
/// `migrations` this one knows).
pub fn check_version(ledger: &str, found: i64, migrations: &[&str]) -> Result<(), LedgerError> {
    let known = migrations.len() as i64;
    if found > known {
        return Err(LedgerError::TooNew {
            ledger: ledger.to_owned(),
            found,
            known,
        });
    }
    Ok(())
}

/// Default SQLite ledger, relative to the working directory.
pub const DEFAULT_STATE: &str = ".campaignctl/state.db";

/// Responses are kept for diagnosis, not archived: longer bodies are cut here.
pub const MAX_RESPONSE_BYTES: usize = 4096;

/// Who holds a ledger's lock: shown to whoever is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub since: DateTime<Utc>,
    pub command: String,
}

impl Holder {
    /// This process, running `command` (e.g. `apply`).
    pub fn current(command: &str) -> Holder {
        Holder {
            pid: std::process::id(),
            host: hostname(),
            since: Utc::now(),
            command: command.to_owned(),
        }
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`campaignctl {}` (pid {} on {}, since {})",
            self.command,
            self.pid,
            self.host,
            self.since.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "the ledger {ledger} is in use by {holder}; only one apply or run may use a ledger at a time"
    )]
    Locked { ledger: String, holder: Holder },

    #[error("the ledger {ledger} is locked by another process (holder unknown: {detail})")]
    LockedUnknown { ledger: String, detail: String },

    #[error("ledger {ledger}: {message}")]
    Storage { ledger: String, message: String },

    #[error(
        "ledger {ledger} has schema version {found}, newer than this campaignctl knows ({known}); upgrade campaignctl"
    )]
    TooNew {
        ledger: String,
        found: i64,
        known: i64,
    },
}

/// A send about to be attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSend {
    pub key: String,
    pub campaign: String,
    pub file: String,
    pub occurrence: String,
    /// The normalised mobile number, or `blast`.
    pub recipient: String,
    /// `single` or `blast`.
    pub endpoint: String,
    pub request: String,
    pub request_hash: String,
}

/// The result of a claim: the send may go out (and what the row was before, to put it back
/// if the send never starts), or another run already has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Claimed; `None` when the row is new, else the status it was retried from.
    Claimed(Option<Status>),
    /// Someone else recorded this send (sent, in flight, or not to be retried).
    Taken,
}

/// The outcome of a send, recorded after its last attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub key: String,
    /// `sent`, `failed` or `unknown`.
    pub status: Status,
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub response: Option<String>,
    pub error: Option<String>,
}

/// One ledger row, as `status` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendRow {
    pub key: String,
    pub campaign: String,
    pub file: String,
    pub occurrence: String,
    pub recipient: String,
    pub endpoint: String,
    pub status: Status,
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub response: Option<String>,
    pub error: Option<String>,
    /// The exact request body (left out of `status --format json`: it can be long).
    #[serde(skip)]
    pub request: String,
    pub request_hash: String,
    pub created_at: String,
    pub updated_at: String,
}

impl SendRow {
    /// Whether two records of one key say the same thing (for `state migrate`).
    pub fn same_record(&self, other: &SendRow) -> bool {
        (
            &self.key,
            &self.campaign,
            &self.occurrence,
            &self.recipient,
            &self.endpoint,
            self.status,
            &self.request_hash,
            self.attempts,
            self.http_status,
        ) == (
            &other.key,
            &other.campaign,
            &other.occurrence,
            &other.recipient,
            &other.endpoint,
            other.status,
            &other.request_hash,
            other.attempts,
            other.http_status,
        )
    }
}

/// What [`Ledger::import`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub sends_copied: usize,
    pub sends_present: usize,
    pub missed_copied: usize,
    pub missed_present: usize,
}

/// An occurrence that was not sent because it was found more than `catch_up` late.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissedRow {
    pub campaign: String,
    pub file: String,
    pub occurrence: String,
    pub recorded_at: String,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub campaign: Option<String>,
    pub status: Option<Status>,
}

/// The ledger operations. Implementations commit each call durably before returning.
pub trait Ledger: Send {
    /// Where the ledger is, for messages (a path, or a URL without its password).
    fn location(&self) -> &str;

    /// Tries the single-writer lock once: `None` when this process now holds it, else who
    /// does.
    fn try_lock(&mut self, holder: &Holder) -> Result<Option<Holder>, LedgerError>;

    /// Whether this process still holds the lock (a database session can lose it).
    fn holds_lock(&mut self) -> Result<bool, LedgerError>;

    /// Takes the lock, waiting up to `timeout` for the holder to let go; fails naming it.
    fn lock_within(
        &mut self,
        holder: &Holder,
        timeout: std::time::Duration,
    ) -> Result<(), LedgerError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match self.try_lock(holder)? {
                None => return Ok(()),
                Some(other) if std::time::Instant::now() >= deadline => {
                    return Err(LedgerError::Locked {
                        ledger: self.location().to_owned(),
                        holder: other,
                    });
                }
                Some(_) => std::thread::sleep(std::time::Duration::from_millis(250)),
            }
        }
    }

    /// Takes the lock or fails at once naming the holder.
    fn lock(&mut self, holder: &Holder) -> Result<(), LedgerError> {
        self.lock_within(holder, std::time::Duration::ZERO)
    }

    /// Marks rows left `in_flight` (a process died mid-send) as `unknown`; returns how many.
    fn recover(&mut self) -> Result<usize, LedgerError>;

    /// What is recorded for one occurrence of one campaign, by recipient.
    fn recorded(
        &mut self,
        campaign: &str,
        occurrence: Occurrence,
    ) -> Result<RecordedSends, LedgerError>;

    /// Commits each send as `in_flight` unless it is already recorded with a status not in
    /// `retry`. Exactly one caller can claim a send.
    fn claim(&mut self, sends: &[NewSend], retry: &[Status]) -> Result<Vec<Claim>, LedgerError>;

    /// Puts back claims whose requests never left (the run was stopped first).
    fn release(&mut self, claims: &[(String, Option<Status>)]) -> Result<(), LedgerError>;

    /// Records outcomes.
    fn finish(&mut self, results: &[Finished]) -> Result<(), LedgerError>;

    /// Records an occurrence as missed; false if it was recorded already.
    fn record_missed(
        &mut self,
        campaign: &str,
        file: &str,
        occurrence: Occurrence,
    ) -> Result<bool, LedgerError>;

    /// The latest scheduled occurrence of `campaign` with anything recorded (a send or a
    /// missed occurrence): where the daemon resumes after a restart.
    fn last_occurrence(&mut self, campaign: &str) -> Result<Option<DateTime<Utc>>, LedgerError>;

    /// Rows matching `filter`, by campaign, occurrence and recipient.
    fn sends(&mut self, filter: &Filter) -> Result<Vec<SendRow>, LedgerError>;

    /// Missed occurrences, by campaign and occurrence.
    fn missed(&mut self, campaign: Option<&str>) -> Result<Vec<MissedRow>, LedgerError>;

    /// Copies records from another ledger in one transaction. Records already here and
    /// identical are skipped; if any differs (same key, different outcome) nothing is
    /// written and the keys are returned as the error.
    fn import(&mut self, sends: &[SendRow], missed: &[MissedRow]) -> Result<Imported, LedgerError>;
}

/// The keys whose records differ between two ledgers, as an error.
pub fn conflicts_error(ledger: &str, keys: &[String]) -> LedgerError {
    let shown: Vec<&str> = keys.iter().take(10).map(String::as_str).collect();
    LedgerError::Storage {
        ledger: ledger.to_owned(),
        message: format!(
            "{} send(s) are recorded differently here; refusing to overwrite them (nothing was copied): {}{}",
            keys.len(),
            shown.join(", "),
            if keys.len() > shown.len() {
                ", ..."
            } else {
                ""
            }
        ),
    }
}

/// Where the ledger lives: `--state`, `CAMPAIGNCTL_STATE`, or the default file. A
/// `postgres://` (or `postgresql://`) URL selects PostgreSQL; anything else is a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    Sqlite(PathBuf),
    Postgres(Box<PgLocation>),
}

impl StateLocation {
    pub fn parse(text: &str) -> Result<StateLocation, LedgerError> {
        // URL schemes are case-insensitive: `Postgres://` must never become a file name.
        let scheme = text
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        if matches!(scheme.as_deref(), Some("postgres" | "postgresql")) {
            Ok(StateLocation::Postgres(Box::new(PgLocation::parse(text)?)))
        } else {
            Ok(StateLocation::Sqlite(PathBuf::from(text)))
        }
    }

    /// Opens the ledger for writing, creating and migrating it as needed.
    pub fn open(&self) -> Result<Box<dyn Ledger>, LedgerError> {
        match self {
            StateLocation::Sqlite(path) => Ok(Box::new(SqliteLedger::open(path)?)),
            StateLocation::Postgres(location) => Ok(Box::new(PgLedger::open(location)?)),
        }
    }

    /// Opens the ledger for reading (`plan`, `status`); `None` when it does not exist yet.
    /// Never creates or changes anything.
    pub fn open_read_only(&self) -> Result<Option<Box<dyn Ledger>>, LedgerError> {
        Ok(match self {
            StateLocation::Sqlite(path) => {
                SqliteLedger::open_read_only(path)?.map(|l| Box::new(l) as Box<dyn Ledger>)
            }
            StateLocation::Postgres(location) => {
                PgLedger::open_read_only(location)?.map(|l| Box::new(l) as Box<dyn Ledger>)
            }
        })
    }

    /// Whether several processes on several machines can share this ledger.
    pub fn is_shared(&self) -> bool {
        matches!(self, StateLocation::Postgres(_))
    }
}

impl fmt::Display for StateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateLocation::Sqlite(path) => write!(f, "{}", path.display()),
            StateLocation::Postgres(location) => write!(f, "{location}"),
        }
    }
}

/// Why a send did not succeed, for people: `HTTP 400: {"error":"..."}` or the transport
/// error.
pub fn failure_reason(
    http_status: Option<u16>,
    response: Option<&str>,
    error: Option<&str>,
) -> String {
    match (http_status, response, error) {
        (Some(code), Some(body), _) if !body.trim().is_empty() => {
            format!("HTTP {code}: {}", body.trim())
        }
        (Some(code), _, _) => format!("HTTP {code}"),
        (None, _, Some(error)) => error.to_owned(),
        (None, _, None) => "no response".to_owned(),
    }
}

/// RFC 3339 with milliseconds, the ledger's timestamp format (sorts as text).
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Cuts a response body to [`MAX_RESPONSE_BYTES`] on a character boundary.
pub fn truncate_response(mut body: String) -> String {
    if body.len() > MAX_RESPONSE_BYTES {
        let mut end = MAX_RESPONSE_BYTES;
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        body.truncate(end);
        body.push('…');
    }
    body
}

/// The behaviour every backend must have; each backend's tests run all of it.
#[cfg(test)]
pub(crate) mod contract {
    use super::*;
    use crate::planner::Recorded;

    /// A send with every field derived from its key `CAMPAIGN/OCCURRENCE/RECIPIENT`.
    pub(crate) fn send(key: &str) -> NewSend {
        let (campaign, rest) = key.split_once('/').unwrap();
        let (occurrence, recipient) = rest.rsplit_once('/').unwrap();
        NewSend {
            key: key.to_owned(),
            campaign: campaign.to_owned(),
            file: format!("campaigns/{campaign}.yaml"),
            occurrence: occurrence.to_owned(),
            recipient: recipient.to_owned(),
            endpoint: "single".to_owned(),
            request: format!("{{\"to\":{{\"mobile\":\"{recipient}\"}}}}"),
            request_hash: format!("hash-{key}"),
        }
    }

    fn finished(key: &str, status: Status) -> Finished {
        Finished {
            key: key.to_owned(),
            status,
            attempts: 1,
            http_status: Some(if status == Status::Sent { 200 } else { 400 }),
            response: Some("{\"ok\":true}".to_owned()),
            error: None,
        }
    }

    /// Runs every contract test. `open(name)` opens the ledger called `name`, empty on its
    /// first opening; opening a name again gives a second handle on the same ledger.
    pub fn run(open: &mut dyn FnMut(&str) -> Box<dyn Ledger>) {
        claim_is_exactly_once(open("claim"));
        recorded_and_listed_per_campaign_and_occurrence(open("recorded"));
        outcomes_are_recorded_and_listed(open("outcomes"));
        each_row_of_a_batch_keeps_its_values(open("batch"));
        retry_only_what_is_asked(open("retry"));
        release_puts_back(open("release"));
        recover_marks_in_flight_unknown(open("recover"));
        missed_is_recorded_once(open("missed"));
        last_occurrence_spans_sends_and_missed(open("last"));
        import_is_idempotent_and_refuses_conflicts(open("import-from"), open("import-to"));
        single_writer_lock(open("lock"), open("lock"));
    }

    fn claim_is_exactly_once(mut l: Box<dyn Ledger>) {
        let a = send("c/once/919000000001");
        let b = send("c/once/919000000002");
        assert_eq!(
            l.claim(&[a.clone(), b.clone()], &[]).unwrap(),
            vec![Claim::Claimed(None); 2]
        );
        assert_eq!(
            l.claim(&[a, b], &[Status::Failed, Status::Unknown])
                .unwrap(),
            vec![Claim::Taken; 2]
        );
        let recorded = l.recorded("c", Occurrence::Once).unwrap();
        assert_eq!(recorded.len(), 2);
        assert_eq!(recorded["919000000001"].status, Status::InFlight);
    }

    /// Campaign names that share a prefix, and two occurrences of one campaign, stay apart.
    fn recorded_and_listed_per_campaign_and_occurrence(mut l: Box<dyn Ledger>) {
        let keys = [
            "c/once/919000000001",
            "c-x/once/919000000002",
            "c0/once/919000000003",
            "c/2026-11-30T03:30:00Z/919000000004",
            "c/2026-11-30T03:30:01Z/919000000005",
        ];
        l.claim(&keys.map(send), &[]).unwrap();
        let at = |t: &str| Occurrence::At(t.parse().unwrap());
        for (campaign, occurrence, recipient) in [
            ("c", Occurrence::Once, "919000000001"),
            ("c-x", Occurrence::Once, "919000000002"),
            ("c0", Occurrence::Once, "919000000003"),
            ("c", at("2026-11-30T03:30:00Z"), "919000000004"),
            ("c", at("2026-11-30T03:30:01Z"), "919000000005"),
        ] {
            let recorded = l.recorded(campaign, occurrence).unwrap();
            assert_eq!(
                recorded.keys().collect::<Vec<_>>(),
                [recipient],
                "{campaign} {occurrence}"
            );
        }
        assert!(l.recorded("c-", Occurrence::Once).unwrap().is_empty());
        let listed = l
            .sends(&Filter {
                campaign: Some("c".to_owned()),
                status: None,
            })
            .unwrap();
        assert_eq!(
            listed.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
            [keys[3], keys[4], keys[0]]
        );
    }

    fn outcomes_are_recorded_and_listed(mut l: Box<dyn Ledger>) {
        let keys = [
            "c/once/919000000001",
            "c/once/919000000002",
            "d/once/919000000001",
        ];
        let sends: Vec<_> = keys.iter().map(|k| send(k)).collect();
        l.claim(&sends, &[]).unwrap();
        l.finish(&[
            finished(keys[0], Status::Sent),
            Finished {
                response: Some("x".repeat(MAX_RESPONSE_BYTES + 10)),
                ..finished(keys[1], Status::Failed)
            },
            finished(keys[2], Status::Sent),
        ])
        .unwrap();
        let recorded = l.recorded("c", Occurrence::Once).unwrap();
        assert_eq!(
            recorded["919000000001"],
            Recorded {
                status: Status::Sent,
                body_hash: format!("hash-{}", keys[0])
            }
        );
        let all = l.sends(&Filter::default()).unwrap();
        assert_eq!(all.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), keys);
        let failed = l
            .sends(&Filter {
                campaign: Some("c".to_owned()),
                status: Some(Status::Failed),
            })
            .unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].http_status, Some(400));
        assert_eq!(failed[0].attempts, 1);
        assert!(failed[0].response.as_ref().unwrap().len() <= MAX_RESPONSE_BYTES + 3);
    }

    /// Rows of one batch keep their own values, the same as the previous row's or not.
    fn each_row_of_a_batch_keeps_its_values(mut l: Box<dyn Ledger>) {
        let mut sends = [
            "c/once/919000000001",
            "d/2026-11-30T03:30:00Z/919000000002",
            "c/once/919000000003",
            "c/once/919000000004",
        ]
        .map(send);
        sends[1].endpoint = "blast".to_owned();
        sends[3].file = "campaigns/moved.yaml".to_owned();
        l.claim(&sends, &[]).unwrap();
        let outcomes = [
            finished(&sends[0].key, Status::Sent),
            Finished {
                attempts: 3,
                http_status: None,
                response: None,
                error: Some("connection refused".to_owned()),
                ..finished(&sends[1].key, Status::Unknown)
            },
            finished(&sends[2].key, Status::Sent),
            Finished {
                response: Some("{\"other\":true}".to_owned()),
                ..finished(&sends[3].key, Status::Sent)
            },
        ];
        l.finish(&outcomes).unwrap();
        let rows = l.sends(&Filter::default()).unwrap();
        for (send, outcome) in sends.iter().zip(&outcomes) {
            let row = rows.iter().find(|r| r.key == send.key).unwrap();
            assert_eq!(
                (
                    &row.campaign,
                    &row.file,
                    &row.occurrence,
                    &row.recipient,
                    &row.endpoint,
                    &row.request,
                    &row.request_hash
                ),
                (
                    &send.campaign,
                    &send.file,
                    &send.occurrence,
                    &send.recipient,
                    &send.endpoint,
                    &send.request,
                    &send.request_hash
                )
            );
            assert_eq!(
                (
                    row.status,
                    row.attempts,
                    row.http_status,
                    &row.response,
                    &row.error
                ),
                (
                    outcome.status,
                    outcome.attempts,
                    outcome.http_status,
                    &outcome.response,
                    &outcome.error
                )
            );
        }
    }

    fn retry_only_what_is_asked(mut l: Box<dyn Ledger>) {
        let (f, u) = (send("c/once/919000000001"), send("c/once/919000000002"));
        l.claim(&[f.clone(), u.clone()], &[]).unwrap();
        l.finish(&[
            finished(&f.key, Status::Failed),
            finished(&u.key, Status::Unknown),
        ])
        .unwrap();
        assert_eq!(
            l.claim(&[f.clone(), u.clone()], &[]).unwrap(),
            vec![Claim::Taken; 2]
        );
        assert_eq!(
            l.claim(&[f.clone(), u.clone()], &[Status::Failed]).unwrap(),
            vec![Claim::Claimed(Some(Status::Failed)), Claim::Taken]
        );
        l.finish(&[finished(&f.key, Status::Sent)]).unwrap();
        let row = l
            .sends(&Filter::default())
            .unwrap()
            .into_iter()
            .find(|r| r.key == f.key)
            .unwrap();
        assert_eq!((row.status, row.attempts), (Status::Sent, 2));
        assert_eq!(
            l.claim(&[f, u], &[Status::Failed, Status::Unknown])
                .unwrap(),
            vec![Claim::Taken, Claim::Claimed(Some(Status::Unknown))]
        );
    }

    fn release_puts_back(mut l: Box<dyn Ledger>) {
        let (new, retried) = (send("c/once/919000000001"), send("c/once/919000000002"));
        l.claim(std::slice::from_ref(&retried), &[]).unwrap();
        l.finish(&[finished(&retried.key, Status::Failed)]).unwrap();
        let claims = l
            .claim(&[new.clone(), retried.clone()], &[Status::Failed])
            .unwrap();
        assert_eq!(
            claims,
            vec![Claim::Claimed(None), Claim::Claimed(Some(Status::Failed))]
        );
        l.release(&[
            (new.key.clone(), None),
            (retried.key.clone(), Some(Status::Failed)),
        ])
        .unwrap();
        let recorded = l.recorded("c", Occurrence::Once).unwrap();
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded["919000000002"].status, Status::Failed);
    }

    fn recover_marks_in_flight_unknown(mut l: Box<dyn Ledger>) {
        let sends = [send("c/once/919000000001"), send("c/once/919000000002")];
        l.claim(&sends, &[]).unwrap();
        l.finish(&[finished(&sends[0].key, Status::Sent)]).unwrap();
        assert_eq!(l.recover().unwrap(), 1);
        assert_eq!(l.recover().unwrap(), 0);
        let row = l
            .sends(&Filter {
                status: Some(Status::Unknown),
                ..Filter::default()
            })
            .unwrap();
        assert_eq!(row.len(), 1);
        assert!(row[0].error.as_ref().unwrap().contains("may or may not"));
    }

    fn missed_is_recorded_once(mut l: Box<dyn Ledger>) {
        let at = Occurrence::At("2026-11-30T03:30:00Z".parse().unwrap());
        assert!(l.record_missed("c", "campaigns/c.yaml", at).unwrap());
        assert!(!l.record_missed("c", "campaigns/c.yaml", at).unwrap());
        let missed = l.missed(Some("c")).unwrap();
        assert_eq!(missed.len(), 1);
        assert_eq!(missed[0].occurrence, "2026-11-30T03:30:00Z");
        assert!(l.missed(Some("other")).unwrap().is_empty());
    }

    fn last_occurrence_spans_sends_and_missed(mut l: Box<dyn Ledger>) {
        assert_eq!(l.last_occurrence("c").unwrap(), None);
        l.claim(&[send("c/once/919000000001")], &[]).unwrap();
        assert_eq!(
            l.last_occurrence("c").unwrap(),
            None,
            "`once` is not a scheduled occurrence"
        );
        l.claim(&[send("c/2026-11-30T03:30:00Z/919000000001")], &[])
            .unwrap();
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            l.last_occurrence("c").unwrap(),
            Some(t("2026-11-30T03:30:00Z"))
        );
        l.record_missed("c", "c.yaml", Occurrence::At(t("2026-12-01T03:30:00Z")))
            .unwrap();
        assert_eq!(
            l.last_occurrence("c").unwrap(),
            Some(t("2026-12-01T03:30:00Z"))
        );
        l.claim(&[send("c/2026-12-02T03:30:00Z/919000000001")], &[])
            .unwrap();
        assert_eq!(
            l.last_occurrence("c").unwrap(),
            Some(t("2026-12-02T03:30:00Z"))
        );
        assert_eq!(l.last_occurrence("d").unwrap(), None);
    }

    fn import_is_idempotent_and_refuses_conflicts(
        mut from: Box<dyn Ledger>,
        mut to: Box<dyn Ledger>,
    ) {
        let sends: Vec<_> = ["c/once/919000000001", "c/once/919000000002"]
            .map(send)
            .to_vec();
        from.claim(&sends, &[]).unwrap();
        from.finish(&[
            finished(&sends[0].key, Status::Sent),
            finished(&sends[1].key, Status::Failed),
        ])
        .unwrap();
        let at = Occurrence::At("2026-11-30T03:30:00Z".parse().unwrap());
        from.record_missed("c", "c.yaml", at).unwrap();
        let (rows, missed) = (
            from.sends(&Filter::default()).unwrap(),
            from.missed(None).unwrap(),
        );
        assert_eq!(rows[0].request, sends[0].request);

        let first = to.import(&rows, &missed).unwrap();
        assert_eq!((first.sends_copied, first.missed_copied), (2, 1));
        assert_eq!(to.sends(&Filter::default()).unwrap(), rows);
        let again = to.import(&rows, &missed).unwrap();
        assert_eq!(
            (
                again.sends_copied,
                again.sends_present,
                again.missed_present
            ),
            (0, 2, 1)
        );

        // A key recorded differently: nothing is written.
        let mut different = rows.clone();
        different[1].status = Status::Sent;
        let mut extra = send("c/once/919000000003");
        extra.request_hash = "other".to_owned();
        from.claim(&[extra], &[]).unwrap();
        different.push(from.sends(&Filter::default()).unwrap().pop().unwrap());
        let err = to.import(&different, &[]).unwrap_err();
        assert!(err.to_string().contains("c/once/919000000002"), "{err}");
        assert_eq!(
            to.sends(&Filter::default()).unwrap().len(),
            2,
            "a refused import wrote rows"
        );
    }

    fn single_writer_lock(mut first: Box<dyn Ledger>, mut second: Box<dyn Ledger>) {
        let holder = Holder {
            pid: 4242,
            host: "runner-1".to_owned(),
            since: "2026-11-27T05:00:00Z".parse().unwrap(),
            command: "apply".to_owned(),
        };
        let before = chrono::Utc::now() - chrono::TimeDelta::seconds(1);
        first.lock(&holder).unwrap();
        match second.lock(&Holder::current("apply")) {
            Err(LedgerError::Locked { holder: found, .. }) => {
                assert_eq!(
                    (found.pid, &found.host, &found.command),
                    (4242, &holder.host, &holder.command)
                );
                // `since` is when the lock was taken, not when the process started.
                assert!(found.since >= before, "{found:?}");
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(first);
        // A database releases a closed session's lock as its backend exits: moments later.
        second
            .lock_within(
                &Holder::current("apply"),
                std::time::Duration::from_secs(10),
            )
            .unwrap();
    }
}
