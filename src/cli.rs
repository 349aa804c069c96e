//! Command-line interface: argument parsing and one function per subcommand.

use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use crate::campaign::Campaign;
use crate::diagnostic::Diagnostics;
use crate::error::Error;
use crate::ledger::{self, Ledger, LedgerError, StateLocation};
use crate::planner::{Plan, PlanOptions, PlannedSend, RecordedSends, Scan, Status};
use crate::{campaign, campaign_file, loader, report, validator};

/// Campaigns as code for WhatsApp messages sent through the ChitChatLabs API.
///
/// Campaign files (YAML) say which template to send, to whom, with which params and when.
/// `validate` checks them, `plan` shows exactly what would be sent, `apply` sends it.
#[derive(Debug, Parser)]
#[command(name = "campaignctl", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check campaign files against the schema and every rule; report all problems at once.
    Validate(FilesArgs),
    /// Show what `apply` would send at `--now`, without sending or writing anything.
    Plan(PlanArgs),
    /// Send what `plan` shows as due, recording every send in the ledger.
    Apply(ApplyArgs),
    /// Run as a daemon: send every scheduled campaign at its cron or `at` times.
    Run(RunArgs),
    /// List the sends recorded in the ledger, by campaign and state, with failure reasons.
    Status(StatusArgs),
    /// Manage the ledger.
    #[command(subcommand)]
    State(StateCommand),
    /// Print the JSON Schema of a campaign file.
    Schema,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Copy a ledger into another (e.g. the local SQLite file into PostgreSQL). Idempotent;
    /// refuses to overwrite records that differ.
    Migrate(MigrateArgs),
}

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The ledger to copy from: an SQLite file (or a PostgreSQL URL).
    #[arg(long, value_name = "FILE|URL")]
    pub from: String,

    /// The ledger to copy into: a PostgreSQL URL (or an SQLite file).
    #[arg(long, value_name = "URL|FILE")]
    pub to: String,
}

/// The ledger location, shared by every command that reads or writes it.
#[derive(Debug, clap::Args)]
pub struct StateArgs {
    /// The ledger: an SQLite file path, or a PostgreSQL URL
    /// (postgres://USER@HOST:PORT/DB?sslmode=require; password from the URL or PGPASSWORD).
    #[arg(long, env = "CAMPAIGNCTL_STATE", default_value = ledger::DEFAULT_STATE, value_name = "FILE|URL", hide_env_values = true)]
    pub state: String,
}

impl StateArgs {
    pub fn location(&self) -> Result<StateLocation, LedgerError> {
        StateLocation::parse(&self.state)
    }
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub files: FilesArgs,

    #[command(flatten)]
    pub state: StateArgs,

    /// Messages per second over the whole run (0: unlimited).
    #[arg(long, default_value_t = 20.0, value_parser = parse_rate, value_name = "N")]
    pub rate: f64,

    /// Requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..), value_name = "N")]
    pub concurrency: u16,

    /// How long to wait for another apply or run holding the ledger (e.g. 30s, 5m).
    #[arg(long, default_value = "0s", value_parser = parse_wait, value_name = "DURATION")]
    pub lock_timeout: std::time::Duration,

    /// Validate, plan against the ledger and show the summary, then stop: nothing is sent or
    /// written.
    #[arg(long)]
    pub dry_run: bool,

    /// Send without asking (required when stdin is not a terminal, as in CI or cron).
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Also resend sends the ledger records as `failed`.
    #[arg(long)]
    pub retry_failed: bool,

    /// Also resend sends the ledger records as `unknown` (a run died mid-send: they may have
    /// gone out, so resending may deliver twice).
    #[arg(long)]
    pub retry_unknown: bool,

    /// Stop after this many sends fail in a row (0: never).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub max_failures: usize,

    /// HTTP connect timeout, seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub connect_timeout: f64,

    /// HTTP request timeout, seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub request_timeout: f64,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Campaign files, or directories to search for *.yaml / *.yml files (watched for changes).
    #[arg(default_value = "campaigns")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub state: StateArgs,

    /// Messages per second over all campaigns (0: unlimited).
    #[arg(long, default_value_t = 20.0, value_parser = parse_rate, value_name = "N")]
    pub rate: f64,

    /// Requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..), value_name = "N")]
    pub concurrency: u16,

    /// Serve GET /healthz and GET /metrics on this address (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,

    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub state: StateArgs,

    /// Only this campaign.
    #[arg(long, value_name = "NAME")]
    pub campaign: Option<String>,

