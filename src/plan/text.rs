//! The text plan, for a pull-request review. Deterministic for a given `--now` (campaigns in
//! file order, sends in recipient order).

use std::io::{self, Write};

use super::{CampaignPlan, CampaignScan, Plan, Scan, SendState, Timing};
use crate::campaign::{Audience, Kind};
use crate::schedule::{Occurrence, rfc3339};
use crate::style::{self, Paint};

/// Sends listed per campaign in the text plan; the rest are counted.
pub(crate) const TEXT_SENDS_SHOWN: usize = 20;

/// The text plan. `scan` comes from `plan.scan(TEXT_SENDS_SHOWN)`. Painted in colour,
/// `+` is green, `=` dim, `~` yellow, `!` red and the headers bold; with [`Paint::PLAIN`]
/// it is the same text without a single escape code.
pub(crate) fn write_text(
    out: &mut impl Write,
    plan: &Plan,
    scan: &Scan,
    paint: Paint,
) -> io::Result<()> {
    let bold = paint.get(style::HEADER);
    writeln!(
        out,
        "{bold}Plan at {} for {} campaign(s){bold:#}",
        rfc3339(plan.now),
        plan.campaigns.len()
    )?;
    for (campaign_plan, counts) in plan.campaigns.iter().zip(&scan.campaigns) {
        writeln!(out)?;
        write_campaign(out, campaign_plan, counts, paint)?;
    }
    writeln!(out)?;
    writeln!(out, "{bold}{}{bold:#}", summary_line(plan, scan))
}

fn write_campaign(
    out: &mut impl Write,
    plan: &CampaignPlan,
    counts: &CampaignScan,
    paint: Paint,
) -> io::Result<()> {
    let c = &plan.campaign;
    let bold = paint.get(style::HEADER);
    writeln!(
        out,
        "{bold}campaign {}{bold:#} ({})",
        c.name,
        c.file.display()
    )?;
    if let Some(description) = &c.description {
        writeln!(out, "  description  {}", description.trim())?;
    }
    writeln!(out, "  template     {} ({})", c.template, c.language)?;
    if let Some(media) = &c.media {
        writeln!(out, "  media        {} {}", media.kind.as_str(), media.link)?;
    }
    if let Some(tag) = &c.tag {
        writeln!(out, "  tag          {tag}")?;
    }
    match &c.audience {
        Audience::Recipients(_) => {
            writeln!(out, "  audience     recipients (one `single` request each)")?;
        }
        Audience::Search(spec) => writeln!(
            out,
            "  audience     search {} (one `blast` request)",
            serde_json::Value::Object(spec.clone())
        )?,
    }
    match &c.schedule {
        None => writeln!(out, "  schedule     none: sent once, by apply")?,
        Some(schedule) => {
            writeln!(out, "  schedule     {}", schedule.describe())?;
            if !plan.next_runs.is_empty() {
                let runs: Vec<String> = plan
                    .next_runs
                    .iter()
                    .map(|t| schedule.local_text(*t))
                    .collect();
                writeln!(out, "  next runs    {}", runs.join(", "))?;
            }
        }
    }
    let occurrence = match (plan.occurrence, &c.schedule) {
        (Occurrence::At(at), Some(schedule)) => {
            format!("{} ({})", rfc3339(at), schedule.local_text(at))
        }
        (occurrence, _) => occurrence.to_string(),
    };
    let timing = match plan.timing {
        Timing::Once => "due now",
        Timing::Due => "due now (within catch-up)",
        Timing::Upcoming => "not due yet",
        Timing::Expired => "missed: passed more than catch_up ago, will not be sent",
        Timing::Disabled => "disabled (`enabled: false`), will not be sent",
    };
    writeln!(out, "  occurrence   {occurrence}, {timing}")?;
    let states: Vec<String> = counts
        .by_state
        .iter()
        .filter(|(state, _)| **state != SendState::New)
        .map(|(state, n)| format!("{n} {}", state.label()))
        .collect();
    let kind = match c.kind() {
        Kind::Single => "single",
        Kind::Blast => "blast",
    };
    write!(
        out,
        "  sends        {} {kind}, {} due",
        counts.total, counts.due
    )?;
    if !states.is_empty() {
        write!(out, ", {}", states.join(", "))?;
    }
    writeln!(out)?;
    let name_width = counts
        .first
        .iter()
        .map(|s| s.name.as_deref().map_or(0, |n| n.chars().count()))
        .max()
        .unwrap_or(0);
    for send in &counts.first {
        let (marker, line_style) = match (send.due, send.state) {
            (true, _) => ('+', style::ADDED),
            (false, SendState::AlreadySent) => ('=', style::UNCHANGED),
            (false, SendState::SentChangedSince) => ('~', style::CHANGED),
            (false, SendState::Failed | SendState::Unknown | SendState::InFlight) => {
                ('!', style::FAILED)
            }
            (false, _) => (' ', anstyle::Style::new()),
        };
        let line_style = paint.get(line_style);
        let who = match send.mobile {
            Some(mobile) => format!(
                "{:<15} {:<name_width$}",
                mobile.to_string(),
                send.name.as_deref().unwrap_or("")
            ),
            None => "blast".to_owned(),
        };
        let params = serde_json::to_string(&send.params).unwrap_or_default();
        let state = match send.state {
            SendState::New => String::new(),
            other => format!("  ({})", other.label()),
        };
        writeln!(
            out,
            "    {line_style}{marker} {who}  {params}{state}{line_style:#}"
        )?;
    }
    if counts.total > counts.first.len() {
        writeln!(out, "    … and {} more", counts.total - counts.first.len())?;
    }
    Ok(())
}

fn summary_line(plan: &Plan, scan: &Scan) -> String {
    let due: usize = scan.campaigns.iter().map(|c| c.due).sum();
    let total: usize = scan.campaigns.iter().map(|c| c.total).sum();
    let due_campaigns = scan.campaigns.iter().filter(|c| c.due > 0).count();
    let sent: usize = scan
        .campaigns
        .iter()
        .map(|c| {
            c.by_state
                .get(&SendState::AlreadySent)
                .copied()
                .unwrap_or(0)
        })
        .sum();
    format!(
        "Plan: {due} send(s) due now in {due_campaigns} of {} campaign(s); {} not due; {sent} already sent.",
        plan.campaigns.len(),
        total - due,
    )
}
