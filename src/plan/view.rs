//! A plan as the reports show it: per campaign what a reviewer reads (its template,
//! audience, schedule, occurrence, counts), and per send its recipient, params, state and
//! source. A live plan and a saved one both become these, so `plan` and `show` print the
//! same text and markdown.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::scan::Waits;
use super::{CampaignPlan, CampaignScan, Held, PlannedSend, SendState, Timing};
use crate::campaign::file::Media;
use crate::campaign::{Audience, Kind};
use crate::schedule::window::{Days, Hours, SendWindow};
use crate::schedule::{Occurrence, When, format_duration, rfc3339};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CampaignView {
    pub name: String,
    pub file: String,
    pub kind: KindView,
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub template: String,
    pub language: String,
    /// The template's category, when a template catalogue names it: what the frequency caps
    /// count, so it is recorded with each send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<Media>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The contact search of a blast.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleView>,
    /// `once`, or the occurrence's RFC 3339 UTC time.
    pub occurrence: String,
    /// The occurrence in the schedule's time zone, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrence_local: Option<String>,
    pub timing: Timing,
    pub counts: Counts,
    /// Its send window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowView>,
    /// A scheduled occurrence's last instant for its sends: `catch_up` after it, plus what
    /// they may wait for a window or the daily limit (`max_delay`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// Its sends inside their window now, and those waiting for it or the daily limit.
    #[serde(default, skip_serializing_if = "WaitsView::is_empty")]
    pub waits: WaitsView,
}

/// A campaign's send window: for people, and as its hours and days (which read back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WindowView {
    /// `09:00-20:00 MON-SAT, each recipient's time zone, max_delay 24h`.
    pub describe: String,
    pub hours: String,
    pub days: String,
}

impl WindowView {
    /// The window's hours and days, read back.
    pub(crate) fn window(&self) -> Option<SendWindow> {
        Some(SendWindow {
            hours: Hours::parse(&self.hours).ok()?,
            days: Days::parse(&self.days).ok()?,
        })
    }
}

/// How many of a campaign's sends are inside their window now, and how many wait (with when
/// the first and the last may go), for each reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WaitsView {
    #[serde(default)]
    pub inside_window: usize,
    #[serde(default)]
    pub window: Waits,
    #[serde(default)]
    pub daily_limit: Waits,
}

