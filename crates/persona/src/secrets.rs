//! The secret store: API keys, channel tokens and recovery phrases, kept out of `config.json`.
//!
//! The secrets live in one encrypted vault, `ETERNEGO_HOME/secrets/vault`: a Fernet token over a
//! JSON map, readable by the owner only. Its 32-byte master key is kept in the system keyring
//! when one answers (the Secret Service, the macOS Keychain or the Windows Credential Manager,
//! see [`Keyring`]), otherwise in `secrets/master.key` beside it (mode 0600). `docs/diary.md`
//! explains the choice.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fernet::Fernet;

mod keyring;

pub use keyring::Keyring;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("Could not access secure storage: {0}")]
    Io(#[from] io::Error),
    #[error("Secure storage is damaged: {0}")]
    Corrupt(String),
    #[error("Could not access secure storage: the system keyring {0}")]
    Keyring(String),
}

const VAULT: &str = "vault";
const KEY_FILE: &str = "master.key";
/// Present when the master key is in the keyring; holds the keyring entry's name.
const KEYRING_MARK: &str = "keyring";

/// Shared handle to the store; clones see the same secrets.
#[derive(Clone)]
pub struct SecretStore {
    path: PathBuf,
    fernet: Arc<Fernet>,
    cache: Arc<Mutex<BTreeMap<String, String>>>,
}

impl SecretStore {
    /// Opens (or creates) the store that lives under `root` (`ETERNEGO_HOME`).
    pub fn open(root: &Path) -> Result<SecretStore, SecretError> {
        SecretStore::open_with(root, &Keyring::system())
    }

    /// [`SecretStore::open`] with the keyring a new store may use.
    pub fn open_with(root: &Path, keyring: &Keyring) -> Result<SecretStore, SecretError> {
        let dir = root.join("secrets");
        private_dir(&dir)?;
        let path = dir.join(VAULT);
        let fernet = master_key(&dir, keyring, path.exists())?;
        let cache = match std::fs::read(&path) {
            Ok(token) => {
                let text = String::from_utf8(token)
                    .map_err(|_| SecretError::Corrupt("the vault is not a token".into()))?;
                let json = fernet.decrypt(text.trim()).map_err(|_| {
                    SecretError::Corrupt("the vault does not open with its master key".into())
                })?;
                serde_json::from_slice(&json).map_err(|e| SecretError::Corrupt(e.to_string()))?
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e.into()),
        };
        Ok(SecretStore {
            path,
            fernet: Arc::new(fernet),
            cache: Arc::new(Mutex::new(cache)),
        })
    }

    pub fn get(&self, key: &str) -> Result<Option<String>, SecretError> {
        Ok(self.cache.lock().unwrap().get(key).cloned())
    }

    pub fn set(&self, key: &str, value: &str) -> Result<(), SecretError> {
        self.replace_prefix(key, &[(key.to_string(), value.to_string())])
    }

    /// Removes every key under `prefix`, then sets `entries`, in one durable write.
    pub fn replace_prefix(
        &self,
        prefix: &str,
        entries: &[(String, String)],
    ) -> Result<(), SecretError> {
        let mut map = self.cache.lock().unwrap();
        let mut next = map.clone();
        next.retain(|k, _| !k.starts_with(prefix));
        for (k, v) in entries {
            next.insert(k.clone(), v.clone());
        }
        self.persist(&next)?;
        *map = next;
        Ok(())
    }

    pub fn remove_prefix(&self, prefix: &str) -> Result<(), SecretError> {
        self.replace_prefix(prefix, &[])
    }

    /// Keeps only the entries `keep` accepts, in one durable write (none when nothing goes).
    /// Returns how many were removed.
    pub fn retain(&self, mut keep: impl FnMut(&str) -> bool) -> Result<usize, SecretError> {
        let mut map = self.cache.lock().unwrap();
        let mut next = map.clone();
        next.retain(|k, _| keep(k));
        let removed = map.len() - next.len();
        if removed > 0 {
            self.persist(&next)?;
            *map = next;
        }
        Ok(removed)
    }

    fn persist(&self, map: &BTreeMap<String, String>) -> Result<(), SecretError> {
        let json = serde_json::to_vec(map).map_err(|e| SecretError::Corrupt(e.to_string()))?;
        crate::atomic::write(&self.path, self.fernet.encrypt(&json).as_bytes())?;
        Ok(())
    }
}

/// Creates `dir` if needed and makes it the owner's alone.
fn private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The vault's key: from wherever this store keeps it, or, for a store without a vault yet, a new
/// one put in the keyring if it answers (and reads back), else in the key file.
fn master_key(dir: &Path, keyring: &Keyring, vault_exists: bool) -> Result<Fernet, SecretError> {
    let parse = |text: &str| {
        Fernet::new(text.trim())
            .ok_or_else(|| SecretError::Corrupt("the master key is malformed".into()))
    };
    let key_file = dir.join(KEY_FILE);
    match std::fs::read_to_string(&key_file) {
        Ok(text) => return parse(&text),
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
        Err(_) => {}
    }
    match std::fs::read_to_string(dir.join(KEYRING_MARK)) {
        Ok(item) => {
            let key = keyring.lookup(item.trim()).map_err(SecretError::Keyring)?;
            return parse(&key);
        }
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
        Err(_) => {}
    }
    if vault_exists {
        return Err(SecretError::Corrupt(
            "the vault's master key is missing".into(),
        ));
    }
    let key = Fernet::generate_key();
    let item = format!("vault-{}", uuid::Uuid::new_v4());
    match keyring.keep(&item, &key) {
        Ok(()) => crate::atomic::write(&dir.join(KEYRING_MARK), item.as_bytes())?,
        Err(why) => {
            if keyring.is_system() {
                tracing::warn!("the system keyring {why}; keeping the master key in a file");
            }
            crate::atomic::write(&key_file, key.as_bytes())?;
        }
    }
    parse(&key)
}
