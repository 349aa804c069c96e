//! Computes what would be sent at a given instant: per campaign the occurrence that is due
//! (or the next one), and a stream of its sends, each rendered to its exact API request and
//! matched against what the ledger already recorded. Pure: no I/O but reading CSV files.

mod catalogue;
mod gate;
mod held;
pub(crate) mod inputs;
pub(crate) mod json;
pub(crate) mod limits;
pub(crate) mod markdown;
pub(crate) mod optouts;
pub(crate) mod pipeline;
pub(crate) mod saved;
mod scan;
mod send;
mod state;
pub(crate) mod text;
pub(crate) mod view;

pub(crate) use gate::deadline;

use std::collections::hash_map::Entry;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use crate::api::{body_hash, send_key};
use crate::campaign::limits::Limits;
use crate::campaign::mobile::{Mobile, MobileMap};
use crate::campaign::optouts::OptOuts;
use crate::campaign::recipients::{self, Origin, Recipient};
use crate::campaign::renderer::{RenderError, Renderer, RunContext, Templates};
use crate::campaign::window::{DEFAULT_MAX_DELAY, ZoneFrom};
use crate::campaign::{Audience, Campaign};
use crate::diagnostic::{Diagnostic, MAX_PROBLEMS_PER_CAMPAIGN, Pos};
use crate::ledger::{RecordedSends, Status};
use crate::schedule::Occurrence;
use chrono_tz::Tz;
pub(crate) use held::Held;
use limits::{Budget, History};
use optouts::PlanOptOuts;
pub(crate) use scan::{CampaignScan, SUPPRESSED_LISTED, Scan};
pub(crate) use send::{PlannedSend, SendItem};
pub(crate) use state::{PlanOptions, SendState, Timing};

/// Number of upcoming fire times listed per scheduled campaign.
pub(crate) const NEXT_RUNS: usize = 5;

/// The plan for one campaign.
pub(crate) struct CampaignPlan {
    pub campaign: Arc<Campaign>,
    pub timing: Timing,
    /// The occurrence whose sends are listed: the due one, else the next one.
    pub occurrence: Occurrence,
    pub next_runs: Vec<DateTime<Utc>>,
    renderer: Renderer,
    run: RunContext,
    /// `CAMPAIGN/OCCURRENCE/`, the start of every key of this occurrence: built once, not per
    /// send (formatting a scheduled occurrence is a date formatting).
    key_prefix: String,
    /// What a send held until a time is compared with: the instant planned at, or the
    /// current time when later (WhatsApp's holds are in real time: a plan of the past never
    /// resends what is held back now, as the ledger's claim would not).
    holds_at: DateTime<Utc>,
    /// Its send window and the occurrence's deadline, for sends that would go now.
    gate: gate::Gate,
}

/// How long a scheduled send may wait for its window or the daily limit: the window's
/// `max_delay`, or its default when only the daily limit makes sends wait; `None` when
/// nothing makes them wait.
pub(crate) fn wait_allowed(campaign: &Campaign, daily_limit: bool) -> Option<TimeDelta> {
    match &campaign.window {
        Some(window) => Some(window.max_delay),
        None => daily_limit.then_some(DEFAULT_MAX_DELAY),
    }
}

impl CampaignPlan {
    /// Plans one campaign at `now`. `None` when its templates do not compile (the validator
    /// reported that already). A scheduled occurrence is due within its `catch_up`, and as
    /// long again as its sends may `wait` for a window or the daily limit.
    pub(crate) fn new(
        campaign: Arc<Campaign>,
        now: DateTime<Utc>,
        wait: Option<TimeDelta>,
    ) -> Option<CampaignPlan> {
        let renderer = Renderer::new(Templates::from(&*campaign)).ok()?;
        let (timing, occurrence, next_runs) = match &campaign.schedule {
            None => (Timing::Once, Occurrence::Once, Vec::new()),
            Some(schedule) => {
                let next_runs = schedule.next_runs(now, NEXT_RUNS);
                let latest = schedule.latest_at_or_before(now);
                match (latest, next_runs.first()) {
                    (Some(at), _) if now <= gate::deadline(at, schedule.catch_up, wait) => {
                        (Timing::Due, Occurrence::At(at), next_runs)
                    }
                    (_, Some(next)) => (Timing::Upcoming, Occurrence::At(*next), next_runs),
                    (Some(at), None) => (Timing::Expired, Occurrence::At(at), next_runs),
                    // A cron that never fires again was rejected by the validator; an `at`
                    // has either a latest or a next occurrence.
                    (None, None) => (Timing::Expired, Occurrence::Once, next_runs),
                }
            }
        };
        let timing = if campaign.enabled {
            timing
        } else {
            Timing::Disabled
        };
        Some(CampaignPlan::with(
            campaign, renderer, timing, occurrence, next_runs, now, wait,
        ))
    }

