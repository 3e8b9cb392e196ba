//! Unpacking a decrypted diary's ZIP into a fresh folder, within its [`Limits`]: entries, bytes
//! in all, bytes per file and bytes per byte of the ZIP, counted as bytes are written, never as
//! the headers claim. `docs/diary.md` lists the defaults.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use zip::ZipArchive;

use super::{DiaryError, Limits};

/// Unpacks a ZIP into `root`, refusing anything that would land outside it, links, and
/// anything past `limits`.
pub(super) fn unpack<R: Read + Seek>(
    mut zip: R,
    root: &Path,
    limits: &Limits,
) -> Result<(), DiaryError> {
    let limit = limits.total;
    let zip_len = zip.seek(io::SeekFrom::End(0))?;
    let inflated = zip_len.saturating_mul(limits.ratio);
    let mut archive = ZipArchive::new(zip).map_err(|_| DiaryError::Unreadable)?;
    if archive.len() > limits.entries {
        return Err(DiaryError::TooLarge { limit });
    }
    // The archive indexes entries by name, so a second `config.json` would silently replace
    // the first and never reach the `create_new` check below: ask the central directory.
    if archive.has_duplicate_names() {
        return Err(DiaryError::Unsafe("an entry appears twice".into()));
    }
    let mut written = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    let mut made = HashSet::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|_| DiaryError::Unreadable)?;
        let name = entry
            .name()
            .map_err(|_| DiaryError::Unreadable)?
            .into_owned();
        let rel = safe_relative(&name)?;
        if entry.is_symlink() {
            return Err(DiaryError::Unsafe(format!("{name} is a link")));
        }
        let path = root.join(&rel);
        if entry.is_dir() {
            fs::create_dir_all(&path)?;
            made.insert(path);
            continue;
        }
        let parent = path.parent().expect("an entry path is below the root");
        if !made.contains(parent) {
            fs::create_dir_all(parent)?;
            made.insert(parent.to_path_buf());
        }
        let mut out = create_new(&path).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => DiaryError::Unsafe(format!("{name} appears twice")),
            _ => e.into(),
        })?;
        let mut file_bytes = 0u64;
        loop {
            let n = entry.read(&mut buf).map_err(|_| DiaryError::Unreadable)?;
            if n == 0 {
                break;
            }
            written += n as u64;
            file_bytes += n as u64;
            if written > limit {
                return Err(DiaryError::TooLarge { limit });
            }
            if file_bytes > limits.file {
                return Err(DiaryError::FileTooLarge {
                    name,
                    limit: limits.file,
                });
            }
            if written > inflated {
                return Err(DiaryError::Inflated {
                    ratio: limits.ratio,
                });
            }
            out.write_all(&buf[..n])?;
        }
    }
    Ok(())
}

/// Her files hold keys and tokens, so they are created readable by her owner only.
fn create_new(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// The entry's path below her home, or `Unsafe` if it is absolute, climbs out with `..`, or uses
/// a separator other than `/`.
fn safe_relative(name: &str) -> Result<PathBuf, DiaryError> {
    let unsafe_entry = || DiaryError::Unsafe(name.to_string());
    if name.starts_with('/') || name.contains('\\') || name.contains('\0') {
        return Err(unsafe_entry());
    }
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    let mut rel = PathBuf::new();
    for part in trimmed.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(unsafe_entry());
        }
        if rel.as_os_str().is_empty() && part.len() == 2 && part.ends_with(':') {
            return Err(unsafe_entry());
        }
        rel.push(part);
    }
    Ok(rel)
}
