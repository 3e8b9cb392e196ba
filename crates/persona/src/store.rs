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

use std::path::{Path, PathBuf};

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

#[derive(Clone)]
pub struct Store {
    root: PathBuf,
    secrets: SecretStore,
}

/// The secret-store key of her recovery phrase.
pub fn phrase_key(id: Uuid) -> String {
    format!("persona/{id}/phrase")
}

fn config_prefix(id: Uuid) -> String {
    format!("persona/{id}/config/")
}

impl Store {
    /// Opens `root`, keeping the secret store's master key in `keyring` when it can.
    pub fn open(root: &Path, keyring: &Keyring) -> Result<Store, StoreError> {
        std::fs::create_dir_all(root.join("personas"))?;
        let secrets = SecretStore::open_with(root, keyring)?;
        Ok(Store {
            root: root.to_path_buf(),
            secrets,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn secrets(&self) -> &SecretStore {
        &self.secrets
    }

    pub fn persona_dir(&self, id: Uuid) -> PathBuf {
        self.root.join("personas").join(id.to_string())
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

    /// A fresh, empty staging folder for building a persona folder before it is moved into place.
    /// It is removed when dropped, so a failed create or migrate leaves nothing behind.
    pub fn staging(&self) -> Result<tempfile::TempDir, StoreError> {
        Ok(tempfile::Builder::new()
            .prefix(".staging-")
            .tempdir_in(self.root.join("personas"))?)
    }

    pub fn exists(&self, id: Uuid) -> bool {
        self.home(id).join("config.json").is_file()
    }

    /// Every persona whose record can be read, in id order. An unreadable folder is logged and
    /// skipped so one damaged persona cannot hide the others.
    pub fn list(&self) -> Vec<Persona> {
        let Ok(entries) = std::fs::read_dir(self.root.join("personas")) else {
            return Vec::new();
        };
        let mut ids: Vec<Uuid> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| Uuid::parse_str(n).ok()))
            .collect();
        ids.sort();
        ids.into_iter()
            .filter_map(|id| match self.load(id) {
                Ok(p) => Some(p),
                Err(StoreError::NotFound) => None,
                Err(e) => {
                    tracing::warn!(persona = %id, error = %e, "skipping unreadable persona");
                    None
                }
            })
            .collect()
    }

    /// Her record with her secrets put back.
    pub fn load(&self, id: Uuid) -> Result<Persona, StoreError> {
        let path = self.home(id).join("config.json");
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::NotFound),
            Err(e) => return Err(e.into()),
        };
        let mut persona =
            Persona::from_json(&bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.reveal(&mut persona)?;
        Ok(persona)
    }

    /// Fills her keys and tokens from the secret store. A key still present in an older,
    /// plain-text record is kept as it is.
    fn reveal(&self, persona: &mut Persona) -> Result<(), StoreError> {
        let prefix = config_prefix(persona.id);
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

    /// The secret-store entries that hold her keys and tokens.
    fn secret_entries(persona: &Persona) -> Vec<(String, String)> {
        let prefix = config_prefix(persona.id);
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
    /// stripped, after storing the secrets.
    pub fn write_record(&self, persona: &Persona, home: &Path) -> Result<(), StoreError> {
        self.secrets
            .replace_prefix(&config_prefix(persona.id), &Self::secret_entries(persona))?;
        let bytes = serde_json::to_vec_pretty(&persona.without_secrets())
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        crate::atomic::write(&home.join("config.json"), &bytes)?;
        Ok(())
    }

    /// Saves an existing persona's record in place.
    pub fn save(&self, persona: &Persona) -> Result<(), StoreError> {
        if !self.persona_dir(persona.id).is_dir() {
            return Err(StoreError::NotFound);
        }
        self.write_record(persona, &self.home(persona.id))
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
        crate::atomic::sync_dir(&self.root.join("personas"))?;
        Ok(())
    }

    /// Removes her folder, diary and secrets.
    pub fn delete(&self, id: Uuid) -> Result<(), StoreError> {
        let dir = self.persona_dir(id);
        if !dir.is_dir() {
            return Err(StoreError::NotFound);
        }
        // Rename first so a crash mid-delete never leaves a half-deleted persona in the list.
        let grave = self
            .root
            .join("personas")
            .join(format!(".deleted-{id}-{}", Uuid::new_v4()));
        std::fs::rename(&dir, &grave)?;
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
}
