//! The layout of `ETERNEGO_HOME` and the persona folders in it.
//!
//! ```text
//! ETERNEGO_HOME/
//!   personas/<id>/home/config.json   her record, without secrets
//!   personas/<id>/workspace/         her scratch space (not in the diary)
//!   diary/<id>/<id>.diary            her latest diary (+ earlier nights)
//!   secrets/                         the secret store
//!   identity/                        identity-engine instances
//! ```
//!
//! A persona folder appears whole or not at all: new ones are built in a staging folder
//! `personas/.staging-*` and renamed into place.
//!
//! **One commit point for her record and her secrets.** Her keys and tokens live in the vault
//! under a *generation* (`persona/<id>/sealed/<generation>/...`), and her `config.json` names the
//! generation it goes with (`"secrets_generation"`). A write stores the new generation beside the
//! old one, then replaces `config.json` (the commit point), then drops the old generation. A kill
//! at any instant leaves a `config.json` whose generation is in the vault: before the rename the
//! old record and the old keys, after it the new ones. Leftover generations are dropped by
//! [`Store::recover`]. A record without the field (written before generations) finds its
//! secrets under the older `persona/<id>/config/...` names.
//!
//! **The index.** Every record (without secrets) is kept in memory with the size, modification
//! time and inode of her `config.json`. A read checks that stamp with one `stat` and re-reads
//! only a file that changed, so a hand edit is seen at the next read without a watcher; the
//! `personas/` folder's own stamp tells when a folder was added or removed by hand.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::SystemTime;

use uuid::Uuid;

use crate::record::{Credentials, OrganSlot, Persona};
use crate::secrets::{Keyring, SecretError, SecretStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Persona not found.")]
    NotFound,
    #[error("Her record is unreadable: {0}")]
    Corrupt(String),
    #[error("Could not save the persona's identity: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// The `config.json` field naming the vault generation that holds her secrets.
const GENERATION: &str = "secrets_generation";

/// Where a record write can be stopped, so a test can leave the disk exactly as a kill at that
/// instant would and check what a restart finds.
#[cfg(feature = "failpoints")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteStep {
    /// The new generation of secrets is in the vault; `config.json` is not yet replaced.
    SecretsStored,
    /// `config.json` names the new generation; the old generation is still in the vault.
    RecordWritten,
}

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

struct Entry {
    stamp: Stamp,
    indexed: Indexed,
}

#[derive(Default)]
struct Index {
    /// The `personas/` folder's stamp when its listing was last read; `None` before the first.
    folder: Option<Stamp>,
    entries: BTreeMap<Uuid, Entry>,
}

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

#[derive(Clone)]
pub struct Store {
    root: PathBuf,
    secrets: SecretStore,
    index: Arc<RwLock<Index>>,
    /// Record writes one at a time: a write drops every generation but its own, which must not
    /// catch another write between its vault step and its rename.
    writing: Arc<Mutex<()>>,
    #[cfg(feature = "failpoints")]
    halt: Arc<Mutex<Option<WriteStep>>>,
}

/// The secret-store key of her recovery phrase.
pub fn phrase_key(id: Uuid) -> String {
    format!("persona/{id}/phrase")
}

/// Where a record written before generations keeps its secrets.
fn legacy_prefix(id: Uuid) -> String {
    format!("persona/{id}/config/")
}

fn sealed_root(id: Uuid) -> String {
    format!("persona/{id}/sealed/")
}

fn sealed_prefix(id: Uuid, generation: &str) -> String {
    format!("persona/{id}/sealed/{generation}/")
}

/// Her record and the vault generation it names.
fn parse_record(bytes: &[u8]) -> Result<(Persona, Option<String>), StoreError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let generation = value
        .get(GENERATION)
        .and_then(|g| g.as_str())
        .map(str::to_string);
    let persona = Persona::from_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok((persona, generation))
}

fn is_not_found(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound
}