    /// Plans one given occurrence as due (the daemon, at its fire time, and again when its
    /// waiting sends may go).
    pub(crate) fn at(
        campaign: Arc<Campaign>,
        occurrence: DateTime<Utc>,
        now: DateTime<Utc>,
        wait: Option<TimeDelta>,
    ) -> Option<CampaignPlan> {
        let renderer = Renderer::new(Templates::from(&*campaign)).ok()?;
        let next_runs = campaign
            .schedule
            .as_ref()
            .map_or_else(Vec::new, |s| s.next_runs(now, NEXT_RUNS));
        let timing = if campaign.enabled {
            Timing::Due
        } else {
            Timing::Disabled
        };
        Some(CampaignPlan::with(
            campaign,
            renderer,
            timing,
            Occurrence::At(occurrence),
            next_runs,
            now,
            wait,
        ))
    }

    fn with(
        campaign: Arc<Campaign>,
        renderer: Renderer,
        timing: Timing,
        occurrence: Occurrence,
        next_runs: Vec<DateTime<Utc>>,
        now: DateTime<Utc>,
        wait: Option<TimeDelta>,
    ) -> CampaignPlan {
        let deadline = match (&campaign.schedule, occurrence) {
            (Some(schedule), Occurrence::At(at)) => {
                Some(gate::deadline(at, schedule.catch_up, wait))
            }
            _ => None,
        };
        let run = match (&campaign.schedule, occurrence) {
            (Some(schedule), Occurrence::At(at)) => {
                renderer.run_context(occurrence, schedule.local(at))
            }
            _ => renderer.run_context_once(now),
        };
        CampaignPlan {
            key_prefix: send_key(&campaign.name, occurrence, ""),
            campaign,
            timing,
            occurrence,
            next_runs,
            renderer,
            run,
            holds_at: now.max(Utc::now()),
            gate: gate::Gate::new(now, deadline),
        }
    }

    /// A scheduled occurrence's last instant for its sends.
    pub(crate) fn deadline(&self) -> Option<DateTime<Utc>> {
        self.gate.deadline()
    }

    /// Whether sends of this occurrence would be sent now.
    pub(crate) fn is_due(&self) -> bool {
        matches!(self.timing, Timing::Once | Timing::Due)
    }

