//! The PostgreSQL ledger's opt-outs: the `optouts` table of schema version 2.

use std::collections::{HashMap, HashSet};

use postgres::fallible_iterator::FallibleIterator;

use super::PgLedger;
use crate::ledger::error::LedgerError;
use crate::ledger::row::OptOut;

/// The schema version that added the `optouts` table: a ledger opened read-only at an older
/// version has no opt-outs.
const OPTOUTS_VERSION: i64 = 2;

/// Numbers per array parameter of `optouts_among`.
const BATCH: usize = 10_000;

const COLUMNS: &str = "mobile, reason, source, created_at";

fn optout(row: &postgres::Row) -> OptOut {
    OptOut {
        mobile: row.get(0),
        reason: row.get(1),
        source: row.get(2),
        created_at: row.get(3),
    }
}

impl PgLedger {
    fn has_optouts(&mut self) -> Result<bool, LedgerError> {
        Ok(self.version()? >= OPTOUTS_VERSION)
    }

    pub(super) fn add_optouts_in_one(
        &mut self,
        optouts: &[OptOut],
    ) -> Result<Vec<Option<OptOut>>, LedgerError> {
        let column = |f: fn(&OptOut) -> &String| optouts.iter().map(f).collect::<Vec<&String>>();
        let (mobiles, sources, times) = (
            column(|o| &o.mobile),
            column(|o| &o.source),
            column(|o| &o.created_at),
        );
        let reasons: Vec<Option<&str>> = optouts.iter().map(|o| o.reason.as_deref()).collect();
        let (inserted, existing) = self.with(|c| {
            let mut tx = c.transaction()?;
            // Rows are inserted in the order given: of a number given twice, the first wins.
            let inserted: HashSet<String> = tx
                .query(
                    "INSERT INTO optouts (mobile, reason, source, created_at)
                     SELECT m, r, s, t FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[])
                          WITH ORDINALITY AS u(m, r, s, t, i)
                     ORDER BY i
                     ON CONFLICT (mobile) DO NOTHING
                     RETURNING mobile",
                    &[&mobiles, &reasons, &sources, &times],
                )?
                .iter()
                .map(|row| row.get(0))
                .collect();
            // Numbers not inserted, and the second of a number given twice: already there.
            let mut first = inserted.clone();
            let others: Vec<&String> = mobiles
                .iter()
                .copied()
                .filter(|m| !first.remove(*m))
                .collect();
            let mut existing = HashMap::new();
            if !others.is_empty() {
                for row in tx.query(
                    format!("SELECT {COLUMNS} FROM optouts WHERE mobile = ANY($1)").as_str(),
                    &[&others],
                )? {
                    let o = optout(&row);
                    existing.insert(o.mobile.clone(), o);
                }
            }
            tx.commit()?;
            Ok((inserted, existing))
        })?;
        let mut first = inserted;
        Ok(optouts
            .iter()
            .map(|o| {
                if first.remove(&o.mobile) {
                    None
                } else {
                    existing.get(&o.mobile).cloned()
                }
            })
            .collect())
    }

    pub(super) fn remove_optouts_in_one(
        &mut self,
        mobiles: &[String],
    ) -> Result<Vec<OptOut>, LedgerError> {
        let mut removed: HashMap<String, OptOut> = self.with(|c| {
            let rows = c.query(
                format!("DELETE FROM optouts WHERE mobile = ANY($1) RETURNING {COLUMNS}").as_str(),
                &[&mobiles],
            )?;
            Ok(rows
                .iter()
                .map(|row| {
                    let o = optout(row);
                    (o.mobile.clone(), o)
                })
                .collect())
        })?;
        Ok(mobiles.iter().filter_map(|m| removed.remove(m)).collect())
    }

    pub(super) fn optouts_in(&mut self, mobiles: &[String]) -> Result<Vec<OptOut>, LedgerError> {
        if !self.has_optouts()? {
            return Ok(Vec::new());
        }
        let mut found = Vec::new();
        for batch in mobiles.chunks(BATCH) {
            let rows = self.with(|c| {
                c.query(
                    format!("SELECT {COLUMNS} FROM optouts WHERE mobile = ANY($1)").as_str(),
                    &[&batch],
                )
            })?;
            found.extend(rows.iter().map(optout));
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
        self.with(|c| {
            // Rows are handed over as they arrive, not collected first.
            let no_params: [&str; 0] = [];
            let mut rows = c.query_raw(
                format!("SELECT {COLUMNS} FROM optouts ORDER BY mobile COLLATE \"C\"").as_str(),
                no_params,
            )?;
            let mut n = 0;
            while let Some(row) = rows.next()? {
                visit(optout(&row));
                n += 1;
            }
            Ok(n)
        })
    }
}
