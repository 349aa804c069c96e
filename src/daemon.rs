//! `campaignctl run`: the daemon that sends scheduled campaigns at their fire times, through
//! the same planner, executor and ledger as `apply`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use crate::campaign::Campaign;
use crate::cli::{Checked, Outcome, RunArgs, evaluate_pinned, print_diagnostics};
use crate::error::Error;
use crate::executor::{self, ApiKey, Endpoints, Executor, Report, Settings, StopReason, lock};
use crate::health::{CampaignHealth, Health, Role};
use crate::ledger::{Holder, Ledger};
use crate::planner::{CampaignPlan, Plan, PlanOptions, Status};
use crate::progress::{self, Progress};
use crate::schedule::{Occurrence, Schedule, rfc3339};
use crate::scheduler::{Action, Scheduler};

/// The daemon re-reads the wall clock at least this often, so a clock jump or a suspend
/// re-arms the timers within a minute.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// How often a replica checks its leadership: the leader that it still holds the ledger
/// lock (and that the ledger answers), a standby whether it can take the lock. A standby
/// takes over within this long of the leader's database session ending.
const LEADERSHIP_CHECK: Duration = Duration::from_secs(2);

/// File events closer together than this make one reload (editors write in several steps).
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(300);

pub fn run(args: &RunArgs) -> Result<Outcome, Error> {
    init_logging(args.log_format);
    // One async thread is plenty: sending is I/O, rendering and the ledger run on their own
    // threads (see apply.rs for the measurement).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Signal handlers first: a SIGHUP during a long start must not kill the daemon (its
    // default action), it reloads once started.
    let signals = {
        let _entered = runtime.enter();
        Signals::install()?
    };
    // Each set of files is validated and sent from copies of its CSV files (generation 1 is
    // this first set; every reload makes the next).
    let pins = tempfile::Builder::new()
        .prefix("campaignctl-run-")
        .tempdir()?;
    let checked = load(&args.paths, pins.path(), 1)?;
    if checked.errors {
        print_diagnostics(&checked)?;
        return Err(Error::Invalid);
    }
    for d in checked.diagnostics.iter() {
        warn!(location = %d.location(), "{}", d.message);
    }
    let campaigns = checked.campaigns();

    let key = ApiKey::from_env()?;
    let endpoints = Endpoints::from_env()?;
    let location = args.state.location()?;
    let mut ledger = location.open()?;
    let holder = Holder::current("run");
    let shared = location.is_shared();
    if !shared {
        // A local file serves one daemon: a second one is refused, not put on standby.
        ledger.lock(&holder)?;
    }
    let settings = Settings {
        rate: args.rate,
        concurrency: usize::from(args.concurrency),
        ..Settings::default()
    };
    let executor = Arc::new(Executor::new(endpoints, key, settings)?);
    let health = Arc::new(Health::new(ledger.location(), Role::Standby));
    let ledger = Arc::new(Mutex::new(ledger));
    // Held until the runtime is gone: the PostgreSQL client closes its connection with a
    // blocking call that must not run inside the runtime.
    let _ledger_outlives_the_runtime = ledger.clone();

    // One async thread is plenty: sending is I/O, rendering and the ledger run on their own
    // threads (see apply.rs for the measurement).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (stop_tx, stop_rx) = watch::channel(false);
        let server = match args.listen {
            Some(addr) => Some(start_health(addr, health.clone(), stop_rx.clone()).await?),
            None => None,
        };
        let mut daemon = Daemon {
            paths: args.paths.clone(),
            campaigns: BTreeMap::new(),
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
            reloading: None,
            reload_again: None,
            ledger_failures: 0,
            next_ledger_try: tokio::time::Instant::now(),
            pins,
            generation: 1,
        };
        daemon.install(campaigns, Utc::now()).await;
        daemon.health.reloaded("start", Vec::new());
        daemon.check_leadership().await;
        let (reload_tx, reload_rx) = mpsc::channel(16);
        let _watcher = watch_files(&args.paths, reload_tx.clone());
        tokio::spawn(signals.forward(reload_tx, stop_tx));
        let result = daemon.run(reload_rx, stop_rx).await;
        if let Some(server) = server {
            server.abort();
        }
        result
    })
}