    /// Streams the sends of the planned occurrence: renders each recipient's params, drops
    /// repeated numbers (with a warning), and marks each send with its ledger state, or as
    /// suppressed when its number opted out.
    pub(crate) fn sends<'a>(
        &'a self,
        recorded: &'a RecordedSends,
        optouts: &'a PlanOptOuts,
        options: PlanOptions,
        budget: &'a Budget,
    ) -> Box<dyn Iterator<Item = SendItem> + 'a> {
        let campaign = &self.campaign;
        let against = Against {
            recorded,
            optouts,
            options,
            budget,
        };
        match &campaign.audience {
            Audience::Search(_) => {
                let rendered = self.renderer.render(&self.run, None);
                let item = match rendered.and_then(|(params, _)| catalogue::fit(campaign, params)) {
                    Ok(params) => {
                        let zone = campaign.window.as_ref().map(|w| {
                            w.zone_of(None, None, campaign.schedule.as_ref())
                                .expect("without a field, a zone is always found")
                        });
                        SendItem::Send(self.send(None, None, params, &against, None, zone))
                    }
                    Err(errors) => SendItem::Problems(
                        errors
                            .into_iter()
                            .map(|e| self.render_problem(e, None))
                            .collect(),
                    ),
                };
                Box::new(std::iter::once(item))
            }
            Audience::Recipients(sources) => {
                let mut seen = Dedup::default();
                Box::new(recipients::stream(sources).map(move |row| {
                    let (recipient, origin) = match row {
                        Ok(row) => row,
                        Err(d) => return SendItem::Problems(vec![d]),
                    };
                    if let Some(first) = seen.first_seen(&recipient, &origin) {
                        return SendItem::Duplicate(
                            Diagnostic::warning(
                                &*origin.file,
                                origin.pos,
                                format!(
                                    "{} is listed more than once in campaign `{}`; it is sent once",
                                    recipient.mobile, campaign.name
                                ),
                            )
                            .with_help(format!("first listed at {first}"))
                            .with_source_if(&origin, campaign),
                        );
                    }
                    let mobile = recipient.mobile;
                    let zone = match &campaign.window {
                        None => None,
                        Some(window) => match window.zone_of(
                            recipient.field("timezone").as_deref(),
                            Some(mobile),
                            campaign.schedule.as_ref(),
                        ) {
                            Ok(zone) => Some(zone),
                            Err(message) => {
                                return SendItem::Problems(vec![
                                    Diagnostic::error(
                                        &*origin.file,
                                        origin.pos,
                                        format!("recipient {mobile}: {message}"),
                                    )
                                    .with_source_if(&origin, campaign),
                                ]);
                            }
                        },
                    };
                    let rendered = self.renderer.render(&self.run, Some(recipient));
                    match rendered
                        .and_then(|(params, r)| Ok((catalogue::fit(campaign, params)?, r)))
                    {
                        Ok((params, recipient)) => SendItem::Send(self.send(
                            Some(mobile),
                            recipient.and_then(|r| r.name),
                            params,
                            &against,
                            Some(origin.clone()),
                            zone,
                        )),
                        Err(errors) => SendItem::Problems(
                            errors
                                .into_iter()
                                .map(|e| self.render_problem(e, Some((mobile, &origin))))
                                .collect(),
                        ),
                    }
                }))
            }
        }
    }

    fn send(
        &self,
        mobile: Option<Mobile>,
        name: Option<String>,
        params: Vec<String>,
        against: &Against<'_>,
        origin: Option<Origin>,
        zone: Option<(Tz, ZoneFrom)>,
    ) -> PlannedSend {
        let Against {
            recorded,
            optouts,
            options,
            budget,
        } = *against;
        let recipient = mobile.map_or_else(|| "blast".to_owned(), |m| m.to_string());
        let mut send = PlannedSend {
            key: [self.key_prefix.as_str(), &recipient].concat(),
            recipient,
            campaign: self.campaign.clone(),
            occurrence: self.occurrence,
            kind: self.campaign.kind(),
            mobile,
            name,
            params,
            state: SendState::New,
            due: false,
            origin,
            suppressed_by: None,
            held: None,
            zone,
            wait: None,
            capped: None,
            missed: None,
        };
        let record = recorded.get(&send.recipient);
        send.held = record.and_then(|r| Held::of(r, self.holds_at, options));
        // The body is only built (and hashed) when the ledger has something to compare.
        send.state = match record {
            None => SendState::New,
            Some(r) => match r.status {
                Status::Sent if r.body_hash == body_hash(&send.body()) => SendState::AlreadySent,
                Status::Sent => SendState::SentChangedSince,
                Status::Failed => SendState::Failed,
                Status::Unknown => SendState::Unknown,
                Status::Capped => SendState::Capped,
                Status::InFlight => SendState::InFlight,
                Status::Missed => SendState::Missed,
            },
        };
        let wanted = match send.state {
            SendState::New => true,
            SendState::Failed => options.retry_failed && send.held.is_none(),
            SendState::Unknown => options.retry_unknown,
            SendState::Capped => options.retry_capped,
            _ => false,
        };
        // A number that opted out is never sent: whatever would have sent it is suppressed.
        // What the ledger says was sent (or is being sent) stays as it is.
        if let Some(source) = mobile.and_then(|m| optouts.get(m))
            && matches!(
                send.state,
                SendState::New | SendState::Failed | SendState::Unknown | SendState::Capped
            )
        {
            send.state = SendState::Suppressed;
            send.suppressed_by = Some(source.to_string());
            send.held = None;
            return send;
        }
        if wanted && self.is_due() {
            // Due, unless its window is closed or a limit holds it back.
            self.gate
                .decide(&mut send, self.campaign.window.as_deref(), budget);
        }
        send
    }

    fn render_problem(&self, e: RenderError, recipient: Option<(Mobile, &Origin)>) -> Diagnostic {
        let campaign = &self.campaign;
        let pos = campaign
            .params
            .get(e.index)
            .map_or(Pos::default(), |p| p.pos);
        let message = match recipient {
            Some((mobile, origin)) => format!(
                "param {} for recipient {mobile} ({origin}): {}",
                e.index + 1,
                e.message
            ),
            None => format!("param {}: {}", e.index + 1, e.message),
        };
        Diagnostic::error(&*campaign.file, pos, message).with_source(&campaign.source)
    }
}

