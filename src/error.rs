//! The top-level error: every failure of a command ends here, and it decides the exit code.

use std::io;

use crate::executor::SetupError;
use crate::ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Campaign files have errors; they were printed as diagnostics already.
    #[error("campaign files are invalid")]
    Invalid,

    #[error(transparent)]
    Ledger(#[from] LedgerError),

    #[error(transparent)]
    Setup(#[from] SetupError),

    #[error("{0}")]
    Refused(String),

    /// Some sends failed or the run stopped early; the summary was printed already.
    #[error("some sends did not succeed")]
    SendsFailed,

    #[error("{0}")]
    Io(#[from] io::Error),
}

impl Error {
    /// Fixed, documented exit codes: 1 for every failure (2 is `plan --detailed-exitcode`'s
    /// "sends due", which is not an error).
    pub fn exit_code(&self) -> u8 {
        1
    }

    /// Whether the message was printed already (diagnostics and send summaries print
    /// themselves).
    pub fn is_reported(&self) -> bool {
        matches!(self, Error::Invalid | Error::SendsFailed)
    }
}