    /// Only sends in this state.
    #[arg(long, value_enum, value_name = "STATE")]
    pub status: Option<StatusFilter>,

    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFilter {
    InFlight,
    Sent,
    Failed,
    Unknown,
}

impl From<StatusFilter> for Status {
    fn from(s: StatusFilter) -> Status {
        match s {
            StatusFilter::InFlight => Status::InFlight,
            StatusFilter::Sent => Status::Sent,
            StatusFilter::Failed => Status::Failed,
            StatusFilter::Unknown => Status::Unknown,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct FilesArgs {
    /// Campaign files, or directories to search for *.yaml / *.yml files.
    #[arg(default_value = "campaigns")]
    pub paths: Vec<PathBuf>,

    /// Evaluate schedules at this instant (RFC 3339) instead of the current time.
    #[arg(long, value_parser = parse_now, value_name = "RFC3339")]
    pub now: Option<DateTime<Utc>>,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub files: FilesArgs,

    #[command(flatten)]
    pub state: StateArgs,

    /// Output format: `text` for people (and pull-request reviews), `json` for machines.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Exit 0 when nothing is due, 2 when sends are due, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate >= 0.0 => Ok(rate),
        _ => Err("expected messages per second: a number, 0 or more (0: unlimited)".to_owned()),
    }
}

fn parse_wait(text: &str) -> Result<std::time::Duration, String> {
    if text == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    crate::schedule::parse_duration(text)
        .and_then(|d| d.to_std().ok())
        .ok_or_else(|| "expected a duration such as 0s, 30s, 5m or 1h".to_owned())
}

fn parse_now(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e}; expected RFC 3339, e.g. 2026-11-30T09:00:00+05:30"))
}

/// Exit status of a successful run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// `plan --detailed-exitcode` with sends due.
    SendsDue,
}

impl Cli {
    pub fn run(self) -> Result<Outcome, Error> {
        match self.command {
            Command::Validate(args) => validate(&args),
            Command::Plan(args) => plan(&args),
            Command::Apply(args) => crate::apply::apply(&args),
            Command::Run(args) => crate::daemon::run(&args),
            Command::Status(args) => crate::status::status(&args),
            Command::State(StateCommand::Migrate(args)) => crate::migrate::migrate(&args),
            Command::Schema => {
                io::stdout().write_all(campaign_file::schema_text().as_bytes())?;
                Ok(Outcome::Success)
            }
        }
    }
}

/// A set of campaign files, validated and planned, with every send rendered once.
pub(crate) struct Checked {
    pub plan: Plan,
    pub scan: Scan,
    pub files: usize,
    /// Every problem: loading, validation and rendering.
    pub diagnostics: Diagnostics,
    /// Errors and warnings beyond the per-campaign cap, counted only.
    pub omitted_errors: usize,
    pub omitted_warnings: usize,
    pub errors: bool,
}

/// Campaign files loaded, validated and planned; the sends are not rendered yet.
pub(crate) struct Prepared {
    pub plan: Plan,
    pub diagnostics: Diagnostics,
    pub files: usize,
}

/// Loads, validates and plans `paths` at `now`. Prints nothing.
pub(crate) fn prepare(
    paths: &[PathBuf],
    now: DateTime<Utc>,
    mut ledger: Option<&mut Box<dyn Ledger>>,
    options: PlanOptions,
    allow_empty: bool,
) -> Result<Prepared, LedgerError> {
    let (sources, load_problems) = loader::load(paths, allow_empty);
    let validated = validator::validate(&sources);
    let mut diagnostics = Diagnostics::default();
    diagnostics.extend(load_problems);
    diagnostics.extend(validated.diagnostics);
    let plan = Plan::new(
        validated.campaigns,
        now,
        options,
        |campaign, occurrence| match ledger.as_mut() {
            Some(ledger) => ledger.recorded(&campaign.name, occurrence),
            None => Ok(RecordedSends::new()),
        },
    )?;
    Ok(Prepared {
        plan,
        diagnostics,
        files: sources.len(),
    })
}

impl Prepared {
    /// Streams every send once to render and check it, handing each to `visit`.
    pub(crate) fn scan(
        self,
        keep: usize,
        visit: &mut dyn FnMut(&Plan, usize, &PlannedSend),
    ) -> Checked {
        let Prepared {
            plan,
            mut diagnostics,
            files,
        } = self;
        let scan = plan.scan_with(keep, &mut |index, send| visit(&plan, index, send));
        let errors = diagnostics.has_errors() || scan.has_errors();
        diagnostics.extend(scan.diagnostics.iter().cloned());
        Checked {
            omitted_errors: scan.omitted_errors,
            omitted_warnings: scan.omitted_warnings,
            plan,
            scan,
            files,
            diagnostics,
            errors,
        }
    }
}

/// [`prepare`] and [`Prepared::scan`]: every send rendered once. `allow_empty`: a
/// directory without campaign files is an empty set (the daemon), not an error.
pub(crate) fn evaluate(
    paths: &[PathBuf],
    now: DateTime<Utc>,
    keep: usize,
    ledger: Option<&mut Box<dyn Ledger>>,
    options: PlanOptions,
    allow_empty: bool,
) -> Result<Checked, LedgerError> {
    Ok(prepare(paths, now, ledger, options, allow_empty)?.scan(keep, &mut |_, _, _| {}))
}

/// [`evaluate`] for sending: every CSV file is copied into `dir` first (see
/// [`campaign::pin_csv_files`]) and its rows are read from the copy, now and when sent.
pub(crate) fn evaluate_pinned(
    paths: &[PathBuf],
    now: DateTime<Utc>,
    options: PlanOptions,
    allow_empty: bool,
    dir: &Path,
    generation: u64,
) -> Result<Checked, Error> {
    let mut prepared = prepare(paths, now, None, options, allow_empty)?;
    let campaigns = prepared.plan.campaigns.iter_mut().map(|p| &mut p.campaign);
    campaign::pin_csv_files(campaigns, dir, generation)?;
    Ok(prepared.scan(0, &mut |_, _, _| {}))
}

impl Checked {
    /// The campaigns of the set, as planned.
    pub fn campaigns(&self) -> Vec<Arc<Campaign>> {
        self.plan
            .campaigns
            .iter()
            .map(|p| p.campaign.clone())
            .collect()
    }

