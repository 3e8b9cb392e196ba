//! The hidden partial download beside her models: claimed by one pull at a time, resumed only
//! when it was started from the same file (URL and ETag), discarded when it cannot become a model.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::mpsc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::WriterHook;

/// What the partial download was started from; a resume needs the same.
#[derive(Serialize, Deserialize, PartialEq, Eq)]
pub(super) struct PartialMeta {
    pub(super) url: String,
    pub(super) etag: Option<String>,
}

/// Claims the partial download (an exclusive lock on it; `WouldBlock` when another pull holds
/// it) and readies it: kept, and its bytes hashed, only when it was started from the same URL
/// and ETag; otherwise it starts over.
pub(super) fn prepare_partial(
    dir: &Path,
    partial: &Path,
    meta_path: &Path,
    meta: &[u8],
) -> io::Result<(u64, Sha256, File)> {
    fs::create_dir_all(dir)?;
    let claim = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(partial)?;
    claim.try_lock().map_err(|e| match e {
        fs::TryLockError::WouldBlock => io::Error::from(io::ErrorKind::WouldBlock),
        fs::TryLockError::Error(e) => e,
    })?;
    let same = fs::read(meta_path).is_ok_and(|old| {
        let old: Option<PartialMeta> = serde_json::from_slice(&old).ok();
        let new: Option<PartialMeta> = serde_json::from_slice(meta).ok();
        old.is_some() && old == new && new.is_some_and(|m| m.etag.is_some())
    });
    let mut hasher = Sha256::new();
    if same && let Ok(mut f) = File::open(partial) {
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            match f.read(&mut buf)? {
                0 => break,
                k => {
                    hasher.update(&buf[..k]);
                    n += k as u64;
                }
            }
        }
        return Ok((n, hasher, claim));
    }
    claim.set_len(0)?;
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(meta)?;
    tmp.persist(meta_path).map_err(|e| e.error)?;
    Ok((0, hasher, claim))
}

/// The blocking side of a download: appends each chunk (or starts over when `offset` is 0),
/// hashing it, until the sender is dropped.
pub(super) fn write_chunks(
    partial: &Path,
    offset: u64,
    mut hasher: Sha256,
    hook: Option<WriterHook>,
    chunks: mpsc::Receiver<bytes::Bytes>,
) -> io::Result<(u64, Sha256)> {
    let file = if offset > 0 {
        File::options().append(true).open(partial)?
    } else {
        File::create(partial)?
    };
    let mut out: Box<dyn Write + Send> = match hook {
        Some(hook) => hook(file),
        None => Box::new(io::BufWriter::with_capacity(1 << 20, file)),
    };
    let mut written = offset;
    for chunk in chunks {
        out.write_all(&chunk)?;
        hasher.update(&chunk);
        written += chunk.len() as u64;
    }
    out.flush()?;
    Ok((written, hasher))
}

pub(super) async fn discard(partial: &Path, meta: &Path) {
    let (partial, meta) = (partial.to_path_buf(), meta.to_path_buf());
    let _ = tokio::task::spawn_blocking(move || {
        let _ = fs::remove_file(partial);
        let _ = fs::remove_file(meta);
    })
    .await;
}

/// Runs file work off the async runtime.
pub(super) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("a library task does not panic")
}
