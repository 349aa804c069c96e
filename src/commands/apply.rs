//! `campaignctl apply`: validate and plan everything first, then send what is due.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::{Files, Outcome};
use crate::api::{ApiKey, Endpoints};
use crate::error::Error;
use crate::ledger::{Holder, Ledger, SharedLedger, StateLocation};
use crate::output::{self, Lenient};
use crate::plan::limits::History;
use crate::plan::optouts::load_ledger;
use crate::plan::pipeline::{Checked, check, evaluate_pinned, print_diagnostics};
use crate::plan::saved::SavedPlan;
use crate::plan::view::CampaignView;
use crate::plan::{Plan, PlanOptions, Scan, SendItem};
use crate::send::progress::{self, Progress};
use crate::send::{self, Executor, Outgoing, Report, StopReason};
use crate::signal::Signals;
use crate::style::Paint;

mod report;

pub(super) use report::Skipped;
use report::{
    Suppressed, print_held_back, print_nothing_to_send, print_plan_summary, print_report,
    print_suppressed, suppressed,
};

#[derive(Debug, Clone)]
pub(crate) struct ApplySettings {
    pub files: Files,
    pub state: StateLocation,
    /// How long to wait for another apply or run holding the ledger.
    pub lock_timeout: Duration,
    /// Stop after the plan summary: nothing is sent or written.
    pub dry_run: bool,
    /// Send without asking.
    pub yes: bool,
    /// Which recorded sends are sent again.
    pub options: PlanOptions,
    pub send: send::Settings,
}

/// Where apply prints its plan and its summary: stdout, whose reader going away (`| head`)
/// ends what is printed, never the run. Stopping half-way would leave sends for a later
/// run (and a saved plan stale); every outcome is recorded as in any run.
pub(super) type Out = Lenient<io::Stdout>;

pub(crate) fn apply(settings: &ApplySettings) -> Result<Outcome, Error> {
    if let [path] = settings.files.paths.as_slice()
        && SavedPlan::is_saved_plan(path)
    {
        return apply_saved(settings, path);
    }
    let mut out = Lenient::new(io::stdout());
    let location = &settings.state;
    let options = settings.options;
    let files = &settings.files;
    if settings.dry_run {
        // A dry run reads the ledger like plan does: it never creates, locks or changes it.
        let mut ledger = location.open_read_only()?;
        let Some(checked) = check(
            &files.paths,
            files.config.as_deref(),
            files.now,
            0,
            ledger.as_mut(),
            options,
        )?
        else {
            return Err(Error::Invalid);
        };
        let due: usize = checked.scan.campaigns.iter().map(|c| c.due).sum();
        let campaigns = views(&checked.plan, &checked.scan);
        print_plan_summary(&mut out, &campaigns)?;
        print_suppressed(&mut out, &suppressed(&checked.plan, &checked.scan))?;
        print_held_back(
            &mut out,
            &campaigns,
            &checked.scan,
            checked.plan.budget().daily(),
        )?;
        writeln!(
            out,
            "Dry run: {due} send(s) would be sent; nothing was sent or recorded."
        )?;
        return Ok(Outcome::Success);
    }
    // Everything that can refuse the run is checked before the ledger is touched.
    let key = ApiKey::from_env()?;
    let endpoints = Endpoints::from_env()?;
    if !settings.yes && !io::stdin().is_terminal() {
        return Err(Error::NoTerminal);
    }
    let now = files.now;
    // The CSV files are read twice, to validate and to send; both read copies taken first.
    let pins = tempfile::Builder::new()
        .prefix("campaignctl-apply-")
        .tempdir()?;
    let validation = evaluate_pinned(
        &files.paths,
        files.config.as_deref(),
        now,
        options,
        false,
        pins.path(),
        1,
    )?;
    print_diagnostics(&validation)?;
    if validation.errors {
        return Err(Error::Invalid);
    }

    let mut ledger = open_for_sending(settings)?;
    // The validation pass planned every send as new, honouring the project file's opt-out
    // lists. With nothing in the ledger for these occurrences, and no opt-outs in it, that
    // is the plan already; otherwise every send is matched against the ledger in a second
    // pass.
    let Checked {
        mut plan,
        mut scan,
        diagnostics,
        ..
    } = validation;
    let optouts = plan.match_optouts(load_ledger(&mut *ledger)?);
    let recorded =
        plan.match_ledger(|campaign, occurrence| ledger.recorded(&campaign.name, occurrence))?;
    let limits = plan.budget().shared_limits();
    let limited = plan.match_limits(History::load(&mut *ledger, &limits, now)?);
    if optouts || recorded || limited {
        scan = plan.scan(0);
        let paint = Paint::stderr();
        if scan.has_errors() {
            // A CSV file changed since it was validated.
            for d in scan.diagnostics.clone().sorted() {
                output::eprint(format_args!("{}", d.painted(paint)));
            }
            return Err(Error::Invalid);
        }
        // What the ledger's opt-outs called for (a campaign that now sends to nobody),
        // painted like the first pass's.
        let seen: Vec<_> = diagnostics.iter().collect();
        for d in scan.diagnostics.clone().sorted() {
            if !seen.contains(&&d) {
                output::eprint(format_args!("{}", d.painted(paint)));
            }
        }
    }
    let campaigns = views(&plan, &scan);
    print_plan_summary(&mut out, &campaigns)?;
    let suppressed = suppressed(&plan, &scan);
    print_suppressed(&mut out, &suppressed)?;
    print_held_back(&mut out, &campaigns, &scan, plan.budget().daily())?;
    let skipped = Skipped::of(&campaigns, &suppressed);
    let due: usize = campaigns.iter().map(|c| c.counts.due).sum();
    let capped = scan.campaigns.iter().any(|c| !c.capped.is_empty());
    if due == 0 && !capped {
        print_nothing_to_send(&mut out, skipped)?;
        return Ok(Outcome::Success);
    }
    if !settings.yes && due > 0 {
        confirm(due)?;
    }
    if capped {
        // Held back on purpose, and recorded so: not sent later unless asked.
        ledger.skip(&capped_sends(plan.all_sends()))?;
    }
    if due == 0 {
        print_nothing_to_send(&mut out, skipped)?;
        return Ok(Outcome::Success);
    }
    let sending = Sending::new(settings, endpoints, key, &campaigns)?;
    sending.run(&mut out, ledger, due, skipped, |tx| {
        send::feed(plan.all_sends(), tx);
    })
}

