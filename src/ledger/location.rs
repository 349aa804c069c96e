//! Where the ledger lives, and opening the backend that lives there.

use std::fmt;
use std::path::PathBuf;

use super::backend::Ledger;
use super::error::LedgerError;
use super::postgres::{PgLedger, PgLocation};
use super::sqlite::SqliteLedger;

/// Default SQLite ledger, relative to the working directory.
pub(crate) const DEFAULT_STATE: &str = ".campaignctl/state.db";

/// Where the ledger lives: `--state`, `CAMPAIGNCTL_STATE`, or the default file. A
/// `postgres://` (or `postgresql://`) URL selects PostgreSQL; anything else is a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StateLocation {
    Sqlite(PathBuf),
    Postgres(Box<PgLocation>),
}

impl StateLocation {
    pub(crate) fn parse(text: &str) -> Result<StateLocation, LedgerError> {
        // URL schemes are case-insensitive: `Postgres://` must never become a file name.
        let scheme = text
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        if matches!(scheme.as_deref(), Some("postgres" | "postgresql")) {
            Ok(StateLocation::Postgres(Box::new(PgLocation::parse(text)?)))
        } else {
            Ok(StateLocation::Sqlite(PathBuf::from(text)))
        }
    }

    /// Opens the ledger for writing, creating and migrating it as needed.
    pub(crate) fn open(&self) -> Result<Box<dyn Ledger>, LedgerError> {
        match self {
            StateLocation::Sqlite(path) => Ok(Box::new(SqliteLedger::open(path)?)),
            StateLocation::Postgres(location) => Ok(Box::new(PgLedger::open(location)?)),
        }
    }

    /// Opens the ledger for reading (`plan`, `status`); `None` when it does not exist yet.
    /// Never creates or changes anything.
    pub(crate) fn open_read_only(&self) -> Result<Option<Box<dyn Ledger>>, LedgerError> {
        Ok(match self {
            StateLocation::Sqlite(path) => {
                SqliteLedger::open_read_only(path)?.map(|l| Box::new(l) as Box<dyn Ledger>)
            }
            StateLocation::Postgres(location) => {
                PgLedger::open_read_only(location)?.map(|l| Box::new(l) as Box<dyn Ledger>)
            }
        })
    }

    /// Whether several processes on several machines can share this ledger.
    pub(crate) fn is_shared(&self) -> bool {
        matches!(self, StateLocation::Postgres(_))
    }
}

impl fmt::Display for StateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateLocation::Sqlite(path) => write!(f, "{}", path.display()),
            StateLocation::Postgres(location) => write!(f, "{location}"),
        }
    }
}
