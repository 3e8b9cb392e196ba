//! Her diary: a Fernet token over a ZIP of her whole `home/`, keyed by her recovery phrase.
//!
//! The format is the original implementation's, byte for byte, so a person moving from it keeps
//! her memory: the Fernet key is PBKDF2-HMAC-SHA256 of the phrase with her id string as salt.
//! `docs/diary.md` describes the format, the retention of earlier nights and the limits.

use std::fs::{self, File};
use std::io::{self, Cursor, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use fernet::Fernet;
use sha2::Sha256;
use time::OffsetDateTime;
use time::macros::format_description;
use uuid::Uuid;
use zip::write::{PreparedZipFile, SimpleFileOptions, ZipFileBuilder};
use zip::{CompressionMethod, ZipWriter};

use crate::Phrase;

mod token;
mod unpack;

/// PBKDF2 rounds of the original; changing it would lock every existing diary.
pub const KDF_ITERATIONS: u32 = 480_000;

/// Most bytes a restore will unpack. A diary is at most an upload (256 MiB by default) and
/// deflate can inflate that a thousandfold, so without a cap one file could fill the disk.
pub const MAX_HOME_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Most entries a restore will unpack; empty entries cost an inode each and no bytes.
pub const MAX_ENTRIES: usize = 200_000;

/// Most bytes one file of a restore may hold. Above the daemon's default upload cap (256 MiB),
/// so anything she was sent comes back with her.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024 * 1024;

/// Most bytes a restore unpacks per byte of the (decrypted) ZIP. Deflate cannot inflate one
/// stream past about 1032:1, so an honest diary never reaches this; entries that share
/// compressed data (the overlapping-file ZIP bomb) do, and are stopped as soon as they pass it.
pub const MAX_RATIO: u64 = 1100;

/// What a restore may unpack. Every byte bound is counted as bytes are written, never as the
/// ZIP's headers claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes in all.
    pub total: u64,
    /// Bytes of one file.
    pub file: u64,
    /// Entries (files and folders).
    pub entries: usize,
    /// Bytes unpacked per byte of the ZIP.
    pub ratio: u64,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        total: MAX_HOME_BYTES,
        file: MAX_FILE_BYTES,
        entries: MAX_ENTRIES,
        ratio: MAX_RATIO,
    };
}

/// Earlier diaries kept under `nights/`: the newest of each of this many most recent days...
pub const KEEP_DAYS: usize = 30;
/// ...and, whatever their day, this many of the newest, so repeated sleeps on one day cannot push
/// out the diary written just before a bad one.
pub const KEEP_RECENT: usize = 5;

