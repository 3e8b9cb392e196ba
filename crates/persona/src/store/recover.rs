//! Finishing or rolling back what a kill left half done, once at boot.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use uuid::Uuid;

use super::{
    Store, StoreError, is_not_found, legacy_prefix, parse_record, sealed_prefix, sealed_root,
};

/// What [`Store::recover`] finished or rolled back.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// `.staging-*` folders of creates and migrates that never moved into place.
    pub staging: usize,
    /// `.deleted-*` folders of deletes that were not finished.
    pub deleted: usize,
    /// `.replaced-*` folders: put back when the migrate never installed her, else removed.
    pub replaced: usize,
    /// `.tmp-*` files of writes that never completed.
    pub temporary: usize,
    /// Diary folders of personas that do not exist.
    pub diaries: usize,
    /// Vault entries of personas that do not exist, and generations no record names.
    pub secrets: usize,
}

impl Store {
    /// Finishes or rolls back whatever an interrupted create, update, migrate or delete left:
    /// staging and deleted folders go, a folder set aside by a migrate that never installed its
    /// replacement comes back, temporary files go, and so do the diary folders and vault entries
    /// of personas that do not exist and vault generations no record names. Run it once at boot,
    /// before anything writes: a create in flight would look like a leftover.
    pub fn recover(&self) -> Result<Recovered, StoreError> {
        let mut done = Recovered::default();
        let personas = self.personas();
        for entry in std::fs::read_dir(&personas)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with(".staging-") {
                std::fs::remove_dir_all(&path)?;
                done.staging += 1;
            } else if name.starts_with(".deleted-") {
                std::fs::remove_dir_all(&path)?;
                done.deleted += 1;
            } else if let Some(rest) = name.strip_prefix(".replaced-") {
                let id = rest.get(..36).and_then(|s| Uuid::parse_str(s).ok());
                match id {
                    Some(id) if !self.persona_dir(id).exists() => {
                        std::fs::rename(&path, self.persona_dir(id))?;
                    }
                    _ => std::fs::remove_dir_all(&path)?,
                }
                done.replaced += 1;
            } else if name.starts_with(".tmp-") {
                std::fs::remove_file(&path)?;
                done.temporary += 1;
            }
        }
        crate::atomic::sync_dir(&personas)?;
        let ids: HashSet<Uuid> = std::fs::read_dir(&personas)?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| Uuid::parse_str(n).ok()))
            .collect();
        for id in &ids {
            let home = self.home(*id);
            done.temporary += sweep_temporary(&home)?;
            if let Ok(dirs) = std::fs::read_dir(&home) {
                for dir in dirs.filter_map(|e| e.ok()) {
                    if dir.file_type().is_ok_and(|t| t.is_dir()) {
                        done.temporary += sweep_temporary(&dir.path())?;
                    }
                }
            }
        }
        done.temporary += sweep_temporary(&self.root.join("secrets"))?;
        if let Ok(diaries) = std::fs::read_dir(self.root.join("diary")) {
            for entry in diaries.filter_map(|e| e.ok()) {
                let owner = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| Uuid::parse_str(n).ok());
                match owner {
                    Some(id) if !ids.contains(&id) => {
                        std::fs::remove_dir_all(entry.path())?;
                        done.diaries += 1;
                    }
                    // Her diary and the earlier nights under `nights/`: a sleep writes into both.
                    Some(_) => {
                        done.temporary += sweep_temporary(&entry.path())?;
                        done.temporary += sweep_temporary(&entry.path().join("nights"))?;
                    }
                    None => {}
                }
            }
        }
        // The generation each record names; a record without one keeps her older entries.
        let mut named: BTreeMap<Uuid, Option<String>> = BTreeMap::new();
        for id in &ids {
            let generation = std::fs::read(self.config(*id))
                .ok()
                .and_then(|b| parse_record(&b).ok())
                .map(|(_, g)| g);
            // An unreadable record keeps all of hers: a person may yet repair the file.
            if let Some(g) = generation {
                named.insert(*id, g);
            }
        }
        done.secrets = self.secrets.retain(|key| {
            let Some(owner) = key
                .strip_prefix("persona/")
                .and_then(|rest| rest.get(..36))
                .and_then(|s| Uuid::parse_str(s).ok())
            else {
                return true;
            };
            if !ids.contains(&owner) {
                return false;
            }
            let Some(Some(generation)) = named.get(&owner) else {
                return true;
            };
            let legacy = key.starts_with(&legacy_prefix(owner));
            let stale = key.starts_with(&sealed_root(owner))
                && !key.starts_with(&sealed_prefix(owner, generation));
            !(legacy || stale)
        })?;
        if done != Recovered::default() {
            tracing::info!(
                ?done,
                "finished or rolled back what an interrupted write left"
            );
        }
        Ok(done)
    }
}

/// Removes the `.tmp-*` files directly in `dir` (a write a kill interrupted); returns how many.
fn sweep_temporary(dir: &Path) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if is_not_found(&e) => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries.filter_map(|e| e.ok()) {
        if entry.file_name().to_string_lossy().starts_with(".tmp-")
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}