/// What a send is matched against: the ledger's records, the opt-outs, what to resend, and
/// the limits.
#[derive(Clone, Copy)]
struct Against<'a> {
    recorded: &'a RecordedSends,
    optouts: &'a PlanOptOuts,
    options: PlanOptions,
    budget: &'a Budget,
}

trait WithSourceIf {
    fn with_source_if(self, origin: &Origin, campaign: &Campaign) -> Self;
}

impl WithSourceIf for Diagnostic {
    /// Inline recipients get the campaign file's line under the message; CSV rows do not.
    fn with_source_if(self, origin: &Origin, campaign: &Campaign) -> Diagnostic {
        if *origin.file == *campaign.file {
            self.with_source(&campaign.source)
        } else {
            self
        }
    }
}

/// Numbers seen so far in one campaign, with where each was first listed. Eight bytes of
/// key per recipient: the one part of planning that grows with the recipient count.
#[derive(Default)]
struct Dedup {
    first: MobileMap<(u32, u32)>,
    files: Vec<Arc<Path>>,
}

impl Dedup {
    /// `Some(first location)` when `recipient` was seen before.
    fn first_seen(&mut self, recipient: &Recipient, origin: &Origin) -> Option<String> {
        let file_index = match self.files.iter().position(|f| Arc::ptr_eq(f, &origin.file)) {
            Some(i) => i,
            None => {
                self.files.push(origin.file.clone());
                self.files.len() - 1
            }
        };
        match self.first.entry(recipient.mobile) {
            Entry::Vacant(slot) => {
                slot.insert((file_index as u32, origin.pos.line as u32));
                None
            }
            Entry::Occupied(slot) => {
                let (file, line) = *slot.get();
                Some(crate::diagnostic::location(
                    &self.files[file as usize],
                    Pos::line(line as usize),
                ))
            }
        }
    }
}

/// The plan of a set of campaigns at one instant.
pub(crate) struct Plan {
    pub now: DateTime<Utc>,
    pub options: PlanOptions,
    pub campaigns: Vec<CampaignPlan>,
    /// Ledger records of each campaign's planned occurrence, by campaign index.
    recorded: Vec<RecordedSends>,
    /// The opt-outs every campaign honours.
    optouts: PlanOptOuts,
    /// The project's limits, and what the ledger counts against them.
    budget: Budget,
}

impl Plan {
    /// Plans `campaigns` at `now` within the project's `limits`; `recorded` gives the
    /// ledger's records of a campaign's occurrence (empty without a ledger). The ledger's
    /// past sends are counted against the limits once matched ([`Plan::match_limits`]).
    pub(crate) fn new<E>(
        campaigns: Vec<Campaign>,
        now: DateTime<Utc>,
        options: PlanOptions,
        optouts: PlanOptOuts,
        limits: Arc<Limits>,
        mut recorded: impl FnMut(&Campaign, Occurrence) -> Result<RecordedSends, E>,
    ) -> Result<Plan, E> {
        let mut plans = Vec::new();
        let mut records = Vec::new();
        let daily = limits.daily_recipients.is_some();
        for campaign in campaigns {
            let wait = wait_allowed(&campaign, daily);
            if let Some(plan) = CampaignPlan::new(Arc::new(campaign), now, wait) {
                records.push(recorded(&plan.campaign, plan.occurrence)?);
                plans.push(plan);
            }
        }
        Ok(Plan {
            now,
            options,
            campaigns: plans,
            recorded: records,
            optouts,
            budget: Budget::new(limits, Arc::default(), now),
        })
    }

    /// Counts the ledger's recent sends (`history`) against the project's limits; true when
    /// there are limits (the sends' states may then differ).
    pub(crate) fn match_limits(&mut self, history: History) -> bool {
        let limits = self.budget.shared_limits();
        let any = limits.any();
        self.budget = Budget::new(limits, Arc::new(history), self.now);
        any
    }

    /// The project's limits and what the plan counts against them.
    pub(crate) fn budget(&self) -> &Budget {
        &self.budget
    }

    /// The opt-outs the plan honours.
    pub(crate) fn optouts(&self) -> &PlanOptOuts {
        &self.optouts
    }

    /// Replaces the ledger's opt-outs the plan honours; true when there are any (the sends'
    /// states may then differ).
    pub(crate) fn match_optouts(&mut self, ledger: OptOuts) -> bool {
        let any = !ledger.is_empty();
        self.optouts.ledger = Arc::new(ledger);
        any
    }