/// Deflate level: fast levels keep a large home near disk speed and cost a few per cent of size;
/// every deflate reader (the original's included) opens any level.
const DEFLATE_LEVEL: i64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum DiaryError {
    #[error("Could not restore from diary. Please check the file path and recovery phrase.")]
    Unreadable,
    #[error("The diary holds an unsafe entry: {0}")]
    Unsafe(String),
    #[error("The diary unpacks to more than {limit} bytes or {MAX_ENTRIES} entries.")]
    TooLarge { limit: u64 },
    #[error("The diary holds {name}, which unpacks to more than {limit} bytes.")]
    FileTooLarge { name: String, limit: u64 },
    #[error("The diary unpacks to more than {ratio} times its own size.")]
    Inflated { ratio: u64 },
    #[error("Could not write the diary: {0}")]
    Io(#[from] io::Error),
}

/// The Fernet key of one persona's diary. Deriving it is deliberately slow (PBKDF2), so callers
/// that seal or open several times derive it once.
pub struct DiaryKey {
    fernet: Fernet,
    /// The 32 raw bytes (signing half, encryption half), for opening a token streamed from disk.
    raw: [u8; 32],
}

impl DiaryKey {
    pub fn derive(phrase: &Phrase, id: Uuid) -> DiaryKey {
        let mut raw = [0u8; 32];
        let salt = id.hyphenated().to_string();
        pbkdf2::pbkdf2_hmac::<Sha256>(
            phrase.as_str().as_bytes(),
            salt.as_bytes(),
            KDF_ITERATIONS,
            &mut raw,
        );
        let fernet =
            Fernet::new(&URL_SAFE.encode(raw)).expect("a 32-byte key is a valid Fernet key");
        DiaryKey { fernet, raw }
    }

    /// The ZIP inside a token. Every failure (not base64, wrong key, tampered, truncated) is the
    /// same `Unreadable`: Fernet's HMAC cannot tell a wrong phrase from a damaged file.
    pub fn open(&self, token: &[u8]) -> Result<Vec<u8>, DiaryError> {
        let mut zip = Vec::new();
        self.open_into(&mut Cursor::new(token), &mut zip)?;
        Ok(zip)
    }

    /// [`DiaryKey::open`] reading the token from `token` and writing the ZIP to `out`, holding
    /// neither whole: see [`token`].
    pub fn open_into<R: Read + Seek>(
        &self,
        token: &mut R,
        out: &mut impl Write,
    ) -> Result<(), DiaryError> {
        token::open(&self.raw, token, out)
    }
}

/// Packs `home` as a ZIP and encrypts it: the diary's whole content, as base64url text.
pub fn seal(home: &Path, key: &DiaryKey) -> Result<String, DiaryError> {
    let zip = pack(home)?;
    Ok(key.fernet.encrypt(&zip))
}

/// Seals `home` and writes it as `<diary_dir>/<id>.diary`, keeping earlier nights.
pub fn write(
    diary_dir: &Path,
    home: &Path,
    id: Uuid,
    phrase: &Phrase,
) -> Result<PathBuf, DiaryError> {
    write_at(diary_dir, home, id, phrase, OffsetDateTime::now_utc())
}

/// [`write`] with the clock given, which names the night under `nights/`.
///
/// The new token is written whole to `nights/<stamp>.diary` first and only then linked over
/// `<id>.diary`, so the latest diary is always a complete one and earlier nights survive a bad one.
pub fn write_at(
    diary_dir: &Path,
    home: &Path,
    id: Uuid,
    phrase: &Phrase,
    now: OffsetDateTime,
) -> Result<PathBuf, DiaryError> {
    let token = seal(home, &DiaryKey::derive(phrase, id))?;
    let nights = diary_dir.join(NIGHTS);
    let night = nights.join(format!("{}.diary", stamp(now)));
    crate::atomic::write(&night, token.as_bytes())?;
    let latest = diary_dir.join(format!("{id}.diary"));
    link_over(&night, &latest, token.as_bytes())?;
    prune(&nights);
    Ok(latest)
}

/// The newest diary of hers, if one was written.
pub fn latest(diary_dir: &Path, id: Uuid) -> Option<PathBuf> {
    let path = diary_dir.join(format!("{id}.diary"));
    path.is_file().then_some(path)
}

/// Her earlier diaries still kept, oldest first (the newest is the same token as [`latest`]).
pub fn nights(diary_dir: &Path) -> Vec<PathBuf> {
    night_names(&diary_dir.join(NIGHTS))
        .into_iter()
        .map(|n| diary_dir.join(NIGHTS).join(n))
        .collect()
}

/// Opens a diary token and unpacks her home into `dest`, which must not exist yet (its parent
/// must).
pub fn restore(token: &[u8], id: Uuid, phrase: &Phrase, dest: &Path) -> Result<(), DiaryError> {
    restore_with(token, &DiaryKey::derive(phrase, id), dest, MAX_HOME_BYTES)
}

/// [`restore`] from a token file (an uploaded diary), which is read twice and never held whole.
pub fn restore_file(
    token: &Path,
    id: Uuid,
    phrase: &Phrase,
    dest: &Path,
) -> Result<(), DiaryError> {
    let mut file = io::BufReader::new(File::open(token)?);
    restore_from(
        &mut file,
        &DiaryKey::derive(phrase, id),
        dest,
        &Limits::DEFAULT,
    )
}

/// [`restore`] with the key already derived and a chosen cap on the unpacked size.
pub fn restore_with(
    token: &[u8],
    key: &DiaryKey,
    dest: &Path,
    limit: u64,
) -> Result<(), DiaryError> {
    let limits = Limits {
        total: limit,
        ..Limits::DEFAULT
    };
    restore_within(token, key, dest, &limits)
}

/// [`restore`] with the key already derived and every bound chosen.
pub fn restore_within(
    token: &[u8],
    key: &DiaryKey,
    dest: &Path,
    limits: &Limits,
) -> Result<(), DiaryError> {
    restore_from(&mut Cursor::new(token), key, dest, limits)
}

/// Her home is unpacked into a staging folder beside `dest`, put on disk, and renamed into
/// place only then, so neither a failure nor a power cut leaves a half-restored home at `dest`.
/// The decrypted ZIP goes to a temporary file beside it, removed on return.
fn restore_from<R: Read + Seek>(
    token: &mut R,
    key: &DiaryKey,
    dest: &Path,
    limits: &Limits,
) -> Result<(), DiaryError> {
    if fs::symlink_metadata(dest).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} already exists", dest.display()),
        )
        .into());
    }
    let parent = dest.parent().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "restore target has no parent")
    })?;
    let mut zip = tempfile::Builder::new()
        .prefix(".tmp-diary-")
        .tempfile_in(parent)?;
    {
        let mut out = io::BufWriter::new(zip.as_file_mut());
        key.open_into(token, &mut out)?;
        out.flush()?;
    }
    let mut builder = tempfile::Builder::new();
    builder.prefix(".restore-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    let staging = builder.tempdir_in(parent)?;
    let mut zip_file = zip.reopen()?;
    zip_file.seek(io::SeekFrom::Start(0))?;
    unpack::unpack(io::BufReader::new(zip_file), staging.path(), limits)?;
    drop(zip);
    crate::atomic::sync_tree(staging.path())?;
    let staged = staging.keep();
    if let Err(e) = fs::rename(&staged, dest) {
        let _ = fs::remove_dir_all(&staged);
        return Err(e.into());
    }
    crate::atomic::sync_dir(parent)?;
    Ok(())
}

