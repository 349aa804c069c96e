//! One file per command. Each takes its settings (resolved once from the command line by
//! `cli::settings`), never the command line itself, and returns how it ended.

pub(crate) mod apply;
pub(crate) mod init;
pub(crate) mod optout;
pub(crate) mod plan;
pub(crate) mod run;
pub(crate) mod schema;
pub(crate) mod show;
pub(crate) mod state;
pub(crate) mod status;
pub(crate) mod test_send;
pub(crate) mod validate;

use std::path::PathBuf;

use chrono::{DateTime, Utc};

/// Exit status of a successful run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    /// `plan --detailed-exitcode` with sends due.
    SendsDue,
}

/// The campaign files of a command and the instant their schedules are evaluated at.
#[derive(Debug, Clone)]
pub(crate) struct Files {
    /// Files, or directories searched for `*.yaml` / `*.yml`.
    pub paths: Vec<PathBuf>,
    /// The project file named on the command line (else `campaignctl.yaml` if present).
    pub config: Option<PathBuf>,
    pub now: DateTime<Utc>,
}
