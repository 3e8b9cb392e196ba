//! Watching `personas/` for hand edits, so a list with nothing changed touches no file.
//!
//! One recursive watch (`notify`'s recommended watcher: inotify on Linux) on the `personas/`
//! folder. An event on `<id>/`, `<id>/home/` or `<id>/home/config.json` marks just that persona
//! stale; the next read re-reads her once however many events a save made (the invalidation is
//! debounced into the stale set, the work into the next read). Events anywhere else (her
//! workspace, a staging folder, a temporary file) are ignored. When the kernel's queue
//! overflows every entry is checked once by stat; when a watch cannot be kept (the per-user
//! inotify limit reached as folders are added) the index goes back to the stat check for good.

use std::collections::HashSet;
use std::path::{Component, Path};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use notify::{RecursiveMode, Watcher};
use uuid::Uuid;

use super::Store;

/// Why [`Store::watch`] could not watch: the caller keeps the stat check.
#[derive(Debug, thiserror::Error)]
#[error("Could not watch the personas folder: {0}")]
pub struct WatchError(#[from] notify::Error);

/// How the index learns of changes on disk, and what it has learnt since the last read.
#[derive(Default)]
pub(super) struct Watch {
    state: Mutex<State>,
    /// Bumped by every event that marked something stale, so a caller can wait for one.
    generation: AtomicU64,
    /// Kept alive while the store is; dropped with it, which stops its thread.
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
}

#[derive(Default)]
struct State {
    /// Events are arriving; `false` before [`Store::watch`] and after a watch was lost.
    watching: bool,
    /// Every entry must be checked by stat once (the watch just started, or events were lost).
    recheck_all: bool,
    /// Personas touched since they were last read.
    stale: HashSet<Uuid>,
}

impl Watch {
    /// The personas to re-read before answering from the index, or `None` when the index must
    /// be checked by stat instead (no watch, or one full check owed; taking it pays it).
    pub(super) fn take_stale(&self) -> Option<Vec<Uuid>> {
        let mut state = self.state.lock().unwrap();
        if !state.watching || std::mem::take(&mut state.recheck_all) {
            state.stale.clear();
            return None;
        }
        Some(state.stale.drain().collect())
    }

    /// Whether she must be re-read (taking the mark), or `None` when only a stat can tell.
    pub(super) fn take_if_stale(&self, id: Uuid) -> Option<bool> {
        let mut state = self.state.lock().unwrap();
        if !state.watching || state.recheck_all {
            return None;
        }
        Some(state.stale.remove(&id))
    }

    /// Marks her stale again (a folder still without its record).
    pub(super) fn touch(&self, id: Uuid) {
        self.state.lock().unwrap().stale.insert(id);
    }

    fn note(&self, personas: &Path, event: notify::Result<notify::Event>) {
        let mut state = self.state.lock().unwrap();
        match event {
            Ok(event) if event.need_rescan() => state.recheck_all = true,
            Ok(event) => {
                let touched: Vec<Uuid> = event
                    .paths
                    .iter()
                    .filter_map(|p| touched(personas, p))
                    .collect();
                if touched.is_empty() {
                    return;
                }
                state.stale.extend(touched);
            }
            Err(e) => {
                if state.watching {
                    tracing::warn!(
                        error = %e,
                        "lost the watch on the personas folder; hand edits are now found by one stat per persona per list"
                    );
                }
                state.watching = false;
            }
        }
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// The persona whose record an event at `path` may have changed.
fn touched(personas: &Path, path: &Path) -> Option<Uuid> {
    let mut parts = path.strip_prefix(personas).ok()?.components();
    let id = match parts.next()? {
        Component::Normal(name) => Uuid::parse_str(name.to_str()?).ok()?,
        _ => return None,
    };
    let rest: Vec<_> = parts.map(|c| c.as_os_str()).collect();
    let relevant = match rest.as_slice() {
        [] => true,
        [home] => *home == "home",
        [home, file] => *home == "home" && *file == "config.json",
        _ => false,
    };
    relevant.then_some(id)
}

impl Store {
    /// Starts keeping the index true by filesystem events instead of a `stat` per persona per
    /// list. Until it returns, and if it fails, the stat check goes on. Setting up walks every
    /// folder under `personas/` (one inotify watch each): call it off the async runtime.
    pub fn watch(&self) -> Result<(), WatchError> {
        let personas = self.personas();
        let shared: Weak<Watch> = Arc::downgrade(&self.watch);
        let root = personas.clone();
        let mut watcher = notify::recommended_watcher(move |event| {
            if let Some(watch) = shared.upgrade() {
                watch.note(&root, event);
            }
        })?;
        watcher.watch(&personas, RecursiveMode::Recursive)?;
        {
            let mut state = self.watch.state.lock().unwrap();
            // What changed before the watch was in place is found by one check by stat.
            state.recheck_all = true;
            state.watching = true;
        }
        *self.watch.watcher.lock().unwrap() = Some(watcher);
        Ok(())
    }

    /// Whether filesystem events keep the index true (else the stat check does).
    pub fn watching(&self) -> bool {
        self.watch.state.lock().unwrap().watching
    }

    /// How many filesystem events have changed what the index must re-read: a caller that
    /// edited a file by hand waits for it to move before expecting the next read to show it.
    pub fn generation(&self) -> u64 {
        self.watch.generation.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_her_folder_home_and_record_mark_her_stale() {
        let root = Path::new("/data/personas");
        let id = Uuid::new_v4();
        let at = |rest: &str| touched(root, &root.join(id.to_string()).join(rest));
        assert_eq!(at(""), Some(id));
        assert_eq!(at("home"), Some(id));
        assert_eq!(at("home/config.json"), Some(id));
        assert_eq!(at("home/.tmp-x"), None);
        assert_eq!(at("home/notes/config.json"), None);
        assert_eq!(at("workspace/config.json"), None);
        assert_eq!(
            touched(root, &root.join(".staging-x/home/config.json")),
            None
        );
        assert_eq!(touched(root, root), None);
    }
}
