//! The JSON plan, for machines: `format_version` 1, deterministic for a given `--now`.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::json;

use super::{CampaignPlan, Held, Plan, PlannedSend, Scan, Timing};
use crate::schedule::{When, format_duration, rfc3339};

/// The JSON plan, written in the same pass that renders and checks the sends: feed every
/// send to [`JsonPlan::send`] as the scan renders it, then [`JsonPlan::finish`] with the
/// scan. Sends are written as they come, never all held in memory.
pub(crate) struct JsonPlan<W: Write> {
    out: W,
    /// Campaigns whose header has been written.
    opened: usize,
    first_send: bool,
    error: Option<io::Error>,
}

impl<W: Write> JsonPlan<W> {
    pub(crate) fn new(out: W) -> JsonPlan<W> {
        JsonPlan {
            out,
            opened: 0,
            first_send: true,
            error: None,
        }
    }

    /// Writes one send (and the headers of any campaigns before it).
    pub(crate) fn send(&mut self, plan: &Plan, index: usize, send: &PlannedSend) {
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
        if let Some(by) = &send.suppressed_by {
            write!(
                self.out,
                ",\"suppressed_by\":{}",
                serde_json::Value::from(by.as_str())
            )?;
        }
        if let Some(held) = send.held {
            write!(
                self.out,
                ",\"held\":{}",
                serde_json::Value::from(held.text())
            )?;
            if let Held::Until(at) = held {
                write!(self.out, ",\"retry_not_before\":\"{}\"", rfc3339(at))?;
            }
        }
        if let Some((zone, from)) = send.zone {
            write!(
                self.out,
                ",\"window\":{{\"zone\":\"{}\",\"zone_from\":\"{}\"}}",
                zone.name(),
                from.as_str()
            )?;
        }
        if let Some(wait) = send.wait {
            let until = wait.until.map(rfc3339);
            write!(
                self.out,
                ",\"waiting\":{}",
                json!({"reason": wait.reason.as_str(), "until": until})
            )?;
        }
        if let Some(hit) = &send.capped {
            write!(
                self.out,
                ",\"capped\":{}",
                json!({"cap": hit.cap, "count": hit.count, "against": hit.against})
            )?;
        }
        if let Some(missed) = &send.missed {
            write!(self.out, ",\"missed\":{}", json!(missed))?;
        }
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
    pub(crate) fn finish(mut self, plan: &Plan, scan: &Scan) -> io::Result<W> {
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
        let mut summary = json!({
            "campaigns": plan.campaigns.len(),
            "sends": total,
            "due": due,
            "by_state": by_state,
        });
        if let Some(daily) = plan.budget().daily() {
            summary["daily_limit"] = json!({
                "limit": daily.limit,
                "used": daily.used,
                "needed": daily.needed,
                "waiting": daily.waiting,
                "uncounted_blasts": daily.uncounted_blasts,
            });
        }
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
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'static str>,
    language: &'a str,
    schedule: Option<ScheduleHeader<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    window: Option<String>,
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
        category: c.category(),
        language: &c.language,
        window: c.window.as_ref().map(|w| w.describe()),
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
