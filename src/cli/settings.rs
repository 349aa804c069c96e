//! The one place that turns arguments into settings: defaults, environment and flags are
//! resolved here, once, and the commands see only the result.

use std::time::Duration;

use chrono::Utc;

use super::args::{
    ApplyArgs, ColorWhen, FilesArgs, Format, InitArgs, LogFormat, MigrateArgs, PlanArgs, RunArgs,
    SendArgs, Shell, StateArgs, StatusArgs, StatusFilter,
};
use crate::api::ClientSettings;
use crate::commands::Files;
use crate::commands::apply::ApplySettings;
use crate::commands::init::InitSettings;
use crate::commands::plan::{self, PlanSettings};
use crate::commands::run::{self, RunSettings};
use crate::commands::state::MigrateSettings;
use crate::commands::status::StatusSettings;
use crate::ledger::{LedgerError, StateLocation, Status};
use crate::plan::PlanOptions;
use crate::send::{self, Concurrency};

/// `--color`: `auto` leaves the choice to anstream, which per stream says no on a pipe, no
/// with `NO_COLOR`, yes with `CLICOLOR_FORCE` (`NO_COLOR` first, so it wins when both are
/// set), and otherwise yes on a terminal that is not `TERM=dumb`. `always` and `never`
/// override the environment, as <https://no-color.org> asks of an explicit flag.
pub(super) fn color(when: ColorWhen) -> anstream::ColorChoice {
    match when {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    }
}

pub(super) fn shell(shell: Shell) -> clap_complete::Shell {
    match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    }
}

pub(super) fn init(args: &InitArgs) -> InitSettings {
    InitSettings {
        dir: args.dir.clone(),
    }
}

pub(super) fn files(args: &FilesArgs) -> Files {
    Files {
        paths: args.paths.clone(),
        now: args.now.unwrap_or_else(Utc::now),
    }
}

fn state(args: &StateArgs) -> Result<StateLocation, LedgerError> {
    StateLocation::parse(&args.state)
}

fn format(format: Format) -> plan::Format {
    match format {
        Format::Text => plan::Format::Text,
        Format::Json => plan::Format::Json,
    }
}

pub(super) fn plan(args: &PlanArgs) -> Result<PlanSettings, LedgerError> {
    Ok(PlanSettings {
        files: files(&args.files),
        state: state(&args.state)?,
        format: format(args.format),
        detailed_exitcode: args.detailed_exitcode,
    })
}

pub(super) fn apply(args: &ApplyArgs) -> Result<ApplySettings, LedgerError> {
    let mut retry_statuses = Vec::new();
    if args.retry_failed {
        retry_statuses.push(Status::Failed);
    }
    if args.retry_unknown {
        retry_statuses.push(Status::Unknown);
    }
    Ok(ApplySettings {
        files: files(&args.files),
        state: state(&args.state)?,
        lock_timeout: args.lock_timeout,
        dry_run: args.dry_run,
        yes: args.yes,
        options: PlanOptions {
            retry_failed: args.retry_failed,
            retry_unknown: args.retry_unknown,
        },
        send: send::Settings {
            max_consecutive_failures: args.max_failures,
            retry_statuses,
            ..sending(&args.send)
        },
    })
}

fn sending(args: &SendArgs) -> send::Settings {
    send::Settings {
        rate: args.rate,
        concurrency: match args.concurrency {
            Some(n) => Concurrency::Fixed(n as usize),
            None => Concurrency::Auto {
                max: args.max_concurrency as usize,
            },
        },
        client: ClientSettings {
            connect_timeout: Duration::from_secs_f64(args.connect_timeout.max(0.001)),
            request_timeout: Duration::from_secs_f64(args.request_timeout.max(0.001)),
            pool_idle_timeout: args.pool_idle_timeout,
        },
        retry_ambiguous: args.retry_ambiguous,
        ..send::Settings::default()
    }
}

pub(super) fn run(args: &RunArgs) -> Result<RunSettings, LedgerError> {
    Ok(RunSettings {
        paths: args.paths.clone(),
        state: state(&args.state)?,
        send: sending(&args.send),
        listen: args.listen,
        log_format: match args.log_format {
            LogFormat::Text => run::LogFormat::Text,
            LogFormat::Json => run::LogFormat::Json,
        },
    })
}

pub(super) fn status(args: &StatusArgs) -> Result<StatusSettings, LedgerError> {
    Ok(StatusSettings {
        state: state(&args.state)?,
        campaign: args.campaign.clone(),
        status: args.status.map(|s| match s {
            StatusFilter::InFlight => Status::InFlight,
            StatusFilter::Sent => Status::Sent,
            StatusFilter::Failed => Status::Failed,
            StatusFilter::Unknown => Status::Unknown,
        }),
        format: format(args.format),
    })
}

pub(super) fn migrate(args: &MigrateArgs) -> Result<MigrateSettings, LedgerError> {
    Ok(MigrateSettings {
        from: StateLocation::parse(&args.from)?,
        to: StateLocation::parse(&args.to)?,
    })
}