const NIGHTS: &str = "nights";

fn stamp(now: OffsetDateTime) -> String {
    let utc = now.to_offset(time::UtcOffset::UTC);
    utc.format(format_description!(
        "[year]-[month]-[day]T[hour]-[minute]-[second]Z"
    ))
    .expect("a UTC date formats")
}

/// Makes `latest` the same file as `night` in one rename; where hard links are not supported it
/// falls back to writing the token a second time.
fn link_over(night: &Path, latest: &Path, token: &[u8]) -> io::Result<()> {
    let dir = latest
        .parent()
        .expect("the latest diary lives in her diary folder");
    let tmp = dir.join(format!(".link-{}.tmp", Uuid::new_v4()));
    match fs::hard_link(night, &tmp) {
        Ok(()) => {
            if let Err(e) = fs::rename(&tmp, latest) {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
            crate::atomic::sync_dir(dir)
        }
        Err(_) => crate::atomic::write(latest, token),
    }
}

/// Night files, oldest first; anything else in the folder is left alone.
fn night_names(nights: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(nights) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.len() == "YYYY-MM-DDTHH-MM-SSZ.diary".len() && n.ends_with("Z.diary"))
        .collect();
    names.sort();
    names
}

/// Applies the retention: the newest night of each of the last [`KEEP_DAYS`] days, plus the
/// [`KEEP_RECENT`] newest. Pruning is housekeeping: a failure is logged, never fatal.
fn prune(nights: &Path) {
    let names = night_names(nights);
    let mut keep = vec![false; names.len()];
    let mut days = 0;
    for i in (0..names.len()).rev() {
        let newest_of_day = i + 1 == names.len() || names[i][..10] != names[i + 1][..10];
        if newest_of_day && days < KEEP_DAYS {
            keep[i] = true;
            days += 1;
        }
        if names.len() - i <= KEEP_RECENT {
            keep[i] = true;
        }
    }
    for (name, kept) in names.iter().zip(keep) {
        if !kept && let Err(e) = fs::remove_file(nights.join(name)) {
            tracing::warn!(night = %name, error = %e, "could not prune an old diary");
        }
    }
}

/// Zips every file and folder under `home`, paths relative to it, in a stable order. Links are
/// not followed (one could pull a file from outside her home into the diary) and are skipped.
///
/// Deflate is the costly step, so files are compressed on every core, a batch at a time (which
/// bounds the memory held by finished files waiting for their turn), and appended in order.
fn pack(home: &Path) -> Result<Vec<u8>, DiaryError> {
    let mut entries = Vec::new();
    let mut bytes = 0u64;
    collect(home, "", &mut entries, &mut bytes)?;
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let mut zip = ZipWriter::new(Cursor::new(Vec::with_capacity(bytes as usize / 2 + 4096)));
    for batch in batches(&entries) {
        for (entry, prepared) in batch.iter().zip(compress_batch(home, batch, workers)?) {
            match prepared {
                Some(file) => zip.add_prepared_file(file).map_err(zip_io)?,
                None => zip
                    .add_directory(entry.name.as_str(), options(entry))
                    .map_err(zip_io)?,
            }
        }
    }
    Ok(zip.finish().map_err(zip_io)?.into_inner())
}

