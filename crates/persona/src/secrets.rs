//! The secret store: API keys, channel tokens and recovery phrases, kept out of `config.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("Could not access secure storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("Secure storage is damaged: {0}")]
    Corrupt(String),
}

/// Shared handle to the store; clones see the same secrets.
#[derive(Clone)]
pub struct SecretStore {
    path: PathBuf,
    cache: Arc<Mutex<BTreeMap<String, String>>>,
}

impl SecretStore {
    /// Opens (or creates) the store that lives under `root` (`ETERNEGO_HOME`).
    pub fn open(root: &Path) -> Result<SecretStore, SecretError> {
        let path = root.join("secrets").join("vault.json");
        let cache = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| SecretError::Corrupt(e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e.into()),
        };
        Ok(SecretStore { path, cache: Arc::new(Mutex::new(cache)) })
    }

    pub fn get(&self, key: &str) -> Result<Option<String>, SecretError> {
        Ok(self.cache.lock().unwrap().get(key).cloned())
    }

    pub fn set(&self, key: &str, value: &str) -> Result<(), SecretError> {
        self.replace_prefix(key, &[(key.to_string(), value.to_string())])
    }

    /// Removes every key under `prefix`, then sets `entries`, in one durable write.
    pub fn replace_prefix(&self, prefix: &str, entries: &[(String, String)]) -> Result<(), SecretError> {
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

    fn persist(&self, map: &BTreeMap<String, String>) -> Result<(), SecretError> {
        let bytes = serde_json::to_vec(map).map_err(|e| SecretError::Corrupt(e.to_string()))?;
        crate::atomic::write(&self.path, &bytes)?;
        Ok(())
    }
}
