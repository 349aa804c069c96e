//! The command line as clap sees it: every subcommand, flag and environment variable, and
//! nothing else. [`super::settings`] turns these into the settings the commands take.

use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use crate::ledger::DEFAULT_STATE;
use crate::schedule::parse_duration;
use crate::send::DEFAULT_MAX_CONCURRENCY;

/// Campaigns as code for WhatsApp messages sent through the ChitChatLabs API.
///
/// Campaign files (YAML) say which template to send, to whom, with which params and when.
/// `validate` checks them, `plan` shows exactly what would be sent, `apply` sends it.
#[derive(Debug, Parser)]
#[command(name = "campaignctl", version, about, max_term_width = 100)]
pub(super) struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// When to colour the output: `auto` on a terminal (never with NO_COLOR; always with
    /// CLICOLOR_FORCE, unless NO_COLOR), `always`, `never`.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Check campaign files against the schema and every rule; report all problems at once.
    Validate(FilesArgs),
    /// Show what `apply` would send at `--now`, without sending or writing anything.
    Plan(PlanArgs),
    /// Send what `plan` shows as due, recording every send in the ledger; or exactly the
    /// sends of a plan saved with `plan --out FILE` (`apply FILE`).
    Apply(ApplyArgs),
    /// Run as a daemon: send every scheduled campaign at its cron or `at` times.
    Run(RunArgs),
    /// List the sends recorded in the ledger, by campaign and state, with failure reasons (or
    /// export them, one CSV row per send).
    Status(StatusArgs),
    /// Manage the ledger.
    #[command(subcommand)]
    State(StateCommand),
    /// Manage the ledger's opt-outs: numbers no campaign ever messages.
    #[command(subcommand)]
    Optout(OptoutCommand),
    /// Print a plan saved with `plan --out FILE`.
    Show(ShowArgs),
    /// Print the JSON Schema of a campaign file, the project file or a template catalogue
    Schema(SchemaArgs),
    /// Create a repository of campaigns (an example, its CSV, CI); overwrites nothing.
    Init(InitArgs),
    /// Print the shell completion script for bash, zsh, fish or powershell.
    Completions(CompletionsArgs),
    /// Print the man page (roff).
    Man,
}

#[derive(Debug, clap::Args)]
pub(super) struct InitArgs {
    /// The directory to create the repository in (created if missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(super) struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Debug, Subcommand)]
pub(super) enum StateCommand {
    /// Copy a ledger into another (e.g. the local SQLite file into PostgreSQL). Idempotent;
    /// refuses to overwrite records that differ.
    Migrate(MigrateArgs),
}

#[derive(Debug, Subcommand)]
pub(super) enum OptoutCommand {
    /// Record numbers as opted out: `apply` and `run` never send to them, in any campaign.
    Add(OptoutAddArgs),
    /// Remove numbers' opt-outs from the ledger: campaigns send to them again.
    Remove(OptoutRemoveArgs),
    /// List the ledger's opt-outs, by number.
    List(OptoutListArgs),
    /// Record every number of a CSV file (a `mobile` column, an optional `reason`; read as
    /// campaigns' CSV files are) as opted out, in one transaction; a bad row writes nothing.
    Import(OptoutImportArgs),
}

#[derive(Debug, clap::Args)]
pub(super) struct OptoutAddArgs {
    /// Mobile numbers, with their country code (spaces, dashes, a leading `+` allowed).
    #[arg(required = true, value_name = "NUMBER")]
    pub numbers: Vec<String>,

    /// Why they opted out (kept with each, shown by `plan` and `optout list`).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,

    #[command(flatten)]
    pub config: ConfigArgs,

    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, clap::Args)]
pub(super) struct OptoutRemoveArgs {
    /// Mobile numbers, with their country code.
    #[arg(required = true, value_name = "NUMBER")]
    pub numbers: Vec<String>,

    #[command(flatten)]
    pub config: ConfigArgs,

    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, clap::Args)]
pub(super) struct OptoutListArgs {
    #[command(flatten)]
    pub state: StateArgs,

    /// `text` for people, `json` for machines, `csv` (mobile, reason, source, created_at)
    /// for spreadsheets and `optout import`.
    #[arg(long, value_enum, default_value_t = OptoutFormat::Text)]
    pub format: OptoutFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum OptoutFormat {
    Text,
    Json,
    Csv,
}

#[derive(Debug, clap::Args)]
pub(super) struct OptoutImportArgs {
    /// A CSV file with a `mobile` column and, optionally, a `reason` column.
    #[arg(value_name = "FILE.csv")]
    pub file: PathBuf,

    /// The column of the numbers, when it is not `mobile` (matched trimmed, ignoring case).
    #[arg(long, value_name = "HEADER")]
    pub mobile_column: Option<String>,

    /// The column of the reasons, when it is not `reason`; the file must have it.
    #[arg(long, value_name = "HEADER")]
    pub reason_column: Option<String>,

    /// The field delimiter: `,`, `;` or `tab` (default: the one of the three the header
    /// line has most of).
    #[arg(long, value_parser = parse_delimiter, value_name = "DELIMITER")]
    pub delimiter: Option<u8>,

