//! What `apply` prints: the plan's summary, what it holds back, and the report of a run.

use std::io::{self, Write};

use anstyle::Style;

use super::Out;
use crate::plan::limits::DailyBudget;
use crate::plan::saved::SavedPlan;
use crate::plan::text::{daily_line, waits_text};
use crate::plan::view::CampaignView;
use crate::plan::{Plan, SUPPRESSED_LISTED, Scan, SendState, Timing};
use crate::send::Report;
use crate::style::{self, Paint};

/// Failures listed in the summary; the ledger (`campaignctl status`) has them all.
const LISTED_FAILURES: usize = 20;

/// Says what waits (for a send window or the daily limit) and what a cap held back.
pub(super) fn print_held_back(
    out: &mut Out,
    campaigns: &[CampaignView],
    scan: &Scan,
    daily: Option<DailyBudget>,
) -> io::Result<()> {
    if let Some(daily) = daily {
        writeln!(out, "{}", daily_line(&daily))?;
    }
    for (c, counts) in campaigns.iter().zip(&scan.campaigns) {
        let waits = [
            ("outside their send window", &c.waits.window),
            ("over the daily limit", &c.waits.daily_limit),
        ];
        for (why, wait) in waits.into_iter().filter(|(_, w)| w.count > 0) {
            writeln!(
                out,
                "{}: {} {why} (`apply` again then sends them): {}",
                c.name,
                wait.count,
                waits_text(wait)
            )?;
        }
        let capped = c.counts.of(SendState::Capped);
        if capped > 0 {
            writeln!(
                out,
                "{}: {capped} capped, not sent (resend with --retry-capped once the cap allows):",
                c.name
            )?;
            for (recipient, why) in &counts.capped {
                writeln!(out, "  {recipient}: {why}")?;
            }
        }
    }
    Ok(())
}

/// Sends of the plan that are not sent: already sent, or to a number that opted out.
#[derive(Clone, Copy, Default)]
pub(crate) struct Skipped {
    already_sent: usize,
    suppressed: usize,
}

impl Skipped {
    pub(super) fn of(campaigns: &[CampaignView], suppressed: &Suppressed) -> Skipped {
        let already_sent = campaigns
            .iter()
            .map(|c| c.counts.of(SendState::AlreadySent) + c.counts.of(SendState::SentChangedSince))
            .sum();
        Skipped {
            already_sent,
            suppressed: suppressed.total,
        }
    }
}

/// The suppressed sends of a plan: how many, and the first of each campaign with where its
/// opt-out comes from.
pub(super) struct Suppressed {
    pub(super) total: usize,
    /// `(campaign, recipient, opt-out)`.
    listed: Vec<(String, String, String)>,
}

pub(super) fn suppressed(plan: &Plan, scan: &Scan) -> Suppressed {
    let mut out = Suppressed {
        total: 0,
        listed: Vec::new(),
    };
    for (p, counts) in plan.campaigns.iter().zip(&scan.campaigns) {
        out.total += counts.of(SendState::Suppressed);
        for (recipient, by) in &counts.suppressed {
            out.listed
                .push((p.campaign.name.clone(), recipient.clone(), by.clone()));
        }
    }
    out
}

impl Suppressed {
    pub(super) fn of_saved(saved: &SavedPlan) -> Suppressed {
        let mut out = Suppressed {
            total: 0,
            listed: Vec::new(),
        };
        for c in &saved.campaigns {
            out.total += c.view.counts.of(SendState::Suppressed);
            let sends = c
                .sends
                .iter()
                .filter(|s| s.view.state == SendState::Suppressed);
            for s in sends.take(SUPPRESSED_LISTED) {
                out.listed.push((
                    c.view.name.clone(),
                    s.view.recipient.clone(),
                    s.view.suppressed_by.clone().unwrap_or_default(),
                ));
            }
        }
        out
    }
}

/// Lists the suppressed sends: the numbers skipped because they opted out, and why.
pub(super) fn print_suppressed(out: &mut Out, suppressed: &Suppressed) -> io::Result<()> {
    if suppressed.total == 0 {
        return Ok(());
    }
    writeln!(
        out,
        "Not sent, opted out ({} suppressed; `campaignctl plan` lists them all):",
        suppressed.total
    )?;
    for (campaign, recipient, by) in &suppressed.listed {
        writeln!(out, "  {campaign}: {recipient} ({by})")?;
    }
    if suppressed.total > suppressed.listed.len() {
        writeln!(
            out,
            "  … and {} more",
            suppressed.total - suppressed.listed.len()
        )?;
    }
    Ok(())
}

/// Says that nothing is left to send, and what was skipped.
pub(super) fn print_nothing_to_send(out: &mut Out, skipped: Skipped) -> io::Result<()> {
    let suppressed = match skipped.suppressed {
        0 => String::new(),
        n => format!(", {n} suppressed as opted out"),
    };
    writeln!(
        out,
        "Nothing to send ({} already sent{suppressed}).",
        skipped.already_sent
    )
}

