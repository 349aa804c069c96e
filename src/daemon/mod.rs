//! The daemon behind `campaignctl run`: sends scheduled campaigns at their fire times,
//! through the same planner, executor and ledger as `apply`.

pub(crate) mod file_watch;
pub(crate) mod health;
mod leadership;
mod metrics;
mod occurrence;
pub(crate) mod reload;
mod resume;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use crate::campaign::Campaign;
use crate::ledger::{Holder, SharedLedger, Status};
use crate::plan::pipeline::Checked;
use crate::plan::{Plan, wait_allowed};
use crate::schedule::scheduler::{Action, Scheduler};
use crate::schedule::{Occurrence, Schedule, rfc3339};
use crate::send::progress::{self, Progress};
use crate::send::{self, Executor, Report, StopReason};
use file_watch::FileWatch;
use health::{CampaignHealth, Health, WaitingHealth};
pub(crate) use occurrence::Rules;
use occurrence::{PlanError, Planned, plan_occurrence};
use resume::{Known, Resume};

/// The daemon re-reads the wall clock at least this often, so a clock jump or a suspend
/// re-arms the timers within a minute.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// How often a replica checks its leadership: the leader that it still holds the ledger
/// lock (and that the ledger answers), a standby whether it can take the lock. A standby
/// takes over within this long of the leader's database session ending.
const LEADERSHIP_CHECK: Duration = Duration::from_secs(2);

/// File events closer together than this make one reload (editors write in several steps).
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(300);

pub(crate) struct Daemon {
    paths: Vec<PathBuf>,
    /// The project file named on the command line (else `campaignctl.yaml` if present).
    config: Option<PathBuf>,
    campaigns: BTreeMap<String, Arc<Campaign>>,
    /// What the project file says of every campaign, as read with the campaigns.
    rules: Rules,
    scheduler: Scheduler,
    executor: Arc<Executor>,
    ledger: SharedLedger,
    health: Arc<Health>,
    /// Stop handles of the occurrences being sent, by campaign.
    runs: HashMap<String, watch::Sender<Option<StopReason>>>,
    tasks: JoinSet<Finished>,
    holder: Holder,
    /// A shared (PostgreSQL) ledger: leadership is checked every few seconds. A local file
    /// is locked for the process's lifetime and needs no checks.
    shared: bool,
    /// Whether this replica holds the ledger lock and sends. Replicas on a shared
    /// (PostgreSQL) ledger that do not are on standby: loaded, validated, not sending.
    leader: bool,
    /// The leader last reported while on standby (to log a change once).
    leader_seen: Option<Holder>,
    /// Occurrences the ledger failed on, to send again once it answers.
    pending: Vec<(String, DateTime<Utc>)>,
    /// Occurrences whose files failed to render at send time, to send after a good reload.
    after_reload: Vec<(String, DateTime<Utc>)>,
    /// Occurrences with sends waiting for their window or the daily limit: planned again at
    /// `at`, when the first of them may go.
    deferred: Vec<Deferred>,
    /// The reload in progress: it runs beside the scheduler so fire times are kept.
    reloading: Option<tokio::task::JoinHandle<(String, Reloaded)>>,
    /// A reload asked for while one runs: done when it ends.
    reload_again: Option<String>,
    /// Ledger checks that failed in a row, and when to try next (back-off).
    ledger_failures: u32,
    next_ledger_try: tokio::time::Instant,
    /// Private copies of the CSV files in use.
    pins: tempfile::TempDir,
    generation: u64,
    /// The file watcher, told of the files of each set installed.
    file_watch: Option<FileWatch>,
}

/// An occurrence planned again when its first waiting send may go.
struct Deferred {
    campaign: String,
    occurrence: DateTime<Utc>,
    at: DateTime<Utc>,
}

/// An occurrence's run ended.
struct Finished {
    campaign: String,
    occurrence: DateTime<Utc>,
    /// The ledger failed during the run: the rest of the occurrence is still to send.
    ledger_failed: bool,
    /// Its files no longer render: retried after the next successful reload.
    files_failed: bool,
    /// Sends still wait (for their window or the daily limit): plan it again then.
    wake: Option<DateTime<Utc>>,
}

