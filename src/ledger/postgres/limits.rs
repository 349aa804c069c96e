//! What WhatsApp's limits ask of the PostgreSQL ledger: sends recorded as held back on
//! purpose (`capped`, `missed`), and the recent sends the limits count, read in batches.

use chrono::{DateTime, Utc};

use super::{LISTING_BATCH, PgLedger};
use crate::ledger::backend::Skipped;
use crate::ledger::error::LedgerError;
use crate::ledger::row::{Messaged, timestamp};

impl PgLedger {
    /// [`Ledger::skip`](crate::ledger::Ledger::skip): every row in one statement.
    pub(super) fn skip_in_one(&mut self, skipped: &[Skipped]) -> Result<usize, LedgerError> {
        self.require_lock()?;
        let now = timestamp(Utc::now());
        let column = |f: fn(&Skipped) -> &str| skipped.iter().map(f).collect::<Vec<&str>>();
        let keys = column(|s| &s.send.key);
        let (campaigns, files, occurrences) = (
            column(|s| &s.send.campaign),
            column(|s| &s.send.file),
            column(|s| &s.send.occurrence),
        );
        let (recipients, endpoints) = (column(|s| &s.send.recipient), column(|s| &s.send.endpoint));
        let (requests, hashes) = (
            column(|s| &s.send.request),
            column(|s| &s.send.request_hash),
        );
        let (statuses, reasons) = (column(|s| s.status.as_str()), column(|s| &s.reason));
        let categories: Vec<Option<&str>> =
            skipped.iter().map(|s| s.send.category.as_deref()).collect();
        let tests: Vec<bool> = skipped.iter().map(|s| s.send.test).collect();
        let recorded = self.with(|c| {
            c.execute(
                "INSERT INTO sends (key, campaign, file, occurrence, recipient, endpoint, request,
                                    request_hash, status, attempts, error, created_at, updated_at,
                                    category, test)
                 SELECT k, c, f, o, r, e, q, h, s, 0, m, $9, $9, g, t
                 FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[],
                             $6::TEXT[], $7::TEXT[], $8::TEXT[], $10::TEXT[], $11::BOOL[],
                             $12::TEXT[], $13::TEXT[])
                      AS u(k, c, f, o, r, e, q, h, g, t, s, m)
                 ON CONFLICT (key) DO NOTHING",
                &[
                    &keys,
                    &campaigns,
                    &files,
                    &occurrences,
                    &recipients,
                    &endpoints,
                    &requests,
                    &hashes,
                    &now,
                    &categories,
                    &tests,
                    &statuses,
                    &reasons,
                ],
            )
        })?;
        Ok(recorded as usize)
    }

    /// [`Ledger::each_messaged`](crate::ledger::Ledger::each_messaged), in batches.
    pub(super) fn visit_messaged(
        &mut self,
        since: DateTime<Utc>,
        visit: &mut dyn FnMut(Messaged<'_>),
    ) -> Result<usize, LedgerError> {
        let since = timestamp(since);
        // Before version 4 there are no categories and no test sends.
        let query = if self.columns == 0 {
            "SELECT campaign, occurrence, recipient, category, updated_at FROM sends
             WHERE updated_at COLLATE \"C\" >= $1 AND status IN ('sent', 'unknown', 'in_flight')
               AND NOT test"
        } else {
            "SELECT campaign, occurrence, recipient, NULL::TEXT, updated_at FROM sends
             WHERE updated_at COLLATE \"C\" >= $1 AND status IN ('sent', 'unknown', 'in_flight')"
        };
        self.with(|c| {
            // A portal, as in `each_send`: rows in batches, never all at once.
            let mut tx = c.build_transaction().read_only(true).start()?;
            let portal = tx.bind(query, &[&since])?;
            let mut count = 0;
            loop {
                let rows = tx.query_portal(&portal, LISTING_BATCH)?;
                let last = rows.len() < LISTING_BATCH as usize;
                for row in rows {
                    let Ok(at) = DateTime::parse_from_rfc3339(row.get::<_, &str>(4)) else {
                        continue;
                    };
                    visit(Messaged {
                        campaign: row.get(0),
                        occurrence: row.get(1),
                        recipient: row.get(2),
                        category: row.get(3),
                        at: at.with_timezone(&Utc),
                    });
                    count += 1;
                }
                if last {
                    break;
                }
            }
            tx.commit()?;
            Ok(count)
        })
    }
}
