//! What the backends share of their schemas: version 1, the opt-out table, the WhatsApp
//! columns of `sends`, the occurrences the daemon started, and the refusal of a newer schema.

use super::error::LedgerError;

/// Schema version 1 of both backends (plain SQL both understand): sends, missed occurrences,
/// and who holds the writer lock (the SQLite backend locks a file instead and leaves `holder`
/// empty). Each backend lists its migrations from here on (SQLite in `PRAGMA user_version`,
/// PostgreSQL in `campaignctl_schema`): a change one backend needs does not bump the other's
/// version, which would make older campaignctl refuse a ledger it could still use.
pub(super) const SCHEMA_V1: &str = include_str!("migrations/v1.sql");

/// The opt-out table (plain SQL both understand): SQLite's version 3, PostgreSQL's 2.
pub(super) const OPTOUTS: &str = include_str!("migrations/optouts.sql");

/// `sends.wa_code` and `sends.retry_not_before` (plain SQL both understand): SQLite's
/// version 4, PostgreSQL's 3.
pub(super) const WA_CODES: &str = include_str!("migrations/wa-codes.sql");

/// The occurrences the daemon started (plain SQL both understand): SQLite's version 6,
/// PostgreSQL's 5.
pub(super) const FIRED: &str = include_str!("migrations/fired.sql");

/// Refuses a ledger written by a newer campaignctl (more migrations than the backend's
/// `migrations` this one knows).
pub(super) fn check_version(
    ledger: &str,
    found: i64,
    migrations: &[&str],
) -> Result<(), LedgerError> {
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
