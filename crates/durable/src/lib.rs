//! Crash-safe file replacement. A persona's files and an identity instance's state must never be
//! seen half-written, so every write goes to a temporary file in the same directory, is fsynced,
//! then renamed over the target, and the directory is fsynced so the rename survives power loss.
//! The one helper for both `persona` (re-exported as `persona::atomic`) and `instances`; journal
//! appends with group commit stay in `instances::group_commit`.

use std::io::{self, Write};
use std::path::Path;

/// Replaces `path` with `bytes` atomically, creating parent directories as needed.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no parent"))?;
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Fsyncs a directory so a rename inside it survives power loss.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Puts everything written under `root` on disk before the caller publishes it (a restored
/// home before it is renamed into place). On Linux one `syncfs` flushes the file system that
/// holds `root`, far cheaper than an fsync per file for a home of thousands of files; elsewhere
/// every file and folder under `root` is synced.
pub fn sync_tree(root: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        rustix::fs::syncfs(std::fs::File::open(root)?)?;
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        for entry in std::fs::read_dir(root)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                sync_tree(&entry.path())?;
            } else if kind.is_file() {
                std::fs::File::open(entry.path())?.sync_all()?;
            }
        }
        sync_dir(root)
    }
}

/// Appends one line to a file and fsyncs it; used for journals such as `conversation.jsonl`,
/// where a torn final line is tolerated by readers.
pub fn append_line(path: &Path, line: &str) -> io::Result<()> {
    append(path, line)?.sync_data()
}

/// Appends one line without waiting for the disk; the caller owes an fsync of the file later
/// (any handle's `sync_data` on the same file covers it).
pub fn append_line_unsynced(path: &Path, line: &str) -> io::Result<()> {
    append(path, line).map(drop)
}

fn append(path: &Path, line: &str) -> io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    f.write_all(&buf)?;
    Ok(f)
}
