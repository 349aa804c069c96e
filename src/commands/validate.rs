//! `campaignctl validate`: every problem of every file, then a one-line summary.

use std::io::{self, Write};

use super::{Files, Outcome};
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
    Ok(Outcome::Success)
}
