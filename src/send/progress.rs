//! Progress of a long apply: a bar on a terminal, a line every few seconds otherwise (CI
//! logs, cron mail), nothing when asked to be quiet. Outcomes only count; the display is
//! redrawn on a clock ([`Progress::redraw_on_clock`]), so it moves on while nothing finishes
//! (a slow API, a `Retry-After`) and costs a send nothing.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::ledger::Status;

/// Interval of the progress lines written when stderr is not a terminal.
const LINE_INTERVAL: Duration = Duration::from_secs(5);

/// How often the display is redrawn during a run.
const REFRESH: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Bar,
    Lines,
    Quiet,
}

pub(crate) struct Progress {
    total: usize,
    mode: Mode,
    bar: Option<ProgressBar>,
    start: Instant,
    last_line: Mutex<Instant>,
    sent: AtomicUsize,
    failed: AtomicUsize,
    unknown: AtomicUsize,
    skipped: AtomicUsize,
    /// Said with every update while set (the run is slower than its rate, and why).
    note: Mutex<Option<String>>,
}

impl Progress {
    pub(crate) fn new(total: usize, mode: Mode) -> Progress {
        let bar = (mode == Mode::Bar).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} {msg} [{elapsed_precise}, {per_sec}, eta {eta}]",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            total,
            mode,
            bar,
            start: Instant::now(),
            last_line: Mutex::new(Instant::now()),
            sent: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            unknown: AtomicUsize::new(0),
            skipped: AtomicUsize::new(0),
            note: Mutex::new(None),
        }
    }

    /// A send's outcome was recorded.
    pub(crate) fn finished(&self, status: Status) {
        let counter = match status {
            Status::Sent => &self.sent,
            Status::Unknown => &self.unknown,
            _ => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A due send turned out to be recorded by another run already.
    pub(crate) fn skipped(&self) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }

    /// Redraws the display every [`REFRESH`] until the task is aborted (the run's end).
    ///
    /// The clock also keeps a timer in tokio's timer wheel for the whole run. With the
    /// wheel empty (every send waiting for the ledger), the runtime wakes its own event
    /// loop, a system call, for each request timeout registered until it next polls for
    /// I/O: about one per send (tokio-rs/tokio#5207).
    pub(crate) async fn redraw_on_clock(self: std::sync::Arc<Self>) {
        let mut clock = tokio::time::interval(REFRESH);
        clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            clock.tick().await;
            self.refresh();
        }
    }

    fn done(&self) -> usize {
        self.sent.load(Ordering::Relaxed)
            + self.failed.load(Ordering::Relaxed)
            + self.unknown.load(Ordering::Relaxed)
            + self.skipped.load(Ordering::Relaxed)
    }

    /// Sets (or clears) the note shown with the counts.
    pub(crate) fn set_note(&self, note: Option<String>) {
        *self.note.lock().unwrap_or_else(|e| e.into_inner()) = note;
    }

    fn message(&self) -> String {
        let counts = format!(
            "{} sent, {} failed, {} unknown",
            self.sent.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.unknown.load(Ordering::Relaxed)
        );
        match &*self.note.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(note) => format!("{counts}; {note}"),
            None => counts,
        }
    }

    fn refresh(&self) {
        match self.mode {
            Mode::Bar => {
                if let Some(bar) = &self.bar {
                    bar.set_position(self.done() as u64);
                    bar.set_message(self.message());
                }
            }
            Mode::Lines => {
                let mut last = self.last_line.lock().unwrap_or_else(|e| e.into_inner());
                if last.elapsed() >= LINE_INTERVAL {
                    *last = Instant::now();
                    let rate = self.done() as f64 / self.start.elapsed().as_secs_f64().max(0.001);
                    // Best effort: a closed stderr never stops the run.
                    crate::output::eprint(format_args!(
                        "progress: {}/{} ({}), {rate:.0}/s\n",
                        self.done(),
                        self.total,
                        self.message()
                    ));
                }
            }
            Mode::Quiet => {}
        }
    }

    /// Clears the bar before the summary is printed.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
