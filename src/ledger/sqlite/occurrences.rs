//! The SQLite ledger's records of whole occurrences: the `missed` table, the `fired` table
//! of schema version 6, and the latest occurrence and the started ones the daemon resumes
//! from.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{SqliteLedger, storage};
use crate::ledger::error::LedgerError;
use crate::ledger::row::{FiredRow, MissedRow, occurrence_times, timestamp};
use crate::schedule::Occurrence;

/// The version that has the `fired` table (a ledger opened read-only may be older).
const FIRED_SINCE: i64 = 6;

/// The latest scheduled occurrence of campaign ?1 with anything recorded. Occurrences are
/// RFC 3339 UTC with second precision: text order is time order. `occurrence <> 'once'` is
/// also what lets SQLite use the partial `sends_by_occurrence`. Test sends (whose occurrence
/// is `test-TIME`) are no occurrence.
pub(super) const LAST_OCCURRENCE: &str = "SELECT MAX(occurrence) FROM (
         SELECT occurrence FROM sends WHERE campaign = ?1 AND occurrence <> 'once' AND test = 0
         UNION ALL
         SELECT occurrence FROM missed WHERE campaign = ?1
         UNION ALL
         SELECT occurrence FROM fired WHERE campaign = ?1)";

/// The occurrences of campaign ?1 from ?2 on that were fired or have a send. The sends are
/// looked up through `sends_by_occurrence`, whose condition the query repeats so SQLite can
/// use it. (Occurrences are stored as `YYYY-MM-DDTHH:MM:SSZ`: as text they compare in time.)
pub(super) const STARTED_SINCE: &str =
    "SELECT occurrence FROM fired WHERE campaign = ?1 AND occurrence >= ?2
         UNION
         SELECT occurrence FROM sends WHERE campaign = ?1 AND occurrence >= ?2
                                        AND occurrence <> 'once' AND test = 0";

impl SqliteLedger {
    pub(super) fn insert_missed(
        &mut self,
        campaign: &str,
        file: &str,
        occurrence: Occurrence,
    ) -> Result<bool, LedgerError> {
        self.conn
            .execute(
                "INSERT INTO missed (campaign, occurrence, file, recorded_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
                params![campaign, occurrence.to_string(), file, timestamp(Utc::now())],
            )
            .map(|n| n == 1)
            .map_err(|e| self.error(e))
    }

    pub(super) fn latest_occurrence(
        &mut self,
        campaign: &str,
    ) -> Result<Option<DateTime<Utc>>, LedgerError> {
        let latest: Option<String> = self
            .conn
            .query_row(LAST_OCCURRENCE, params![campaign], |row| row.get(0))
            .map_err(|e| self.error(e))?;
        Ok(latest
            .and_then(|text| Occurrence::parse(&text))
            .and_then(Occurrence::time))
    }

    pub(super) fn insert_fired(
        &mut self,
        campaign: &str,
        occurrence: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "INSERT INTO fired (campaign, occurrence, fired_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
                params![
                    campaign,
                    Occurrence::At(occurrence).to_string(),
                    timestamp(Utc::now())
                ],
            )
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    pub(super) fn started_from(
        &mut self,
        campaign: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, LedgerError> {
        let since = Occurrence::At(since).to_string();
        let mut stmt = self
            .conn
            .prepare_cached(STARTED_SINCE)
            .map_err(|e| storage(&self.location, e))?;
        let rows = stmt
            .query_map(params![campaign, since], |row| row.get::<_, String>(0))
            .map_err(|e| storage(&self.location, e))?;
        let texts: Vec<String> = rows
            .collect::<Result<_, _>>()
            .map_err(|e| storage(&self.location, e))?;
        Ok(occurrence_times(&texts))
    }

    pub(super) fn missed_rows(
        &mut self,
        campaign: Option<&str>,
    ) -> Result<Vec<MissedRow>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT campaign, file, occurrence, recorded_at FROM missed
                 WHERE (?1 IS NULL OR campaign = ?1) ORDER BY campaign, occurrence",
            )
            .map_err(|e| storage(&self.location, e))?;
        let rows = stmt
            .query_map(params![campaign], |row| {
                Ok(MissedRow {
                    campaign: row.get(0)?,
                    file: row.get(1)?,
                    occurrence: row.get(2)?,
                    recorded_at: row.get(3)?,
                })
            })
            .map_err(|e| storage(&self.location, e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| storage(&self.location, e))
    }

    pub(super) fn fired_rows(&mut self) -> Result<Vec<FiredRow>, LedgerError> {
        if self.version()? < FIRED_SINCE {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT campaign, occurrence, fired_at FROM fired ORDER BY campaign, occurrence",
            )
            .map_err(|e| storage(&self.location, e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok(FiredRow {
                    campaign: row.get(0)?,
                    occurrence: row.get(1)?,
                    fired_at: row.get(2)?,
                })
            })
            .map_err(|e| storage(&self.location, e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| storage(&self.location, e))
    }

    pub(super) fn copy_fired(&mut self, fired: &[FiredRow]) -> Result<usize, LedgerError> {
        let location = self.location.clone();
        let tx = self.conn.transaction().map_err(|e| storage(&location, e))?;
        let mut copied = 0;
        for f in fired {
            copied += tx
                .execute(
                    "INSERT INTO fired (campaign, occurrence, fired_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                    params![f.campaign, f.occurrence, f.fired_at],
                )
                .map_err(|e| storage(&location, e))?;
        }
        tx.commit().map_err(|e| storage(&location, e))?;
        Ok(copied)
    }
}