/// `apply PLAN`: exactly the due sends of a saved plan, without asking again (it was
/// reviewed), after checking that nothing it was made from changed: its files, the time
/// (a scheduled occurrence still within `catch_up`), and the ledger's records of its keys.
/// A stale plan is refused with every reason at once.
fn apply_saved(settings: &ApplySettings, path: &Path) -> Result<Outcome, Error> {
    let saved = SavedPlan::read(path)?;
    let stale = |reasons: Vec<String>| Error::Stale {
        plan: path.display().to_string(),
        reasons,
    };
    let mut reasons = saved.stale_inputs(settings.files.now, settings.files.config.as_deref());
    if !reasons.is_empty() || settings.dry_run {
        // Refused already, or a dry run: the ledger is read as `plan` reads it (if it
        // exists; never created, locked or changed) for the rest of the reasons.
        match settings.state.open_read_only() {
            Ok(None) => {}
            Ok(Some(mut ledger)) => match saved.stale_ledger(&mut *ledger, settings.files.now) {
                Ok(found) => reasons.extend(found),
                Err(e) if !reasons.is_empty() => {
                    reasons.push(format!("the ledger could not be checked: {e}"));
                }
                Err(e) => return Err(e.into()),
            },
            Err(e) if !reasons.is_empty() => {
                reasons.push(format!("the ledger could not be checked: {e}"));
            }
            Err(e) => return Err(e.into()),
        }
        if !reasons.is_empty() {
            return Err(stale(reasons));
        }
    }
    let mut out = Lenient::new(io::stdout());
    let campaigns: Vec<CampaignView> = saved.campaigns.iter().map(|c| c.view.clone()).collect();
    let due: usize = saved.due().count();
    let suppressed = Suppressed::of_saved(&saved);
    let skipped = Skipped::of(&campaigns, &suppressed);
    if settings.dry_run {
        print_plan_summary(&mut out, &campaigns)?;
        print_suppressed(&mut out, &suppressed)?;
        writeln!(
            out,
            "Dry run: {due} send(s) would be sent; nothing was sent or recorded."
        )?;
        return Ok(Outcome::Success);
    }
    let key = ApiKey::from_env()?;
    let endpoints = Endpoints::from_env()?;
    // Under the ledger's lock: what it recorded until now is what the run starts from.
    let mut ledger = open_for_sending(settings)?;
    let reasons = saved.stale_ledger(&mut *ledger, settings.files.now)?;
    if !reasons.is_empty() {
        return Err(stale(reasons));
    }
    print_plan_summary(&mut out, &campaigns)?;
    print_suppressed(&mut out, &suppressed)?;
    let capped = saved.capped();
    if !capped.is_empty() {
        // Held back on purpose, as the plan said: recorded, not sent later unless asked.
        ledger.skip(&capped)?;
        writeln!(
            out,
            "{} send(s) held back by a frequency cap, recorded as capped (`campaignctl plan` says why).",
            capped.len()
        )?;
    }
    if due == 0 {
        print_nothing_to_send(&mut out, skipped)?;
        return Ok(Outcome::Success);
    }
    let sending = Sending::new(settings, endpoints, key, &campaigns)?;
    sending.run(&mut out, ledger, due, skipped, |tx| {
        send::feed_outgoing(saved.due().map(|(record, _)| Outgoing::saved(record)), tx);
    })
}

/// Opens the ledger for sending: its lock taken, and what an earlier run left in flight
/// recorded as `unknown`.
pub(super) fn open_for_sending(settings: &ApplySettings) -> Result<Box<dyn Ledger>, Error> {
    let mut ledger = settings.state.open()?;
    ledger.lock_within(&Holder::current("apply"), settings.lock_timeout)?;
    let recovered = ledger.recover()?;
    if recovered > 0 {
        output::eprint(format_args!(
            "note: {recovered} send(s) were in flight when an earlier run stopped; they are now recorded as `unknown` \
             (they may or may not have been delivered: see `campaignctl status --status unknown`, resend with --retry-unknown)\n"
        ));
    }
    Ok(ledger)
}

