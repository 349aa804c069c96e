//! The command line: parse it, resolve it into each command's settings, run the command,
//! and turn the result into the exit code.

mod args;
mod generate;
mod settings;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::commands::{self, Outcome};
use crate::error::Error;
use crate::output;
use crate::style::{self, Paint};
use args::{Cli, Command, StateCommand};

/// Runs the command line and returns the process exit code.
pub(crate) fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
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
    // Once, before anything is printed: every `Paint::stdout()` / `stderr()` follows it.
    settings::color(cli.color).write_global();
    match dispatch(cli.command) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::SendsDue) => ExitCode::from(2),
        // The reader of stdout went away (`| head`): the output ended there, which is not a
        // failure. (`apply` never returns this: a closed output does not stop its sends.)
        Err(Error::Io(e)) if output::is_closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            if !e.is_reported() {
                let error = Paint::stderr().get(style::ERROR);
                // stderr closed too: the exit code says it.
                let _ = writeln!(std::io::stderr(), "{error}error:{error:#} {e}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

fn dispatch(command: Command) -> Result<Outcome, Error> {
    match command {
        Command::Validate(args) => commands::validate::validate(&settings::files(&args)),
        Command::Plan(args) => commands::plan::plan(&settings::plan(&args)?),
        Command::Apply(args) => match settings::test_send(&args)? {
            Some(test) => commands::test_send::test_send(&test),
            None => commands::apply::apply(&settings::apply(&args)?),
        },
        Command::Run(args) => commands::run::run(&settings::run(&args)?),
        Command::Status(args) => commands::status::status(&settings::status(&args)?),
        Command::State(StateCommand::Migrate(args)) => {
            commands::state::migrate(&settings::migrate(&args)?)
        }
        Command::Optout(command) => commands::optout::optout(&settings::optout(&command)?),
        Command::Show(args) => commands::show::show(&settings::show(&args)),
        Command::Schema(args) => commands::schema::schema(match (args.project, args.templates) {
            (true, _) => commands::schema::Which::Project,
            (_, true) => commands::schema::Which::Templates,
            _ => commands::schema::Which::Campaign,
        }),
        Command::Init(args) => commands::init::init(&settings::init(&args)),
        Command::Completions(args) => generate::completions(settings::shell(args.shell)),
        Command::Man => generate::man(),
    }
}
