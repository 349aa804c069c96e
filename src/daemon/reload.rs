//! Reloads: on SIGHUP and when a file of the set changes (see [`super::file_watch`]), the
//! whole set is loaded and checked beside the scheduler, and installed only if it is valid.

use std::io;
use std::path::{Path, PathBuf};

use chrono::Utc;
use tracing::{error, info};

use super::{Daemon, Reloaded};
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
        if let Some(file_watch) = &mut self.file_watch {
            // A list or a CSV file named since the last set is watched from now on.
            file_watch.add(&checked.input_files());
        }
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