impl WaitsView {
    fn is_empty(&self) -> bool {
        *self == WaitsView::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum KindView {
    Single,
    Blast,
}

impl From<Kind> for KindView {
    fn from(kind: Kind) -> KindView {
        match kind {
            Kind::Single => KindView::Single,
            Kind::Blast => KindView::Blast,
        }
    }
}

impl KindView {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            KindView::Single => "single",
            KindView::Blast => "blast",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ScheduleView {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    pub timezone: String,
    /// As written: `15m`, `1h30m`.
    pub catch_up: String,
    pub catch_up_seconds: i64,
    /// One line for people: ``cron `0 9 * * 1-5` in Asia/Kolkata, catch-up 30m``.
    pub describe: String,
    /// The next fire times, UTC, and in the schedule's zone.
    pub next_runs: Vec<String>,
    pub next_runs_local: Vec<String>,
}

/// The sends of one campaign by state, and how many are due.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Counts {
    pub total: usize,
    pub due: usize,
    pub by_state: BTreeMap<SendState, usize>,
}

impl Counts {
    pub(crate) fn of(&self, state: SendState) -> usize {
        self.by_state.get(&state).copied().unwrap_or(0)
    }
}

impl SendView {
    /// Its state as the text and markdown plans show it: the label, for a suppressed send
    /// where its opt-out comes from, and for a held one why. Empty for a new send.
    pub(crate) fn state_text(&self) -> String {
        match (self.state, &self.suppressed_by, &self.held) {
            (SendState::New, _, _) => String::new(),
            (SendState::Suppressed, Some(by), _) => format!("suppressed: {by}"),
            (SendState::Waiting, _, _) => match &self.waiting {
                Some(w) => format!("waiting: {}", w.text()),
                None => "waiting".to_owned(),
            },
            (SendState::Capped, _, _) if self.capped.is_some() => {
                format!("capped: {}", self.capped.as_deref().unwrap_or_default())
            }
            (SendState::Missed, _, _) if self.missed.is_some() => {
                format!("missed: {}", self.missed.as_deref().unwrap_or_default())
            }
            (other, _, Some(held)) => format!("{}: {held}", other.label()),
            (other, _, _) => other.label().to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SendView {
    pub key: String,
    /// The number, or `blast`.
    pub recipient: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub params: Vec<String>,
    pub state: SendState,
    pub due: bool,
    /// Where the recipient is listed: `FILE:LINE` or `FILE.csv:ROW`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Where the opt-out of a `suppressed` send comes from: `optouts.csv:12`, or
    /// `ledger, 2026-12-01, optout add, reason ...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed_by: Option<String>,
    /// Why a `failed` send is not resent even with `--retry-failed`: `retry not before
    /// 2026-12-02T10:00:00Z`, or undeliverable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
    /// The zone its send window is read in (`Asia/Kolkata`), and where that came from
    /// (`recipient`, `country`, `schedule`, `window`, `utc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_from: Option<String>,
    /// Why a `waiting` send waits, and until when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<WaitView>,
    /// The cap that holds a `capped` send back, and what counts against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capped: Option<String>,
    /// Why this plan found it `missed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed: Option<String>,
}

/// Why a send waits, and until when (RFC 3339; none when not known to be within 24 hours).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WaitView {
    /// `window` or `daily_limit`.
    pub reason: String,
    pub until: Option<String>,
}

impl WaitView {
    /// `window opens 2026-12-07T03:30:00Z`, `daily limit, until ...`, for people.
    pub(crate) fn text(&self) -> String {
        match (self.reason.as_str(), &self.until) {
            ("window", Some(at)) => format!("send window opens {at}"),
            (_, Some(at)) => format!("daily limit, room from {at}"),
            (_, None) => "daily limit, no room within 24 hours".to_owned(),
        }
    }
}

impl CampaignView {
    pub(crate) fn of(plan: &CampaignPlan, counts: &CampaignScan) -> CampaignView {
        let c = &plan.campaign;
        let schedule = c.schedule.as_ref().map(|s| ScheduleView {
            cron: match &s.when {
                When::Cron(cron) => Some(cron.expr().to_owned()),
                When::At(_) => None,
            },
            at: match &s.when {
                When::At(at) => Some(rfc3339(*at)),
                When::Cron(_) => None,
            },
            timezone: s.timezone.name().to_owned(),
            catch_up: format_duration(s.catch_up),
            catch_up_seconds: s.catch_up.num_seconds(),
            describe: s.describe(),
            next_runs: plan.next_runs.iter().map(|t| rfc3339(*t)).collect(),
            next_runs_local: plan.next_runs.iter().map(|t| s.local_text(*t)).collect(),
        });
        let occurrence_local = match (plan.occurrence, &c.schedule) {
            (Occurrence::At(at), Some(schedule)) => Some(schedule.local_text(at)),
            _ => None,
        };
        CampaignView {
            name: c.name.clone(),
            file: c.file.display().to_string(),
            kind: c.kind().into(),
            enabled: c.enabled,
            description: c.description.as_ref().map(|d| d.trim().to_owned()),
            template: c.template.clone(),
            language: c.language.clone(),
            category: c.category().map(str::to_owned),
            media: c.media.clone(),
            tag: c.tag.clone(),
            search: match &c.audience {
                Audience::Search(spec) => Some(spec.clone()),
                Audience::Recipients(_) => None,
            },
            schedule,
            occurrence: plan.occurrence.to_string(),
            occurrence_local,
            timing: plan.timing,
            counts: Counts {
                total: counts.total,
                due: counts.due,
                by_state: counts.by_state.clone(),
            },
            window: c.window.as_ref().map(|w| WindowView {
                describe: w.describe(),
                hours: w.window.hours.to_string(),
                days: w.window.days.to_string(),
            }),
            deadline: plan.deadline().map(rfc3339),
            waits: WaitsView {
                inside_window: counts.inside_window,
                window: counts.window_waits,
                daily_limit: counts.limit_waits,
            },
        }
    }
}

impl SendView {
    pub(crate) fn of(send: &PlannedSend) -> SendView {
        SendView {
            key: send.key.clone(),
            recipient: send.recipient.clone(),
            name: send.name.clone(),
            params: send.params.clone(),
            state: send.state,
            due: send.due,
            source: send.origin.as_ref().map(ToString::to_string),
            suppressed_by: send.suppressed_by.clone(),
            held: send.held.map(Held::text),
            zone: send.zone.map(|(tz, _)| tz.name().to_owned()),
            zone_from: send.zone.map(|(_, from)| from.as_str().to_owned()),
            waiting: send.wait.map(|w| WaitView {
                reason: w.reason.as_str().to_owned(),
                until: w.until.map(rfc3339),
            }),
            capped: send.capped.as_ref().map(|hit| hit.text()),
            missed: send.missed.clone(),
        }
    }

    /// The marker of the text plan: `+` due, `=` already sent, `~` sent but changed since,
    /// `!` failed, unknown or in flight, `-` suppressed (opted out).
    pub(crate) fn marker(&self) -> char {
        match (self.due, self.state) {
            (true, _) => '+',
            (false, SendState::Suppressed) => '-',
            (false, SendState::AlreadySent) => '=',
            (false, SendState::SentChangedSince) => '~',
            (false, SendState::Failed | SendState::Unknown | SendState::InFlight) => '!',
            (false, _) => ' ',
        }
    }
}
