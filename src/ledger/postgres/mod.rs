//! The shared ledger: PostgreSQL, for CI runners whose local files die with them and for
//! daemons replicated across servers. Same schema, migrations and semantics as the SQLite
//! ledger; exactly-once across processes comes from the unique send key (`INSERT ... ON
//! CONFLICT DO NOTHING` decides who sends), single writer from a session-level advisory lock.

mod limits;
mod location;
mod occurrences;
mod optouts;
#[cfg(test)]
pub(crate) mod test_db;
#[cfg(test)]
mod tests;
mod tls;

use std::fmt;
use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use postgres::Client;

pub(crate) use location::PgLocation;

use super::backend::{Claim, Filter, Finished, Imported, Ledger, NewSend, Skipped};
use super::error::LedgerError;
use super::holder::Holder;
use super::migrations::{FIRED, OPTOUTS, SCHEMA_V1, WA_CODES, check_version};
use super::row::{
    FiredRow, Messaged, MissedRow, OptOut, Recorded, RecordedSends, SendRow, Status,
    retry_not_before, timestamp, truncate_response,
};
use crate::schedule::Occurrence;

/// Schema migrations, applied in order and counted in `campaignctl_schema`. Version 1 is
/// the schema shared with SQLite; SQLite's later, SQLite-only migrations are not PostgreSQL's.
/// 2: the opt-out table (`optouts.sql`, as SQLite's 3). 3: the WhatsApp columns of `sends`
/// (`wa-codes.sql`, as SQLite's 4). 4: `sends.category`, `sends.test` and the statuses
/// `capped` and `missed` (`postgres-v4.sql`, as SQLite's 5). 5: the occurrences the daemon
/// started (`fired.sql`, as SQLite's 6).
const MIGRATIONS: &[&str] = &[
    SCHEMA_V1,
    OPTOUTS,
    WA_CODES,
    include_str!("../migrations/postgres-v4.sql"),
    FIRED,
];

/// The later columns of `sends` as `recorded`, `each_send` and `each_messaged` select them,
/// by schema: every column, or NULLs (and no test sends) for a ledger opened read-only
/// before version 4, or before version 3.
const LATER_COLUMNS: [&str; 3] = [
    "wa_code, retry_not_before, category, test",
    "wa_code, retry_not_before, NULL::TEXT, FALSE",
    "NULL::INT, NULL::TEXT, NULL::TEXT, FALSE",
];

/// Which of [`LATER_COLUMNS`] a schema version has.
fn columns_of(version: i64) -> usize {
    match version {
        4.. => 0,
        3 => 1,
        _ => 2,
    }
}

/// The advisory lock key ("campaignctl" ledger writer); advisory locks are per database.
const LOCK_KEY: i64 = 0x6361_6d70_6169_676e;

/// A database error, shown with its SQL state and detail (not just "db error").
#[derive(Debug)]
struct PgError(postgres::Error);

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&describe(&self.0))
    }
}

impl std::error::Error for PgError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A database error with its SQL state and detail, not just "db error".
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {} ({detail})", db.code().code(), db.message()),
            None => format!("{}: {}", db.code().code(), db.message()),
        },
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

/// Rows `each_send` fetches per round trip: a few megabytes at most (a row holds its
/// request body and at most [`super::row::MAX_RESPONSE_BYTES`] of response).
const LISTING_BATCH: i32 = 1000;

/// A `sends` row as `each_send` selects it.
fn send_row(row: &postgres::Row) -> SendRow {
    SendRow {
        key: row.get(0),
        campaign: row.get(1),
        file: row.get(2),
        occurrence: row.get(3),
        recipient: row.get(4),
        endpoint: row.get(5),
        status: Status::parse(row.get(6)).unwrap_or(Status::Unknown),
        attempts: u32::try_from(row.get::<_, i32>(7)).unwrap_or(0),
        http_status: row
            .get::<_, Option<i32>>(8)
            .and_then(|c| u16::try_from(c).ok()),
        response: row.get(9),
        error: row.get(10),
        request_hash: row.get(11),
        created_at: row.get(12),
        updated_at: row.get(13),
        request: row.get(14),
        wa_code: row
            .get::<_, Option<i32>>(15)
            .and_then(|c| u32::try_from(c).ok()),
        retry_not_before: row.get(16),
        category: row.get(17),
        test: row.get(18),
    }
}

