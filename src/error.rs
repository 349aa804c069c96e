//! The top-level error: every failure of a command ends here, and it decides the exit code.

use std::io;
use std::net::SocketAddr;

use crate::api::SetupError;
use crate::ledger::LedgerError;
use crate::plan::pipeline::CheckError;
use crate::plan::saved::ReadError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Campaign files have errors; they were printed as diagnostics already.
    #[error("campaign files are invalid")]
    Invalid,

    #[error(transparent)]
    Ledger(#[from] LedgerError),

    #[error(transparent)]
    Setup(#[from] SetupError),

    #[error("refusing to send without confirmation: stdin is not a terminal; pass --yes")]
    NoTerminal,

    #[error("not confirmed; nothing was sent")]
    NotConfirmed,

    /// `status` of a ledger that does not exist yet.
    #[error("no ledger at {0}: nothing has been applied with this state yet")]
    NothingApplied(String),

    #[error("no ledger at {0}")]
    NoLedger(String),

    #[error("--from and --to are the same ledger ({0})")]
    SameLedger(String),

    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },

    #[error(transparent)]
    SavedPlan(#[from] ReadError),

    /// A saved plan that no longer describes what would be sent: nothing was sent.
    #[error(
        "the saved plan {plan} is stale, so nothing was sent:\n{}\nmake the plan again (`campaignctl plan --out`) and review it",
        reasons.iter().map(|r| format!("  - {r}")).collect::<Vec<_>>().join("\n")
    )]
    Stale { plan: String, reasons: Vec<String> },

    /// `init` could not create a file or directory.
    #[error("cannot create {}: {source}", path.display())]
    Create {
        path: std::path::PathBuf,
        #[source]
        source: io::Error,
    },

    /// Some sends failed or the run stopped early; the summary was printed already.
    #[error("some sends did not succeed")]
    SendsFailed,

    /// Numbers that are not mobile numbers, each with why: nothing was written.
    #[error("{}", invalid_numbers(.0))]
    InvalidNumbers(Vec<String>),

    #[error(transparent)]
    TestSend(#[from] TestSendError),

    /// A list to import that cannot be read.
    #[error("cannot read {}: {}", path.display(), crate::diagnostic::io_reason(source))]
    ReadList {
        path: std::path::PathBuf,
        #[source]
        source: io::Error,
    },

    /// A list to import that is not one (no column of numbers, not UTF-8): nothing was
    /// written.
    #[error("{0}; nothing was written")]
    NotAList(String),

    /// A list to import with bad rows (printed already, each at its row): nothing was
    /// written.
    #[error("{bad} bad row(s) in {}; nothing was written", path.display())]
    BadRows {
        bad: usize,
        path: std::path::PathBuf,
    },

    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Why a test send cannot be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TestSendError {
    #[error("--to sends one campaign: give one campaign file, not {0}")]
    NotOneFile(String),
    #[error(
        "campaign `{0}` is a blast to a contact search: a test send needs a campaign of recipients, whose message it renders"
    )]
    Blast(String),
    #[error("{flag}: {reason}")]
    BadNumber { flag: &'static str, reason: String },
    #[error("{mobile} is not a recipient of campaign `{campaign}`")]
    NotARecipient { mobile: String, campaign: String },
    #[error("campaign `{0}` has no recipients to render a message for")]
    NoRecipient(String),
}

/// One bad number on one line, several as a list.
fn invalid_numbers(problems: &[String]) -> String {
    match problems {
        [one] => format!("{one}; nothing was written"),
        many => format!(
            "{} invalid numbers; nothing was written:\n{}",
            many.len(),
            many.iter()
                .map(|p| format!("  - {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

impl From<CheckError> for Error {
    fn from(e: CheckError) -> Error {
        match e {
            CheckError::Ledger(e) => Error::Ledger(e),
            CheckError::Io(e) => Error::Io(e),
        }
    }
}

impl Error {
    /// Fixed, documented exit codes: 1 for every failure (2 is `plan --detailed-exitcode`'s
    /// "sends due", which is not an error).
    pub(crate) fn exit_code(&self) -> u8 {
        1
    }

    /// Whether the message was printed already (diagnostics and send summaries print
    /// themselves).
    pub(crate) fn is_reported(&self) -> bool {
        matches!(self, Error::Invalid | Error::SendsFailed)
    }
}
