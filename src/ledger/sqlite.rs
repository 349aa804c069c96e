//! The embedded ledger: one SQLite file in WAL mode, written by one process at a time (the
//! lock is in `sqlite/lock.rs`; the queries behind limits and caps in `sqlite/limits.rs`).

use std::fs::File;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Statement, ToSql, TransactionBehavior, params,
};

use super::backend::{Claim, Filter, Finished, Imported, Ledger, NewSend, Skipped};
use super::error::{LedgerError, Source};
use super::holder::Holder;
use super::migrations::{FIRED, OPTOUTS, SCHEMA_V1, WA_CODES, check_version};
use super::row::{
    FiredRow, Messaged, MissedRow, OptOut, Recorded, RecordedSends, SendRow, Status,
    retry_not_before, timestamp, truncate_response,
};
use crate::schedule::Occurrence;

/// Schema migrations, applied in order and counted in `PRAGMA user_version`. 3: the
/// opt-out table (`optouts.sql`, as PostgreSQL's 2). 4: the WhatsApp columns of `sends`
/// (`wa-codes.sql`, as PostgreSQL's 3). 5: `sends.category`, `sends.test` and the statuses
/// `capped` and `missed` (as PostgreSQL's 4). 6: the occurrences the daemon started
/// (`fired.sql`, as PostgreSQL's 5).
const MIGRATIONS: &[&str] = &[SCHEMA_V1, V2, OPTOUTS, WA_CODES, V5, FIRED];

/// 5: the table rebuilt, as in version 2, to let its CHECK take the new statuses.
const V5: &str = include_str!("migrations/sqlite-v5.sql");

/// Which columns a ledger opened read-only has, by the index of the queries below that fit
/// it: 0 every column, 1 before the category and test columns (version 5), 2 before the
/// WhatsApp columns too (version 4). Missing columns are read as NULL (no test sends).
fn columns_of(version: i64) -> usize {
    match version {
        5.. => 0,
        4 => 1,
        _ => 2,
    }
}

/// 2: the `sends` table rebuilt with the same columns and rows, for the cost of each claim
/// and finish. Its CHECK on `status` is spelt with OR (SQLite evaluates an IN list of more
/// than two values through a temporary b-tree, on every insert and update);
/// `sends_not_sent` is dropped (SQLite never used it, yet every send added and removed an
/// entry); `sends_by_occurrence` leaves out `once` sends, since only the queries of whole
/// occurrences (`occurrences.rs`) need it and never ask for them (`recorded` and `sends` go
/// by key, see [`key_range`]).
const V2: &str = include_str!("migrations/sqlite-v2.sql");

/// The keys under `path` (`CAMPAIGN` or `CAMPAIGN/OCCURRENCE`), those that start with
/// `path/`: from the first string returned up to the second, excluded (`0` is the character
/// after `/`). A send's key is `CAMPAIGN/OCCURRENCE/RECIPIENT` (`api::send_key`) and
/// campaign names have no `/`, so the key index finds a campaign's or an occurrence's sends.
/// Queries by key range still compare the campaign and occurrence columns: a key of another
/// shape could only be left out of a listing, never put in the wrong one, and `claim` goes
/// by the key itself.
fn key_range(path: &str) -> (String, String) {
    (format!("{path}/"), format!("{path}0"))
}

/// What is recorded for one occurrence (`recorded`): ?1 campaign, ?2 occurrence, ?3 and ?4
/// the range of their keys (see [`key_range`]). `$codes`: the WhatsApp columns, or NULLs
/// for a ledger older than them.
macro_rules! recorded {
    ($codes:literal) => {
        concat!(
            "SELECT recipient, status, request_hash, ",
            $codes,
            " FROM sends WHERE key >= ?3 AND key < ?4 AND campaign = ?1 AND occurrence = ?2"
        )
    };
}
const RECORDED: [&str; 3] = [
    recorded!("wa_code, retry_not_before"),
    recorded!("wa_code, retry_not_before"),
    recorded!("NULL, NULL"),
];

