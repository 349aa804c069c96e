//! `campaignctl plan`: what `apply` would send at `--now`, as text or JSON. Never writes.

use std::io::{self, Seek, Write};

use super::{Files, Outcome};
use crate::error::Error;
use crate::ledger::StateLocation;
use crate::plan::PlanOptions;
use crate::plan::json::JsonPlan;
use crate::plan::pipeline::{prepare, print_diagnostics};
use crate::plan::text;
use crate::style::Paint;

/// How a plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// For people, and pull-request reviews.
    Text,
    /// For machines.
    Json,
}

#[derive(Debug, Clone)]
pub(crate) struct PlanSettings {
    pub files: Files,
    pub state: StateLocation,
    pub format: Format,
    /// Exit 2 when sends are due.
    pub detailed_exitcode: bool,
}

pub(crate) fn plan(settings: &PlanSettings) -> Result<Outcome, Error> {
    // plan never writes: the ledger is read if it exists, and never created.
    let mut ledger = settings.state.open_read_only()?;
    let now = settings.files.now;
    let prepared = prepare(
        &settings.files.paths,
        now,
        ledger.as_mut(),
        PlanOptions::default(),
        false,
    )?;
    let checked = match settings.format {
        Format::Text => prepared.scan(text::TEXT_SENDS_SHOWN, &mut |_, _, _| {}),
        Format::Json => {
            // One pass renders, checks and writes each send; the JSON waits in a temporary
            // file until the whole set is known to be valid, so an invalid set prints only
            // its problems.
            let mut spool = JsonPlan::new(io::BufWriter::new(tempfile::tempfile()?));
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
    if settings.format == Format::Text {
        // In colour where stdout takes it (--color, NO_COLOR, a terminal). JSON never is.
        let mut out = io::BufWriter::new(io::stdout().lock());
        text::write_text(&mut out, &plan, &scan, Paint::stdout())?;
        out.flush()?;
    }
    let due = scan.campaigns.iter().any(|c| c.due > 0);
    Ok(if settings.detailed_exitcode && due {
        Outcome::SendsDue
    } else {
        Outcome::Success
    })
}
