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
//! **The index** ([`index`]) keeps every record (without secrets) in memory, true to hand edits
//! by filesystem events once [`Store::watch`] runs ([`watch`]), else by one `stat` per persona.
//! **Recovery** ([`recover`]) finishes or rolls back what a kill interrupted.

mod index;
mod recover;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

pub use index::Indexed;
pub use recover::Recovered;
pub use watch::WatchError;

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

#[derive(Clone)]
pub struct Store {
    root: PathBuf,
    secrets: SecretStore,
    index: Arc<RwLock<index::Index>>,
    /// How the index learns of hand edits (see [`Store::watch`]).
    watch: Arc<watch::Watch>,
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
            watch: Arc::default(),
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
        self.index.write().unwrap().remove(id);
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