    /// Every warning, listed or not.
    pub fn warning_count(&self) -> usize {
        self.diagnostics.warning_count() + self.omitted_warnings
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// [`evaluate`], printing every problem; any error fails the whole set.
pub(crate) fn check(
    args: &FilesArgs,
    keep: usize,
    ledger: Option<&mut Box<dyn Ledger>>,
    options: PlanOptions,
) -> Result<Checked, Error> {
    let now = args.now.unwrap_or_else(Utc::now);
    let checked = evaluate(&args.paths, now, keep, ledger, options, false)?;
    print_diagnostics(&checked)?;
    if checked.errors {
        return Err(Error::Invalid);
    }
    Ok(checked)
}

/// Prints every problem, sorted by file and position, and a count line when any is an error.
pub(crate) fn print_diagnostics(checked: &Checked) -> io::Result<()> {
    let errors = checked.diagnostics.error_count() + checked.omitted_errors;
    let warnings = checked.warning_count();
    let mut err = io::stderr().lock();
    for d in checked.diagnostics.clone().sorted() {
        write!(err, "{d}")?;
    }
    let omitted = checked.omitted_errors + checked.omitted_warnings;
    if omitted > 0 {
        writeln!(
            err,
            "… and {omitted} more problem(s) not shown (at most {} per campaign)",
            crate::planner::MAX_PROBLEMS_PER_CAMPAIGN
        )?;
    }
    if errors > 0 {
        writeln!(
            err,
            "{}, {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        )?;
    }
    Ok(())
}

fn validate(args: &FilesArgs) -> Result<Outcome, Error> {
    let checked = check(args, 0, None, PlanOptions::default())?;
    let sends: usize = checked.scan.campaigns.iter().map(|c| c.total).sum();
    let warnings = checked.warning_count();
    println!(
        "{} file(s) valid: {} campaign(s), {sends} send(s) rendered{}",
        checked.files,
        checked.plan.campaigns.len(),
        if warnings > 0 {
            format!(", {warnings} warning(s)")
        } else {
            String::new()
        }
    );
    Ok(Outcome::Success)
}

fn plan(args: &PlanArgs) -> Result<Outcome, Error> {
    // plan never writes: the ledger is read if it exists, and never created.
    let mut ledger = args.state.location()?.open_read_only()?;
    let now = args.files.now.unwrap_or_else(Utc::now);
    let prepared = prepare(
        &args.files.paths,
        now,
        ledger.as_mut(),
        PlanOptions::default(),
        false,
    )?;
    let checked = match args.format {
        Format::Text => prepared.scan(report::TEXT_SENDS_SHOWN, &mut |_, _, _| {}),
        Format::Json => {
            // One pass renders, checks and writes each send; the JSON waits in a temporary
            // file until the whole set is known to be valid, so an invalid set prints only
            // its problems.
            let mut spool = report::JsonPlan::new(io::BufWriter::new(tempfile::tempfile()?));
            let checked = prepared.scan(0, &mut |plan, index, send| spool.send(plan, index, send));
            if !checked.errors {
                let mut file = spool
                    .finish(&checked.plan, &checked.scan)?
                    .into_inner()
                    .map_err(io::IntoInnerError::into_error)?;
                file.seek(io::SeekFrom::Start(0))?;
                io::copy(&mut file, &mut io::stdout().lock())?;
            }
            checked
        }
    };
    print_diagnostics(&checked)?;
    if checked.errors {
        return Err(Error::Invalid);
    }
    let (plan, scan) = (checked.plan, checked.scan);
    if args.format == Format::Text {
        let mut out = io::BufWriter::new(io::stdout().lock());
        report::write_text(&mut out, &plan, &scan)?;
        out.flush()?;
    }
    let due = scan.campaigns.iter().any(|c| c.due > 0);
    Ok(if args.detailed_exitcode && due {
        Outcome::SendsDue
    } else {
        Outcome::Success
    })
}
