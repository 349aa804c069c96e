//! The SQLite ledger's opt-outs: the `optouts` table of schema version 3.

use rusqlite::{OptionalExtension, params};

use super::{SqliteLedger, storage};
use crate::ledger::error::LedgerError;
use crate::ledger::row::OptOut;

/// The schema version that added the `optouts` table: a ledger opened read-only at an older
/// version has no opt-outs.
const OPTOUTS_VERSION: i64 = 3;

/// Numbers looked up per query by `optouts_among` (well under SQLite's 32,766 parameters).
const BATCH: usize = 500;

const COLUMNS: &str = "mobile, reason, source, created_at";

fn optout(row: &rusqlite::Row<'_>) -> rusqlite::Result<OptOut> {
    Ok(OptOut {
        mobile: row.get(0)?,
        reason: row.get(1)?,
        source: row.get(2)?,
        created_at: row.get(3)?,
    })
}

impl SqliteLedger {
    fn has_optouts(&self) -> Result<bool, LedgerError> {
        Ok(self.version()? >= OPTOUTS_VERSION)
    }

    pub(super) fn add_optouts_in_one(
        &mut self,
        optouts: &[OptOut],
    ) -> Result<Vec<Option<OptOut>>, LedgerError> {
        let location = self.location.clone();
        let err = |e| storage(&location, e);
        let tx = self.conn.transaction().map_err(err)?;
        let mut out = Vec::with_capacity(optouts.len());
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO optouts (mobile, reason, source, created_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (mobile) DO NOTHING",
                )
                .map_err(err)?;
            let mut existing = tx
                .prepare_cached(&format!("SELECT {COLUMNS} FROM optouts WHERE mobile = ?1"))
                .map_err(err)?;
            for o in optouts {
                let added = insert
                    .execute(params![o.mobile, o.reason, o.source, o.created_at])
                    .map_err(err)?;
                out.push(if added == 1 {
                    None
                } else {
                    Some(existing.query_row(params![o.mobile], optout).map_err(err)?)
                });
            }
        }
        tx.commit().map_err(err)?;
        Ok(out)
    }

    pub(super) fn remove_optouts_in_one(
        &mut self,
        mobiles: &[String],
    ) -> Result<Vec<OptOut>, LedgerError> {
        let location = self.location.clone();
        let err = |e| storage(&location, e);
        let tx = self.conn.transaction().map_err(err)?;
        let mut removed = Vec::new();
        {
            let mut delete = tx
                .prepare_cached(&format!(
                    "DELETE FROM optouts WHERE mobile = ?1 RETURNING {COLUMNS}"
                ))
                .map_err(err)?;
            for mobile in mobiles {
                if let Some(o) = delete
                    .query_row(params![mobile], optout)
                    .optional()
                    .map_err(err)?
                {
                    removed.push(o);
                }
            }
        }
        tx.commit().map_err(err)?;
        Ok(removed)
    }

    pub(super) fn optouts_in(&mut self, mobiles: &[String]) -> Result<Vec<OptOut>, LedgerError> {
        if !self.has_optouts()? {
            return Ok(Vec::new());
        }
        let err = |e| storage(&self.location, e);
        let mut found = Vec::new();
        for batch in mobiles.chunks(BATCH) {
            let marks = vec!["?"; batch.len()].join(", ");
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM optouts WHERE mobile IN ({marks})"
                ))
                .map_err(err)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(batch), optout)
                .map_err(err)?;
            for row in rows {
                found.push(row.map_err(err)?);
            }
        }
        found.sort_by(|a, b| a.mobile.cmp(&b.mobile));
        found.dedup_by(|a, b| a.mobile == b.mobile);
        Ok(found)
    }

    pub(super) fn visit_optouts(
        &mut self,
        visit: &mut dyn FnMut(OptOut),
    ) -> Result<usize, LedgerError> {
        if !self.has_optouts()? {
            return Ok(0);
        }
        let err = |e| storage(&self.location, e);
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM optouts ORDER BY mobile"))
            .map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        let mut n = 0;
        while let Some(row) = rows.next().map_err(err)? {
            visit(optout(row).map_err(err)?);
            n += 1;
        }
        Ok(n)
    }
}
