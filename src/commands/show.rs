//! `campaignctl show PLAN`: a saved plan, as text, JSON or markdown.

use std::io::{self, Write};
use std::path::PathBuf;

use super::Outcome;
use super::plan::PlanFormat;
use crate::error::Error;
use crate::output;
use crate::plan::markdown::Markdown;
use crate::plan::saved::SavedPlan;
use crate::plan::text::{TEXT_SENDS_SHOWN, write_text};
use crate::plan::view::CampaignView;
use crate::style::Paint;

#[derive(Debug, Clone)]
pub(crate) struct ShowSettings {
    pub plan: PathBuf,
    pub format: PlanFormat,
}

pub(crate) fn show(settings: &ShowSettings) -> Result<Outcome, Error> {
    let saved = SavedPlan::read(&settings.plan)?;
    // Its reader going away (`| head`) ends the output quietly.
    output::ended(write(&saved, settings.format))?;
    Ok(Outcome::Success)
}

fn write(saved: &SavedPlan, format: PlanFormat) -> io::Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    match format {
        PlanFormat::Text => {
            let campaigns: Vec<_> = saved
                .campaigns
                .iter()
                .map(|c| {
                    let first = c.sends.iter().take(TEXT_SENDS_SHOWN);
                    (c.view.clone(), first.map(|s| s.view.clone()).collect())
                })
                .collect();
            write_text(
                &mut out,
                saved.now,
                &campaigns,
                saved.daily_limit,
                Paint::stdout(),
            )?;
        }
        PlanFormat::Json => {
            serde_json::to_writer_pretty(&mut out, saved).map_err(io::Error::from)?;
            writeln!(out)?;
        }
        PlanFormat::Markdown => {
            let mut markdown = Markdown::new();
            for (index, c) in saved.campaigns.iter().enumerate() {
                for send in &c.sends {
                    markdown.send(index, &send.view, c.view.kind);
                }
            }
            let views: Vec<CampaignView> = saved.campaigns.iter().map(|c| c.view.clone()).collect();
            out.write_all(
                markdown
                    .finish(saved.now, &views, &saved.warnings, saved.daily_limit)
                    .as_bytes(),
            )?;
        }
    }
    out.flush()
}
