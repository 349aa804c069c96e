//! Reloads: on SIGHUP and when a campaign file changes, the whole set is loaded and checked
//! beside the scheduler, and installed only if it is valid.

use std::io;
use std::path::{Path, PathBuf};

use chrono::Utc;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use super::{Daemon, RELOAD_DEBOUNCE, Reloaded};
use crate::plan::PlanOptions;
use crate::plan::pipeline::{Checked, evaluate_pinned};

impl Daemon {
    /// Loads and checks the files on a blocking thread; the scheduler keeps firing meanwhile.
    pub(super) fn start_reload(&mut self, trigger: String) {
        if self.reloading.is_some() {
            self.reload_again = Some(trigger);
            return;
        }
        let paths = self.paths.clone();
        let config = self.config.clone();
        let pins = self.pins.path().to_owned();
        self.generation += 1;
        let generation = self.generation;
        self.reloading = Some(tokio::task::spawn_blocking(move || {
            // Only a valid set is installed; an invalid one's copies go with it.
            let reloaded = load(&paths, config.as_deref(), &pins, generation)
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

    pub(super) async fn reloaded(&mut self, trigger: &str, reloaded: Reloaded) {
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
        self.rules = super::Rules {
            admitted: self.rules.admitted.clone(),
            ..super::Rules::of(&checked)
        };
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
}

/// The campaign files at `paths`, validated from copies of their CSV files made in `dir`
/// before any row is read (see [`crate::campaign::pin::pin_csv_files`]): what was validated is
/// what gets sent, even if a CSV file is later edited into an invalid state (the reload of
/// that edit is rejected, and the last good version keeps running).
pub(crate) fn load(
    paths: &[PathBuf],
    config: Option<&Path>,
    dir: &Path,
    generation: u64,
) -> io::Result<Checked> {
    evaluate_pinned(
        paths,
        config,
        Utc::now(),
        PlanOptions::default(),
        true,
        dir,
        generation,
    )
}

/// Whether a file event may change what is loaded: a YAML or CSV file changed, or a
/// directory arrived (created, or moved in whole: `mv staging/x campaigns/` raises no event
/// for the files inside it).
fn relevant(event: &notify::Event) -> bool {
    use notify::EventKind;
    use notify::event::ModifyKind;
    let arrived = matches!(
        event.kind,
        EventKind::Create(_) | EventKind::Modify(ModifyKind::Name(_))
    );
    !event.kind.is_access()
        && event.paths.iter().any(|p| {
            matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("yaml" | "yml" | "csv")
            ) || (arrived && p.is_dir())
        })
}

/// Watches the campaign paths; a change to a YAML or CSV file, or a directory that
/// arrives, triggers a reload.
pub(crate) fn watch_files(
    paths: &[PathBuf],
    reloads: mpsc::Sender<String>,
) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let (events_tx, mut events_rx) = mpsc::unbounded_channel::<()>();
    let handler = move |event: notify::Result<notify::Event>| {
        let relevant = event.is_ok_and(|e| relevant(&e));
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
                .unwrap_or(Path::new("."));
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
