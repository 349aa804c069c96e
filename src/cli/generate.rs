//! `completions` and `man`: the command line describing itself. They live here rather than
//! in `commands/` because their input is the clap model of [`super::args`] itself, which no
//! command may see.

use std::io::{self, Write};

use clap::CommandFactory;

use super::args::Cli;
use crate::commands::Outcome;
use crate::error::Error;

/// Prints the completion script of `shell` on stdout.
pub(super) fn completions(shell: clap_complete::Shell) -> Result<Outcome, Error> {
    let mut command = Cli::command();
    let mut out = io::stdout().lock();
    clap_complete::generate(shell, &mut command, "campaignctl", &mut out);
    out.flush()?;
    Ok(Outcome::Success)
}

/// Prints the man pages (roff) on stdout, as one file: campaignctl(1), then the page of
/// each command that it lists (campaignctl-validate(1), ..., campaignctl-state-migrate(1)),
/// each with its own `.TH`, so that every page the first one names is there.
pub(super) fn man() -> Result<Outcome, Error> {
    let mut command = Cli::command().disable_help_subcommand(true);
    // Gives each subcommand its display name, `campaignctl-validate`.
    command.build();
    let mut out = io::stdout().lock();
    render(&command, &mut out)?;
    out.flush()?;
    Ok(Outcome::Success)
}

fn render(command: &clap::Command, out: &mut impl Write) -> io::Result<()> {
    let source = format!("campaignctl {}", env!("CARGO_PKG_VERSION"));
    clap_mangen::Man::new(command.clone())
        .source(source)
        .render(out)?;
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        render(sub, out)?;
    }
    Ok(())
}