impl Daemon {
    pub(crate) fn new(
        (paths, config): (Vec<PathBuf>, Option<PathBuf>),
        executor: Arc<Executor>,
        ledger: SharedLedger,
        health: Arc<Health>,
        holder: Holder,
        shared: bool,
        pins: tempfile::TempDir,
    ) -> Daemon {
        Daemon {
            paths,
            config,
            campaigns: BTreeMap::new(),
            rules: Rules::default(),
            scheduler: Scheduler::new(),
            executor,
            ledger,
            health,
            runs: HashMap::new(),
            tasks: JoinSet::new(),
            holder,
            shared,
            leader: false,
            leader_seen: None,
            pending: Vec::new(),
            after_reload: Vec::new(),
            deferred: Vec::new(),
            reloading: None,
            reload_again: None,
            ledger_failures: 0,
            next_ledger_try: tokio::time::Instant::now(),
            pins,
            generation: 1,
            file_watch: None,
        }
    }

    /// Hands the daemon the file watcher, to watch the files each reload reads.
    pub(crate) fn watch_with(&mut self, file_watch: Option<FileWatch>) {
        self.file_watch = file_watch;
    }

    /// Installs the first set of campaigns (and the project's rules read with them) and
    /// takes the lead if it can.
    pub(crate) async fn start(
        &mut self,
        campaigns: Vec<Arc<Campaign>>,
        rules: Rules,
        now: DateTime<Utc>,
    ) {
        self.rules = Rules {
            admitted: self.rules.admitted.clone(),
            ..rules
        };
        self.install(campaigns, now).await;
        self.health.reloaded("start", Vec::new());
        self.check_leadership().await;
    }