impl Store {
    /// Opens `root`, keeping the secret store's master key in `keyring` when it can.
    pub fn open(root: &Path, keyring: &Keyring) -> Result<Store, StoreError> {
        std::fs::create_dir_all(root.join("personas"))?;
        let secrets = SecretStore::open_with(root, keyring)?;
        Ok(Store {
            root: root.to_path_buf(),
            secrets,
            index: Arc::default(),
            writing: Arc::default(),
            #[cfg(feature = "failpoints")]
            halt: Arc::default(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn secrets(&self) -> &SecretStore {
        &self.secrets
    }

    fn personas(&self) -> PathBuf {
        self.root.join("personas")
    }

    pub fn persona_dir(&self, id: Uuid) -> PathBuf {
        self.personas().join(id.to_string())
    }

    pub fn home(&self, id: Uuid) -> PathBuf {
        self.persona_dir(id).join("home")
    }

    pub fn workspace(&self, id: Uuid) -> PathBuf {
        self.persona_dir(id).join("workspace")
    }

    pub fn diary_dir(&self, id: Uuid) -> PathBuf {
        self.root.join("diary").join(id.to_string())
    }

    fn config(&self, id: Uuid) -> PathBuf {
        self.home(id).join("config.json")
    }

    /// A fresh, empty staging folder for building a persona folder before it is moved into place.
    /// It is removed when dropped, so a failed create or migrate leaves nothing behind (and
    /// [`Store::recover`] removes one a kill left).
    pub fn staging(&self) -> Result<tempfile::TempDir, StoreError> {
        Ok(tempfile::Builder::new()
            .prefix(".staging-")
            .tempdir_in(self.personas())?)
    }

    pub fn exists(&self, id: Uuid) -> bool {
        self.config(id).is_file()
    }

    /// Every persona whose record can be read, in id order, with her secrets. An unreadable
    /// folder is logged and skipped so one damaged persona cannot hide the others. For views,
    /// [`Store::records`] is the cheap way.
    pub fn list(&self) -> Vec<Persona> {
        self.records()
            .into_iter()
            .filter_map(|i| match self.load(i.record.id) {
                Ok(p) => Some(p),
                Err(StoreError::NotFound) => None,
                Err(e) => {
                    tracing::warn!(persona = %i.record.id, error = %e, "skipping unreadable persona");
                    None
                }
            })
            .collect()
    }

    /// Every persona's record without secrets, in id order, from the index: one `stat` per
    /// persona, and a read only of a `config.json` changed since it was last seen. Blocking
    /// file work: call it off the async runtime.
    pub fn records(&self) -> Vec<Indexed> {
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

    /// Her record without secrets, from the index (checked against the disk).
    pub fn record(&self, id: Uuid) -> Option<Indexed> {
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
            index.entries.retain(|id, _| ids.contains(id));
            index.folder = Some(stamp);
            index.entries.keys().copied().collect()
        };
        for id in ids.difference(&known) {
            self.refresh(*id);
        }
    }

    /// Reads her `config.json` into the index (or drops her from it when it is gone or
    /// unreadable) and returns what the index now holds for her.
    fn refresh(&self, id: Uuid) -> Option<Indexed> {
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
                    _ => Indexed {
                        record: Arc::new(persona),
                        derived: Arc::default(),
                    },
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
                self.index.write().unwrap().entries.remove(&id);
                None
            }
        }
    }

    /// Her record with her secrets put back.
    pub fn load(&self, id: Uuid) -> Result<Persona, StoreError> {
        let bytes = match std::fs::read(self.config(id)) {
            Ok(b) => b,
            Err(e) if is_not_found(&e) => return Err(StoreError::NotFound),
            Err(e) => return Err(e.into()),
        };
        let (mut persona, generation) = parse_record(&bytes)?;
        self.reveal(&mut persona, generation.as_deref())?;
        Ok(persona)
    }

    /// Fills her keys and tokens from the generation her record names. A key still present in
    /// an older, plain-text record is kept as it is.
    fn reveal(&self, persona: &mut Persona, generation: Option<&str>) -> Result<(), StoreError> {
        let prefix = match generation {
            Some(g) => sealed_prefix(persona.id, g),
            None => legacy_prefix(persona.id),
        };
        for slot in OrganSlot::ALL {
            if let Some(mut organ) = persona.organ(slot).cloned() {
                if organ.api_key.is_none() {
                    organ.api_key = self
                        .secrets
                        .get(&format!("{prefix}organ/{}", slot.as_str()))?;
                }
                persona.set_organ(slot, Some(organ));
            }
        }
        for channel in &mut persona.channels {
            if channel.credentials.is_none() {
                channel.credentials = self
                    .secrets
                    .get(&format!("{prefix}channel/{}", channel.kind.as_str()))?
                    .map(|token| Credentials { token });
            }
        }
        Ok(())
    }

    /// The secret-store entries that hold her keys and tokens, under `prefix`.
    fn secret_entries(persona: &Persona, prefix: &str) -> Vec<(String, String)> {
        let organs = OrganSlot::ALL.into_iter().filter_map(|slot| {
            let key = persona.organ(slot)?.api_key.clone()?;
            Some((format!("{prefix}organ/{}", slot.as_str()), key))
        });
        let channels = persona.channels.iter().filter_map(|c| {
            let token = c.credentials.as_ref()?.token.clone();
            Some((format!("{prefix}channel/{}", c.kind.as_str()), token))
        });
        organs.chain(channels).collect()
    }

    /// Writes her record into `home` (any folder: her live home or a staging copy) with secrets
    /// stripped, after storing the secrets as a new generation beside the current one. Returns
    /// the generation; the previous one stays until [`Store::settle_secrets`].
    pub fn write_record(&self, persona: &Persona, home: &Path) -> Result<String, StoreError> {
        let _one = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        self.write_record_held(persona, home)
    }

    /// [`Store::write_record`] for a caller holding `writing`.
    fn write_record_held(&self, persona: &Persona, home: &Path) -> Result<String, StoreError> {
        let generation = Uuid::new_v4().simple().to_string();
        let prefix = sealed_prefix(persona.id, &generation);
        let mut value = serde_json::to_value(persona.without_secrets())
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if let serde_json::Value::Object(map) = &mut value {
            map.insert(GENERATION.into(), generation.clone().into());
        }
        let bytes =
            serde_json::to_vec_pretty(&value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.secrets
            .replace_prefix(&prefix, &Self::secret_entries(persona, &prefix))?;
        self.checkpoint_secrets_stored()?;
        crate::atomic::write(&home.join("config.json"), &bytes)?;
        Ok(generation)
    }

    /// Saves an existing persona's record in place.
    pub fn save(&self, persona: &Persona) -> Result<(), StoreError> {
        if !self.persona_dir(persona.id).is_dir() {
            return Err(StoreError::NotFound);
        }
        let _one = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        self.write_record_held(persona, &self.home(persona.id))?;
        self.checkpoint_record_written()?;
        self.settle_held(persona.id)?;
        self.refresh(persona.id);
        Ok(())
    }

    /// Drops every generation of her secrets but the one her live `config.json` names (and the
    /// pre-generation entries once she has one).
    pub fn settle_secrets(&self, id: Uuid) -> Result<(), StoreError> {
        let _one = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        self.settle_held(id)
    }

    fn settle_held(&self, id: Uuid) -> Result<(), StoreError> {
        let bytes = match std::fs::read(self.config(id)) {
            Ok(b) => b,
            Err(e) if is_not_found(&e) => return Err(StoreError::NotFound),
            Err(e) => return Err(e.into()),
        };
        let (_, generation) = parse_record(&bytes)?;
        let Some(generation) = generation else {
            return Ok(());
        };
        let (sealed, keep, legacy) = (
            sealed_root(id),
            sealed_prefix(id, &generation),
            legacy_prefix(id),
        );
        self.secrets.retain(|k| {
            !(k.starts_with(&legacy) || (k.starts_with(&sealed) && !k.starts_with(&keep)))
        })?;
        Ok(())
    }

    /// Moves a fully built staging folder (holding `home/` and `workspace/`) into place as her
    /// folder. Fails if she already has one.
    pub fn install(&self, id: Uuid, staged: &Path) -> Result<(), StoreError> {
        let target = self.persona_dir(id);
        if target.exists() {
            return Err(StoreError::Io(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a persona with this id already exists",
            )));
        }
        std::fs::rename(staged, &target)?;
        crate::atomic::sync_dir(&self.personas())?;
        self.settle_secrets(id)?;
        self.refresh(id);
        Ok(())
    }

    /// Removes her folder, diary and secrets.
    pub fn delete(&self, id: Uuid) -> Result<(), StoreError> {
        let dir = self.persona_dir(id);
        if !dir.is_dir() {
            return Err(StoreError::NotFound);
        }
        // Rename first so a crash mid-delete never leaves a half-deleted persona in the list;
        // `recover` finishes what a kill interrupts.
        let grave = self
            .personas()
            .join(format!(".deleted-{id}-{}", Uuid::new_v4()));
        std::fs::rename(&dir, &grave)?;
        self.index.write().unwrap().entries.remove(&id);
        std::fs::remove_dir_all(&grave)?;
        let diary = self.diary_dir(id);
        if diary.exists() {
            std::fs::remove_dir_all(diary)?;
        }
        self.forget_secrets(id)?;
        Ok(())
    }

    pub fn forget_secrets(&self, id: Uuid) -> Result<(), StoreError> {
        self.secrets.remove_prefix(&format!("persona/{id}/"))?;
        Ok(())
    }

    pub fn phrase(&self, id: Uuid) -> Result<Option<crate::Phrase>, StoreError> {
        Ok(self
            .secrets
            .get(&phrase_key(id))?
            .map(|p| crate::Phrase::parse(&p)))
    }

    pub fn set_phrase(&self, id: Uuid, phrase: &crate::Phrase) -> Result<(), StoreError> {
        self.secrets.set(&phrase_key(id), phrase.as_str())?;
        Ok(())
    }

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
                    Some(_) => done.temporary += sweep_temporary(&entry.path())?,
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

    /// Stops the next record write after `step`, as a kill there would (tests only).
    #[cfg(feature = "failpoints")]
    pub fn halt_after(&self, step: WriteStep) {
        *self.halt.lock().unwrap() = Some(step);
    }

    #[cfg(feature = "failpoints")]
    fn checkpoint(&self, step: WriteStep) -> Result<(), StoreError> {
        let mut halt = self.halt.lock().unwrap();
        if *halt == Some(step) {
            *halt = None;
            return Err(StoreError::Io(std::io::Error::other(format!(
                "halted after {step:?}"
            ))));
        }
        Ok(())
    }

    fn checkpoint_secrets_stored(&self) -> Result<(), StoreError> {
        #[cfg(feature = "failpoints")]
        self.checkpoint(WriteStep::SecretsStored)?;
        Ok(())
    }

    fn checkpoint_record_written(&self) -> Result<(), StoreError> {
        #[cfg(feature = "failpoints")]
        self.checkpoint(WriteStep::RecordWritten)?;
        Ok(())
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