/// The sends that a frequency cap holds back in this pass over a plan, as the ledger records
/// them (`capped`, with the cap and what counts against it).
fn capped_sends(items: impl Iterator<Item = SendItem>) -> Vec<crate::ledger::Skipped> {
    items
        .filter_map(|item| match item {
            SendItem::Send(send) => {
                let reason = send.capped.as_ref()?.text();
                Some(crate::ledger::Skipped {
                    send: Outgoing::new(send).into_record(),
                    status: crate::ledger::Status::Capped,
                    reason,
                })
            }
            _ => None,
        })
        .collect()
}

fn views(plan: &Plan, scan: &Scan) -> Vec<CampaignView> {
    plan.campaigns
        .iter()
        .zip(&scan.campaigns)
        .map(|(p, counts)| CampaignView::of(p, counts))
        .collect()
}

/// The sending part of an apply, once the sends are known.
pub(super) struct Sending {
    executor: Arc<Executor>,
}

impl Sending {
    pub(super) fn new(
        settings: &ApplySettings,
        endpoints: Endpoints,
        key: ApiKey,
        campaigns: &[CampaignView],
    ) -> Result<Sending, Error> {
        let mut send_settings = settings.send.clone();
        // Each campaign's numbers are unique within its occurrence: a number can come twice
        // only when several campaigns send.
        if campaigns.iter().filter(|c| c.counts.due > 0).count() <= 1 {
            send_settings.same_recipient_gap = Duration::ZERO;
        }
        Ok(Sending {
            executor: Arc::new(Executor::new(endpoints, key, send_settings)?),
        })
    }

    /// Sends what `feed` hands over (on a planning thread of its own), shows progress, and
    /// prints the summary.
    pub(super) fn run(
        self,
        out: &mut Out,
        ledger: Box<dyn Ledger>,
        due: usize,
        skipped: Skipped,
        feed: impl FnOnce(&mpsc::Sender<Vec<Outgoing>>) + Send,
    ) -> Result<Outcome, Error> {
        let mode = if io::stderr().is_terminal() {
            progress::Mode::Bar
        } else {
            progress::Mode::Lines
        };
        let progress = Arc::new(Progress::new(due, mode));
        let ledger = SharedLedger::new(ledger);
        // The last reference is dropped here, outside the async runtime: the PostgreSQL
        // client closes its connection with a blocking call that must not run inside it.
        let report = send(feed, self.executor, ledger.clone(), progress.clone())?;
        drop(ledger);
        progress.finish();
        print_report(out, &report, skipped)?;
        let clean = report.failed.is_empty()
            && report.unknown.is_empty()
            && report.released == 0
            && report.stopped.is_none()
            && report.campaigns_stopped.is_empty()
            && report.optouts_unrecorded.is_empty();
        if clean {
            Ok(Outcome::Success)
        } else {
            Err(Error::SendsFailed)
        }
    }
}

/// Runs `feed` on a thread of its own, feeding the executor, and runs the executor to the
/// end (or a stop).
fn send(
    feed: impl FnOnce(&mpsc::Sender<Vec<Outgoing>>) + Send,
    executor: Arc<Executor>,
    ledger: SharedLedger,
    progress: Arc<Progress>,
) -> Result<Report, Error> {
    // One async thread: sending is I/O; rendering and the ledger have threads of their own.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (tx, rx) = send::input();
    std::thread::scope(|scope| {
        // Reading CSV rows, rendering, and building and hashing each request body stay on
        // their own thread, feeding the async sender.
        scope.spawn(move || feed(&tx));
        runtime.block_on(async {
            let (stop_tx, _) = watch::channel(None::<StopReason>);
            let mut signals = Signals::install(false)?;
            let stop = stop_tx.clone();
            let signals = tokio::spawn(async move {
                signals.stopped().await;
                output::eprint(format_args!(
                    "stopping: no new sends; waiting for sends in flight (up to 30s)…\n"
                ));
                stop.send_replace(Some(StopReason::Interrupted));
            });
            // A task, not the future `block_on` polls: waking that future costs the runtime
            // a system call (an eventfd write) each time, and the sending loop is woken
            // about once per send. The task is never aborted, so its only failure is a
            // panic, passed on.
            let report = tokio::spawn(executor.run(rx, ledger, progress, stop_tx))
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
            signals.abort();
            report.map_err(Error::from)
        })
    })
}

/// Asks on the terminal (stdin is one: checked before anything was opened).
pub(super) fn confirm(due: usize) -> Result<(), Error> {
    output::eprint(format_args!(
        "Send {due} message(s)? Type `yes` to confirm: "
    ));
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer)?;
    if answer.trim().eq_ignore_ascii_case("yes") || answer.trim().eq_ignore_ascii_case("y") {
        Ok(())
    } else {
        Err(Error::NotConfirmed)
    }
}
