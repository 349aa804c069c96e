//! The PostgreSQL ledger's records of whole occurrences: the `missed` table, the `fired`
//! table of schema version 5, and the latest occurrence and the started ones the daemon
//! resumes from.

use chrono::{DateTime, Utc};

use super::PgLedger;
use crate::ledger::error::LedgerError;
use crate::ledger::row::{FiredRow, MissedRow, occurrence_times, timestamp};
use crate::schedule::Occurrence;

/// The version that has the `fired` table (a ledger opened read-only may be older).
const FIRED_SINCE: i64 = 5;

impl PgLedger {
    pub(super) fn insert_missed(
        &mut self,
        campaign: &str,
        file: &str,
        occurrence: Occurrence,
    ) -> Result<bool, LedgerError> {
        let (occurrence, now) = (occurrence.to_string(), timestamp(Utc::now()));
        self.with(|c| {
            c.execute(
                "INSERT INTO missed (campaign, occurrence, file, recorded_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[&campaign, &occurrence, &file, &now],
            )
        })
        .map(|n| n == 1)
    }

    pub(super) fn latest_occurrence(
        &mut self,
        campaign: &str,
    ) -> Result<Option<DateTime<Utc>>, LedgerError> {
        let latest: Option<String> = self.with(|c| {
            c.query_one(
                "SELECT max(occurrence) FROM (
                     SELECT occurrence FROM sends WHERE campaign = $1 AND occurrence <> 'once' AND NOT test
                     UNION ALL
                     SELECT occurrence FROM missed WHERE campaign = $1
                     UNION ALL
                     SELECT occurrence FROM fired WHERE campaign = $1) AS o",
                &[&campaign],
            )
            .map(|row| row.get(0))
        })?;
        Ok(latest
            .and_then(|text| Occurrence::parse(&text))
            .and_then(Occurrence::time))
    }

    pub(super) fn insert_fired(
        &mut self,
        campaign: &str,
        occurrence: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        let (occurrence, now) = (
            Occurrence::At(occurrence).to_string(),
            timestamp(Utc::now()),
        );
        self.with(|c| {
            c.execute(
                "INSERT INTO fired (campaign, occurrence, fired_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&campaign, &occurrence, &now],
            )
        })
        .map(|_| ())
    }

    pub(super) fn started_from(
        &mut self,
        campaign: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, LedgerError> {
        let since = Occurrence::At(since).to_string();
        let rows = self.with(|c| {
            c.query(
                "SELECT occurrence FROM fired WHERE campaign = $1 AND occurrence COLLATE \"C\" >= $2
                 UNION
                 SELECT occurrence FROM sends WHERE campaign = $1 AND occurrence COLLATE \"C\" >= $2
                                                AND occurrence <> 'once' AND NOT test",
                &[&campaign, &since],
            )
        })?;
        let texts: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
        Ok(occurrence_times(&texts))
    }

    pub(super) fn missed_rows(
        &mut self,
        campaign: Option<&str>,
    ) -> Result<Vec<MissedRow>, LedgerError> {
        let rows = self.with(|c| {
            c.query(
                "SELECT campaign, file, occurrence, recorded_at FROM missed
                 WHERE ($1::TEXT IS NULL OR campaign = $1)
                 ORDER BY campaign COLLATE \"C\", occurrence COLLATE \"C\"",
                &[&campaign],
            )
        })?;
        Ok(rows
            .into_iter()
            .map(|row| MissedRow {
                campaign: row.get(0),
                file: row.get(1),
                occurrence: row.get(2),
                recorded_at: row.get(3),
            })
            .collect())
    }

    pub(super) fn fired_rows(&mut self) -> Result<Vec<FiredRow>, LedgerError> {
        if self.version()? < FIRED_SINCE {
            return Ok(Vec::new());
        }
        let rows = self.with(|c| {
            c.query(
                "SELECT campaign, occurrence, fired_at FROM fired
                 ORDER BY campaign COLLATE \"C\", occurrence COLLATE \"C\"",
                &[],
            )
        })?;
        Ok(rows
            .into_iter()
            .map(|row| FiredRow {
                campaign: row.get(0),
                occurrence: row.get(1),
                fired_at: row.get(2),
            })
            .collect())
    }

    pub(super) fn copy_fired(&mut self, fired: &[FiredRow]) -> Result<usize, LedgerError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let mut copied = 0;
            for f in fired {
                copied += tx.execute(
                    "INSERT INTO fired (campaign, occurrence, fired_at) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&f.campaign, &f.occurrence, &f.fired_at],
                )?;
            }
            tx.commit()?;
            Ok(copied as usize)
        })
    }
}
