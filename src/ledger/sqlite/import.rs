//! `state migrate` into an SQLite ledger: rows of another ledger copied in one transaction.

use std::collections::HashMap;

use rusqlite::params;

use super::{SqliteLedger, storage};
use crate::ledger::backend::{Filter, Imported, Ledger};
use crate::ledger::error::LedgerError;
use crate::ledger::row::{MissedRow, SendRow};

impl SqliteLedger {
    /// [`Ledger::import`]: refuses every row when any differs from the row of its key here.
    pub(super) fn import_in_one(
        &mut self,
        sends: &[SendRow],
        missed: &[MissedRow],
    ) -> Result<Imported, LedgerError> {
        let location = self.location.clone();
        let existing: HashMap<String, SendRow> = self
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
            return Err(LedgerError::conflicts(&location, &conflicts));
        }
        let mut imported = Imported::default();
        let tx = self.conn.transaction().map_err(|e| storage(&location, e))?;
        for r in sends {
            let n = tx
                .execute(
                    "INSERT INTO sends (key, campaign, file, occurrence, recipient, endpoint, request,
                                        request_hash, status, attempts, http_status, response, error,
                                        created_at, updated_at, wa_code, retry_not_before,
                                        category, test)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                             ?18, ?19)
                     ON CONFLICT (key) DO NOTHING",
                    params![
                        r.key, r.campaign, r.file, r.occurrence, r.recipient, r.endpoint, r.request,
                        r.request_hash, r.status.as_str(), r.attempts, r.http_status, r.response,
                        r.error, r.created_at, r.updated_at, r.wa_code, r.retry_not_before,
                        r.category, r.test
                    ],
                )
                .map_err(|e| storage(&location, e))?;
            if n == 1 {
                imported.sends_copied += 1;
            } else {
                imported.sends_present += 1;
            }
        }
        for m in missed {
            let n = tx
                .execute(
                    "INSERT INTO missed (campaign, occurrence, file, recorded_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT DO NOTHING",
                    params![m.campaign, m.occurrence, m.file, m.recorded_at],
                )
                .map_err(|e| storage(&location, e))?;
            if n == 1 {
                imported.missed_copied += 1;
            } else {
                imported.missed_present += 1;
            }
        }
        tx.commit().map_err(|e| storage(&location, e))?;
        Ok(imported)
    }
}
