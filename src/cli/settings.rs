//! The one place that turns arguments into settings: defaults, environment and flags are
//! resolved here, once, and the commands see only the result.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::args::{
    ApplyArgs, ColorWhen, FilesArgs, InitArgs, LogFormat, MigrateArgs, OptoutCommand, OptoutFormat,
    PlanArgs, PlanFormat, RunArgs, SendArgs, Shell, ShowArgs, Since, StateArgs, StatusArgs,
    StatusFilter, StatusFormat,
};
use crate::api::ClientSettings;
use crate::commands::Files;
use crate::commands::apply::ApplySettings;
use crate::commands::init::InitSettings;
use crate::commands::optout::{self, OptoutSettings};
use crate::commands::plan::{self, PlanSettings};
use crate::commands::run::{self, RunSettings};
use crate::commands::show::ShowSettings;
use crate::commands::state::MigrateSettings;
use crate::commands::status::{self, StatusSettings};
use crate::commands::test_send::TestSendSettings;
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
        config: args.config.config.clone(),
        now: args.now.unwrap_or_else(Utc::now),
    }
}

fn state(args: &StateArgs) -> Result<StateLocation, LedgerError> {
    StateLocation::parse(&args.state)
}

fn plan_format(format: PlanFormat) -> plan::PlanFormat {
    match format {
        PlanFormat::Text => plan::PlanFormat::Text,
        PlanFormat::Json => plan::PlanFormat::Json,
        PlanFormat::Markdown => plan::PlanFormat::Markdown,
    }
}

pub(super) fn show(args: &ShowArgs) -> ShowSettings {
    ShowSettings {
        plan: args.plan.clone(),
        format: plan_format(args.format),
    }
}

pub(super) fn plan(args: &PlanArgs) -> Result<PlanSettings, LedgerError> {
    Ok(PlanSettings {
        files: files(&args.files),
        state: state(&args.state)?,
        format: plan_format(args.format),
        detailed_exitcode: args.detailed_exitcode,
        out: args.out.clone(),
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
    if args.retry_capped {
        retry_statuses.push(Status::Capped);
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
            retry_capped: args.retry_capped,
            include_undeliverable: args.include_undeliverable,
        },
        send: send::Settings {
            max_consecutive_failures: args.max_failures,
            retry_statuses,
            ..sending(&args.send)
        },
    })
}

/// `apply --to`: a test send, when asked for.
pub(super) fn test_send(args: &ApplyArgs) -> Result<Option<TestSendSettings>, LedgerError> {
    let Some(to) = &args.to else {
        return Ok(None);
    };
    Ok(Some(TestSendSettings {
        apply: apply(args)?,
        to: to.clone(),
        recipient: args.as_recipient.clone(),
    }))
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
        config: args.config.config.clone(),
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
        since: args.since.map(|since| resolve_since(since, Utc::now())),
        state: state(&args.state)?,
        campaign: args.campaign.clone(),
        status: args.status.map(|s| match s {
            StatusFilter::InFlight => Status::InFlight,
            StatusFilter::Sent => Status::Sent,
            StatusFilter::Failed => Status::Failed,
            StatusFilter::Unknown => Status::Unknown,
        }),
        format: match args.format {
            StatusFormat::Text => status::Format::Text,
            StatusFormat::Json => status::Format::Json,
            StatusFormat::Csv => status::Format::Csv,
        },
    })
}

/// The instant `--since` names, `now` being the current time. So far back that it is out
/// of chrono's range means every send: none is older than 1970.
fn resolve_since(since: Since, now: DateTime<Utc>) -> DateTime<Utc> {
    match since {
        Since::Ago(ago) => now.checked_sub_signed(ago).unwrap_or(DateTime::UNIX_EPOCH),
        Since::At(at) => at,
    }
}

pub(super) fn migrate(args: &MigrateArgs) -> Result<MigrateSettings, LedgerError> {
    Ok(MigrateSettings {
        from: StateLocation::parse(&args.from)?,
        to: StateLocation::parse(&args.to)?,
    })
}

pub(super) fn optout(command: &OptoutCommand) -> Result<OptoutSettings, LedgerError> {
    let (state_args, config, action) = match command {
        OptoutCommand::Add(args) => (
            &args.state,
            args.config.config.clone(),
            optout::Action::Add {
                numbers: args.numbers.clone(),
                reason: args.reason.clone(),
            },
        ),
        OptoutCommand::Remove(args) => (
            &args.state,
            args.config.config.clone(),
            optout::Action::Remove {
                numbers: args.numbers.clone(),
            },
        ),
        OptoutCommand::List(args) => (
            &args.state,
            None,
            optout::Action::List {
                format: match args.format {
                    OptoutFormat::Text => optout::ListFormat::Text,
                    OptoutFormat::Json => optout::ListFormat::Json,
                    OptoutFormat::Csv => optout::ListFormat::Csv,
                },
            },
        ),
        OptoutCommand::Import(args) => (
            &args.state,
            args.config.config.clone(),
            optout::Action::Import {
                file: args.file.clone(),
                mobile_column: args.mobile_column.clone(),
                reason_column: args.reason_column.clone(),
                delimiter: args.delimiter,
            },
        ),
    };
    Ok(OptoutSettings {
        state: state(state_args)?,
        config,
        action,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn since_a_duration_is_that_long_before_now() {
        let now: DateTime<Utc> = "2026-11-30T12:00:00Z".parse().unwrap();
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            resolve_since(Since::Ago(TimeDelta::hours(24)), now),
            at("2026-11-29T12:00:00Z")
        );
        assert_eq!(
            resolve_since(Since::Ago(TimeDelta::days(7)), now),
            at("2026-11-23T12:00:00Z")
        );
        assert_eq!(
            resolve_since(Since::At(at("2026-11-30T00:00:00Z")), now),
            at("2026-11-30T00:00:00Z")
        );
        assert_eq!(
            resolve_since(Since::Ago(TimeDelta::MAX), now),
            DateTime::UNIX_EPOCH
        );
    }
}