/// `SELECT` of the rows `each_send` lists: status ?1 (any if NULL), updated at or after ?2
/// (any if NULL; timestamps of one format compare as text), `$and`, in listing order. No
/// index gives that order (key order is not campaign order: `c-x/` sorts before `c/`), so
/// SQLite sorts, and its sorter spills to temporary files past a few megabytes: the memory
/// of a listing stays bounded whatever the number of rows. `$codes` as in [`recorded!`].
macro_rules! select_sends {
    ($codes:literal, $and:literal) => {
        concat!(
            "SELECT key, campaign, file, occurrence, recipient, endpoint, status, attempts,
                    http_status, response, error, request_hash, created_at, updated_at, request, ",
            $codes,
            " FROM sends WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR updated_at >= ?2) ",
            $and,
            " ORDER BY campaign, occurrence, recipient"
        )
    };
}
const SENDS: [&str; 3] = [
    select_sends!("wa_code, retry_not_before, category, test", ""),
    select_sends!("wa_code, retry_not_before, NULL, 0", ""),
    select_sends!("NULL, NULL, NULL, 0", ""),
];
/// Campaign ?5's, by the range ?3..?4 of their keys (see [`key_range`]).
const SENDS_OF_CAMPAIGN: [&str; 3] = [
    select_sends!(
        "wa_code, retry_not_before, category, test",
        "AND key >= ?3 AND key < ?4 AND campaign = ?5"
    ),
    select_sends!(
        "wa_code, retry_not_before, NULL, 0",
        "AND key >= ?3 AND key < ?4 AND campaign = ?5"
    ),
    select_sends!(
        "NULL, NULL, NULL, 0",
        "AND key >= ?3 AND key < ?4 AND campaign = ?5"
    ),
];

fn send_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SendRow> {
    let status: String = row.get(6)?;
    Ok(SendRow {
        key: row.get(0)?,
        campaign: row.get(1)?,
        file: row.get(2)?,
        occurrence: row.get(3)?,
        recipient: row.get(4)?,
        endpoint: row.get(5)?,
        status: Status::parse(&status).unwrap_or(Status::Unknown),
        attempts: row.get(7)?,
        http_status: row.get(8)?,
        response: row.get(9)?,
        error: row.get(10)?,
        request_hash: row.get(11)?,
        created_at: row.get(12)?,
        updated_at: row.get(13)?,
        request: row.get(14)?,
        wa_code: row.get(15)?,
        retry_not_before: row.get(16)?,
        category: row.get(17)?,
        test: row.get(18)?,
    })
}

pub(crate) struct SqliteLedger {
    conn: Connection,
    location: String,
    path: PathBuf,
    /// Held while this process has the single-writer lock.
    lock: Option<File>,
    /// Which of the queries of [`RECORDED`], [`SENDS`] and [`MESSAGED`] fit the schema (see
    /// [`columns_of`]).
    columns: usize,
}

impl SqliteLedger {
    /// Opens (creating the file and its directory if needed) and migrates.
    pub(crate) fn open(path: &Path) -> Result<SqliteLedger, LedgerError> {
        let location = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| LedgerError::File {
                ledger: location.clone(),
                action: format!("create directory {}", dir.display()),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|e| LedgerError::storage(&location, e))?;
        let mut ledger = SqliteLedger {
            conn,
            location,
            path: path.to_owned(),
            lock: None,
            columns: 0,
        };
        ledger.configure()?;
        ledger.migrate()?;
        Ok(ledger)
    }

