//! `campaignctl plan`: what `apply` would send at `--now`, as text, JSON or markdown, and,
//! with `--out`, saved as data for `apply` to send exactly that. Never writes the ledger.

use std::io::{self, Seek, Write};
use std::path::PathBuf;

use super::{Files, Outcome};
use crate::error::Error;
use crate::ledger::StateLocation;
use crate::output;
use crate::plan::json::JsonPlan;
use crate::plan::markdown::Markdown;
use crate::plan::pipeline::{Prepared, prepare, print_diagnostics};
use crate::plan::saved::Saver;
use crate::plan::view::{CampaignView, SendView};
use crate::plan::{Plan, PlanOptions, Scan, text};
use crate::style::Paint;

/// How a plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlanFormat {
    /// For people, and pull-request reviews.
    Text,
    /// For machines.
    Json,
    /// For pull-request comments and CI job summaries.
    Markdown,
}

#[derive(Debug, Clone)]
pub(crate) struct PlanSettings {
    pub files: Files,
    pub state: StateLocation,
    pub format: PlanFormat,
    /// Exit 2 when sends are due.
    pub detailed_exitcode: bool,
    /// Where to save the plan, for `apply PLAN`.
    pub out: Option<PathBuf>,
}

pub(crate) fn plan(settings: &PlanSettings) -> Result<Outcome, Error> {
    // plan never writes: the ledger is read if it exists, and never created.
    let mut ledger = settings.state.open_read_only()?;
    let now = settings.files.now;
    let mut prepared = prepare(
        &settings.files.paths,
        settings.files.config.as_deref(),
        now,
        ledger.as_mut(),
        PlanOptions::default(),
        false,
    )?;
    // A saved plan records the hash of every CSV file it read: its rows are read from
    // copies taken first, so the hash is of the rows planned.
    let pins = match &settings.out {
        Some(_) => {
            let pins = tempfile::Builder::new()
                .prefix("campaignctl-plan-")
                .tempdir()?;
            prepared.pin(pins.path(), 1)?;
            Some(pins)
        }
        None => None,
    };
    let keep = match settings.format {
        PlanFormat::Text => text::TEXT_SENDS_SHOWN,
        PlanFormat::Json | PlanFormat::Markdown => 0,
    };
    // One pass renders, checks and hands each send to every output; the JSON waits in a
    // temporary file until the whole set is known to be valid, so an invalid set prints
    // only its problems.
    let mut json = match settings.format {
        PlanFormat::Json => Some(JsonPlan::new(io::BufWriter::new(tempfile::tempfile()?))),
        _ => None,
    };
    let mut markdown = (settings.format == PlanFormat::Markdown).then(Markdown::new);
    let mut saver = settings.out.as_ref().map(|_| Saver::new());
    let checked = prepared.scan(keep, &mut |plan, index, send| {
        if let Some(json) = json.as_mut() {
            json.send(plan, index, send);
        }
        if let Some(markdown) = markdown.as_mut() {
            markdown.send(index, &SendView::of(send), send.campaign.kind().into());
        }
        if let Some(saver) = saver.as_mut() {
            saver.send(plan, index, send);
        }
    });
    print_diagnostics(&checked)?;
    if checked.errors {
        return Err(Error::Invalid);
    }
    let (plan, scan) = (&checked.plan, &checked.scan);
    let views: Vec<CampaignView> = plan
        .campaigns
        .iter()
        .zip(&scan.campaigns)
        .map(|(p, counts)| CampaignView::of(p, counts))
        .collect();
    let warnings = Prepared::warning_lines(&checked.diagnostics);
    if let (Some(saver), Some(path)) = (saver, &settings.out) {
        let location = ledger
            .as_ref()
            .map_or_else(|| settings.state.to_string(), |l| l.location().to_owned());
        saver
            .finish(
                plan,
                &checked.project,
                settings.files.config.as_deref(),
                views.clone(),
                &location,
                warnings.clone(),
            )?
            .write(path)
            .map_err(|e| {
                io::Error::other(format!("cannot write the plan to {}: {e}", path.display()))
            })?;
        output::eprint(format_args!(
            "Saved the plan to {}: `campaignctl apply {}` sends exactly it, or refuses if anything it was made from changed.\n",
            path.display(),
            path.display()
        ));
    }
    drop(pins);
    let output = match (json, markdown) {
        (Some(json), _) => {
            let mut file = json
                .finish(plan, scan)?
                .into_inner()
                .map_err(io::IntoInnerError::into_error)?;
            file.seek(io::SeekFrom::Start(0))?;
            Output::Json(file)
        }
        (None, Some(markdown)) => {
            Output::Markdown(markdown.finish(plan.now, &views, &warnings, plan.budget().daily()))
        }
        (None, None) => Output::Text,
    };
    // Its reader going away (`| head`) ends the output, not the command: the exit code
    // stays what the plan says.
    output::ended(write_output(output, plan, scan))?;
    let due = scan.campaigns.iter().any(|c| c.due > 0);
    Ok(if settings.detailed_exitcode && due {
        Outcome::SendsDue
    } else {
        Outcome::Success
    })
}

/// The plan as printed: text written from the plan, or what was made while it was scanned.
enum Output {
    Text,
    Json(std::fs::File),
    Markdown(String),
}

fn write_output(output: Output, plan: &Plan, scan: &Scan) -> io::Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    match output {
        // In colour where stdout takes it (--color, NO_COLOR, a terminal). JSON never is.
        Output::Text => text::write_plan(&mut out, plan, scan, Paint::stdout())?,
        Output::Json(mut file) => {
            io::copy(&mut file, &mut out)?;
        }
        Output::Markdown(markdown) => out.write_all(markdown.as_bytes())?,
    }
    out.flush()
}
