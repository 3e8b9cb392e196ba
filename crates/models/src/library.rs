//! `ETERNEGO_HOME/models/`: her GGUF files and the manifest that names them.
//!
//! The manifest (`models/manifest.json`) is the only index: a file in the folder that it does not
//! name is not a model (a download in progress, `.partial-*`, or a copy not yet committed,
//! `.tmp-*`). Every change to it is a read-modify-write under an exclusive lock on
//! `models/.lock`, written to a temporary file and renamed, so the daemon and the command line can
//! add and remove models at the same time without losing either change.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::gguf::{self, GgufError};

/// The folder under `ETERNEGO_HOME` that holds the models.
pub const DIR: &str = "models";
/// The manifest's file name inside [`DIR`].
pub const MANIFEST: &str = "manifest.json";
const LOCK: &str = ".lock";
/// Longest model name accepted.
const MAX_NAME: usize = 128;

/// Why a library operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("invalid model name '{name}': {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("a model named '{0}' already exists (remove it first, or choose another name)")]
    Exists(String),
    #[error("no model named '{0}'")]
    NotFound(String),
    #[error("{path}: {source}")]
    Gguf {
        path: PathBuf,
        #[source]
        source: GgufError,
    },
    #[error("the models manifest {path} is unreadable: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

impl LibraryError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> LibraryError {
        let what = what.into();
        move |source| LibraryError::Io { what, source }
    }
}

/// One model in her library, as the manifest records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelEntry {
    /// The name personas and commands use for it.
    pub name: String,
    /// Its file name inside `models/`.
    pub file: String,
    /// Where the file is; derived from the library folder, never stored.
    #[serde(skip)]
    pub path: PathBuf,
    pub size: u64,
    /// Lower-case hex SHA-256 of the whole file.
    pub sha256: String,
    /// The context it was trained with, from its header (`<arch>.context_length`).
    pub context_length: Option<u64>,
    /// Its chat template, from its header (`tokenizer.chat_template`).
    pub chat_template: Option<String>,
    /// Where it came from when it was pulled (`hf.co/OWNER/REPO:QUANT`); a persona may name
    /// the model by this too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

#[derive(Default, Serialize, Deserialize)]
struct Manifest {
    version: u32,
    models: Vec<ModelEntry>,
}

/// Her models: a snapshot of the manifest taken at [`Library::open`], plus the operations that
/// change the folder. Open it again to see changes made by another process.
#[derive(Clone, Debug)]
pub struct Library {
    dir: PathBuf,
    models: Vec<ModelEntry>,
}

impl Library {
    /// Opens the library under `home` (`home/models/`). A missing folder or manifest is an
    /// empty library; nothing is created until a model is added.
    pub fn open(home: &Path) -> Result<Library, LibraryError> {
        let dir = home.join(DIR);
        let models = read_manifest(&dir)?.models;
        Ok(Library { dir, models })
    }

    /// The folder the models live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The model called `name`, or pulled from `name` (`hf.co/OWNER/REPO[:QUANT]`).
    pub fn get(&self, name: &str) -> Option<ModelEntry> {
        self.models
            .iter()
            .find(|m| m.name == name)
            .or_else(|| {
                self.models
                    .iter()
                    .find(|m| m.origin.as_deref() == Some(name))
            })
            .cloned()
    }

    /// Every model, sorted by name.
    pub fn list(&self) -> Vec<ModelEntry> {
        let mut all = self.models.clone();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Checks `source`'s GGUF header, then copies it in as `name` (its SHA-256 computed while
    /// copying, through a temporary file renamed into place) and records it in the manifest.
    pub fn add(&mut self, source: &Path, name: &str) -> Result<ModelEntry, LibraryError> {
        validate_name(name)?;
        let header = gguf::read_header(source).map_err(|e| LibraryError::Gguf {
            path: source.to_path_buf(),
            source: e,
        })?;
        if self.reload()?.iter().any(|m| m.name == name) {
            return Err(LibraryError::Exists(name.into()));
        }
        fs::create_dir_all(&self.dir).map_err(LibraryError::io(format!(
            "could not create {}",
            self.dir.display()
        )))?;
        let mut input = File::open(source).map_err(LibraryError::io(format!(
            "could not open {}",
            source.display()
        )))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.dir)
            .map_err(LibraryError::io(
                "could not create a file in the models folder",
            ))?;
        let (size, sha256) = copy_hashing(&mut input, tmp.as_file_mut()).map_err(
            LibraryError::io(format!("could not copy {}", source.display())),
        )?;
        tmp.as_file()
            .sync_all()
            .map_err(LibraryError::io("could not flush the copied model"))?;
        let entry = ModelEntry {
            name: name.to_string(),
            file: file_name(name),
            path: self.dir.join(file_name(name)),
            size,
            sha256,
            context_length: header.context_length,
            chat_template: header.chat_template,
            origin: None,
        };
        self.commit(tmp.into_temp_path(), entry)
    }

