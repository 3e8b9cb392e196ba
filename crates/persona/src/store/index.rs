//! The index: every record (without secrets) kept in memory, and how it is kept true to the
//! disk. Hand edits of `config.json` and persona folders added or removed by hand must show at
//! the next list. Two ways, chosen by [`Store::watch`](super::Store::watch):
//!
//! - **by events** (`notify`, inotify on Linux): the watcher marks just the touched persona
//!   stale and the next read re-reads only her; a list with nothing changed touches no file.
//! - **by stat** (the fallback, and before the watch is set up): each entry carries the size,
//!   modification time and inode of her `config.json`; a read checks that stamp with one `stat`
//!   and re-reads only a file that changed; the `personas/` folder's own stamp tells when a
//!   folder was added or removed.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use uuid::Uuid;

use super::{Store, StoreError, is_not_found, parse_record};
use crate::record::Persona;

/// What identifies one version of a file or folder on disk without reading it. A folder's link
/// count changes with every sub-folder added or removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
    links: u64,
}

/// File times are kept at the kernel's coarse clock (a few milliseconds): a change made within
/// this long of the version the index saw could carry the same time, so such a version is not
/// trusted and is read again next time (as git treats "racily clean" entries).
const RACY: std::time::Duration = std::time::Duration::from_millis(50);

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        #[cfg(unix)]
        let (inode, links) = {
            use std::os::unix::fs::MetadataExt;
            (meta.ino(), meta.nlink())
        };
        #[cfg(not(unix))]
        let (inode, links) = (0, 0);
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
            links,
        }
    }

    /// Whether this version is old enough that a later change must show in its stamp.
    fn settled(&self) -> bool {
        self.modified
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .is_some_and(|age| age > RACY)
    }
}

/// One persona as the index holds her: her record without secrets, and a slot where a reader
/// may keep what it derives from this version of it (the daemon keeps her serialised view
/// there), dropped with the version when her file changes.
#[derive(Clone)]
pub struct Indexed {
    pub record: Arc<Persona>,
    pub derived: Arc<OnceLock<Vec<u8>>>,
}

pub(super) struct Entry {
    stamp: Stamp,
    indexed: Indexed,
}

#[derive(Default)]
pub(super) struct Index {
    /// The `personas/` folder's stamp when its listing was last read; `None` before the first.
    folder: Option<Stamp>,
    pub(super) entries: BTreeMap<Uuid, Entry>,
    /// Moves whenever a persona is added, changed or dropped: two reads that see the same
    /// version saw the same records (see [`Store::version`]).
    pub(super) version: u64,
}

impl Index {
    /// Drops her, moving the version if she was there.
    pub(super) fn remove(&mut self, id: Uuid) {
        if self.entries.remove(&id).is_some() {
            self.version += 1;
        }
    }
}

impl Store {
    /// Every persona's record without secrets, in id order, from the index: by events, a
    /// re-read only of the personas the watcher saw touched; by stat, one `stat` per persona and
    /// a re-read only of a `config.json` changed since it was last seen. Blocking file work:
    /// call it off the async runtime.
    pub fn records(&self) -> Vec<Indexed> {
        match self.watch.take_stale() {
            Some(stale) => {
                for id in stale {
                    self.refresh_touched(id);
                }
                let index = self.index.read().unwrap();
                index.entries.values().map(|e| e.indexed.clone()).collect()
            }
            None => self.records_by_stat(),
        }
    }

    /// Her record without secrets, from the index (checked against the disk when no watcher
    /// vouches for it).
    pub fn record(&self, id: Uuid) -> Option<Indexed> {
        match self.watch.take_if_stale(id) {
            Some(true) => self.refresh_touched(id),
            Some(false) => self
                .index
                .read()
                .unwrap()
                .entries
                .get(&id)
                .map(|e| e.indexed.clone()),
            None => self.record_by_stat(id),
        }
    }

    /// The index's version: equal before and after a [`Store::records`], it names exactly the
    /// records read, so a reader may keep what it built from them under it.
    pub fn version(&self) -> u64 {
        self.index.read().unwrap().version
    }

    /// Reads her record into the index now (or drops her from it), for a caller that changed
    /// her folder itself: a watched index would otherwise learn of it only when the event
    /// arrives.
    pub fn reread(&self, id: Uuid) -> Option<Indexed> {
        self.refresh(id)
    }

