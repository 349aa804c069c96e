//! campaignctl: WhatsApp campaigns as code for the ChitChatLabs API.
//!
//! The pipeline, lower rooms first: [`campaign`] (files → validated campaigns) and
//! [`schedule`] (when) → [`plan`] (what would be sent now, against the [`ledger`]) →
//! [`send`] (through the [`api`]) and the [`daemon`] → [`commands`], which [`cli`] runs.
//! ARCHITECTURE.md has the map.

mod api;
mod campaign;
mod cli;
mod commands;
mod daemon;
mod diagnostic;
mod digest;
mod error;
mod ledger;
mod output;
mod plan;
mod schedule;
mod send;
mod signal;
mod style;
mod tls;

/// Runs the command line and returns the process exit code.
pub fn run() -> std::process::ExitCode {
    cli::run()
}