    /// Runs until `stop`: fires occurrences, reloads on `reloads`, checks leadership; then
    /// lets the sends in flight finish.
    pub(crate) async fn run(
        &mut self,
        mut reloads: mpsc::Receiver<String>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut leadership = tokio::time::interval(LEADERSHIP_CHECK);
        leadership.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let now = Utc::now();
            if self.leader {
                for action in self.scheduler.tick(now) {
                    self.act(action).await;
                }
                self.resume_deferred(now);
            }
            self.publish();
            // Sleep to the next fire time (or the next waiting send's), but wake at least
            // every minute to notice clock jumps; tokio's timers run on the monotonic clock.
            let deferred = self
                .deferred
                .iter()
                .filter(|d| !self.runs.contains_key(&d.campaign))
                .map(|d| d.at)
                .min();
            let wait = [self.scheduler.next_wake(), deferred]
                .into_iter()
                .flatten()
                .min()
                .map_or(MAX_SLEEP, |at| {
                    (at - Utc::now()).to_std().unwrap_or(Duration::ZERO)
                })
                .min(MAX_SLEEP);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    if let Ok(done) = done {
                        self.finished(done).await;
                    }
                }
                Some(trigger) = reloads.recv() => self.start_reload(trigger),
                reloaded = async { self.reloading.as_mut().expect("guarded").await }, if self.reloading.is_some() => {
                    self.reloading = None;
                    match reloaded {
                        Ok((trigger, checked)) => self.reloaded(&trigger, checked).await,
                        Err(e) => error!("reload failed: {e}"),
                    }
                    if let Some(trigger) = self.reload_again.take() {
                        self.start_reload(trigger);
                    }
                }
                _ = leadership.tick(), if self.shared || !self.pending.is_empty() => {
                    self.check_leadership().await;
                }
                _ = stop.changed() => break,
            }
        }
        info!("stopping: no new occurrences; waiting for sends in flight (up to 30s)");
        for stop in self.runs.values() {
            stop.send_replace(Some(StopReason::Interrupted));
        }
        while let Some(done) = self.tasks.join_next().await {
            if let Ok(done) = done {
                self.runs.remove(&done.campaign);
            }
        }
        info!("stopped");
    }

    async fn act(&mut self, action: Action) {
        match action {
            Action::Send {
                campaign,
                occurrence,
            } => self.start_occurrence(&campaign, occurrence),
            Action::Missed {
                campaign,
                occurrence,
            } => {
                let file = self
                    .campaigns
                    .get(&campaign)
                    .map(|c| c.file.display().to_string())
                    .unwrap_or_default();
                let (ledger, name) = (self.ledger.clone(), campaign.clone());
                let recorded = ledger
                    .call(move |l| l.record_missed(&name, &file, Occurrence::At(occurrence)))
                    .await;
                match recorded {
                    Ok(_) => {
                        self.health.count_missed(&campaign, 1);
                        warn!(campaign, occurrence = %rfc3339(occurrence), "occurrence missed: found more than catch_up late, not sent");
                    }
                    Err(e) => {
                        error!(campaign, occurrence = %rfc3339(occurrence), "cannot record missed occurrence: {e}");
                    }
                }
            }
            Action::MissedUncounted { campaign, count } => {
                self.health.count_missed(&campaign, count as u64);
                warn!(
                    campaign,
                    count, "older occurrences were missed too (not recorded one by one)"
                );
            }
            Action::Wait {
                campaign,
                occurrence,
            } => {
                info!(campaign, occurrence = %rfc3339(occurrence), "occurrence waits for the campaign's previous occurrence to finish");
            }
        }
    }

    /// Sends one occurrence in the background.
    fn start_occurrence(&mut self, name: &str, occurrence: DateTime<Utc>) {
        let Some(campaign) = self.campaigns.get(name).cloned() else {
            return;
        };
        let (stop_tx, _) = watch::channel(None);
        self.runs.insert(name.to_owned(), stop_tx.clone());
        let (executor, ledger, health, rules) = (
            self.executor.clone(),
            self.ledger.clone(),
            self.health.clone(),
            self.rules.clone(),
        );
        let late = Utc::now() - occurrence;
        self.tasks.spawn(async move {
            let name = campaign.name.clone();
            let at = rfc3339(occurrence);
            let mut done = Finished {
                campaign: name.clone(),
                occurrence,
                ledger_failed: false,
                files_failed: false,
                wake: None,
            };
            let planned = plan_occurrence(campaign, occurrence, ledger.clone(), rules).await;
            let Planned { plan, due, suppressed, waiting, wake, skipped } = match planned {
                Ok(planned) => planned,
                Err(PlanError::Ledger(problem)) => {
                    error!(campaign = name, occurrence = %at, "occurrence not sent: the ledger failed: {problem}");
                    done.ledger_failed = true;
                    return done;
                }
                Err(PlanError::Files(problem)) => {
                    error!(campaign = name, occurrence = %at, "occurrence not sent: {problem}; it is sent after the files are fixed, if still within catch_up");
                    done.files_failed = true;
                    return done;
                }
            };
            if !skipped.is_empty() {
                let (capped, missed) = (
                    skipped.iter().filter(|s| s.status == Status::Capped).count(),
                    skipped.iter().filter(|s| s.status == Status::Missed).count(),
                );
                match ledger.call(move |l| l.skip(&skipped)).await {
                    Ok(_) => {
                        if capped > 0 {
                            info!(campaign = name, occurrence = %at, capped, "sends held back by a frequency cap: recorded as capped, not sent");
                        }
                        if missed > 0 {
                            warn!(campaign = name, occurrence = %at, missed, "sends whose send window or daily limit does not open before the occurrence's deadline (catch_up plus max_delay): recorded as missed");
                        }
                    }
                    Err(e) => {
                        error!(campaign = name, occurrence = %at, "occurrence not sent: the ledger failed: {e}");
                        done.ledger_failed = true;
                        return done;
                    }
                }
            }
            done.wake = wake;
            if waiting > 0 {
                info!(campaign = name, occurrence = %at, waiting, next = wake.map(rfc3339), "sends wait for their send window or the daily limit");
            }
            if due == 0 {
                // After a restart or a takeover the latest occurrence is re-planned in case it
                // was cut short; this one was complete (or every number left opted out, or
                // every send waits).
                info!(campaign = name, occurrence = %at, suppressed, "occurrence already complete: nothing to send now");
                return done;
            }
            health.count_occurrence(&name);
            info!(campaign = name, occurrence = %at, late_ms = late.num_milliseconds(), due, suppressed, "occurrence started");
            match send_planned(plan, due, executor, ledger, stop_tx).await {
                Ok(report) => {
                    done.ledger_failed = matches!(report.stopped, Some(StopReason::LedgerFailed(_)));
                    health.count_sends(&name, Status::Sent, report.sent as u64);
                    health.count_sends(&name, Status::Failed, report.failed.len() as u64);
                    health.count_sends(&name, Status::Unknown, report.unknown.len() as u64);
                    health.count_retries(report.retries as u64);
                    for (key, reason) in report.failed.iter().chain(&report.unknown) {
                        warn!(campaign = name, key, reason, "send failed");
                    }
                    for stop in &report.campaigns_stopped {
                        error!(campaign = name, occurrence = %at, wa_code = stop.code.code, not_started = stop.not_started, "{stop}; every one would fail the same way: fix the template or its params");
                    }
                    if report.opted_out > 0 {
                        info!(campaign = name, occurrence = %at, opted_out = report.opted_out, "numbers stopped marketing messages (WhatsApp 131050): added to the ledger's opt-outs");
                    }
                    if !report.optouts_unrecorded.is_empty() {
                        error!(campaign = name, occurrence = %at, numbers = report.optouts_unrecorded.join(" "), "opt-outs WhatsApp asked for could not be recorded (the ledger failed): add them with `campaignctl optout add`");
                    }
                    info!(
                        campaign = name,
                        occurrence = %at,
                        sent = report.sent,
                        failed = report.failed.len(),
                        unknown = report.unknown.len(),
                        already_recorded = report.taken,
                        opted_out_since_plan = report.suppressed_at_claim,
                        retries = report.retries,
                        ambiguous_retries = report.ambiguous_retries,
                        stopped = report.stopped.as_ref().map(ToString::to_string),
                        "occurrence finished"
                    );
                    if let Some(pace) = &report.pace {
                        let tenths = |rate: f64| (rate * 10.0).round() / 10.0;
                        warn!(campaign = name, occurrence = %at, asked = pace.asked, achieved = tenths(pace.achieved), latency_ms = pace.latency.map(|l| l.as_millis() as u64), limit = pace.limit, slowed_to = pace.slowed_to.map(tenths), "occurrence slower than asked: {pace}");
                    }
                }
                Err(problem) => error!(campaign = name, occurrence = %at, "occurrence not sent: {problem}"),
            }
            done
        });
    }

    async fn finished(&mut self, done: Finished) {
        self.runs.remove(&done.campaign);
        // What it admitted is in the ledger now (or was not sent).
        self.rules
            .admitted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(done.campaign.clone(), done.occurrence));
        if done.ledger_failed && self.leader {
            warn!(campaign = done.campaign, occurrence = %rfc3339(done.occurrence), "the ledger failed: the rest of this occurrence is sent when it answers again (within catch_up)");
            self.health
                .ledger_problem(Some("the ledger failed during a send".to_owned()));
            self.pending.push((done.campaign.clone(), done.occurrence));
        }
        if done.files_failed {
            self.after_reload
                .push((done.campaign.clone(), done.occurrence));
        }
        if let Some(at) = done.wake {
            self.deferred.push(Deferred {
                campaign: done.campaign.clone(),
                occurrence: done.occurrence,
                at,
            });
        }
        if let Some(action) = self.scheduler.finished(&done.campaign, Utc::now()) {
            self.act(action).await;
        }
    }

    /// Replaces the campaign set: new campaigns are scheduled, removed ones stop, edited
    /// schedules re-arm. Occurrences being sent finish with the version they started with.
    async fn install(&mut self, campaigns: Vec<Arc<Campaign>>, now: DateTime<Utc>) {
        let new: BTreeMap<String, Arc<Campaign>> =
            campaigns.into_iter().map(|c| (c.name.clone(), c)).collect();
        for name in self.campaigns.keys() {
            if !new.contains_key(name) {
                info!(campaign = name, "campaign removed: no longer scheduled");
                self.scheduler.remove(name);
            }
        }
        for (name, campaign) in &new {
            let schedule = campaign.schedule.as_ref().filter(|_| campaign.enabled);
            let old = self.campaigns.get(name);
            let old_schedule = old.and_then(|c| c.schedule.as_ref().filter(|_| c.enabled));
            match (schedule, old_schedule) {
                (None, None) => {}
                (None, Some(_)) => {
                    info!(
                        campaign = name,
                        "campaign unscheduled (no schedule or enabled: false)"
                    );
                    self.scheduler.remove(name);
                }
                (Some(schedule), previous) => {
                    if !self.leader || previous.is_some_and(|p| p.same_as(schedule)) {
                        continue;
                    }
                    let wait = wait_allowed(campaign, self.rules.limits.daily_recipients.is_some());
                    let since = Resume::horizon(schedule, wait, now);
                    let (ledger, key) = (self.ledger.clone(), name.clone());
                    let known = ledger
                        .call(move |ledger| {
                            Ok(Known {
                                last: ledger.last_occurrence(&key)?,
                                started: ledger.started_since(&key, since)?,
                            })
                        })
                        .await
                        .unwrap_or_else(|e| {
                            error!(campaign = name, "cannot read the ledger: {e}");
                            Known::default()
                        });
                    let resume = Resume::of(schedule, wait, &known, now);
                    for occurrence in resume.waiting {
                        if self
                            .deferred
                            .iter()
                            .any(|d| d.campaign == *name && d.occurrence == occurrence)
                        {
                            continue;
                        }
                        info!(campaign = name, occurrence = %rfc3339(occurrence), "occurrence still within its deadline: planned again for its sends that wait for their window or the daily limit");
                        self.deferred.push(Deferred {
                            campaign: name.clone(),
                            occurrence,
                            at: now,
                        });
                    }
                    let last = resume.last_handled;
                    self.scheduler.arm(name, schedule.clone(), last, now);
                    info!(
                        campaign = name,
                        schedule = schedule.describe(),
                        next = self.scheduler.next_of(name).map(rfc3339),
                        "campaign scheduled"
                    );
                }
            }
        }
        self.campaigns = new;
    }

    /// Plans again the occurrences whose waiting sends may go by `now` (their window opened,
    /// or the 24 hours freed up), unless the campaign is sending: then after it finishes.
    fn resume_deferred(&mut self, now: DateTime<Utc>) {
        let (ready, later): (Vec<Deferred>, Vec<Deferred>) = std::mem::take(&mut self.deferred)
            .into_iter()
            .partition(|d| {
                d.at <= now
                    && !self.runs.contains_key(&d.campaign)
                    && self.campaigns.contains_key(&d.campaign)
            });
        self.deferred = later;
        // A campaign removed meanwhile is dropped with its deferred occurrences.
        let campaigns = &self.campaigns;
        self.deferred
            .retain(|d| campaigns.contains_key(&d.campaign));
        for d in ready {
            if self.scheduler.begin(&d.campaign) {
                info!(campaign = d.campaign, occurrence = %rfc3339(d.occurrence), "occurrence resumed: its waiting sends may go");
                self.start_occurrence(&d.campaign, d.occurrence);
            } else {
                self.deferred.push(d);
            }
        }
    }

    /// Updates what /healthz and /metrics show.
    fn publish(&self) {
        let campaigns = self
            .campaigns
            .values()
            .map(|c| {
                let mut waiting: Vec<WaitingHealth> = self
                    .deferred
                    .iter()
                    .filter(|d| d.campaign == c.name)
                    .map(|d| WaitingHealth {
                        occurrence: d.occurrence,
                        next: d.at,
                    })
                    .collect();
                waiting.sort_by_key(|w| w.occurrence);
                CampaignHealth {
                    name: c.name.clone(),
                    file: c.file.display().to_string(),
                    schedule: c.schedule.as_ref().map(Schedule::describe),
                    next_run: self.scheduler.next_of(&c.name),
                    running: self.runs.contains_key(&c.name),
                    enabled: c.enabled,
                    waiting,
                }
            })
            .collect();
        self.health.set_campaigns(campaigns);
    }
}

/// A reload's result: the checked set and its campaigns with their CSV files pinned, or
/// why it could not be loaded at all.
type Reloaded = Result<(Checked, Vec<Arc<Campaign>>), String>;

/// Sends the due sends of a planned occurrence.
async fn send_planned(
    plan: Plan,
    due: usize,
    executor: Arc<Executor>,
    ledger: SharedLedger,
    stop: watch::Sender<Option<StopReason>>,
) -> Result<Report, String> {
    let (tx, rx) = send::input();
    std::thread::spawn(move || send::feed(plan.all_sends(), &tx));
    let progress = Arc::new(Progress::new(due, progress::Mode::Quiet));
    executor
        .run(rx, ledger, progress, stop)
        .await
        .map_err(|e| e.to_string())
}