pub(super) fn print_plan_summary(out: &mut Out, campaigns: &[CampaignView]) -> io::Result<()> {
    for campaign in campaigns {
        let counts = &campaign.counts;
        let mut parts = vec![format!("{} due", counts.due)];
        for (state, n) in &counts.by_state {
            if *state != SendState::New {
                parts.push(format!("{n} {}", state.label()));
            }
        }
        writeln!(
            out,
            "{}: {} ({} {})",
            campaign.name,
            parts.join(", "),
            campaign.occurrence,
            match campaign.timing {
                Timing::Once | Timing::Due => "due",
                Timing::Upcoming => "not due yet",
                Timing::Expired => "missed",
                Timing::Disabled => "disabled",
            }
        )?;
    }
    Ok(())
}

/// The summary, in colour where stdout takes it: `Applied:` green when nothing failed (else
/// yellow), `Failed` red, `Unknown` and `Stopped:` yellow.
pub(super) fn print_report(out: &mut Out, report: &Report, skipped: Skipped) -> io::Result<()> {
    let paint = Paint::stdout();
    let applied = paint.get(if report.failed.is_empty() && report.unknown.is_empty() {
        style::ADDED.bold()
    } else {
        style::WARNING
    });
    writeln!(
        out,
        "{applied}Applied:{applied:#} {} sent, {} failed, {} unknown, {} skipped as already sent{}{}{}.",
        report.sent,
        report.failed.len(),
        report.unknown.len(),
        skipped.already_sent,
        if skipped.suppressed > 0 {
            format!(", {} skipped as opted out", skipped.suppressed)
        } else {
            String::new()
        },
        if report.taken > 0 {
            format!(", {} already recorded by another run", report.taken)
        } else {
            String::new()
        },
        if report.retries > 0 {
            format!(" ({} retries)", report.retries)
        } else {
            String::new()
        }
    )?;
    if report.ambiguous_retries > 0 {
        writeln!(
            out,
            "{} of the retries followed an ambiguous outcome (--retry-ambiguous): each may have delivered its message once more.",
            report.ambiguous_retries
        )?;
    }
    if let Some(pace) = &report.pace {
        writeln!(out, "Slower than asked: {pace}.")?;
    }
    list(
        out,
        paint.get(style::ERROR),
        "Failed",
        "resend with --retry-failed",
        &report.failed,
    )?;
    list(
        out,
        paint.get(style::WARNING),
        "Unknown (may or may not have been delivered)",
        "check the Messages tab, then resend with --retry-unknown",
        &report.unknown,
    )?;
    if report.suppressed_at_claim > 0 {
        writeln!(
            out,
            "{} send(s) not sent: their number opted out after the plan was made (`campaignctl optout list`).",
            report.suppressed_at_claim
        )?;
    }
    if report.opted_out > 0 {
        writeln!(
            out,
            "{} number(s) stopped marketing messages (WhatsApp 131050): added to the ledger's opt-outs, so no campaign sends to them again (`campaignctl optout list`).",
            report.opted_out
        )?;
    }
    if !report.optouts_unrecorded.is_empty() {
        writeln!(
            out,
            "{} of those opt-out(s) could not be recorded (the ledger failed): add them with `campaignctl optout add {}`.",
            report.optouts_unrecorded.len(),
            report.optouts_unrecorded.join(" ")
        )?;
    }
    for stop in &report.campaigns_stopped {
        let stopped = paint.get(style::WARNING);
        writeln!(
            out,
            "{stopped}Stopped:{stopped:#} {stop}; every one would fail the same way. Fix the template or its params, then apply again (with --retry-failed for the sends that failed)."
        )?;
    }
    if report.unrecorded > 0 {
        writeln!(
            out,
            "{} outcome(s) could not be recorded: those sends are listed as in flight and become `unknown` when the ledger is next used.",
            report.unrecorded
        )?;
    }
    if let Some(reason) = &report.stopped {
        let stopped = paint.get(style::WARNING);
        writeln!(out, "{stopped}Stopped:{stopped:#} {reason}.")?;
    }
    if report.released > 0 {
        writeln!(
            out,
            "{} send(s) waiting to be retried were put back: they were not delivered; apply again (later, if the API asked to wait) to send them.",
            report.released
        )?;
    }
    Ok(())
}

fn list(
    out: &mut Out,
    title_style: Style,
    title: &str,
    hint: &str,
    items: &[(String, String)],
) -> io::Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    writeln!(out, "{title_style}{title}{title_style:#} ({hint}):")?;
    for (key, reason) in items.iter().take(LISTED_FAILURES) {
        writeln!(out, "  {key}: {reason}")?;
    }
    if items.len() > LISTED_FAILURES {
        writeln!(
            out,
            "  … and {} more (campaignctl status)",
            items.len() - LISTED_FAILURES
        )?;
    }
    Ok(())
}
