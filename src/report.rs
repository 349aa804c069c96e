//! Prints a plan: text for a pull-request review, JSON for machines. Both are deterministic
//! for a given `--now` (campaigns in file order, sends in recipient order).

use std::io::{self, Write};

use serde::Serialize;
use serde_json::json;

use crate::campaign::{Audience, Kind};
use crate::planner::{CampaignPlan, CampaignScan, Plan, PlannedSend, Scan, SendState, Timing};
use crate::schedule::{Occurrence, When, format_duration, rfc3339};

/// Sends listed per campaign in the text plan; the rest are counted.
pub const TEXT_SENDS_SHOWN: usize = 20;

/// The text plan. `scan` comes from `plan.scan(TEXT_SENDS_SHOWN)`.
pub fn write_text(out: &mut impl Write, plan: &Plan, scan: &Scan) -> io::Result<()> {
    writeln!(
        out,
        "Plan at {} for {} campaign(s)",
        rfc3339(plan.now),
        plan.campaigns.len()
    )?;
    for (campaign_plan, counts) in plan.campaigns.iter().zip(&scan.campaigns) {
        writeln!(out)?;
        write_campaign(out, campaign_plan, counts)?;
    }
    writeln!(out)?;
    writeln!(out, "{}", summary_line(plan, scan))
}

fn write_campaign(
    out: &mut impl Write,
    plan: &CampaignPlan,
    counts: &CampaignScan,
) -> io::Result<()> {
    let c = &plan.campaign;
    writeln!(out, "campaign {} ({})", c.name, c.file.display())?;
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
            writeln!(out, "  audience     recipients (one `single` request each)")?
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
        let marker = match (send.due, send.state) {
            (true, _) => '+',
            (false, SendState::AlreadySent) => '=',
            (false, SendState::SentChangedSince) => '~',
            (false, SendState::Failed | SendState::Unknown | SendState::InFlight) => '!',
            (false, _) => ' ',
        };
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
        writeln!(out, "    {marker} {who}  {params}{state}")?;
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

/// The JSON plan, written in the same pass that renders and checks the sends: feed every
/// send to [`JsonPlan::send`] as the scan renders it, then [`JsonPlan::finish`] with the
/// scan. Sends are written as they come, never all held in memory.
pub struct JsonPlan<W: Write> {
    out: W,
    /// Campaigns whose header has been written.
    opened: usize,
    first_send: bool,
    error: Option<io::Error>,
}

impl<W: Write> JsonPlan<W> {
    pub fn new(out: W) -> JsonPlan<W> {
        JsonPlan {
            out,
            opened: 0,
            first_send: true,
            error: None,
        }
    }

    /// Writes one send (and the headers of any campaigns before it).
    pub fn send(&mut self, plan: &Plan, index: usize, send: &PlannedSend) {
        if self.error.is_none()
            && let Err(e) = self.write_send(plan, index, send)
        {
            self.error = Some(e);
        }
    }

    fn write_send(&mut self, plan: &Plan, index: usize, send: &PlannedSend) -> io::Result<()> {
        self.open_through(plan, index)?;
        // Written field by field: this runs once per send, a million times for a big CSV.
        let state = serde_json::to_string(&send.state).map_err(io::Error::other)?;
        write!(
            self.out,
            "{}\n      {{\"key\":{},\"occurrence\":\"{}\",\"due\":{},\"state\":{state},\"endpoint\":\"{}\",\"request\":",
            if self.first_send { "" } else { "," },
            serde_json::Value::from(send.key.as_str()),
            send.occurrence,
            send.due,
            send.kind.as_str(),
        )?;
        send.write_body(&mut self.out)?;
        write!(self.out, "}}")?;
        self.first_send = false;
        Ok(())
    }

    /// Opens campaigns up to and including `index`, closing the previous ones.
    fn open_through(&mut self, plan: &Plan, index: usize) -> io::Result<()> {
        while self.opened <= index {
            if self.opened == 0 {
                writeln!(self.out, "{{")?;
                writeln!(self.out, "  \"format_version\": 1,")?;
                writeln!(self.out, "  \"now\": {},", json!(rfc3339(plan.now)))?;
                write!(self.out, "  \"campaigns\": [")?;
            } else {
                self.close_campaign()?;
                write!(self.out, ",")?;
            }
            let header = serde_json::to_string(&campaign_header(&plan.campaigns[self.opened]))
                .map_err(io::Error::other)?;
            // The header without its closing brace, then the sends array.
            write!(
                self.out,
                "\n    {},\"sends\":[",
                &header[..header.len() - 1]
            )?;
            self.first_send = true;
            self.opened += 1;
        }
        Ok(())
    }

    fn close_campaign(&mut self) -> io::Result<()> {
        write!(
            self.out,
            "{}]}}",
            if self.first_send { "" } else { "\n    " }
        )
    }

    /// Writes the campaigns without sends and the summary; returns the writer.
    pub fn finish(mut self, plan: &Plan, scan: &Scan) -> io::Result<W> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if plan.campaigns.is_empty() {
            writeln!(self.out, "{{")?;
            writeln!(self.out, "  \"format_version\": 1,")?;
            writeln!(self.out, "  \"now\": {},", json!(rfc3339(plan.now)))?;
            write!(self.out, "  \"campaigns\": [")?;
        } else {
            self.open_through(plan, plan.campaigns.len() - 1)?;
            self.close_campaign()?;
        }
        writeln!(self.out, "\n  ],")?;
        let due: usize = scan.campaigns.iter().map(|c| c.due).sum();
        let total: usize = scan.campaigns.iter().map(|c| c.total).sum();
        let mut by_state = std::collections::BTreeMap::new();
        for c in &scan.campaigns {
            for (state, n) in &c.by_state {
                *by_state.entry(*state).or_insert(0) += n;
            }
        }
        let summary = json!({
            "campaigns": plan.campaigns.len(),
            "sends": total,
            "due": due,
            "by_state": by_state,
        });
        writeln!(self.out, "  \"summary\": {summary}")?;
        writeln!(self.out, "}}")?;
        Ok(self.out)
    }
}

/// A campaign in the JSON plan, in the documented key order (`sends` follows).
#[derive(Serialize)]
struct CampaignHeader<'a> {
    name: &'a str,
    file: String,
    kind: &'static str,
    enabled: bool,
    template: &'a str,
    language: &'a str,
    schedule: Option<ScheduleHeader<'a>>,
    occurrence: String,
    timing: Timing,
}

#[derive(Serialize)]
struct ScheduleHeader<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    cron: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<String>,
    timezone: &'static str,
    catch_up: String,
    next_runs: Vec<String>,
}

fn campaign_header(campaign_plan: &CampaignPlan) -> CampaignHeader<'_> {
    let c = &campaign_plan.campaign;
    CampaignHeader {
        name: &c.name,
        file: c.file.display().to_string(),
        kind: c.kind().as_str(),
        enabled: c.enabled,
        template: &c.template,
        language: &c.language,
        schedule: c.schedule.as_ref().map(|s| ScheduleHeader {
            cron: match &s.when {
                When::Cron(cron) => Some(cron.expr()),
                When::At(_) => None,
            },
            at: match &s.when {
                When::At(at) => Some(rfc3339(*at)),
                When::Cron(_) => None,
            },
            timezone: s.timezone.name(),
            catch_up: format_duration(s.catch_up),
            next_runs: campaign_plan
                .next_runs
                .iter()
                .map(|t| rfc3339(*t))
                .collect(),
        }),
        occurrence: campaign_plan.occurrence.to_string(),
        timing: campaign_plan.timing,
    }
}