    /// Opens an existing ledger without writing to it; `None` if there is none.
    pub(crate) fn open_read_only(path: &Path) -> Result<Option<SqliteLedger>, LedgerError> {
        if !path.exists() {
            return Ok(None);
        }
        let location = path.display().to_string();
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| LedgerError::storage(&location, e))?;
        let mut ledger = SqliteLedger {
            conn,
            location,
            path: path.to_owned(),
            lock: None,
            columns: 0,
        };
        ledger
            .conn
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| ledger.error(e))?;
        let version = ledger.version()?;
        check_version(&ledger.location, version, MIGRATIONS)?;
        ledger.columns = columns_of(version);
        Ok(Some(ledger))
    }

    fn error(&self, e: impl Into<Source>) -> LedgerError {
        LedgerError::storage(&self.location, e)
    }

    fn file_error(&self, action: String, source: std::io::Error) -> LedgerError {
        LedgerError::File {
            ledger: self.location.clone(),
            action,
            source,
        }
    }

    fn configure(&self) -> Result<(), LedgerError> {
        // WAL: readers (`plan`, `status`) never block the writer. synchronous=FULL: a
        // claim is on disk before its request leaves, even across a power cut.
        self.conn
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
            )
            .map_err(|e| self.error(e))?;
        self.conn
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| self.error(e))
    }

    fn version(&self) -> Result<i64, LedgerError> {
        self.conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|e| self.error(e))
    }

    fn migrate(&mut self) -> Result<(), LedgerError> {
        let version = self.version()?;
        check_version(&self.location, version, MIGRATIONS)?;
        if version == MIGRATIONS.len() as i64 {
            return Ok(());
        }
        // IMMEDIATE: the write lock first (within the busy timeout), then the version, so two
        // processes opening an old ledger at once migrate it once, one after the other.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| storage(&self.location, e))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|e| storage(&self.location, e))?;
        check_version(&self.location, version, MIGRATIONS)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)
                .map_err(|e| storage(&self.location, format!("migration {}: {e}", i + 1)))?;
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .map_err(|e| storage(&self.location, e))?;
        }
        tx.commit().map_err(|e| storage(&self.location, e))?;
        if version == 0 {
            return Ok(());
        }
        // Upgrading rebuilt `sends` through the WAL: copy it into the database now and give
        // the WAL's disk space back (if readers are in, this waits for them a while and then
        // leaves it to the automatic checkpoints).
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(|e| storage(&self.location, e))
    }
}

impl SqliteLedger {
    fn finish_normal(&mut self, results: &[Finished], now: &str) -> Result<(), LedgerError> {
        let location = self.location.clone();
        let tx = self.conn.transaction().map_err(|e| storage(&location, e))?;
        {
            let mut update = tx
                .prepare_cached(
                    "UPDATE sends SET status = ?2, attempts = attempts + ?3, http_status = ?4,
                                      response = ?5, error = ?6, updated_at = ?7, wa_code = ?8,
                                      retry_not_before = ?9
                     WHERE key = ?1",
                )
                .map_err(|e| storage(&location, e))?;
            update
                .raw_bind_parameter(7, now)
                .map_err(|e| storage(&location, e))?;
            let mut previous = None;
            for r in results {
                update_outcome(&mut update, r, previous).map_err(|e| storage(&location, e))?;
                previous = Some(r);
            }
        }
        tx.commit().map_err(|e| storage(&location, e))
    }
}

/// Binds `value` to parameter `index` unless the previous row bound the same there: a
/// statement keeps its parameters from one execution to the next, binding copies the text,
/// and the rows of a batch mostly share their campaign, file and occurrence, or outcome.
fn rebind<T: ToSql + PartialEq + ?Sized>(
    stmt: &mut Statement<'_>,
    index: usize,
    value: &T,
    previous: Option<&T>,
) -> rusqlite::Result<()> {
    if previous == Some(value) {
        return Ok(());
    }
    stmt.raw_bind_parameter(index, value)
}

/// Runs claim's INSERT for `send`; `previous` is the send it last ran for.
fn insert_send(
    insert: &mut Statement<'_>,
    send: &NewSend,
    previous: Option<&NewSend>,
) -> rusqlite::Result<usize> {
    insert.raw_bind_parameter(1, &send.key)?;
    rebind(insert, 2, &send.campaign, previous.map(|p| &p.campaign))?;
    rebind(insert, 3, &send.file, previous.map(|p| &p.file))?;
    rebind(insert, 4, &send.occurrence, previous.map(|p| &p.occurrence))?;
    insert.raw_bind_parameter(5, &send.recipient)?;
    rebind(insert, 6, &send.endpoint, previous.map(|p| &p.endpoint))?;
    insert.raw_bind_parameter(7, &send.request)?;
    insert.raw_bind_parameter(8, &send.request_hash)?;
    rebind(insert, 10, &send.category, previous.map(|p| &p.category))?;
    rebind(insert, 11, &send.test, previous.map(|p| &p.test))?;
    insert.raw_execute()
}

