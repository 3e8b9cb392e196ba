//! The models the shim knows, as Ollama would list them. A model is *pulled* by copying its
//! GGUF from the registry folder into the store (digest checked), or *created* as a new name
//! over a model already known. Every known name is answered by the one model the upstream
//! server has loaded: the table exists so clients see Ollama's model management behave as it
//! does for real (absent until pulled, gone after delete), not to route between weights.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How much is copied between two progress lines of a pull.
const CHUNK: usize = 4 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub name: String,
    /// `sha256:<hex>` of the GGUF blob (shared with the parent for a created model).
    pub digest: String,
    pub size: u64,
    pub modified_at: String,
    /// The model a created one was made `from`.
    pub parent: Option<String>,
    /// The `parameters` it was created with (`{"num_ctx": 8192}`), as Ollama keeps them.
    pub parameters: serde_json::Map<String, Value>,
}

impl Model {
    fn to_json(&self) -> Value {
        json!({"name": self.name, "digest": self.digest, "size": self.size, "modified_at": self.modified_at, "parent": self.parent,
               "parameters": self.parameters})
    }

    fn from_json(v: &Value) -> Option<Model> {
        Some(Model {
            name: v.get("name")?.as_str()?.to_string(),
            digest: v.get("digest")?.as_str()?.to_string(),
            size: v.get("size")?.as_u64()?,
            modified_at: v.get("modified_at")?.as_str()?.to_string(),
            parent: v.get("parent").and_then(Value::as_str).map(str::to_string),
            parameters: v
                .get("parameters")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        })
    }

    /// The `details` object of Ollama's listings. Family and sizes are not read from the GGUF.
    pub fn details(&self) -> Value {
        json!({"parent_model": self.parent.clone().unwrap_or_default(), "format": "gguf", "family": "",
               "families": [], "parameter_size": "", "quantization_level": ""})
    }
}

/// Ollama treats a name without a tag as `:latest`, and names case-insensitively.
pub fn full_name(name: &str) -> String {
    let name = name.trim().to_ascii_lowercase();
    let tail = name.rsplit('/').next().unwrap_or(&name);
    if tail.contains(':') {
        name
    } else {
        format!("{name}:latest")
    }
}

/// Where the registry folder keeps `name:tag`: `<registry>/<name>/<tag>.gguf`.
pub fn registry_path(registry: &Path, name: &str) -> PathBuf {
    let full = full_name(name);
    let (model, tag) = full.rsplit_once(':').unwrap_or((&full, "latest"));
    registry.join(model).join(format!("{tag}.gguf"))
}

/// Offers `gguf` in `registry` under `name` (a symlink, so nothing large is copied).
pub fn offer(registry: &Path, name: &str, gguf: &Path) -> std::io::Result<()> {
    let path = registry_path(registry, name);
    std::fs::create_dir_all(path.parent().unwrap_or(registry))?;
    let _ = std::fs::remove_file(&path);
    std::os::unix::fs::symlink(gguf, path)
}

#[derive(Debug)]
pub enum PullError {
    /// Ollama's wording for a model its registry does not have.
    NotInRegistry,
    Io(std::io::Error),
    DigestMismatch,
}

impl std::fmt::Display for PullError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PullError::NotInRegistry => f.write_str("pull model manifest: file does not exist"),
            PullError::Io(e) => write!(f, "pull failed: {e}"),
            PullError::DigestMismatch => {
                f.write_str("digest mismatch: the copied file differs from the registry's")
            }
        }
    }
}

pub struct Models {
    store: PathBuf,
    registry: PathBuf,
    known: Mutex<BTreeMap<String, Model>>,
}