/// Consecutive runs of entries holding at most 16 MiB or 512 entries (a bigger file goes alone).
fn batches(entries: &[Entry]) -> Vec<&[Entry]> {
    const BATCH_BYTES: u64 = 16 * 1024 * 1024;
    const BATCH_ENTRIES: usize = 512;
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, entry) in entries.iter().enumerate() {
        if i > start && (bytes + entry.len > BATCH_BYTES || i - start == BATCH_ENTRIES) {
            out.push(&entries[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += entry.len;
    }
    if start < entries.len() {
        out.push(&entries[start..]);
    }
    out
}

/// Compresses the batch's files on `workers` threads; folders get `None`.
fn compress_batch(
    home: &Path,
    batch: &[Entry],
    workers: usize,
) -> Result<Vec<Option<PreparedZipFile>>, DiaryError> {
    let next = AtomicUsize::new(0);
    let compress_some = || -> Result<Vec<(usize, PreparedZipFile)>, DiaryError> {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(entry) = batch.get(i) else {
                return Ok(done);
            };
            if !entry.dir {
                let mut builder =
                    ZipFileBuilder::new(&entry.name, options(entry)).map_err(zip_io)?;
                io::copy(&mut File::open(home.join(&entry.name))?, &mut builder)?;
                done.push((i, builder.finish().map_err(zip_io)?));
            }
        }
    };
    let mut slots: Vec<Option<PreparedZipFile>> = batch.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers.min(batch.len()))
            .map(|_| scope.spawn(compress_some))
            .collect();
        for handle in handles {
            for (i, file) in handle
                .join()
                .expect("a compression worker does not panic")?
            {
                slots[i] = Some(file);
            }
        }
        Ok(slots)
    })
}

fn options(entry: &Entry) -> SimpleFileOptions {
    let base = SimpleFileOptions::default().last_modified_time(entry.modified);
    if entry.dir {
        base.unix_permissions(0o755)
    } else {
        base.compression_method(CompressionMethod::Deflated)
            .compression_level(Some(DEFLATE_LEVEL))
            .unix_permissions(0o644)
            .large_file(entry.len >= u32::MAX as u64)
    }
}

struct Entry {
    name: String,
    dir: bool,
    len: u64,
    modified: zip::DateTime,
}

fn collect(
    dir: &Path,
    prefix: &str,
    out: &mut Vec<Entry>,
    bytes: &mut u64,
) -> Result<(), DiaryError> {
    let mut children: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    children.sort_by_key(|e| e.file_name());
    for child in children {
        // A ZIP entry name is UTF-8 here and in the original's diaries. One odd name (a
        // person's download, say) must not stop every nightly diary, so it is left out.
        let name = match child.file_name().into_string() {
            Ok(name) => name,
            Err(odd) => {
                tracing::warn!(folder = %dir.display(), name = ?odd, "file name is not UTF-8; left out of the diary");
                continue;
            }
        };
        let meta = child.metadata()?;
        let modified = meta.modified().map(zip_time).unwrap_or_default();
        let rel = format!("{prefix}{name}");
        if meta.is_dir() {
            let dir_name = format!("{rel}/");
            out.push(Entry {
                name: dir_name.clone(),
                dir: true,
                len: 0,
                modified,
            });
            collect(&child.path(), &dir_name, out, bytes)?;
        } else if meta.is_file() {
            *bytes += meta.len();
            out.push(Entry {
                name: rel,
                dir: false,
                len: meta.len(),
                modified,
            });
        } else {
            tracing::warn!(path = %rel, "not a regular file or folder; left out of the diary");
        }
    }
    Ok(())
}

fn zip_time(t: std::time::SystemTime) -> zip::DateTime {
    let t = OffsetDateTime::from(t);
    zip::DateTime::from_date_and_time(
        u16::try_from(t.year()).unwrap_or(1980),
        t.month().into(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
    )
    .unwrap_or_default()
}

fn zip_io(e: zip::result::ZipError) -> io::Error {
    match e {
        zip::result::ZipError::Io(e) => e,
        other => io::Error::other(other),
    }
}