/// Runs finish's UPDATE for `r`; `previous` is the outcome it last ran for.
fn update_outcome(
    update: &mut Statement<'_>,
    r: &Finished,
    previous: Option<&Finished>,
) -> rusqlite::Result<usize> {
    update.raw_bind_parameter(1, &r.key)?;
    rebind(
        update,
        2,
        r.status.as_str(),
        previous.map(|p| p.status.as_str()),
    )?;
    rebind(update, 3, &r.attempts, previous.map(|p| &p.attempts))?;
    rebind(update, 4, &r.http_status, previous.map(|p| &p.http_status))?;
    if previous.is_none_or(|p| p.response != r.response) {
        update.raw_bind_parameter(5, r.response.clone().map(truncate_response))?;
    }
    rebind(update, 6, &r.error, previous.map(|p| &p.error))?;
    rebind(update, 8, &r.wa_code, previous.map(|p| &p.wa_code))?;
    rebind(
        update,
        9,
        &r.retry_not_before,
        previous.map(|p| &p.retry_not_before),
    )?;
    update.raw_execute()
}

fn storage(location: &str, e: impl Into<Source>) -> LedgerError {
    LedgerError::storage(location, e)
}

impl Ledger for SqliteLedger {
    fn location(&self) -> &str {
        &self.location
    }

    fn holds_lock(&mut self) -> Result<bool, LedgerError> {
        Ok(self.lock.is_some())
    }

    fn try_lock(&mut self, holder: &Holder) -> Result<Option<Holder>, LedgerError> {
        self.try_lock_file(holder)
    }

    fn recover(&mut self) -> Result<usize, LedgerError> {
        let now = timestamp(Utc::now());
        self.conn
            .execute(
                "UPDATE sends SET status = 'unknown', updated_at = ?1,
                     error = 'the process stopped while this send was in flight: it may or may not have been sent'
                 WHERE status = 'in_flight'",
                params![now],
            )
            .map_err(|e| self.error(e))
    }