pub(crate) struct PgLedger {
    location: PgLocation,
    redacted: String,
    client: Option<Client>,
    /// Whether this session holds the writer lock.
    locked: bool,
    /// Whether this process took the lock: from then on it writes only while holding it.
    writer: bool,
    /// Which of [`LATER_COLUMNS`] fits the schema (see [`columns_of`]).
    columns: usize,
}

impl PgLedger {
    /// A ledger that connects on first use.
    fn unconnected(location: &PgLocation) -> PgLedger {
        PgLedger {
            location: location.clone(),
            redacted: location.redacted.clone(),
            client: None,
            locked: false,
            writer: false,
            columns: 0,
        }
    }

    /// Connects and migrates (the migration runs under a transaction-level advisory lock so
    /// two processes starting at once do not both create the tables).
    pub(crate) fn open(location: &PgLocation) -> Result<PgLedger, LedgerError> {
        let mut ledger = PgLedger::unconnected(location);
        ledger.migrate()?;
        Ok(ledger)
    }

    /// Opens for reading; `None` when the database has no ledger yet (never creates one).
    pub(crate) fn open_read_only(location: &PgLocation) -> Result<Option<PgLedger>, LedgerError> {
        let mut ledger = PgLedger::unconnected(location);
        let exists: bool = ledger
            .client()?
            .query_one("SELECT to_regclass('campaignctl_schema') IS NOT NULL", &[])
            .map_err(|e| ledger.db(e))?
            .get(0);
        if !exists {
            return Ok(None);
        }
        let version = ledger.version()?;
        check_version(&ledger.redacted, version, MIGRATIONS)?;
        ledger.columns = columns_of(version);
        Ok(Some(ledger))
    }

    fn db(&self, e: postgres::Error) -> LedgerError {
        LedgerError::storage(&self.redacted, PgError(e))
    }

    /// The connection, reconnecting if it was lost. A new session does not hold the lock.
    fn client(&mut self) -> Result<&mut Client, LedgerError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            self.locked = false;
            self.client = Some(self.location.connect()?);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }

    /// Runs `f` against the database; a lost connection drops the client, so the next call
    /// reconnects.
    fn with<T>(
        &mut self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, LedgerError> {
        let result = f(self.client()?);
        result.map_err(|e| {
            if self.client.as_ref().is_some_and(Client::is_closed) {
                self.client = None;
                self.locked = false;
            }
            self.db(e)
        })
    }

    fn version(&mut self) -> Result<i64, LedgerError> {
        self.with(|c| {
            c.query_one(
                "SELECT coalesce(max(version), 0)::BIGINT FROM campaignctl_schema",
                &[],
            )
            .map(|row| row.get(0))
        })
    }

    fn migrate(&mut self) -> Result<(), LedgerError> {
        let known = MIGRATIONS.len() as i64;
        let redacted = self.redacted.clone();
        let found = self.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&(LOCK_KEY ^ 1)])?;
            tx.batch_execute("CREATE TABLE IF NOT EXISTS campaignctl_schema (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")?;
            let version: i64 = tx
                .query_one("SELECT coalesce(max(version), 0)::BIGINT FROM campaignctl_schema", &[])?
                .get(0);
            if version > known {
                return Ok(version);
            }
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
                tx.batch_execute(sql)?;
                tx.execute(
                    "INSERT INTO campaignctl_schema (version, applied_at) VALUES ($1, $2)",
                    &[&(i as i32 + 1), &timestamp(Utc::now())],
                )?;
            }
            tx.commit()?;
            Ok(version)
        })?;
        check_version(&redacted, found, MIGRATIONS)
    }

    /// Tries the writer lock once: `Ok(None)` when acquired, `Ok(Some(holder))` when another
    /// session holds it.
    pub(crate) fn try_lock(&mut self, holder: &Holder) -> Result<Option<Holder>, LedgerError> {
        if self.locked && self.client.as_ref().is_some_and(|c| !c.is_closed()) {
            return Ok(None);
        }
        let acquired: bool = self.with(|c| {
            c.query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
                .map(|r| r.get(0))
        })?;
        if acquired {
            self.locked = true;
            self.writer = true;
            // Since when it holds the lock (a standby that takes over holds it from now).
            let since = timestamp(Utc::now());
            self.with(|c| {
                c.execute(
                    "INSERT INTO holder (id, pid, host, since, command) VALUES (1, $1, $2, $3, $4)
                     ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host,
                         since = excluded.since, command = excluded.command",
                    &[
                        &i64::from(holder.pid),
                        &holder.host,
                        &since,
                        &holder.command,
                    ],
                )
            })?;
            return Ok(None);
        }
        let row = self.with(|c| {
            c.query_opt(
                "SELECT pid, host, since, command FROM holder WHERE id = 1",
                &[],
            )
        })?;
        Ok(Some(match row {
            Some(row) => Holder {
                pid: u32::try_from(row.get::<_, i64>(0)).unwrap_or(0),
                host: row.get(1),
                since: DateTime::parse_from_rfc3339(&row.get::<_, String>(2))
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_else(|_| Utc::now()),
                command: row.get(3),
            },
            None => Holder {
                pid: 0,
                host: "unknown".to_owned(),
                since: Utc::now(),
                command: "unknown".to_owned(),
            },
        }))
    }

    /// Whether this session still holds the lock (false after the connection was lost).
    pub(crate) fn holds_lock(&mut self) -> Result<bool, LedgerError> {
        if !self.locked {
            return Ok(false);
        }
        let held: bool = self.with(|c| {
            c.query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                    AND pid = pg_backend_pid() AND objid = ($1::BIGINT & 4294967295)::OID)",
                &[&LOCK_KEY],
            )
            .map(|r| r.get(0))
        })?;
        self.locked = held;
        Ok(held)
    }

    /// A process that took the writer lock claims sends only while it still holds it.
    /// Exactly-once does not depend on this (the unique key does), but a replica whose
    /// session was cut must stop sending: another may have taken over.
    fn require_lock(&mut self) -> Result<(), LedgerError> {
        if !self.writer || (self.locked && self.client.as_ref().is_some_and(|c| !c.is_closed())) {
            return Ok(());
        }
        self.locked = false;
        Err(self.error("this process lost the ledger lock (its database session ended); not sending until it takes it again"))
    }

    fn error(&self, message: impl fmt::Display) -> LedgerError {
        LedgerError::storage(&self.redacted, message.to_string())
    }
}