    #[command(flatten)]
    pub config: ConfigArgs,

    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, clap::Args)]
pub(super) struct MigrateArgs {
    /// The ledger to copy from: an SQLite file (or a PostgreSQL URL).
    #[arg(long, value_name = "FILE|URL")]
    pub from: String,

    /// The ledger to copy into: a PostgreSQL URL (or an SQLite file).
    #[arg(long, value_name = "URL|FILE")]
    pub to: String,
}

/// The project file, shared by every command that reads campaign files.
#[derive(Debug, clap::Args)]
pub(super) struct ConfigArgs {
    /// The project file (default: campaignctl.yaml in the working directory, if any).
    #[arg(long, env = "CAMPAIGNCTL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The ledger location, shared by every command that reads or writes it.
#[derive(Debug, clap::Args)]
pub(super) struct StateArgs {
    /// The ledger: an SQLite file path, or a PostgreSQL URL
    /// (postgres://USER@HOST:PORT/DB?sslmode=require; password from the URL or PGPASSWORD).
    #[arg(long, env = "CAMPAIGNCTL_STATE", default_value = DEFAULT_STATE, value_name = "FILE|URL", hide_env_values = true)]
    pub state: String,
}

#[derive(Debug, clap::Args)]
pub(super) struct ApplyArgs {
    #[command(flatten)]
    pub files: FilesArgs,

    #[command(flatten)]
    pub state: StateArgs,

    #[command(flatten)]
    pub send: SendArgs,

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

    /// Also resend sends the ledger records as `failed` (not those WhatsApp said to hold
    /// back for a while, until then; nor undeliverable ones, see --include-undeliverable).
    #[arg(long)]
    pub retry_failed: bool,

    /// With --retry-failed, also resend sends WhatsApp said were undeliverable (131026: the
    /// number is not on WhatsApp, its app is too old, or its user has not accepted the terms).
    #[arg(long, requires = "retry_failed")]
    pub include_undeliverable: bool,

    /// Also resend sends the ledger records as `unknown` (a run died mid-send: they may have
    /// gone out, so resending may deliver twice).
    #[arg(long)]
    pub retry_unknown: bool,

    /// Also resend sends the ledger records as `capped` (a frequency cap held them back),
    /// where the caps allow them now.
    #[arg(long)]
    pub retry_capped: bool,

    /// Send one test message instead: the campaign of the one campaign file given, rendered
    /// for its first recipient (or the one --as names), to this number. Recorded as a test:
    /// never the recipient's send, and counted by no limit.
    #[arg(long, value_name = "NUMBER", conflicts_with_all = ["retry_failed", "retry_unknown", "retry_capped"])]
    pub to: Option<String>,

    /// With --to: whose message to send, a recipient of the campaign (default: the first).
    #[arg(long = "as", value_name = "RECIPIENT", requires = "to")]
    pub as_recipient: Option<String>,

    /// Stop when more than N sends in a row fail or end unknown: the (N+1)th stops the run
    /// (0: never).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub max_failures: usize,
}

/// How `apply` and `run` send.
#[derive(Debug, clap::Args)]
pub(super) struct SendArgs {
    /// Messages per second over the whole run, every campaign together (0: unlimited).
    #[arg(long, default_value_t = 20.0, value_parser = parse_rate, value_name = "N")]
    pub rate: f64,

    /// Requests in flight at once. Without it, as many as reach --rate at the API's measured
    /// latency (64 at an unlimited rate), up to --max-concurrency.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000), value_name = "N")]
    pub concurrency: Option<u32>,

    /// The most requests in flight when the concurrency follows the rate.
    #[arg(long, default_value_t = DEFAULT_MAX_CONCURRENCY as u32, value_parser = clap::value_parser!(u32).range(1..=100_000), value_name = "N")]
    pub max_concurrency: u32,

    /// Also retry, automatically, sends whose outcome is ambiguous (a timeout or a broken
    /// connection after the request was written, a 500): each retry may deliver a message
    /// twice. Without it they are recorded `unknown` for you to check.
    #[arg(long)]
    pub retry_ambiguous: bool,

    /// HTTP connect timeout, seconds: opening a connection (TCP, proxy, TLS handshake); at
    /// most --request-timeout is used. A connection that is not open in time failed, and its
    /// send is retried: nothing was written.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub connect_timeout: f64,

    /// HTTP request timeout, seconds: from writing the request to the end of the answer.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub request_timeout: f64,

    /// Pooled connections idle for longer are closed, never reused (e.g. 90s; lower it
    /// behind a NAT or proxy that drops idle connections sooner).
    #[arg(long, default_value = "90s", value_parser = parse_wait, value_name = "DURATION")]
    pub pool_idle_timeout: std::time::Duration,
}

#[derive(Debug, clap::Args)]
pub(super) struct RunArgs {
    /// Campaign files, or directories to search for *.yaml / *.yml files (watched for changes).
    #[arg(default_value = "campaigns")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub config: ConfigArgs,

    #[command(flatten)]
    pub state: StateArgs,

    #[command(flatten)]
    pub send: SendArgs,