    fn recorded(
        &mut self,
        campaign: &str,
        occurrence: Occurrence,
    ) -> Result<RecordedSends, LedgerError> {
        // By key (no index on campaign and occurrence covers `once`).
        let occurrence = occurrence.to_string();
        let (first, end) = key_range(&format!("{campaign}/{occurrence}"));
        let mut stmt = self
            .conn
            .prepare_cached(RECORDED[self.columns])
            .map_err(|e| storage(&self.location, e))?;
        let rows = stmt
            .query_map(params![campaign, occurrence, first, end], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<u32>>(3)?,
                    row.get::<_, Option<String>>(4)?,
                ))
            })
            .map_err(|e| storage(&self.location, e))?;
        let mut out = RecordedSends::new();
        for row in rows {
            let (recipient, status, body_hash, wa_code, not_before) =
                row.map_err(|e| storage(&self.location, e))?;
            let status = Status::parse(&status).ok_or_else(|| {
                storage(
                    &self.location,
                    format!("unknown status `{status}` in the sends table"),
                )
            })?;
            let retry_not_before =
                retry_not_before(not_before.as_deref()).map_err(|e| storage(&self.location, e))?;
            out.insert(
                recipient,
                Recorded {
                    status,
                    body_hash,
                    wa_code,
                    retry_not_before,
                },
            );
        }
        Ok(out)
    }

    fn claim(&mut self, sends: &[NewSend], retry: &[Status]) -> Result<Vec<Claim>, LedgerError> {
        let location = self.location.clone();
        let now = timestamp(Utc::now());
        let tx = self.conn.transaction().map_err(|e| storage(&location, e))?;
        let mut claims = Vec::with_capacity(sends.len());
        {
            let mut current = tx
                .prepare_cached("SELECT status, retry_not_before FROM sends WHERE key = ?1")
                .map_err(|e| storage(&location, e))?;
            let mut opted_out = tx
                .prepare_cached("SELECT 1 FROM optouts WHERE mobile = ?1")
                .map_err(|e| storage(&location, e))?;
            // The unique key decides, as in PostgreSQL: a send is claimed by inserting it.
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO sends (key, campaign, file, occurrence, recipient, endpoint, request,
                                        request_hash, status, attempts, created_at, updated_at,
                                        category, test)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'in_flight', 0, ?9, ?9, ?10, ?11)
                     ON CONFLICT (key) DO NOTHING",
                )
                .map_err(|e| storage(&location, e))?;
            let mut reclaim = tx
                .prepare_cached(
                    "UPDATE sends SET status = 'in_flight', request = ?2, request_hash = ?3, file = ?4,
                                      updated_at = ?5, error = NULL
                     WHERE key = ?1 AND status = ?6",
                )
                .map_err(|e| storage(&location, e))?;
            insert
                .raw_bind_parameter(9, &now)
                .map_err(|e| storage(&location, e))?;
            let mut previous = None;
            for send in sends {
                // An opt-out recorded since the plan (by the API's answer to another send of
                // this run, or by `optout add`) wins over the plan.
                if send.endpoint != "blast"
                    && opted_out
                        .exists(params![send.recipient])
                        .map_err(|e| storage(&location, e))?
                {
                    claims.push(Claim::OptedOut);
                    continue;
                }
                let inserted =
                    insert_send(&mut insert, send, previous).map_err(|e| storage(&location, e))?;
                previous = Some(send);
                if inserted == 1 {
                    claims.push(Claim::Claimed(None));
                    continue;
                }
                let row: Option<(String, Option<String>)> = current
                    .query_row(params![send.key], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
                    .map_err(|e| storage(&location, e))?;
                let Some((status, not_before)) = row else {
                    return Err(storage(
                        &location,
                        format!("send {} vanished during its claim", send.key),
                    ));
                };
                // Timestamps of one format compare as text.
                let held = not_before.is_some_and(|t| t > now);
                let claim = match Status::parse(&status) {
                    Some(previous) if retry.contains(&previous) && !held => {
                        reclaim
                            .execute(params![
                                send.key,
                                send.request,
                                send.request_hash,
                                send.file,
                                now,
                                previous.as_str()
                            ])
                            .map_err(|e| storage(&location, e))?;
                        Claim::Claimed(Some(previous))
                    }
                    _ => Claim::Taken,
                };
                claims.push(claim);
            }
        }
        tx.commit().map_err(|e| storage(&location, e))?;
        Ok(claims)
    }

    fn release(&mut self, claims: &[(String, Option<Status>)]) -> Result<(), LedgerError> {
        let location = self.location.clone();
        let tx = self.conn.transaction().map_err(|e| storage(&location, e))?;
        for (key, previous) in claims {
            match previous {
                None => tx.execute(
                    "DELETE FROM sends WHERE key = ?1 AND status = 'in_flight'",
                    params![key],
                ),
                Some(status) => tx.execute(
                    "UPDATE sends SET status = ?2 WHERE key = ?1 AND status = 'in_flight'",
                    params![key, status.as_str()],
                ),
            }
            .map_err(|e| storage(&location, e))?;
        }
        tx.commit().map_err(|e| storage(&location, e))
    }

    fn finish(&mut self, results: &[Finished]) -> Result<(), LedgerError> {
        let location = self.location.clone();
        let now = timestamp(Utc::now());
        // Outcomes are written without waiting for the disk: if power fails first, the rows
        // stay `in_flight` and become `unknown`, which is never resent unasked. The next
        // claim's FULL commit flushes them anyway.
        self.conn
            .execute_batch("PRAGMA synchronous = NORMAL")
            .map_err(|e| storage(&location, e))?;
        let result = self.finish_normal(results, &now);
        self.conn
            .execute_batch("PRAGMA synchronous = FULL")
            .map_err(|e| storage(&location, e))?;
        result
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
        let listed = (|| {
            let mut stmt = self.conn.prepare_cached(match filter.campaign {
                Some(_) => SENDS_OF_CAMPAIGN[self.columns],
                None => SENDS[self.columns],
            })?;
            let mut rows = match &filter.campaign {
                // By key, as in `recorded`.
                Some(campaign) => {
                    let (first, end) = key_range(campaign);
                    stmt.query(params![status, since, first, end, campaign])?
                }
                None => stmt.query(params![status, since])?,
            };
            // One row at a time, from the statement's cursor.
            while let Some(row) = rows.next()? {
                if visit(send_row(row)?).is_break() {
                    break;
                }
            }
            Ok(())
        })();
        listed.map_err(|e: rusqlite::Error| storage(&self.location, e))
    }

    fn missed(&mut self, campaign: Option<&str>) -> Result<Vec<MissedRow>, LedgerError> {
        self.missed_rows(campaign)
    }

    fn import(&mut self, sends: &[SendRow], missed: &[MissedRow]) -> Result<Imported, LedgerError> {
        self.import_in_one(sends, missed)
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

mod import;
mod limits;
mod lock;
mod occurrences;
mod optouts;
#[cfg(test)]
mod tests;