    /// Re-reads a persona the watcher saw touched. A folder without its `config.json` yet (being
    /// copied in, or removed, by hand) stays stale: the watch on a new folder is added after it
    /// appears, so the event for a file written into it first can be missed.
    fn refresh_touched(&self, id: Uuid) -> Option<Indexed> {
        let indexed = self.refresh(id);
        if indexed.is_none() && !self.config(id).exists() && self.persona_dir(id).is_dir() {
            self.watch.touch(id);
        }
        indexed
    }

    fn records_by_stat(&self) -> Vec<Indexed> {
        self.rescan_if_changed();
        let current: Vec<(Uuid, Stamp)> = {
            let index = self.index.read().unwrap();
            index.entries.iter().map(|(id, e)| (*id, e.stamp)).collect()
        };
        let mut out = Vec::with_capacity(current.len());
        for (id, stamp) in current {
            match std::fs::metadata(self.config(id)) {
                Ok(meta) if stamp.settled() && Stamp::of(&meta) == stamp => {
                    if let Some(e) = self.index.read().unwrap().entries.get(&id) {
                        out.push(e.indexed.clone());
                    }
                }
                _ => {
                    if let Some(indexed) = self.refresh(id) {
                        out.push(indexed);
                    }
                }
            }
        }
        out
    }

    fn record_by_stat(&self, id: Uuid) -> Option<Indexed> {
        let stamp = std::fs::metadata(self.config(id))
            .ok()
            .map(|m| Stamp::of(&m));
        {
            let index = self.index.read().unwrap();
            if let (Some(e), Some(stamp)) = (index.entries.get(&id), stamp)
                && e.stamp == stamp
                && stamp.settled()
            {
                return Some(e.indexed.clone());
            }
        }
        self.refresh(id)
    }

    /// Re-reads the `personas/` listing when the folder changed since it was last read, so
    /// folders added or removed by hand appear and vanish.
    fn rescan_if_changed(&self) {
        let Ok(meta) = std::fs::metadata(self.personas()) else {
            return;
        };
        let stamp = Stamp::of(&meta);
        if stamp.settled() && self.index.read().unwrap().folder == Some(stamp) {
            return;
        }
        let ids: HashSet<Uuid> = match std::fs::read_dir(self.personas()) {
            Ok(entries) => entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(|n| Uuid::parse_str(n).ok()))
                .collect(),
            Err(_) => return,
        };
        let known: HashSet<Uuid> = {
            let mut index = self.index.write().unwrap();
            let before = index.entries.len();
            index.entries.retain(|id, _| ids.contains(id));
            if index.entries.len() != before {
                index.version += 1;
            }
            index.folder = Some(stamp);
            index.entries.keys().copied().collect()
        };
        for id in ids.difference(&known) {
            self.refresh(*id);
        }
    }

    /// Reads her `config.json` into the index (or drops her from it when it is gone or
    /// unreadable) and returns what the index now holds for her.
    pub(super) fn refresh(&self, id: Uuid) -> Option<Indexed> {
        let read = || -> Result<(Stamp, Persona), StoreError> {
            let path = self.config(id);
            let file = std::fs::File::open(&path).map_err(|e| {
                if is_not_found(&e) {
                    StoreError::NotFound
                } else {
                    e.into()
                }
            })?;
            let stamp = Stamp::of(&file.metadata()?);
            let bytes = std::io::read_to_string(file)?;
            let (persona, _) = parse_record(bytes.as_bytes())?;
            if persona.id != id {
                return Err(StoreError::Corrupt("her record names another id".into()));
            }
            Ok((stamp, persona))
        };
        match read() {
            Ok((stamp, persona)) => {
                let mut index = self.index.write().unwrap();
                // Read again only because it was recent, and unchanged: keep what was derived.
                let indexed = match index.entries.get(&id) {
                    Some(e) if *e.indexed.record == persona => e.indexed.clone(),
                    _ => {
                        index.version += 1;
                        Indexed {
                            record: Arc::new(persona),
                            derived: Arc::default(),
                        }
                    }
                };
                let entry = Entry {
                    stamp,
                    indexed: indexed.clone(),
                };
                index.entries.insert(id, entry);
                Some(indexed)
            }
            Err(e) => {
                if !matches!(e, StoreError::NotFound) {
                    tracing::warn!(persona = %id, error = %e, "skipping unreadable persona");
                }
                self.index.write().unwrap().remove(id);
                None
            }
        }
    }
}
