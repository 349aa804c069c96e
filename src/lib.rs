//! campaignctl: WhatsApp campaigns as code for the ChitChatLabs API.
//!
//! The pipeline: [`loader`] (files → text) → [`document`] (YAML → JSON value with
//! positions) → [`schema`] + [`validator`] (every problem, located) → [`planner`] (campaigns +
//! clock + ledger → plan, rendered by [`renderer`]) → [`report`] (text or JSON).

pub mod apply;
pub mod campaign;
pub mod campaign_file;
pub mod cli;
pub mod cron;
pub mod daemon;
pub mod diagnostic;
pub mod document;
pub mod error;
pub mod executor;
pub mod health;
pub mod http_client;
pub mod ledger;
pub mod loader;
pub mod migrate;
pub mod pacer;
pub mod planner;
pub mod postgres_ledger;
pub mod progress;
pub mod recipients;
pub mod renderer;
pub mod report;
pub mod schedule;
pub mod scheduler;
pub mod schema;
pub mod sqlite_ledger;
pub mod status;
pub mod tls;
pub mod validator;

use std::process::ExitCode;

use clap::Parser;

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Usage errors exit 1 like every other error: 2 means "sends due" to
            // `plan --detailed-exitcode`. --help and --version exit 0.
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.run() {
        Ok(cli::Outcome::Success) => ExitCode::SUCCESS,
        Ok(cli::Outcome::SendsDue) => ExitCode::from(2),
        Err(e) => {
            if !e.is_reported() {
                eprintln!("error: {e}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
