//! The file watcher: a change to what the campaign set was read from triggers a reload.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tracing::warn;

use super::RELOAD_DEBOUNCE;

/// Watches the campaign paths (a directory with everything below it), and the directory of
/// every other file the set was read from: the project file, its catalogue and opt-out
/// lists, CSV files kept elsewhere. Directories, not files: editors replace a file by
/// renaming another over it.
pub(crate) struct FileWatch {
    watcher: notify::RecommendedWatcher,
    /// The campaign directories, watched with everything below them (canonical paths).
    trees: Vec<PathBuf>,
    /// The other directories watched (canonical paths).
    dirs: HashSet<PathBuf>,
}

impl FileWatch {
    /// Watches `paths` (campaign files or directories); a relevant event sends a reload to
    /// `reloads` (a burst of them, one). `None` when the system offers no watcher: reloads
    /// then come from SIGHUP only.
    pub(crate) fn start(paths: &[PathBuf], reloads: mpsc::Sender<String>) -> Option<FileWatch> {
        let (events_tx, mut events_rx) = mpsc::unbounded_channel::<()>();
        let handler = move |event: notify::Result<notify::Event>| {
            if event.is_ok_and(|e| relevant(&e)) {
                let _ = events_tx.send(());
            }
        };
        let watcher = match notify::recommended_watcher(handler) {
            Ok(w) => w,
            Err(e) => {
                warn!("cannot watch campaign files ({e}); reload with SIGHUP");
                return None;
            }
        };
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
        let mut watch = FileWatch {
            watcher,
            trees: Vec::new(),
            dirs: HashSet::new(),
        };
        for path in paths.iter().filter(|p| p.is_dir()) {
            if watch.watch(path, RecursiveMode::Recursive) {
                watch.trees.push(canonical(path));
            }
        }
        let files: Vec<PathBuf> = paths.iter().filter(|p| !p.is_dir()).cloned().collect();
        watch.add(&files);
        Some(watch)
    }

    /// Watches the directories of `files` that are not watched yet (after a reload, the
    /// files of the new set: a list or a CSV file named since the start).
    pub(crate) fn add(&mut self, files: &[PathBuf]) {
        for file in files {
            let dir = file
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let key = canonical(dir);
            // A directory under a campaign tree is watched already, and a second watch on
            // it would replace the recursive one.
            if self.trees.iter().any(|t| key.starts_with(t)) || self.dirs.contains(&key) {
                continue;
            }
            if self.watch(dir, RecursiveMode::NonRecursive) {
                self.dirs.insert(key);
            }
        }
    }

    fn watch(&mut self, path: &Path, mode: RecursiveMode) -> bool {
        match self.watcher.watch(path, mode) {
            Ok(()) => true,
            Err(e) => {
                warn!(path = %path.display(), "cannot watch ({e}); reload with SIGHUP");
                false
            }
        }
    }
}

/// `path` without `.`, `..` and symbolic links when it exists, so two spellings of one
/// directory are one.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// Whether a file event may change what is loaded: a YAML, JSON (a template catalogue) or
/// CSV file changed, or a directory arrived (created, or moved in whole: `mv staging/x
/// campaigns/` raises no event for the files inside it).
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
                Some("yaml" | "yml" | "json" | "csv")
            ) || (arrived && p.is_dir())
        })
}
