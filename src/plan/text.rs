//! The text plan, for a pull-request review. Deterministic for a given `--now` (campaigns in
//! file order, sends in recipient order).

use std::io::{self, Write};

use chrono::{DateTime, Utc};

use super::limits::DailyBudget;
use super::scan::Waits;
use super::view::{CampaignView, KindView, SendView};
use super::{Plan, Scan, SendState, Timing};
use crate::schedule::rfc3339;
use crate::style::{self, Paint};

/// Sends listed per campaign in the text plan; the rest are counted.
pub(crate) const TEXT_SENDS_SHOWN: usize = 20;

/// The text plan of a live plan. `scan` comes from `plan.scan(TEXT_SENDS_SHOWN)`.
pub(crate) fn write_plan(
    out: &mut impl Write,
    plan: &Plan,
    scan: &Scan,
    paint: Paint,
) -> io::Result<()> {
    let campaigns: Vec<(CampaignView, Vec<SendView>)> = plan
        .campaigns
        .iter()
        .zip(&scan.campaigns)
        .map(|(p, counts)| {
            (
                CampaignView::of(p, counts),
                counts.first.iter().map(SendView::of).collect(),
            )
        })
        .collect();
    write_text(out, plan.now, &campaigns, plan.budget().daily(), paint)
}

/// The text plan of `campaigns`, each with the first of its sends. Painted in colour, `+` is
/// green, `=` dim, `~` yellow, `!` red and the headers bold; with [`Paint::PLAIN`] it is the
/// same text without a single escape code.
pub(crate) fn write_text(
    out: &mut impl Write,
    now: DateTime<Utc>,
    campaigns: &[(CampaignView, Vec<SendView>)],
    daily: Option<DailyBudget>,
    paint: Paint,
) -> io::Result<()> {
    let bold = paint.get(style::HEADER);
    writeln!(
        out,
        "{bold}Plan at {} for {} campaign(s){bold:#}",
        rfc3339(now),
        campaigns.len()
    )?;
    for (campaign, sends) in campaigns {
        writeln!(out)?;
        write_campaign(out, campaign, sends, paint)?;
    }
    writeln!(out)?;
    if let Some(daily) = daily {
        writeln!(out, "{}", daily_line(&daily))?;
    }
    writeln!(
        out,
        "{bold}{}{bold:#}",
        summary_line(campaigns.iter().map(|(c, _)| c))
    )
}

/// The daily limit's budget, for people.
pub(crate) fn daily_line(daily: &DailyBudget) -> String {
    let mut line = format!(
        "Daily limit: {} unique recipient(s) in any 24 hours; {} messaged in the last 24 hours, {} more in this plan",
        daily.limit, daily.used, daily.needed
    );
    if daily.waiting > 0 {
        line.push_str(&format!(
            ", {} wait for the 24 hours to free up",
            daily.waiting
        ));
    }
    if daily.uncounted_blasts > 0 {
        line.push_str(&format!(
            "; {} blast(s) not counted (their size is unknown: set limits.blast_estimate)",
            daily.uncounted_blasts
        ));
    }
    line.push('.');
    line
}

/// `30 wait (from 2026-12-07T03:30:00Z to 2026-12-08T03:30:00Z)`.
pub(crate) fn waits_text(waits: &Waits) -> String {
    let span = match (waits.first, waits.last) {
        (Some(first), Some(last)) if first == last => format!(" (until {})", rfc3339(first)),
        (Some(first), Some(last)) => {
            format!(" (from {} to {})", rfc3339(first), rfc3339(last))
        }
        _ => String::new(),
    };
    let open_ended = if waits.open_ended > 0 {
        format!(", {} with no room within 24 hours", waits.open_ended)
    } else {
        String::new()
    };
    format!("{} wait{span}{open_ended}", waits.count)
}

