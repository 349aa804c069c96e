//! `campaignctl validate`: every problem of every file, then a one-line summary (and, without
//! a template catalogue, a note that templates are not checked).

use std::path::Path;

use std::io::{self, Write};

use super::{Files, Outcome};
use crate::campaign::project::PROJECT_FILE;
use crate::error::Error;
use crate::plan::PlanOptions;
use crate::plan::pipeline::check;

pub(crate) fn validate(files: &Files) -> Result<Outcome, Error> {
    let Some(checked) = check(
        &files.paths,
        files.config.as_deref(),
        files.now,
        0,
        None,
        PlanOptions::default(),
    )?
    else {
        return Err(Error::Invalid);
    };
    let sends: usize = checked.scan.campaigns.iter().map(|c| c.total).sum();
    let warnings = checked.warning_count();
    writeln!(
        io::stdout(),
        "{} file(s) valid: {} campaign(s), {sends} send(s) rendered{}",
        checked.files,
        checked.plan.campaigns.len(),
        if warnings > 0 {
            format!(", {warnings} warning(s)")
        } else {
            String::new()
        }
    )?;
    if checked.project.catalogue.is_none() {
        // Once, and not a warning: a set without a catalogue is valid, as it always was.
        let file = checked
            .project
            .file
            .as_deref()
            .unwrap_or(Path::new(PROJECT_FILE));
        writeln!(
            io::stdout(),
            "note: template names, languages, param counts and media are not checked: there is no template catalogue; list your templates under `templates:` in {} (see docs/templates.md)",
            file.display()
        )?;
    }
    Ok(Outcome::Success)
}