async fn start_health(
    addr: SocketAddr,
    health: Arc<Health>,
    stop: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    let handle = crate::health::serve(addr, health, stop)
        .await
        .map_err(|e| Error::Refused(format!("cannot listen on {addr}: {e}")))?;
    info!(%addr, "serving /healthz and /metrics");
    Ok(handle)
}

struct Daemon {
    paths: Vec<PathBuf>,
    campaigns: BTreeMap<String, Arc<Campaign>>,
    scheduler: Scheduler,
    executor: Arc<Executor>,
    ledger: Arc<Mutex<Box<dyn Ledger>>>,
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
}

/// An occurrence's run ended.
struct Finished {
    campaign: String,
    occurrence: DateTime<Utc>,
    /// The ledger failed during the run: the rest of the occurrence is still to send.
    ledger_failed: bool,
    /// Its files no longer render: retried after the next successful reload.
    files_failed: bool,
}

impl Daemon {
    async fn run(
        &mut self,
        mut reloads: mpsc::Receiver<String>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<Outcome, Error> {
        let mut leadership = tokio::time::interval(LEADERSHIP_CHECK);
        leadership.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let now = Utc::now();
            if self.leader {
                for action in self.scheduler.tick(now) {
                    self.act(action).await;
                }
            }
            self.publish();
            // Sleep to the next fire time, but wake at least every minute to notice clock
            // jumps; tokio's timers run on the monotonic clock.
            let wait = self
                .scheduler
                .next_wake()
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
        Ok(Outcome::Success)
    }

    async fn act(&mut self, action: Action) {
        match action {
            Action::Send {
                campaign,
                occurrence,
            } => self.start(&campaign, occurrence),
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
                let recorded = executor::blocking(move || {
                    lock(&ledger).record_missed(&name, &file, Occurrence::At(occurrence))
                })
                .await;
                match recorded {
                    Ok(_) => {
                        self.health.count_missed(&campaign, 1);
                        warn!(campaign, occurrence = %rfc3339(occurrence), "occurrence missed: found more than catch_up late, not sent");
                    }
                    Err(e) => {
                        error!(campaign, occurrence = %rfc3339(occurrence), "cannot record missed occurrence: {e}")
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
    fn start(&mut self, name: &str, occurrence: DateTime<Utc>) {
        let Some(campaign) = self.campaigns.get(name).cloned() else {
            return;
        };
        let (stop_tx, _) = watch::channel(None);
        self.runs.insert(name.to_owned(), stop_tx.clone());
        let (executor, ledger, health) = (
            self.executor.clone(),
            self.ledger.clone(),
            self.health.clone(),
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
            };
            let (plan, due) = match plan_occurrence(campaign, occurrence, ledger.clone()).await {
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
            if due == 0 {
                // After a restart or a takeover the latest occurrence is re-planned in case it
                // was cut short; this one was complete.
                info!(campaign = name, occurrence = %at, "occurrence already complete");
                return done;
            }
            health.count_occurrence(&name);
            info!(campaign = name, occurrence = %at, late_ms = late.num_milliseconds(), due, "occurrence started");
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
                    info!(
                        campaign = name,
                        occurrence = %at,
                        sent = report.sent,
                        failed = report.failed.len(),
                        unknown = report.unknown.len(),
                        already_recorded = report.taken,
                        stopped = report.stopped.as_ref().map(ToString::to_string),
                        "occurrence finished"
                    );
                }
                Err(problem) => error!(campaign = name, occurrence = %at, "occurrence not sent: {problem}"),
            }
            done
        });
    }

    async fn finished(&mut self, done: Finished) {
        self.runs.remove(&done.campaign);
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
        if let Some(action) = self.scheduler.finished(&done.campaign, Utc::now()) {
            self.act(action).await;
        }
    }

    /// The leader checks it still holds the lock (and retries occurrences the ledger failed
    /// on); a standby tries to take the lock. While the ledger does not answer, the checks
    /// back off (2, 4, 8, up to 16 s between tries).
    async fn check_leadership(&mut self) {
        if tokio::time::Instant::now() < self.next_ledger_try {
            return;
        }
        let ledger = self.ledger.clone();
        if self.leader {
            match executor::blocking(move || lock(&ledger).holds_lock()).await {
                Ok(true) => {
                    self.health.ledger_problem(None);
                    let now = Utc::now();
                    for (campaign, occurrence) in std::mem::take(&mut self.pending) {
                        if let Some(action) = self.scheduler.retry(&campaign, occurrence, now) {
                            self.act(action).await;
                        }
                    }
                }
                Ok(false) => {
                    self.step_down("the ledger lock was lost (the database session ended)")
                }
                Err(e) => self.step_down(&e.to_string()),
            }
            return;
        }
        let holder = self.holder.clone();
        match executor::blocking(move || lock(&ledger).try_lock(&holder)).await {
            Ok(None) => self.take_over().await,
            Ok(Some(other)) => {
                self.health.ledger_problem(None);
                if self.leader_seen.as_ref() != Some(&other) {
                    info!(leader = %other, "standby: another replica leads; taking over if it stops");
                    self.leader_seen = Some(other);
                }
            }
            Err(e) => {
                self.ledger_failures += 1;
                let wait = LEADERSHIP_CHECK * 2u32.pow(self.ledger_failures.min(4) - 1);
                warn!(
                    "standby: cannot reach the ledger (retrying in {}s): {e}",
                    wait.as_secs()
                );
                self.next_ledger_try = tokio::time::Instant::now() + wait - LEADERSHIP_CHECK;
                self.health.ledger_problem(Some(e.to_string()));
                return;
            }
        }
        self.ledger_failures = 0;
    }

    /// This replica took the lock: what the previous leader left in flight becomes unknown,
    /// and every campaign is armed, catching up as after a restart.
    async fn take_over(&mut self) {
        let ledger = self.ledger.clone();
        match executor::blocking(move || lock(&ledger).recover()).await {
            Ok(0) => {}
            Ok(n) => warn!(
                count = n,
                "sends left in flight by the previous leader are now recorded as unknown"
            ),
            Err(e) => {
                warn!("cannot recover the ledger: {e}");
                return;
            }
        }
        self.leader = true;
        self.leader_seen = None;
        self.health.set_role(Role::Leader);
        self.health.ledger_problem(None);
        info!("leading: this replica holds the ledger lock and sends");
        let campaigns: Vec<Arc<Campaign>> = self.campaigns.values().cloned().collect();
        self.campaigns.clear();
        self.install(campaigns, Utc::now()).await;
    }

    /// Lost the lock or the ledger: stop sending at once (nothing is sent that cannot be
    /// recorded), and try to take the lock again.
    fn step_down(&mut self, reason: &str) {
        error!(
            "not sending: {reason}; retrying the ledger every {}s",
            LEADERSHIP_CHECK.as_secs()
        );
        self.leader = false;
        self.health.set_role(Role::Standby);
        self.health.ledger_problem(Some(reason.to_owned()));
        for stop in self.runs.values() {
            stop.send_replace(Some(StopReason::LedgerFailed(reason.to_owned())));
        }
        // Whoever leads next catches up from the ledger.
        self.scheduler = Scheduler::new();
        self.pending.clear();
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
                    let (ledger, key, within) =
                        (self.ledger.clone(), name.clone(), schedule.clone());
                    // Where to resume: after the latest occurrence the ledger knows, or at it
                    // if it has sends and is still within catch_up (it may have been cut
                    // short by a stop, a crash or a lost leader; its sent rows are skipped).
                    let last = executor::blocking(move || {
                        let mut ledger = lock(&ledger);
                        let last = ledger.last_occurrence(&key)?;
                        Ok(match last {
                            Some(t)
                                if within.in_catch_up_window(t, now)
                                    && !ledger.recorded(&key, Occurrence::At(t))?.is_empty() =>
                            {
                                Some(t - chrono::TimeDelta::nanoseconds(1))
                            }
                            other => other,
                        })
                    })
                    .await
                    .unwrap_or_else(|e| {
                        error!(campaign = name, "cannot read the ledger: {e}");
                        None
                    });
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

    /// Loads and checks the files on a blocking thread; the scheduler keeps firing meanwhile.
    fn start_reload(&mut self, trigger: String) {
        if self.reloading.is_some() {
            self.reload_again = Some(trigger);
            return;
        }
        let paths = self.paths.clone();
        let pins = self.pins.path().to_owned();
        self.generation += 1;
        let generation = self.generation;
        self.reloading = Some(tokio::task::spawn_blocking(move || {
            // Only a valid set is installed; an invalid one's copies go with it.
            let reloaded = load(&paths, &pins, generation)
                .map_err(|e| e.to_string())
                .map(|checked| {
                    let campaigns = if checked.errors {
                        Vec::new()
                    } else {
                        checked.campaigns()
                    };
                    (checked, campaigns)
                });
            (trigger, reloaded)
        }));
    }

    async fn reloaded(&mut self, trigger: &str, reloaded: Reloaded) {
        let (checked, campaigns) = match reloaded {
            Ok(reloaded) => reloaded,
            Err(e) => {
                error!(trigger, "reload failed: {e}");
                self.health.reloaded(trigger, vec![e]);
                return;
            }
        };
        if checked.errors {
            let problems: Vec<String> = checked
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| format!("{}: {}", d.location(), d.message))
                .collect();
            for problem in &problems {
                error!(trigger, "{problem}");
            }
            error!(
                trigger,
                errors = problems.len(),
                "reload rejected: campaign files are invalid; the previous version of every campaign keeps running"
            );
            self.health.reloaded(trigger, problems);
            return;
        }
        self.install(campaigns, Utc::now()).await;
        info!(trigger, campaigns = self.campaigns.len(), "reloaded");
        self.health.reloaded(trigger, Vec::new());
        // Occurrences that failed on the previous files get their chance with these.
        let now = Utc::now();
        for (campaign, occurrence) in std::mem::take(&mut self.after_reload) {
            if self.leader
                && let Some(action) = self.scheduler.retry(&campaign, occurrence, now)
            {
                self.act(action).await;
            }
        }
        self.publish();
    }

    /// Updates what /healthz and /metrics show.
    fn publish(&self) {
        let campaigns = self
            .campaigns
            .values()
            .map(|c| CampaignHealth {
                name: c.name.clone(),
                file: c.file.display().to_string(),
                schedule: c.schedule.as_ref().map(Schedule::describe),
                next_run: self.scheduler.next_of(&c.name).map(rfc3339),
                running: self.runs.contains_key(&c.name),
                enabled: c.enabled,
            })
            .collect();
        self.health.set_campaigns(campaigns);
    }
}

/// The campaign files at `paths`, validated from copies of their CSV files made in `dir`
/// before any row is read (see [`crate::campaign::pin_csv_files`]): what was validated is
/// what gets sent, even if a CSV file is later edited into an invalid state (the reload of
/// that edit is rejected, and the last good version keeps running).
fn load(paths: &[PathBuf], dir: &std::path::Path, generation: u64) -> Result<Checked, Error> {
    evaluate_pinned(
        paths,
        Utc::now(),
        PlanOptions::default(),
        true,
        dir,
        generation,
    )
}

/// A reload's result: the checked set and its campaigns with their CSV files pinned, or
/// why it could not be loaded at all.
type Reloaded = Result<(Checked, Vec<Arc<Campaign>>), String>;

/// Why an occurrence could not be planned.
enum PlanError {
    /// The ledger did not answer: retried when it does.
    Ledger(String),
    /// Its files no longer compile or render (a CSV edited since the last reload):
    /// retried after the next successful reload.
    Files(String),
}

/// Plans one occurrence against the ledger and checks that every send renders. Returns the
/// plan and how many sends are due (0: the occurrence is complete).
async fn plan_occurrence(
    campaign: Arc<Campaign>,
    occurrence: DateTime<Utc>,
    ledger: Arc<Mutex<Box<dyn Ledger>>>,
) -> Result<(Plan, usize), PlanError> {
    tokio::task::spawn_blocking(move || {
        let now = Utc::now();
        let name = campaign.name.clone();
        let campaign_plan = CampaignPlan::at(campaign, occurrence, now)
            .ok_or_else(|| PlanError::Files("its params no longer compile".to_owned()))?;
        let recorded = lock(&ledger)
            .recorded(&name, Occurrence::At(occurrence))
            .map_err(|e| PlanError::Ledger(e.to_string()))?;
        let plan = Plan::of(now, PlanOptions::default(), vec![(campaign_plan, recorded)]);
        let scan = plan.scan(0);
        if scan.has_errors() {
            let problems: Vec<String> = scan
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .take(5)
                .map(|d| format!("{}: {}", d.location(), d.message))
                .collect();
            return Err(PlanError::Files(format!(
                "its recipients no longer render: {}",
                problems.join("; ")
            )));
        }
        Ok((plan, scan.campaigns.first().map_or(0, |c| c.due)))
    })
    .await
    .unwrap_or_else(|e| Err(PlanError::Files(format!("planning failed: {e}"))))
}

/// Sends the due sends of a planned occurrence.
async fn send_planned(
    plan: Plan,
    due: usize,
    executor: Arc<Executor>,
    ledger: Arc<Mutex<Box<dyn Ledger>>>,
    stop: watch::Sender<Option<StopReason>>,
) -> Result<Report, String> {
    let (tx, rx) = executor::input();
    std::thread::spawn(move || executor::feed(plan.sends(0), &tx));
    let progress = Arc::new(Progress::new(due, progress::Mode::Quiet));
    executor
        .run(rx, ledger, progress, stop)
        .await
        .map_err(|e| e.to_string())
}

/// The daemon's signals: SIGHUP reloads; SIGTERM and SIGINT stop.
struct Signals {
    hup: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    /// Takes over the signals (needs a runtime context).
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn forward(mut self, reloads: mpsc::Sender<String>, stop: watch::Sender<bool>) {
        loop {
            tokio::select! {
                _ = self.hup.recv() => { let _ = reloads.send("SIGHUP".to_owned()).await; }
                _ = self.term.recv() => break,
                _ = self.int.recv() => break,
            }
        }
        stop.send_replace(true);
    }
}

/// Watches the campaign paths; a change to a YAML or CSV file triggers a reload.
fn watch_files(
    paths: &[PathBuf],
    reloads: mpsc::Sender<String>,
) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let (events_tx, mut events_rx) = mpsc::unbounded_channel::<()>();
    let handler = move |event: notify::Result<notify::Event>| {
        let relevant = event.is_ok_and(|e| {
            !e.kind.is_access()
                && e.paths.iter().any(|p| {
                    matches!(
                        p.extension().and_then(|x| x.to_str()),
                        Some("yaml" | "yml" | "csv")
                    )
                })
        });
        if relevant {
            let _ = events_tx.send(());
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            warn!("cannot watch campaign files ({e}); reload with SIGHUP");
            return None;
        }
    };
    for path in paths {
        // Editors replace files by renaming: watch the directory, not the file.
        let (target, mode) = if path.is_dir() {
            (path.clone(), RecursiveMode::Recursive)
        } else {
            let parent = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            (parent.to_owned(), RecursiveMode::NonRecursive)
        };
        if let Err(e) = watcher.watch(&target, mode) {
            warn!(path = %target.display(), "cannot watch ({e}); reload with SIGHUP");
        }
    }
    tokio::spawn(async move {
        while events_rx.recv().await.is_some() {
            // Let a burst of events settle into one reload.
            tokio::time::sleep(RELOAD_DEBOUNCE).await;
            while events_rx.try_recv().is_ok() {}
            if reloads.send("file change".to_owned()).await.is_err() {
                return;
            }
        }
    });
    Some(watcher)
}

fn init_logging(format: crate::cli::LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        crate::cli::LogFormat::Text => builder.try_init(),
        crate::cli::LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
