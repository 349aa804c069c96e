//! What WhatsApp's limits ask of the SQLite ledger: sends recorded as held back on
//! purpose (`capped`, `missed`), and the recent sends the limits count, read in place.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{SqliteLedger, insert_send, rebind, storage};
use crate::ledger::backend::Skipped;
use crate::ledger::error::LedgerError;
use crate::ledger::row::{Messaged, timestamp};

/// What `each_messaged` reads: sends that may have reached their recipient, updated at or
/// after ?1 (timestamps of one format compare as text), test sends left out. A full scan:
/// every row's `updated_at` changes with its outcome, and an index on it would cost every
/// claim and outcome more than this costs a plan.
const MESSAGED: [&str; 3] = [
    "SELECT campaign, occurrence, recipient, category, updated_at FROM sends
     WHERE updated_at >= ?1 AND (status = 'sent' OR status = 'unknown' OR status = 'in_flight')
       AND test = 0",
    "SELECT campaign, occurrence, recipient, NULL, updated_at FROM sends
     WHERE updated_at >= ?1 AND (status = 'sent' OR status = 'unknown' OR status = 'in_flight')",
    "SELECT campaign, occurrence, recipient, NULL, updated_at FROM sends
     WHERE updated_at >= ?1 AND (status = 'sent' OR status = 'unknown' OR status = 'in_flight')",
];

impl SqliteLedger {
    /// [`Ledger::skip`](crate::ledger::Ledger::skip): every row in one transaction.
    pub(super) fn skip_in_one(&mut self, skipped: &[Skipped]) -> Result<usize, LedgerError> {
        let location = self.location.clone();
        let now = timestamp(Utc::now());
        let tx = self.conn.transaction().map_err(|e| storage(&location, e))?;
        let mut recorded = 0;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO sends (key, campaign, file, occurrence, recipient, endpoint, request,
                                        request_hash, status, attempts, error, created_at,
                                        updated_at, category, test)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?12, ?13, ?13, ?10, ?11)
                     ON CONFLICT (key) DO NOTHING",
                )
                .map_err(|e| storage(&location, e))?;
            insert
                .raw_bind_parameter(13, &now)
                .map_err(|e| storage(&location, e))?;
            let mut previous: Option<&Skipped> = None;
            for s in skipped {
                (|| {
                    rebind(
                        &mut insert,
                        9,
                        s.status.as_str(),
                        previous.map(|p| p.status.as_str()),
                    )?;
                    rebind(&mut insert, 12, &s.reason, previous.map(|p| &p.reason))?;
                    insert_send(&mut insert, &s.send, previous.map(|p| &p.send))
                })()
                .map(|n| recorded += n)
                .map_err(|e| storage(&location, e))?;
                previous = Some(s);
            }
        }
        tx.commit().map_err(|e| storage(&location, e))?;
        Ok(recorded)
    }

    /// [`Ledger::each_messaged`](crate::ledger::Ledger::each_messaged), one row at a time from the statement's cursor.
    pub(super) fn visit_messaged(
        &mut self,
        since: DateTime<Utc>,
        visit: &mut dyn FnMut(Messaged<'_>),
    ) -> Result<usize, LedgerError> {
        let since = timestamp(since);
        let listed = (|| {
            let mut stmt = self.conn.prepare_cached(MESSAGED[self.columns])?;
            let mut rows = stmt.query(params![since])?;
            let mut count = 0;
            // Read in place: no row's text is copied.
            while let Some(row) = rows.next()? {
                let Ok(at) = DateTime::parse_from_rfc3339(text(row, 4)?) else {
                    continue;
                };
                visit(Messaged {
                    campaign: text(row, 0)?,
                    occurrence: text(row, 1)?,
                    recipient: text(row, 2)?,
                    category: text_or_null(row, 3)?,
                    at: at.with_timezone(&Utc),
                });
                count += 1;
            }
            Ok(count)
        })();
        listed.map_err(|e: rusqlite::Error| storage(&self.location, e))
    }
}

/// Column `i` of `row` as text, borrowed from the row.
fn text<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    text_or_null(row, i)?.ok_or(rusqlite::Error::InvalidColumnType(
        i,
        String::new(),
        rusqlite::types::Type::Null,
    ))
}

/// Column `i` of `row` as text or NULL, borrowed from the row.
fn text_or_null<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
    row.get_ref(i)?.as_str_or_null().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}