fn write_campaign(
    out: &mut impl Write,
    c: &CampaignView,
    sends: &[SendView],
    paint: Paint,
) -> io::Result<()> {
    let bold = paint.get(style::HEADER);
    writeln!(out, "{bold}campaign {}{bold:#} ({})", c.name, c.file)?;
    if let Some(description) = &c.description {
        writeln!(out, "  description  {description}")?;
    }
    writeln!(out, "  template     {} ({})", c.template, c.language)?;
    if let Some(media) = &c.media {
        writeln!(out, "  media        {} {}", media.kind.as_str(), media.link)?;
    }
    if let Some(tag) = &c.tag {
        writeln!(out, "  tag          {tag}")?;
    }
    match &c.search {
        None => writeln!(out, "  audience     recipients (one `single` request each)")?,
        Some(spec) => writeln!(
            out,
            "  audience     search {} (one `blast` request)",
            serde_json::Value::Object(spec.clone())
        )?,
    }
    match &c.schedule {
        None => writeln!(out, "  schedule     none: sent once, by apply")?,
        Some(schedule) => {
            writeln!(out, "  schedule     {}", schedule.describe)?;
            if !schedule.next_runs_local.is_empty() {
                writeln!(
                    out,
                    "  next runs    {}",
                    schedule.next_runs_local.join(", ")
                )?;
            }
        }
    }
    let occurrence = match &c.occurrence_local {
        Some(local) => format!("{} ({local})", c.occurrence),
        None => c.occurrence.clone(),
    };
    writeln!(
        out,
        "  occurrence   {occurrence}, {}",
        timing_text(c.timing)
    )?;
    let counts = &c.counts;
    let states: Vec<String> = counts
        .by_state
        .iter()
        .filter(|(state, _)| **state != SendState::New)
        .map(|(state, n)| format!("{n} {}", state.label()))
        .collect();
    let kind = c.kind.as_str();
    write!(
        out,
        "  sends        {} {kind}, {} due",
        counts.total, counts.due
    )?;
    if !states.is_empty() {
        write!(out, ", {}", states.join(", "))?;
    }
    writeln!(out)?;
    if let Some(window) = &c.window {
        write!(out, "  window       {}", window.describe)?;
        let waits = &c.waits;
        if waits.inside_window > 0 || waits.window.count > 0 {
            write!(
                out,
                ": {} inside now, {}",
                waits.inside_window,
                waits_text(&waits.window)
            )?;
        }
        writeln!(out)?;
    }
    if c.waits.daily_limit.count > 0 {
        writeln!(out, "  daily limit  {}", waits_text(&c.waits.daily_limit))?;
    }
    let name_width = sends
        .iter()
        .map(|s| s.name.as_deref().map_or(0, |n| n.chars().count()))
        .max()
        .unwrap_or(0);
    for send in sends {
        let who = if c.kind == KindView::Blast {
            "blast".to_owned()
        } else {
            format!(
                "{:<15} {:<name_width$}",
                send.recipient,
                send.name.as_deref().unwrap_or("")
            )
        };
        let params = serde_json::to_string(&send.params).unwrap_or_default();
        let state = match send.state_text() {
            text if text.is_empty() => text,
            text => format!("  ({text})"),
        };
        let line_style = paint.get(match send.marker() {
            '+' => style::ADDED,
            '=' => style::UNCHANGED,
            '~' => style::CHANGED,
            '!' => style::FAILED,
            _ => anstyle::Style::new(),
        });
        writeln!(
            out,
            "    {line_style}{} {who}  {params}{state}{line_style:#}",
            send.marker()
        )?;
    }
    if counts.total > sends.len() {
        writeln!(out, "    … and {} more", counts.total - sends.len())?;
    }
    Ok(())
}

/// Whether an occurrence is sent now, in words.
pub(crate) fn timing_text(timing: Timing) -> &'static str {
    match timing {
        Timing::Once => "due now",
        Timing::Due => "due now (within catch-up)",
        Timing::Upcoming => "not due yet",
        Timing::Expired => "missed: passed more than catch_up ago, will not be sent",
        Timing::Disabled => "disabled (`enabled: false`), will not be sent",
    }
}

fn summary_line<'a>(campaigns: impl Iterator<Item = &'a CampaignView>) -> String {
    let (mut due, mut total, mut due_campaigns, mut sent, mut count) = (0, 0, 0, 0, 0);
    let mut suppressed = 0;
    for c in campaigns {
        count += 1;
        due += c.counts.due;
        total += c.counts.total;
        due_campaigns += usize::from(c.counts.due > 0);
        sent += c.counts.of(SendState::AlreadySent);
        suppressed += c.counts.of(SendState::Suppressed);
    }
    format!(
        "Plan: {due} send(s) due now in {due_campaigns} of {count} campaign(s); {} not due; {sent} already sent{}.",
        total - due,
        if suppressed > 0 {
            format!("; {suppressed} suppressed (opted out, never sent)")
        } else {
            String::new()
        }
    )
}