    /// Removes the model called `name`: its manifest entry, then its file.
    pub fn remove(&mut self, name: &str) -> Result<ModelEntry, LibraryError> {
        let lock = self.lock()?;
        let mut manifest = read_manifest(&self.dir)?;
        let at = manifest
            .models
            .iter()
            .position(|m| m.name == name)
            .ok_or_else(|| LibraryError::NotFound(name.into()))?;
        let mut entry = manifest.models.remove(at);
        write_manifest(&self.dir, &manifest)?;
        drop(lock);
        entry.path = self.dir.join(&entry.file);
        match fs::remove_file(&entry.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(LibraryError::io(format!(
                    "could not delete {}",
                    entry.path.display()
                ))(e));
            }
        }
        self.models = fill_paths(&self.dir, manifest.models);
        Ok(entry)
    }

    /// Moves a complete, checked file already inside the models folder (a copy or a download)
    /// to the model's own file name and records `entry`, unless the name was taken meanwhile.
    pub(crate) fn commit(
        &mut self,
        file: tempfile::TempPath,
        mut entry: ModelEntry,
    ) -> Result<ModelEntry, LibraryError> {
        let lock = self.lock()?;
        let mut manifest = read_manifest(&self.dir)?;
        if manifest.models.iter().any(|m| m.name == entry.name) {
            self.models = fill_paths(&self.dir, manifest.models);
            return Err(LibraryError::Exists(entry.name));
        }
        entry.path = self.dir.join(&entry.file);
        file.persist(&entry.path)
            .map_err(|e| LibraryError::io("could not move the model into place")(e.error))?;
        manifest.models.push(entry.clone());
        if let Err(e) = write_manifest(&self.dir, &manifest) {
            let _ = fs::remove_file(&entry.path);
            return Err(e);
        }
        drop(lock);
        self.models = fill_paths(&self.dir, manifest.models);
        Ok(entry)
    }

    /// Rereads the manifest, so a check made before a long copy sees other processes' changes.
    pub(crate) fn reload(&mut self) -> Result<&[ModelEntry], LibraryError> {
        self.models = read_manifest(&self.dir)?.models;
        self.models = fill_paths(&self.dir, std::mem::take(&mut self.models));
        Ok(&self.models)
    }

    /// Holds the library's lock until the returned file is dropped.
    fn lock(&self) -> Result<File, LibraryError> {
        fs::create_dir_all(&self.dir).map_err(LibraryError::io(format!(
            "could not create {}",
            self.dir.display()
        )))?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(LOCK))
            .map_err(LibraryError::io("could not open the models lock"))?;
        lock.lock()
            .map_err(LibraryError::io("could not lock the models folder"))?;
        Ok(lock)
    }
}

/// Checks that `name` can be a model name and a file name: no path separators, no `..`, no
/// leading dot (those are the library's own hidden files), no spaces or control characters.
pub fn validate_name(name: &str) -> Result<(), LibraryError> {
    let bad = |reason| {
        Err(LibraryError::InvalidName {
            name: name.into(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_NAME {
        return bad("it is longer than 128 bytes");
    }
    if name.contains('/') || name.contains('\\') {
        return bad("it contains a path separator");
    }
    if name.contains("..") {
        return bad("it contains '..'");
    }
    if name.starts_with('.') {
        return bad("it starts with '.'");
    }
    if name
        .chars()
        .any(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return bad("only letters, digits and - _ . are allowed");
    }
    Ok(())
}

/// A model name made from a file name or repository name: lower case, `.gguf` and `-gguf`
/// dropped, any other character replaced by `-`.
pub fn default_name(stem: &str) -> String {
    let lower = stem.to_lowercase();
    let trimmed = lower
        .strip_suffix(".gguf")
        .unwrap_or(&lower)
        .trim_end_matches("-gguf")
        .trim_end_matches("_gguf");
    let mut name: String = trimmed
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    while name.contains("..") {
        name = name.replace("..", ".");
    }
    let name = name.trim_start_matches('.').to_string();
    name.chars().take(MAX_NAME).collect()
}

/// The file a model called `name` is stored in.
pub(crate) fn file_name(name: &str) -> String {
    format!("{name}.gguf")
}

/// Copies everything from `input` to `output`, returning the byte count and the lower-case hex
/// SHA-256 of what was copied.
pub(crate) fn copy_hashing(
    input: &mut impl Read,
    output: &mut impl Write,
) -> io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        output.write_all(&buf[..n])?;
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    output.flush()?;
    Ok((total, hex(&hasher.finalize())))
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn fill_paths(dir: &Path, mut models: Vec<ModelEntry>) -> Vec<ModelEntry> {
    for m in &mut models {
        m.path = dir.join(&m.file);
    }
    models
}

fn read_manifest(dir: &Path) -> Result<Manifest, LibraryError> {
    let path = dir.join(MANIFEST);
    let text = match fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Manifest::default()),
        Err(e) => {
            return Err(LibraryError::Manifest {
                path,
                reason: e.to_string(),
            });
        }
    };
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| LibraryError::Manifest {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    for m in &manifest.models {
        if validate_name(&m.name).is_err() || m.file != file_name(&m.name) {
            return Err(LibraryError::Manifest {
                path,
                reason: format!("it lists an invalid entry '{}'", m.name),
            });
        }
    }
    Ok(Manifest {
        models: fill_paths(dir, manifest.models),
        ..manifest
    })
}

fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), LibraryError> {
    let bytes = serde_json::to_vec_pretty(&Manifest {
        version: 1,
        models: manifest.models.clone(),
    })
    .map_err(|e| LibraryError::Manifest {
        path: dir.join(MANIFEST),
        reason: e.to_string(),
    })?;
    let write = || -> io::Result<()> {
        let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
        tmp.write_all(&bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(dir.join(MANIFEST)).map_err(|e| e.error)?;
        File::open(dir)?.sync_all()
    };
    write().map_err(LibraryError::io("could not write the models manifest"))
}