impl Ledger for PgLedger {
    fn location(&self) -> &str {
        &self.redacted
    }

    fn lock(&mut self, holder: &Holder) -> Result<(), LedgerError> {
        match self.try_lock(holder)? {
            None => Ok(()),
            Some(holder) => Err(LedgerError::Locked {
                ledger: self.redacted.clone(),
                holder,
            }),
        }
    }

    fn try_lock(&mut self, holder: &Holder) -> Result<Option<Holder>, LedgerError> {
        PgLedger::try_lock(self, holder)
    }

    fn holds_lock(&mut self) -> Result<bool, LedgerError> {
        PgLedger::holds_lock(self)
    }

    fn recover(&mut self) -> Result<usize, LedgerError> {
        let now = timestamp(Utc::now());
        self.with(|c| {
            c.execute(
                "UPDATE sends SET status = 'unknown', updated_at = $1,
                     error = 'the process stopped while this send was in flight: it may or may not have been sent'
                 WHERE status = 'in_flight'",
                &[&now],
            )
        })
        .map(|n| n as usize)
    }

    fn recorded(
        &mut self,
        campaign: &str,
        occurrence: Occurrence,
    ) -> Result<RecordedSends, LedgerError> {
        let occurrence = occurrence.to_string();
        let query = format!(
            "SELECT recipient, status, request_hash, {} FROM sends WHERE campaign = $1 AND occurrence = $2",
            LATER_COLUMNS[self.columns]
        );
        let rows = self.with(|c| c.query(query.as_str(), &[&campaign, &occurrence]))?;
        let mut out = RecordedSends::new();
        for row in rows {
            let status: String = row.get(1);
            let status = Status::parse(&status).ok_or_else(|| {
                self.error(format!("unknown status `{status}` in the sends table"))
            })?;
            let retry_not_before =
                retry_not_before(row.get::<_, Option<&str>>(4)).map_err(|e| self.error(e))?;
            out.insert(
                row.get(0),
                Recorded {
                    status,
                    body_hash: row.get(2),
                    wa_code: row
                        .get::<_, Option<i32>>(3)
                        .and_then(|c| u32::try_from(c).ok()),
                    retry_not_before,
                },
            );
        }
        Ok(out)
    }