    /// Serve GET /healthz and GET /metrics on this address (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,

    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub(super) struct StatusArgs {
    #[command(flatten)]
    pub state: StateArgs,

    /// Only this campaign.
    #[arg(long, value_name = "NAME")]
    pub campaign: Option<String>,

    /// Only sends in this state.
    #[arg(long, value_enum, value_name = "STATE")]
    pub status: Option<StatusFilter>,

    /// Only sends updated at or after this instant: a duration back from now (24h, 90m, 7d)
    /// or an RFC 3339 time (2026-11-30T00:00:00Z).
    #[arg(long, value_parser = parse_since, value_name = "DURATION|RFC3339")]
    pub since: Option<Since>,

    /// Output format: `text` for people, `json` for machines, `csv` (one row per send, with
    /// the reason of each failure) for spreadsheets.
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    pub format: StatusFormat,
}

/// `--since` as given: resolved against the current time in [`super::settings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Since {
    /// This long before now.
    Ago(TimeDelta),
    At(DateTime<Utc>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum StatusFormat {
    Text,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum StatusFilter {
    InFlight,
    Sent,
    Failed,
    Unknown,
}

#[derive(Debug, clap::Args)]
pub(super) struct FilesArgs {
    /// Campaign files, or directories to search for *.yaml / *.yml files.
    #[arg(default_value = "campaigns")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub config: ConfigArgs,

    /// Evaluate schedules at this instant (RFC 3339) instead of the current time.
    #[arg(long, value_parser = parse_now, value_name = "RFC3339")]
    pub now: Option<DateTime<Utc>>,
}

#[derive(Debug, clap::Args)]
pub(super) struct PlanArgs {
    #[command(flatten)]
    pub files: FilesArgs,

    #[command(flatten)]
    pub state: StateArgs,

    /// Output format: `text` for people (and pull-request reviews), `json` for machines,
    /// `markdown` for pull-request comments and CI job summaries.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,

    /// Exit 0 when nothing is due, 2 when sends are due, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Also save the plan to this file, for `campaignctl apply FILE` to send exactly it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum PlanFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, clap::Args)]
pub(super) struct SchemaArgs {
    /// The schema of the project file, campaignctl.yaml, instead.
    #[arg(long, conflicts_with = "templates")]
    pub project: bool,

    /// The schema of a template catalogue file (`templates: [...]`) instead.
    #[arg(long)]
    pub templates: bool,
}

#[derive(Debug, clap::Args)]
pub(super) struct ShowArgs {
    /// A plan saved with `campaignctl plan --out FILE`.
    #[arg(value_name = "FILE")]
    pub plan: PathBuf,

    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum Format {
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
    parse_duration(text)
        .and_then(|d| d.to_std().ok())
        .ok_or_else(|| "expected a duration such as 0s, 30s, 5m or 1h".to_owned())
}

fn parse_since(text: &str) -> Result<Since, String> {
    if let Some(ago) = parse_duration(text) {
        return Ok(Since::Ago(ago));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| Since::At(t.with_timezone(&Utc)))
        .map_err(|_| {
            "expected a duration back from now (24h, 90m, 7d, 1d12h) or an RFC 3339 time \
             (2026-11-30T00:00:00Z, 2026-11-30T09:00:00+05:30)"
                .to_owned()
        })
}

fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "," => Ok(b','),
        ";" => Ok(b';'),
        "tab" | "\t" | "\\t" => Ok(b'\t'),
        _ => Err("expected `,`, `;` or `tab`".to_owned()),
    }
}

fn parse_now(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e}; expected RFC 3339, e.g. 2026-11-30T09:00:00+05:30"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delimiter_is_a_comma_a_semicolon_or_a_tab() {
        for (text, byte) in [
            (",", b','),
            (";", b';'),
            ("tab", b'\t'),
            ("\t", b'\t'),
            ("\\t", b'\t'),
        ] {
            assert_eq!(parse_delimiter(text), Ok(byte), "{text:?}");
        }
        for bad in ["", "|", "TAB", ",,", "comma"] {
            assert!(parse_delimiter(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn since_is_a_duration_back_or_an_instant() {
        assert_eq!(parse_since("24h"), Ok(Since::Ago(TimeDelta::hours(24))));
        assert_eq!(parse_since("90m"), Ok(Since::Ago(TimeDelta::minutes(90))));
        assert_eq!(parse_since("7d"), Ok(Since::Ago(TimeDelta::days(7))));
        let at: DateTime<Utc> = "2026-11-30T00:00:00Z".parse().unwrap();
        assert_eq!(parse_since("2026-11-30T00:00:00Z"), Ok(Since::At(at)));
        assert_eq!(parse_since("2026-11-30T05:30:00+05:30"), Ok(Since::At(at)));
        for bad in [
            "",
            "24",
            "yesterday",
            "2026-11-30",
            "2026-11-30T00:00:00",
            "-1h",
        ] {
            let err = parse_since(bad).unwrap_err();
            assert!(
                err.contains("24h") && err.contains("RFC 3339"),
                "{bad}: {err}"
            );
        }
    }
}