    /// Replaces what the plan knows of the ledger with `recorded`'s records of each
    /// campaign's occurrence; true when any is recorded (the sends' states may then differ).
    pub(crate) fn match_ledger<E>(
        &mut self,
        mut recorded: impl FnMut(&Campaign, Occurrence) -> Result<RecordedSends, E>,
    ) -> Result<bool, E> {
        let mut any = false;
        for (plan, records) in self.campaigns.iter().zip(&mut self.recorded) {
            *records = recorded(&plan.campaign, plan.occurrence)?;
            any |= !records.is_empty();
        }
        Ok(any)
    }

    /// A plan of already planned campaigns (the daemon plans one occurrence at a time).
    pub(crate) fn of(
        now: DateTime<Utc>,
        options: PlanOptions,
        optouts: PlanOptOuts,
        budget: Budget,
        campaigns: Vec<(CampaignPlan, RecordedSends)>,
    ) -> Plan {
        let (campaigns, recorded) = campaigns.into_iter().unzip();
        Plan {
            now,
            options,
            campaigns,
            recorded,
            optouts,
            budget,
        }
    }

    /// What the ledger held for campaign `index`'s planned occurrence.
    pub(crate) fn recorded(&self, index: usize) -> &RecordedSends {
        &self.recorded[index]
    }

    /// The send stream of campaign `index`.
    /// The send stream of campaign `index`, continuing the current pass over the plan: the
    /// limits count what the pass admitted before (see [`Plan::all_sends`]).
    pub(crate) fn sends(&self, index: usize) -> Box<dyn Iterator<Item = SendItem> + '_> {
        self.campaigns[index].sends(
            &self.recorded[index],
            &self.optouts,
            self.options,
            &self.budget,
        )
    }

    /// A new pass over every send of the plan, campaign after campaign: what the limits
    /// admit depends on what came before, so every pass that decides what is sent (the
    /// scan, the feed of `apply`) starts here and sees the same sends in the same order.
    pub(crate) fn all_sends(&self) -> impl Iterator<Item = SendItem> + '_ {
        self.budget.reset();
        (0..self.campaigns.len()).flat_map(|index| self.sends(index))
    }

    /// Streams every send once: renders and checks all of them, counts them by state and
    /// keeps the first `keep` of each campaign.
    pub(crate) fn scan(&self, keep: usize) -> Scan {
        self.scan_with(keep, &mut |_, _| {})
    }

    /// [`Plan::scan`], also handing every send to `visit` (with its campaign's index) as it
    /// is rendered: one pass for output that lists every send.
    pub(crate) fn scan_with(
        &self,
        keep: usize,
        visit: &mut dyn FnMut(usize, &PlannedSend),
    ) -> Scan {
        let mut scan = Scan::default();
        self.budget.reset();
        for index in 0..self.campaigns.len() {
            let mut counts = CampaignScan::default();
            let mut problems = 0;
            for item in self.sends(index) {
                let found = match item {
                    SendItem::Send(send) => {
                        visit(index, &send);
                        counts.total += 1;
                        counts.due += usize::from(send.due);
                        *counts.by_state.entry(send.state).or_default() += 1;
                        counts.count_limits(&send);
                        counts.plus_one += usize::from(
                            send.state != SendState::Suppressed
                                && send.mobile.is_some_and(Mobile::is_plus_one),
                        );
                        if let Some(source) = &send.suppressed_by
                            && counts.suppressed.len() < SUPPRESSED_LISTED
                        {
                            counts
                                .suppressed
                                .push((send.recipient.clone(), source.clone()));
                        }
                        if counts.first.len() < keep {
                            counts.first.push(send);
                        }
                        continue;
                    }
                    SendItem::Duplicate(d) => {
                        counts.duplicates += 1;
                        vec![d]
                    }
                    SendItem::Problems(found) => found,
                };
                counts.errors |= found.iter().any(Diagnostic::is_error);
                for d in found {
                    if problems >= MAX_PROBLEMS_PER_CAMPAIGN {
                        match d.is_error() {
                            true => scan.omitted_errors += 1,
                            false => scan.omitted_warnings += 1,
                        }
                    } else {
                        problems += 1;
                        scan.diagnostics.push(d);
                    }
                }
            }
            if let Some(d) =
                optouts::audience_warning(&self.campaigns[index].campaign, &counts, &self.optouts)
            {
                scan.diagnostics.push(d);
            }
            let campaign = &self.campaigns[index].campaign;
            scan.diagnostics
                .extend(catalogue::marketing_warning(campaign, &counts));
            scan.campaigns.push(counts);
        }
        scan
    }
}