    fn claim(&mut self, sends: &[NewSend], retry: &[Status]) -> Result<Vec<Claim>, LedgerError> {
        self.require_lock()?;
        let now = timestamp(Utc::now());
        let numbers: Vec<&str> = sends
            .iter()
            .filter(|s| s.endpoint != "blast")
            .map(|s| s.recipient.as_str())
            .collect();
        let retry: Vec<String> = retry.iter().map(|s| s.as_str().to_owned()).collect();
        let (opted, inserted, reclaimed) = self.with(|c| {
            let mut tx = c.transaction()?;
            // An opt-out recorded since the plan (by the API's answer to another send of this
            // run, or by `optout add`) wins over the plan: those sends are left out.
            let opted: std::collections::HashSet<String> = tx
                .query("SELECT mobile FROM optouts WHERE mobile = ANY($1)", &[&numbers])?
                .into_iter()
                .map(|row| row.get(0))
                .collect();
            let claimable: Vec<&NewSend> = sends
                .iter()
                .filter(|s| s.endpoint == "blast" || !opted.contains(&s.recipient))
                .collect();
            let column = |f: fn(&NewSend) -> &String| {
                claimable.iter().map(|s| f(s).as_str()).collect::<Vec<&str>>()
            };
            let keys = column(|s| &s.key);
            let (campaigns, files, occurrences) = (
                column(|s| &s.campaign),
                column(|s| &s.file),
                column(|s| &s.occurrence),
            );
            let (recipients, endpoints) = (column(|s| &s.recipient), column(|s| &s.endpoint));
            let (requests, hashes) = (column(|s| &s.request), column(|s| &s.request_hash));
            let categories: Vec<Option<&str>> =
                claimable.iter().map(|s| s.category.as_deref()).collect();
            let tests: Vec<bool> = claimable.iter().map(|s| s.test).collect();
            // The unique key decides: whoever inserts a send sends it.
            let inserted: Vec<String> = tx
                .query(
                    "INSERT INTO sends (key, campaign, file, occurrence, recipient, endpoint, request,
                                        request_hash, status, attempts, created_at, updated_at,
                                        category, test)
                     SELECT k, c, f, o, r, e, q, h, 'in_flight', 0, $9, $9, g, t
                     FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[],
                                 $6::TEXT[], $7::TEXT[], $8::TEXT[], $10::TEXT[], $11::BOOL[])
                          AS u(k, c, f, o, r, e, q, h, g, t)
                     ON CONFLICT (key) DO NOTHING
                     RETURNING key",
                    &[&keys, &campaigns, &files, &occurrences, &recipients, &endpoints, &requests, &hashes, &now, &categories, &tests],
                )?
                .into_iter()
                .map(|row| row.get(0))
                .collect();
            let mut reclaimed: Vec<(String, String)> = Vec::new();
            if !retry.is_empty() {
                reclaimed = tx
                    .query(
                        "WITH previous AS (
                             SELECT s.key, s.status FROM sends s
                             JOIN unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[]) AS u(k, q, h, f) ON s.key = u.k
                             WHERE s.status = ANY($5)
                               AND (s.retry_not_before IS NULL OR s.retry_not_before COLLATE \"C\" <= $6)
                             FOR UPDATE OF s)
                         UPDATE sends SET status = 'in_flight', request = u.q, request_hash = u.h, file = u.f,
                                          updated_at = $6, error = NULL
                         FROM previous, unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[]) AS u(k, q, h, f)
                         WHERE sends.key = previous.key AND u.k = previous.key
                         RETURNING sends.key, previous.status",
                        &[&keys, &requests, &hashes, &files, &retry, &now],
                    )?
                    .into_iter()
                    .map(|row| (row.get(0), row.get(1)))
                    .collect();
            }
            tx.commit()?;
            Ok((opted, inserted, reclaimed))
        })?;
        let inserted: std::collections::HashSet<String> = inserted.into_iter().collect();
        let reclaimed: std::collections::HashMap<String, String> = reclaimed.into_iter().collect();
        Ok(sends
            .iter()
            .map(|s| {
                if inserted.contains(&s.key) {
                    Claim::Claimed(None)
                } else if let Some(previous) = reclaimed.get(&s.key) {
                    Claim::Claimed(Status::parse(previous))
                } else if s.endpoint != "blast" && opted.contains(&s.recipient) {
                    Claim::OptedOut
                } else {
                    Claim::Taken
                }
            })
            .collect())
    }

    fn skip(&mut self, skipped: &[Skipped]) -> Result<usize, LedgerError> {
        self.skip_in_one(skipped)
    }

    fn each_messaged(
        &mut self,
        since: DateTime<Utc>,
        visit: &mut dyn FnMut(Messaged<'_>),
    ) -> Result<usize, LedgerError> {
        self.visit_messaged(since, visit)
    }

    fn release(&mut self, claims: &[(String, Option<Status>)]) -> Result<(), LedgerError> {
        let fresh: Vec<String> = claims
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        let (keys, previous): (Vec<String>, Vec<String>) = claims
            .iter()
            .filter_map(|(k, p)| p.map(|p| (k.clone(), p.as_str().to_owned())))
            .unzip();
        self.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "DELETE FROM sends WHERE key = ANY($1) AND status = 'in_flight'",
                &[&fresh],
            )?;
            tx.execute(
                "UPDATE sends SET status = u.p FROM unnest($1::TEXT[], $2::TEXT[]) AS u(k, p)
                 WHERE sends.key = u.k AND sends.status = 'in_flight'",
                &[&keys, &previous],
            )?;
            tx.commit()
        })
    }

    fn finish(&mut self, results: &[Finished]) -> Result<(), LedgerError> {
        let now = timestamp(Utc::now());
        let keys: Vec<&str> = results.iter().map(|r| r.key.as_str()).collect();
        let statuses: Vec<&str> = results.iter().map(|r| r.status.as_str()).collect();
        let attempts: Vec<i32> = results
            .iter()
            .map(|r| i32::try_from(r.attempts).unwrap_or(i32::MAX))
            .collect();
        let codes: Vec<Option<i32>> = results
            .iter()
            .map(|r| r.http_status.map(i32::from))
            .collect();
        let responses: Vec<Option<String>> = results
            .iter()
            .map(|r| r.response.clone().map(truncate_response))
            .collect();
        let errors: Vec<Option<&str>> = results.iter().map(|r| r.error.as_deref()).collect();
        let wa_codes: Vec<Option<i32>> = results
            .iter()
            .map(|r| r.wa_code.and_then(|c| i32::try_from(c).ok()))
            .collect();
        let not_before: Vec<Option<&str>> = results
            .iter()
            .map(|r| r.retry_not_before.as_deref())
            .collect();
        self.with(|c| {
            c.execute(
                "UPDATE sends SET status = u.s, attempts = sends.attempts + u.a, http_status = u.h,
                                  response = u.r, error = u.e, updated_at = $7, wa_code = u.w,
                                  retry_not_before = u.n
                 FROM unnest($1::TEXT[], $2::TEXT[], $3::INT[], $4::INT[], $5::TEXT[], $6::TEXT[],
                             $8::INT[], $9::TEXT[])
                      AS u(k, s, a, h, r, e, w, n)
                 WHERE sends.key = u.k",
                &[
                    &keys,
                    &statuses,
                    &attempts,
                    &codes,
                    &responses,
                    &errors,
                    &now,
                    &wa_codes,
                    &not_before,
                ],
            )
        })
        .map(|_| ())
    }

    fn record_missed(
        &mut self,
        campaign: &str,
        file: &str,
        occurrence: Occurrence,
    ) -> Result<bool, LedgerError> {
        self.insert_missed(campaign, file, occurrence)
    }

    fn last_occurrence(&mut self, campaign: &str) -> Result<Option<DateTime<Utc>>, LedgerError> {
        self.latest_occurrence(campaign)
    }

    fn record_fired(
        &mut self,
        campaign: &str,
        occurrence: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.insert_fired(campaign, occurrence)
    }

    fn started_since(
        &mut self,
        campaign: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, LedgerError> {
        self.started_from(campaign, since)
    }

    fn each_send(
        &mut self,
        filter: &Filter,
        visit: &mut dyn FnMut(SendRow) -> ControlFlow<()>,
    ) -> Result<(), LedgerError> {
        let status = filter.status.map(Status::as_str);
        let since = filter.since.map(timestamp);
        let query = format!(
            "SELECT key, campaign, file, occurrence, recipient, endpoint, status, attempts,
                    http_status, response, error, request_hash, created_at, updated_at, request, {}
             FROM sends
             WHERE ($1::TEXT IS NULL OR campaign = $1) AND ($2::TEXT IS NULL OR status = $2)
               AND ($3::TEXT IS NULL OR updated_at COLLATE \"C\" >= $3)
             ORDER BY campaign COLLATE \"C\", occurrence COLLATE \"C\", recipient COLLATE \"C\"",
            LATER_COLUMNS[self.columns]
        );
        self.with(|c| {
            // A portal, read LISTING_BATCH rows at a time: a plain query would fetch every
            // row before the first is seen. Portals live in a transaction (read only: this
            // is a listing, and one snapshot for all of it).
            let mut tx = c.build_transaction().read_only(true).start()?;
            let portal = tx.bind(query.as_str(), &[&filter.campaign, &status, &since])?;
            loop {
                let rows = tx.query_portal(&portal, LISTING_BATCH)?;
                let last = rows.len() < LISTING_BATCH as usize;
                for row in &rows {
                    if visit(send_row(row)).is_break() {
                        return tx.commit();
                    }
                }
                if last {
                    return tx.commit();
                }
            }
        })
    }

    fn missed(&mut self, campaign: Option<&str>) -> Result<Vec<MissedRow>, LedgerError> {
        self.missed_rows(campaign)
    }

    fn import(&mut self, sends: &[SendRow], missed: &[MissedRow]) -> Result<Imported, LedgerError> {
        let existing: std::collections::HashMap<String, SendRow> = self
            .sends(&Filter::default())?
            .into_iter()
            .map(|r| (r.key.clone(), r))
            .collect();
        let conflicts: Vec<String> = sends
            .iter()
            .filter(|r| existing.get(&r.key).is_some_and(|e| !e.same_record(r)))
            .map(|r| r.key.clone())
            .collect();
        if !conflicts.is_empty() {
            return Err(LedgerError::conflicts(&self.redacted, &conflicts));
        }
        self.with(|c| {
            let mut tx = c.transaction()?;
            let mut imported = Imported::default();
            let insert = tx.prepare(
                "INSERT INTO sends (key, campaign, file, occurrence, recipient, endpoint, request,
                                    request_hash, status, attempts, http_status, response, error,
                                    created_at, updated_at, wa_code, retry_not_before, category, test)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                         $18, $19)
                 ON CONFLICT (key) DO NOTHING",
            )?;
            for r in sends {
                let attempts = i32::try_from(r.attempts).unwrap_or(i32::MAX);
                let code = r.http_status.map(i32::from);
                let wa_code = r.wa_code.and_then(|c| i32::try_from(c).ok());
                let n = tx.execute(
                    &insert,
                    &[
                        &r.key, &r.campaign, &r.file, &r.occurrence, &r.recipient, &r.endpoint, &r.request,
                        &r.request_hash, &r.status.as_str(), &attempts, &code, &r.response, &r.error,
                        &r.created_at, &r.updated_at, &wa_code, &r.retry_not_before, &r.category, &r.test,
                    ],
                )?;
                if n == 1 { imported.sends_copied += 1 } else { imported.sends_present += 1 }
            }
            for m in missed {
                let n = tx.execute(
                    "INSERT INTO missed (campaign, occurrence, file, recorded_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
                    &[&m.campaign, &m.occurrence, &m.file, &m.recorded_at],
                )?;
                if n == 1 { imported.missed_copied += 1 } else { imported.missed_present += 1 }
            }
            tx.commit()?;
            Ok(imported)
        })
    }

    fn fired(&mut self) -> Result<Vec<FiredRow>, LedgerError> {
        self.fired_rows()
    }

    fn import_fired(&mut self, fired: &[FiredRow]) -> Result<usize, LedgerError> {
        self.copy_fired(fired)
    }

    fn add_optouts(&mut self, optouts: &[OptOut]) -> Result<Vec<Option<OptOut>>, LedgerError> {
        self.add_optouts_in_one(optouts)
    }

    fn remove_optouts(&mut self, mobiles: &[String]) -> Result<Vec<OptOut>, LedgerError> {
        self.remove_optouts_in_one(mobiles)
    }

    fn optouts_among(&mut self, mobiles: &[String]) -> Result<Vec<OptOut>, LedgerError> {
        self.optouts_in(mobiles)
    }

    fn each_optout(&mut self, visit: &mut dyn FnMut(OptOut)) -> Result<usize, LedgerError> {
        self.visit_optouts(visit)
    }
}
