//! The pipeline every command shares: load the files, validate them, plan them at an
//! instant against the ledger, and render every send once (the scan) so that any problem
//! of any file or row is found before anything is sent.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::limits::History;
use super::optouts::{self, PlanOptOuts};
use super::{Plan, PlanOptions, PlannedSend, Scan};
use crate::campaign::pin::pin_csv_files;
use crate::campaign::project::{self, Project};
use crate::campaign::{Campaign, loader, validator};
use crate::diagnostic::{Diagnostics, MAX_PROBLEMS_PER_CAMPAIGN};
use crate::ledger::{Ledger, LedgerError, RecordedSends};
use crate::output;
use crate::style::Paint;

/// A set of campaign files, validated and planned, with every send rendered once.
pub(crate) struct Checked {
    pub plan: Plan,
    /// The project file's settings the set was checked with.
    pub project: Arc<Project>,
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
    pub project: Arc<Project>,
    pub diagnostics: Diagnostics,
    pub files: usize,
}

/// Loads, validates and plans `paths` at `now`, honouring the project file's opt-out lists
/// and, with a ledger, the ledger's opt-outs. Prints nothing.
pub(crate) fn prepare(
    paths: &[PathBuf],
    config: Option<&Path>,
    now: DateTime<Utc>,
    mut ledger: Option<&mut Box<dyn Ledger>>,
    options: PlanOptions,
    allow_empty: bool,
) -> Result<Prepared, LedgerError> {
    let (project, project_problems) = project::load(config, true);
    let (files, optout_problems) = optouts::load_files(&project);
    let (sources, load_problems) = loader::load(paths, allow_empty, project.catalogue_file());
    let validated = validator::validate(&sources, &project);
    let mut diagnostics = Diagnostics::default();
    diagnostics.extend(project_problems);
    diagnostics.extend(optout_problems);
    diagnostics.extend(load_problems);
    diagnostics.extend(validated.diagnostics);
    let mut optouts = PlanOptOuts {
        files: Arc::new(files),
        ..PlanOptOuts::default()
    };
    if let Some(ledger) = ledger.as_mut() {
        optouts.ledger = Arc::new(optouts::load_ledger(&mut ***ledger)?);
    }
    let mut plan = Plan::new(
        validated.campaigns,
        now,
        options,
        optouts,
        project.limits.clone(),
        |campaign, occurrence| match ledger.as_mut() {
            Some(ledger) => ledger.recorded(&campaign.name, occurrence),
            None => Ok(RecordedSends::new()),
        },
    )?;
    if let Some(ledger) = ledger {
        plan.match_limits(History::load(&mut **ledger, &project.limits, now)?);
    }
    Ok(Prepared {
        plan,
        project: Arc::new(project),
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
            project,
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
            project,
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
    config: Option<&Path>,
    now: DateTime<Utc>,
    keep: usize,
    ledger: Option<&mut Box<dyn Ledger>>,
    options: PlanOptions,
    allow_empty: bool,
) -> Result<Checked, LedgerError> {
    Ok(prepare(paths, config, now, ledger, options, allow_empty)?.scan(keep, &mut |_, _, _| {}))
}

/// [`evaluate`] for sending: every CSV file is copied into `dir` first (see
/// [`pin_csv_files`]) and its rows are read from the copy, now and when sent.
pub(crate) fn evaluate_pinned(
    paths: &[PathBuf],
    config: Option<&Path>,
    now: DateTime<Utc>,
    options: PlanOptions,
    allow_empty: bool,
    dir: &Path,
    generation: u64,
) -> io::Result<Checked> {
    let mut prepared = prepare(paths, config, now, None, options, allow_empty)
        .expect("planning without a ledger reads no ledger");
    prepared.pin(dir, generation)?;
    Ok(prepared.scan(0, &mut |_, _, _| {}))
}

impl Prepared {
    /// Copies every CSV file into `dir` and points the campaigns at the copies (see
    /// [`pin_csv_files`]): from here on every row is read from the copy.
    pub(crate) fn pin(&mut self, dir: &Path, generation: u64) -> io::Result<()> {
        let campaigns = self.plan.campaigns.iter_mut().map(|p| &mut p.campaign);
        pin_csv_files(campaigns, dir, generation)
    }

    /// Every warning found so far, as `FILE:LINE:COL: message`.
    pub(crate) fn warning_lines(diagnostics: &Diagnostics) -> Vec<String> {
        diagnostics
            .clone()
            .sorted()
            .into_iter()
            .filter(|d| !d.is_error())
            .map(|d| format!("{}: {}", d.location(), d.message))
            .collect()
    }
}

impl Checked {
    /// The campaigns of the set, as planned.
    pub(crate) fn campaigns(&self) -> Vec<Arc<Campaign>> {
        self.plan
            .campaigns
            .iter()
            .map(|p| p.campaign.clone())
            .collect()
    }

    /// Every warning, listed or not.
    pub(crate) fn warning_count(&self) -> usize {
        self.diagnostics.warning_count() + self.omitted_warnings
    }

    /// Every file the set was read from: the project file, its template catalogue and
    /// opt-out lists, the campaign files and their CSV files (as the campaigns name them,
    /// not their pinned copies); each once.
    pub(crate) fn input_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .plan
            .inputs(&self.project)
            .iter()
            .map(|input| input.path().to_path_buf())
            .collect();
        files.sort();
        files.dedup();
        files
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// [`evaluate`], printing every problem. `Ok(None)`: the set has errors (printed).
pub(crate) fn check(
    paths: &[PathBuf],
    config: Option<&Path>,
    now: DateTime<Utc>,
    keep: usize,
    ledger: Option<&mut Box<dyn Ledger>>,
    options: PlanOptions,
) -> Result<Option<Checked>, CheckError> {
    let checked = evaluate(paths, config, now, keep, ledger, options, false)?;
    print_diagnostics(&checked)?;
    Ok((!checked.errors).then_some(checked))
}

/// Why a set could not even be checked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CheckError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Prints every problem, sorted by file and position, and a count line when any is an error.
/// In colour where stderr takes it. A closed stderr ends them quietly: whether the set is
/// valid is still the command's outcome.
pub(crate) fn print_diagnostics(checked: &Checked) -> io::Result<()> {
    output::ended(write_diagnostics(checked))
}

fn write_diagnostics(checked: &Checked) -> io::Result<()> {
    let errors = checked.diagnostics.error_count() + checked.omitted_errors;
    let warnings = checked.warning_count();
    let paint = Paint::stderr();
    let mut err = io::stderr().lock();
    for d in checked.diagnostics.clone().sorted() {
        write!(err, "{}", d.painted(paint))?;
    }
    let omitted = checked.omitted_errors + checked.omitted_warnings;
    if omitted > 0 {
        writeln!(
            err,
            "… and {omitted} more problem(s) not shown (at most {MAX_PROBLEMS_PER_CAMPAIGN} per campaign)"
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::send_key;
    use crate::plan::{PlannedSend, SendItem};

    /// The key is built from a prefix made once per plan, and apply takes the ledger's
    /// occurrence from the key and the body's number from the recipient: all three must
    /// still agree with formatting each send on its own (a scheduled occurrence here).
    #[test]
    fn keys_occurrences_and_numbers_of_a_scheduled_send_agree() {
        let now = "2026-11-30T03:35:00Z".parse().unwrap();
        let paths = [std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/campaigns/weekday-checkin.yaml"
        ))];
        let checked = evaluate(&paths, None, now, 0, None, PlanOptions::default(), false).unwrap();
        let plan = &checked.plan;
        let occurrence = plan.campaigns[0].occurrence;
        assert_eq!(occurrence.to_string(), "2026-11-30T03:30:00Z");
        let sends: Vec<PlannedSend> = plan
            .sends(0)
            .filter_map(|item| match item {
                SendItem::Send(send) => Some(send),
                _ => None,
            })
            .collect();
        assert_eq!(sends.len(), 2);
        for send in &sends {
            let mobile = send.mobile.unwrap().to_string();
            assert_eq!(send.recipient, mobile);
            assert_eq!(send.key, send_key("weekday-checkin", occurrence, &mobile));
            assert_eq!(send.occurrence_text(), occurrence.to_string());
            let body: serde_json::Value = serde_json::from_str(&send.body()).unwrap();
            assert_eq!(body["to"]["mobile"], mobile);
        }
    }
}
