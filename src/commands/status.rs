//! `campaignctl status`: what the ledger recorded, by campaign and state, with the reasons
//! of failures.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::json;

use super::Outcome;
use super::plan::Format;
use crate::error::Error;
use crate::ledger::{Filter, MissedRow, SendRow, StateLocation, Status, failure_reason};

#[derive(Debug, Clone)]
pub(crate) struct StatusSettings {
    pub state: StateLocation,
    /// Only this campaign.
    pub campaign: Option<String>,
    /// Only sends in this state.
    pub status: Option<Status>,
    pub format: Format,
}

pub(crate) fn status(settings: &StatusSettings) -> Result<Outcome, Error> {
    let location = &settings.state;
    let Some(mut ledger) = location.open_read_only()? else {
        return Err(Error::NothingApplied(location.to_string()));
    };
    let filter = Filter {
        campaign: settings.campaign.clone(),
        status: settings.status,
    };
    let rows = ledger.sends(&filter)?;
    let missed = if filter.status.is_none() {
        ledger.missed(settings.campaign.as_deref())?
    } else {
        Vec::new()
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    match settings.format {
        Format::Json => {
            let value = json!({
                "format_version": 1,
                "ledger": ledger.location(),
                "sends": rows,
                "missed": missed,
            });
            serde_json::to_writer_pretty(&mut out, &value).map_err(io::Error::other)?;
            writeln!(out)?;
        }
        Format::Text => write_text(&mut out, ledger.location(), &rows, &missed)?,
    }
    out.flush()?;
    Ok(Outcome::Success)
}

fn write_text(
    out: &mut impl Write,
    location: &str,
    rows: &[SendRow],
    missed: &[MissedRow],
) -> io::Result<()> {
    if rows.is_empty() && missed.is_empty() {
        return writeln!(out, "No sends recorded in {location} (for this filter).");
    }
    // campaign → occurrence → rows
    let mut by_campaign: BTreeMap<&str, BTreeMap<&str, Vec<&SendRow>>> = BTreeMap::new();
    for row in rows {
        by_campaign
            .entry(&row.campaign)
            .or_default()
            .entry(&row.occurrence)
            .or_default()
            .push(row);
    }
    for missed in missed {
        by_campaign.entry(&missed.campaign).or_default();
    }
    for (campaign, occurrences) in &by_campaign {
        writeln!(out, "campaign {campaign}")?;
        for (occurrence, rows) in occurrences {
            let mut counts: BTreeMap<Status, usize> = BTreeMap::new();
            for row in rows {
                *counts.entry(row.status).or_default() += 1;
            }
            let counts: Vec<String> = counts
                .iter()
                .map(|(s, n)| format!("{n} {}", s.as_str()))
                .collect();
            writeln!(out, "  {occurrence}: {}", counts.join(", "))?;
            for row in rows.iter().filter(|r| r.status != Status::Sent) {
                let reason = failure_reason(
                    row.http_status,
                    row.response.as_deref(),
                    row.error.as_deref(),
                );
                writeln!(
                    out,
                    "    {:<9} {:<15} attempts {}, {}  {reason}",
                    row.status.as_str(),
                    row.recipient,
                    row.attempts,
                    row.updated_at
                )?;
            }
        }
        for m in missed.iter().filter(|m| m.campaign == *campaign) {
            writeln!(
                out,
                "  {}: missed (found more than catch_up late at {})",
                m.occurrence, m.recorded_at
            )?;
        }
    }
    Ok(())
}
