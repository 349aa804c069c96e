//! Why a ledger call failed. Every variant names the ledger (a path, or a URL without its
//! password); storage failures keep the backend's error as their source.

use super::holder::Holder;

/// The error of a backend (SQLite, PostgreSQL, the file system), or a message of ours.
pub(crate) type Source = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub(crate) enum LedgerError {
    #[error(
        "the ledger {ledger} is in use by {holder}; only one apply or run may use a ledger at a time"
    )]
    Locked { ledger: String, holder: Holder },

    #[error("the ledger {ledger} is locked by another process (holder unknown: {detail})")]
    LockedUnknown { ledger: String, detail: String },

    /// A file of the ledger (its directory, its lock file) that could not be used.
    #[error("ledger {ledger}: cannot {action}: {source}")]
    File {
        ledger: String,
        /// What was tried: `create directory /var/lib/x`, `lock /var/lib/x/state.db.lock`.
        action: String,
        #[source]
        source: std::io::Error,
    },

    #[error("ledger {ledger}: {source}")]
    Storage {
        ledger: String,
        #[source]
        source: Source,
    },

    #[error(
        "ledger {ledger} has schema version {found}, newer than this campaignctl knows ({known}); upgrade campaignctl"
    )]
    TooNew {
        ledger: String,
        found: i64,
        known: i64,
    },
}

impl LedgerError {
    /// A storage failure of the ledger at `ledger`.
    pub(crate) fn storage(ledger: &str, source: impl Into<Source>) -> LedgerError {
        LedgerError::Storage {
            ledger: ledger.to_owned(),
            source: source.into(),
        }
    }

    /// The keys whose records differ between two ledgers, as an error.
    pub(crate) fn conflicts(ledger: &str, keys: &[String]) -> LedgerError {
        let shown: Vec<&str> = keys.iter().take(10).map(String::as_str).collect();
        LedgerError::storage(
            ledger,
            format!(
                "{} send(s) are recorded differently here; refusing to overwrite them (nothing was copied): {}{}",
                keys.len(),
                shown.join(", "),
                if keys.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                }
            ),
        )
    }
}