impl Models {
    /// Opens the store (created if missing), reading the models it already holds.
    pub fn open(store: &Path, registry: &Path) -> std::io::Result<Models> {
        std::fs::create_dir_all(store.join("blobs"))?;
        let mut known = BTreeMap::new();
        if let Ok(bytes) = std::fs::read(store.join("manifest.json")) {
            let listed: Value = serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
            for model in listed
                .get("models")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Model::from_json)
            {
                known.insert(model.name.clone(), model);
            }
        }
        Ok(Models {
            store: store.to_path_buf(),
            registry: registry.to_path_buf(),
            known: Mutex::new(known),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Model>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn list(&self) -> Vec<Model> {
        self.lock().values().cloned().collect()
    }

    pub fn get(&self, name: &str) -> Option<Model> {
        self.lock().get(&full_name(name)).cloned()
    }

    pub fn blob(&self, digest: &str) -> PathBuf {
        self.store.join("blobs").join(digest.replace(':', "-"))
    }

    /// Copies `name` from the registry into the store, reporting each step as an Ollama
    /// progress line through `progress`.
    pub async fn pull(&self, name: &str, progress: impl Fn(Value)) -> Result<Model, PullError> {
        progress(json!({"status": "pulling manifest"}));
        let source = registry_path(&self.registry, name);
        let manifest_digest = match tokio::fs::metadata(&source).await {
            Ok(m) if m.is_file() => digest_of(&source).await.map_err(PullError::Io)?,
            _ => return Err(PullError::NotInRegistry),
        };
        let size = tokio::fs::metadata(&source)
            .await
            .map_err(PullError::Io)?
            .len();
        let short: String = manifest_digest
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect();
        let layer = |completed: u64| json!({"status": format!("pulling {short}"), "digest": manifest_digest, "total": size, "completed": completed});
        let blob = self.blob(&manifest_digest);
        if tokio::fs::metadata(&blob)
            .await
            .is_ok_and(|m| m.len() == size)
        {
            progress(layer(size));
        } else {
            progress(layer(0));
            let copied = copy_hashing(&source, &blob, |done| progress(layer(done)))
                .await
                .map_err(PullError::Io)?;
            progress(json!({"status": "verifying sha256 digest"}));
            if copied != manifest_digest {
                let _ = tokio::fs::remove_file(&blob).await;
                return Err(PullError::DigestMismatch);
            }
        }
        progress(json!({"status": "writing manifest"}));
        let model = Model {
            name: full_name(name),
            digest: manifest_digest,
            size,
            modified_at: now(),
            parent: None,
            parameters: Default::default(),
        };
        self.insert(model.clone()).map_err(PullError::Io)?;
        progress(json!({"status": "success"}));
        Ok(model)
    }

    /// A new name over a known model, with `parameters` of its own. `None` when `from` is unknown.
    pub fn create(
        &self,
        name: &str,
        from: &str,
        parameters: serde_json::Map<String, Value>,
    ) -> std::io::Result<Option<Model>> {
        let Some(base) = self.get(from) else {
            return Ok(None);
        };
        let model = Model {
            name: full_name(name),
            parent: Some(base.name.clone()),
            modified_at: now(),
            parameters,
            ..base
        };
        self.insert(model.clone())?;
        Ok(Some(model))
    }

    /// Forgets `name`, removing its blob when no other model uses it. `false` when unknown.
    pub fn delete(&self, name: &str) -> std::io::Result<bool> {
        let mut known = self.lock();
        let Some(gone) = known.remove(&full_name(name)) else {
            return Ok(false);
        };
        if !known.values().any(|m| m.digest == gone.digest) {
            let _ = std::fs::remove_file(self.blob(&gone.digest));
        }
        self.save(&known)?;
        Ok(true)
    }

    fn insert(&self, model: Model) -> std::io::Result<()> {
        let mut known = self.lock();
        known.insert(model.name.clone(), model);
        self.save(&known)
    }

    /// Writes the table atomically: a temp file, synced, renamed over the old one.
    fn save(&self, known: &BTreeMap<String, Model>) -> std::io::Result<()> {
        let body = json!({"models": known.values().map(Model::to_json).collect::<Vec<_>>()});
        let path = self.store.join("manifest.json");
        let temp = self.store.join("manifest.json.tmp");
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(body.to_string().as_bytes())?;
        file.sync_all()?;
        std::fs::rename(temp, path)
    }
}

/// RFC 3339 with nanoseconds, as Ollama writes `modified_at` and `created_at`.
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

async fn digest_of(path: &Path) -> std::io::Result<String> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Copies `from` to `to` through a temp file, hashing what is written; reports bytes done.
async fn copy_hashing(from: &Path, to: &Path, each: impl Fn(u64)) -> std::io::Result<String> {
    let temp = to.with_extension("partial");
    let mut input = tokio::fs::File::open(from).await?;
    let mut output = tokio::fs::File::create(&temp).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    loop {
        let n = input.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        output.write_all(&buf[..n]).await?;
        done += n as u64;
        each(done);
    }
    output.sync_all().await?;
    tokio::fs::rename(&temp, to).await?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::from("sha256:");
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_get_their_implied_tag() {
        assert_eq!(full_name("SmolLM2"), "smollm2:latest");
        assert_eq!(full_name("smollm2:135m"), "smollm2:135m");
        assert_eq!(full_name("library/qwen:0.5b"), "library/qwen:0.5b");
        assert_eq!(
            registry_path(Path::new("/r"), "smollm2:135m"),
            Path::new("/r/smollm2/135m.gguf")
        );
        assert_eq!(
            registry_path(Path::new("/r"), "tiny"),
            Path::new("/r/tiny/latest.gguf")
        );
    }

    #[tokio::test]
    async fn pull_create_delete_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (store, registry) = (dir.path().join("store"), dir.path().join("registry"));
        let weights = dir.path().join("w.gguf");
        std::fs::write(&weights, vec![7u8; CHUNK + 10]).unwrap();
        offer(&registry, "tiny:1b", &weights).unwrap();
        let models = Models::open(&store, &registry).unwrap();

        let lines = Mutex::new(Vec::new());
        let pulled = models
            .pull("tiny:1b", |l| lines.lock().unwrap().push(l))
            .await
            .unwrap();
        let lines = lines.into_inner().unwrap();
        assert_eq!(pulled.size, (CHUNK + 10) as u64);
        assert_eq!(
            std::fs::read(models.blob(&pulled.digest)).unwrap(),
            std::fs::read(&weights).unwrap()
        );
        let statuses: Vec<&str> = lines
            .iter()
            .map(|l| l["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses.first(), Some(&"pulling manifest"));
        assert_eq!(statuses.last(), Some(&"success"));
        let completed: Vec<u64> = lines
            .iter()
            .filter_map(|l| l["completed"].as_u64())
            .collect();
        assert!(
            completed.len() > 2 && completed.windows(2).all(|w| w[0] < w[1]),
            "{completed:?}"
        );
        assert_eq!(
            (completed[0], *completed.last().unwrap()),
            (0, (CHUNK + 10) as u64)
        );

        assert!(matches!(
            models.pull("absent", |_| {}).await,
            Err(PullError::NotInRegistry)
        ));
        assert_eq!(
            models.create("mine", "nope", Default::default()).unwrap(),
            None
        );
        let window = json!({"num_ctx": 8192}).as_object().cloned().unwrap();
        let mine = models
            .create("mine", "tiny:1b", window.clone())
            .unwrap()
            .unwrap();
        assert_eq!(mine.parent.as_deref(), Some("tiny:1b"));

        let reopened = Models::open(&store, &registry).unwrap();
        assert_eq!(
            reopened.get("mine").unwrap().parameters,
            window,
            "parameters outlive a restart"
        );
        assert_eq!(
            reopened
                .list()
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>(),
            ["mine:latest", "tiny:1b"]
        );
        assert!(reopened.delete("tiny:1b").unwrap());
        assert!(
            reopened.blob(&pulled.digest).exists(),
            "still used by `mine`"
        );
        assert!(reopened.delete("mine").unwrap());
        assert!(!reopened.blob(&pulled.digest).exists());
        assert!(!reopened.delete("mine").unwrap());
    }
}
