//! Command-line interface: argument parsing and one function per subcommand.

use std::io::{self, Write};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::Diagnostics;
use crate::error::Error;
use crate::planner::{Plan, PlanOptions, RecordedSends, Scan};
use crate::{campaign_file, loader, report, validator};

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
    /// Print the JSON Schema of a campaign file.
    Schema,
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
            Command::Schema => {
                io::stdout().write_all(campaign_file::schema_text().as_bytes())?;
                Ok(Outcome::Success)
            }
        }
    }
}

/// Loads, validates and plans `paths`, then streams every send once to render and check it.
/// Every problem is printed; any error fails the whole set.
fn check(
    args: &FilesArgs,
    keep: usize,
    recorded: impl FnMut(
        &crate::campaign::Campaign,
        crate::schedule::Occurrence,
    ) -> Result<RecordedSends, Error>,
    options: PlanOptions,
) -> Result<(Plan, Scan, usize), Error> {
    let now = args.now.unwrap_or_else(Utc::now);
    let (sources, load_problems) = loader::load(&args.paths);
    let validated = validator::validate(&sources);
    let mut diagnostics = Diagnostics::default();
    diagnostics.extend(load_problems);
    diagnostics.extend(validated.diagnostics);
    let plan = Plan::new(validated.campaigns, now, options, recorded)?;
    let scan = plan.scan(keep);
    let errors = diagnostics.has_errors() || scan.has_errors();
    let omitted = scan.omitted_errors + scan.omitted_warnings;
    let files = sources.len();
    diagnostics.extend(scan.diagnostics.iter().cloned());
    print_diagnostics(diagnostics, omitted)?;
    if errors {
        return Err(Error::Invalid);
    }
    Ok((plan, scan, files))
}

fn print_diagnostics(diagnostics: Diagnostics, omitted: usize) -> io::Result<()> {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let (errors, warnings) = (diagnostics.error_count(), diagnostics.warning_count());
    let mut err = io::stderr().lock();
    for d in diagnostics.sorted() {
        write!(err, "{d}")?;
    }
    if omitted > 0 {
        writeln!(err, "… and {omitted} more problem(s) not shown")?;
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
    let (plan, scan, files) = check(
        args,
        0,
        |_, _| Ok(RecordedSends::new()),
        PlanOptions::default(),
    )?;
    let sends: usize = scan.campaigns.iter().map(|c| c.total).sum();
    let warnings = scan.diagnostics.warning_count();
    println!(
        "{files} file(s) valid: {} campaign(s), {sends} send(s) rendered{}",
        plan.campaigns.len(),
        if warnings > 0 {
            format!(", {warnings} warning(s)")
        } else {
            String::new()
        }
    );
    Ok(Outcome::Success)
}

fn plan(args: &PlanArgs) -> Result<Outcome, Error> {
    let keep = match args.format {
        Format::Text => report::TEXT_SENDS_SHOWN,
        Format::Json => 0,
    };
    let (plan, scan, _) = check(
        &args.files,
        keep,
        |_, _| Ok(RecordedSends::new()),
        PlanOptions::default(),
    )?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    match args.format {
        Format::Text => report::write_text(&mut out, &plan, &scan)?,
        Format::Json => report::write_json(&mut out, &plan, &scan)?,
    }
    out.flush()?;
    let due = scan.campaigns.iter().any(|c| c.due > 0);
    Ok(if args.detailed_exitcode && due {
        Outcome::SendsDue
    } else {
        Outcome::Success
    })
}
