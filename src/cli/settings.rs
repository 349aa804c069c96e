//! The one place that turns arguments into settings: defaults, environment and flags are
//! resolved here, once, and the commands see only the result.

use std::time::Duration;

use chrono::Utc;

use super::args::{
    ApplyArgs, FilesArgs, Format, LogFormat, MigrateArgs, OptoutCommand, OptoutFormat, PlanArgs,
    PlanFormat, RunArgs, SendArgs, ShowArgs, StateArgs, StatusArgs, StatusFilter,
};
use crate::api::ClientSettings;
use crate::commands::Files;
use crate::commands::apply::ApplySettings;
use crate::commands::optout::{self, OptoutSettings};
use crate::commands::plan::{self, PlanSettings};
use crate::commands::run::{self, RunSettings};
use crate::commands::show::ShowSettings;
use crate::commands::state::MigrateSettings;
use crate::commands::status::StatusSettings;
use crate::ledger::{LedgerError, StateLocation, Status};
use crate::plan::PlanOptions;
use crate::send::{self, Concurrency};

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
            },
        ),
    };
    Ok(OptoutSettings {
        state: state(state_args)?,
        config,
        action,
    })
}
