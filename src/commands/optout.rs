//! `campaignctl optout add|remove|list|import`: the ledger's opt-outs, which every campaign
//! honours. Every number is checked before anything is written: one bad number (or CSV row)
//! writes nothing. Writing takes no writer lock: opt-outs must be recorded while a daemon
//! sends (it plans each occurrence against the opt-outs of that moment).

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::Outcome;
use crate::campaign::mobile::{Mobile, Reading};
use crate::campaign::optouts::{ListColumns, OptOutSource, read_list};
use crate::campaign::project::{self, Project};
use crate::error::Error;
use crate::ledger::{Ledger, OptOut, StateLocation};
use crate::output;
use crate::plan::optouts::load_files;

#[derive(Debug, Clone)]
pub(crate) struct OptoutSettings {
    pub state: StateLocation,
    /// The project file named on the command line (else `campaignctl.yaml` if present): how
    /// numbers are read, and its opt-out lists.
    pub config: Option<PathBuf>,
    pub action: Action,
}

#[derive(Debug, Clone)]
pub(crate) enum Action {
    Add {
        numbers: Vec<String>,
        reason: Option<String>,
    },
    Remove {
        numbers: Vec<String>,
    },
    List {
        format: ListFormat,
    },
    Import {
        file: PathBuf,
        /// `None`: `mobile`.
        mobile_column: Option<String>,
        /// `None`: `reason`, if the file has it; given, the file must have it.
        reason_column: Option<String>,
        /// `None`: detected from the header line.
        delimiter: Option<u8>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListFormat {
    Text,
    Json,
    Csv,
}

pub(crate) fn optout(settings: &OptoutSettings) -> Result<Outcome, Error> {
    match &settings.action {
        Action::List { format } => list(&settings.state, *format),
        Action::Add { numbers, reason } => {
            let project = load_project(settings)?;
            add(&settings.state, &parse_numbers(numbers, &project)?, reason)
        }
        Action::Remove { numbers } => {
            let project = load_project(settings)?;
            remove(
                &settings.state,
                &parse_numbers(numbers, &project)?,
                &project,
            )
        }
        Action::Import {
            file,
            mobile_column,
            reason_column,
            delimiter,
        } => {
            let project = load_project(settings)?;
            let columns = ListColumns {
                mobile: mobile_column.as_deref().unwrap_or("mobile"),
                reason: reason_column.as_deref().unwrap_or("reason"),
                reason_required: reason_column.is_some(),
            };
            import(&settings.state, file, (columns, *delimiter), &project)
        }
    }
}

fn load_project(settings: &OptoutSettings) -> Result<Project, Error> {
    let (project, problems) = project::load(settings.config.as_deref(), false);
    if problems.iter().any(|d| d.is_error()) {
        for d in &problems {
            output::eprint(format_args!("{d}"));
        }
        return Err(Error::Invalid);
    }
    Ok(project)
}

/// The numbers, normalised as recipients' are (each once); every bad one, or nothing.
fn parse_numbers(raw: &[String], project: &Project) -> Result<Vec<Mobile>, Error> {
    // Numbers are read as the campaigns' are, with the project's default country.
    let mut numbers = Vec::new();
    let mut seen = HashSet::new();
    let mut problems = Vec::new();
    for (i, text) in raw.iter().enumerate() {
        match Mobile::read(text, project.default_country) {
            Ok(Reading { mobile, .. }) => {
                if seen.insert(mobile) {
                    numbers.push(mobile);
                }
            }
            Err(message) if text.trim().is_empty() => {
                problems.push(format!("NUMBER {}: {message}", i + 1));
            }
            Err(message) => problems.push(message),
        }
    }
    if problems.is_empty() {
        Ok(numbers)
    } else {
        Err(Error::InvalidNumbers(problems))
    }
}

/// `since 2026-12-01, optout add, reason replied STOP`.
fn describe(o: &OptOut) -> String {
    let mut text = format!(
        "since {}, {}",
        o.created_at.get(..10).unwrap_or(&o.created_at),
        o.source
    );
    if let Some(reason) = &o.reason {
        text.push_str(&format!(", reason {reason}"));
    }
    text
}

fn add(
    state: &StateLocation,
    numbers: &[Mobile],
    reason: &Option<String>,
) -> Result<Outcome, Error> {
    let mut ledger = state.open()?;
    let optouts: Vec<OptOut> = numbers
        .iter()
        .map(|m| OptOut::now(m.to_string(), reason.clone(), "optout add"))
        .collect();
    let existing = ledger.add_optouts(&optouts)?;
    let mut out = io::stdout().lock();
    let mut added = 0;
    for (o, existing) in optouts.iter().zip(&existing) {
        match existing {
            None => {
                added += 1;
                writeln!(out, "opted out {}", o.mobile)?;
            }
            Some(e) => writeln!(
                out,
                "{} was already opted out ({}); kept as it was",
                o.mobile,
                describe(e)
            )?,
        }
    }
    writeln!(
        out,
        "{added} number(s) opted out, {} already opted out, in {}: no campaign sends to them.",
        optouts.len() - added,
        ledger.location()
    )?;
    Ok(Outcome::Success)
}

fn remove(state: &StateLocation, numbers: &[Mobile], project: &Project) -> Result<Outcome, Error> {
    let mut ledger = state.open()?;
    let mobiles: Vec<String> = numbers.iter().map(ToString::to_string).collect();
    let removed = ledger.remove_optouts(&mobiles)?;
    // The project file's lists opt numbers out too, and are edited in the repository.
    let (files, _) = load_files(project);
    let mut out = io::stdout().lock();
    for (mobile, number) in mobiles.iter().zip(numbers) {
        match removed.iter().find(|o| &o.mobile == mobile) {
            Some(o) => writeln!(out, "removed the opt-out of {mobile} ({})", describe(o))?,
            None => writeln!(
                out,
                "{mobile} was not opted out in the ledger; nothing to remove"
            )?,
        }
        if let Some(source @ OptOutSource::File { .. }) = files.optouts.get(*number) {
            writeln!(
                out,
                "note: {mobile} is still opted out by {source} (an opt-out list of the project file): campaigns keep leaving it out"
            )?;
        }
    }
    writeln!(
        out,
        "{} opt-out(s) removed from {}.",
        removed.len(),
        ledger.location()
    )?;
    Ok(Outcome::Success)
}

fn list(state: &StateLocation, format: ListFormat) -> Result<Outcome, Error> {
    // Reading never creates a ledger: without one there are no opt-outs.
    let mut ledger = state.open_read_only()?;
    let location = ledger
        .as_ref()
        .map_or_else(|| state.to_string(), |l| l.location().to_owned());
    let ledger = ledger.as_mut();
    let mut out = io::BufWriter::new(io::stdout().lock());
    match format {
        ListFormat::Text => {
            let n = each_row(ledger, |o| {
                writeln!(
                    out,
                    "{:<15}  {}  {}{}",
                    o.mobile,
                    o.created_at,
                    o.source,
                    o.reason.map_or_else(String::new, |r| format!("  {r}"))
                )
            })?;
            match n {
                0 => writeln!(out, "No opt-outs in {location}.")?,
                n => writeln!(out, "{n} opt-out(s) in {location}.")?,
            }
        }
        ListFormat::Json => {
            write!(
                out,
                "{{\n  \"format_version\": 1,\n  \"ledger\": {},\n  \"optouts\": [",
                serde_json::Value::from(location.as_str())
            )?;
            let mut first = true;
            let n = each_row(ledger, |o| {
                let row = serde_json::to_string(&o).map_err(io::Error::other)?;
                let comma = if first { "" } else { "," };
                first = false;
                write!(out, "{comma}\n    {row}")
            })?;
            writeln!(out, "{}]\n}}", if n == 0 { "" } else { "\n  " })?;
        }
        ListFormat::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record(["mobile", "reason", "source", "created_at"])
                .map_err(io::Error::other)?;
            each_row(ledger, |o| {
                csv.write_record([
                    o.mobile.as_str(),
                    o.reason.as_deref().unwrap_or(""),
                    o.source.as_str(),
                    o.created_at.as_str(),
                ])
                .map_err(io::Error::other)
            })?;
            csv.flush()?;
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}

/// Hands every opt-out of `ledger` (none without one) to `row`, as they are read; stops at
/// the first error of `row`.
fn each_row(
    ledger: Option<&mut Box<dyn Ledger>>,
    mut row: impl FnMut(OptOut) -> io::Result<()>,
) -> Result<usize, Error> {
    let Some(ledger) = ledger else {
        return Ok(0);
    };
    let mut failed = None;
    let n = ledger.each_optout(&mut |o| {
        if failed.is_none()
            && let Err(e) = row(o)
        {
            failed = Some(e);
        }
    })?;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(n),
    }
}

/// Imports `file`, read with these columns and this delimiter (`None`: detected).
fn import(
    state: &StateLocation,
    file: &Path,
    (columns, delimiter): (ListColumns<'_>, Option<u8>),
    project: &Project,
) -> Result<Outcome, Error> {
    let bytes = std::fs::read(file).map_err(|source| Error::ReadList {
        path: file.to_owned(),
        source,
    })?;
    let read = read_list(file, &bytes, columns, delimiter, project.default_country)
        .map_err(Error::NotAList)?;
    if !read.problems.is_empty() {
        for d in &read.problems {
            output::eprint(format_args!("{d}"));
        }
        let bad = read.problems.len() + read.omitted;
        if read.omitted > 0 {
            output::eprint(format_args!("… and {} more bad row(s)\n", read.omitted));
        }
        return Err(Error::BadRows {
            bad,
            path: file.to_owned(),
        });
    }
    let source = format!("optout import {}", file.display());
    let mut seen = HashSet::new();
    let mut repeated = 0;
    let mut optouts = Vec::with_capacity(read.rows.len());
    for row in read.rows {
        if seen.insert(row.mobile) {
            optouts.push(OptOut::now(row.mobile.to_string(), row.reason, &source));
        } else {
            repeated += 1;
        }
    }
    let mut ledger = state.open()?;
    let existing = ledger.add_optouts(&optouts)?;
    let kept = existing.iter().filter(|e| e.is_some()).count();
    writeln!(
        io::stdout(),
        "Imported {}: {} number(s) opted out, {kept} already opted out (kept as they were){}, in {}.",
        file.display(),
        optouts.len() - kept,
        if repeated > 0 {
            format!(", {repeated} listed more than once")
        } else {
            String::new()
        },
        ledger.location()
    )?;
    Ok(Outcome::Success)
}
