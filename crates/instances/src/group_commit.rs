//! Group commit: one thread puts every journal append on disk, and one `fdatasync` covers
//! every append waiting at that moment, whichever instances they belong to.
//!
//! Flushing each instance's journal separately costs one disk flush per instance per batch,
//! and flushes of different files do not merge, so throughput stayed bound by flushes. So
//! the thread also copies each batch into one shared commit log ([`COMMIT_LOG`]) and
//! flushes only that: a batch is durable once its log records are. The journals themselves
//! are written at once but flushed only at a checkpoint, when the log has grown past
//! [`CHECKPOINT_BYTES`] and on shutdown; then the log is emptied. On open, [`recover`]
//! writes every logged record back into its journal at its recorded offset, which repairs
//! whatever a crash left unflushed there, before the journals are replayed.
//!
//! Appends are queued in the order they are made (the caller holds its instance's lock, so
//! that is the instance's order) and each journal's share of a batch is one `write`. While
//! the thread waits on the disk new appends pile up, so the busier the service, the more
//! writes one flush covers.
//!
//! `fdatasync` suffices for appends: it flushes the data and the metadata needed to read it
//! back, which includes the file size (fdatasync(2)); only times like mtime are skipped.
//!
//! A journal whose write fails, or whose batch could not be logged, is cut back to its
//! length before that batch and stays failed: later appends to it are refused, because
//! they were computed on top of state that never reached the disk. The owner re-opens it
//! from disk to recover.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use tokio::sync::watch;

pub const COMMIT_LOG: &str = "commit.log";

/// The log is emptied once it holds this much: large enough that the checkpoint's flush of
/// every touched journal is rare (tens of thousands of observations), small enough that
/// replaying it on open takes milliseconds.
pub const CHECKPOINT_BYTES: u64 = 8 << 20;

/// How far a journal is known to be on disk.
#[derive(Debug, Clone, Copy, Default)]
struct Durable {
    /// Every append numbered up to this one is on disk.
    through: u64,
    failed: bool,
}

/// One append-only journal file whose appends go through the commit thread.
pub struct Journal {
    file: File,
    path: PathBuf,
    /// The instance directory's name, which log records use to find the journal again.
    instance: String,
    /// Written since the last checkpoint, so the next one must flush it.
    dirty: AtomicBool,
    queue: Arc<Queue>,
    /// Length on disk and the number of the last append queued; guarded together so
    /// numbering follows queue order.
    tail: Mutex<Tail>,
    durable: watch::Sender<Durable>,
}

struct Tail {
    /// Bytes written, excluding any batch that failed.
    len: u64,
    last_queued: u64,
}

impl Journal {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues `bytes` to be appended; the number returned is what [`Journal::durable`]
    /// waits for. Fails at once if the journal already failed or the service stopped.
    pub fn append(self: &Arc<Self>, bytes: Vec<u8>) -> std::io::Result<u64> {
        if self.durable.borrow().failed {
            return Err(std::io::Error::other(
                "an earlier write to this journal failed",
            ));
        }
        let mut pending = self.queue.pending.lock().expect("commit queue lock");
        if pending.stopped {
            return Err(std::io::Error::other("the service is shutting down"));
        }
        let seq = {
            let mut tail = self.tail.lock().expect("journal tail lock");
            tail.last_queued += 1;
            tail.last_queued
        };
        pending.appends.push(Append {
            journal: self.clone(),
            seq,
            bytes,
        });
        self.queue.wake.notify_one();
        Ok(seq)
    }

    /// The number of the last append queued; waiting for it means everything queued so
    /// far is on disk.
    pub fn last_queued(&self) -> u64 {
        self.tail.lock().expect("journal tail lock").last_queued
    }

    /// Waits until append `seq` (and so every earlier one) is on disk.
    pub async fn durable(&self, seq: u64) -> std::io::Result<()> {
        let mut rx = self.durable.subscribe();
        let state = *rx
            .wait_for(|d| d.through >= seq || d.failed)
            .await
            .expect("the journal owns its sender");
        if state.through >= seq {
            Ok(())
        } else {
            Err(std::io::Error::other("the write did not reach the disk"))
        }
    }

    /// Cuts off a tail that was never acknowledged (a write torn by a crash), found while
    /// replaying before any append was queued.
    pub fn cut_torn_tail(&self, len: u64) -> std::io::Result<()> {
        self.file.set_len(len)?;
        self.file.sync_data()?;
        self.tail.lock().expect("journal tail lock").len = len;
        Ok(())
    }

    pub fn failed(&self) -> bool {
        self.durable.borrow().failed
    }

    /// Cuts the journal back to `len`, its length before the batch that failed.
    fn fail(&self, len: u64) {
        self.tail.lock().expect("journal tail lock").len = len;
        if let Err(e) = self.file.set_len(len) {
            tracing::error!(path = %self.path.display(), error = %e, "could not cut a failed journal back");
        }
        self.durable.send_modify(|d| d.failed = true);
    }
}

struct Append {
    journal: Arc<Journal>,
    seq: u64,
    bytes: Vec<u8>,
}

#[derive(Default)]
struct Pending {
    appends: Vec<Append>,
    stopped: bool,
}

#[derive(Default)]
struct Queue {
    pending: Mutex<Pending>,
    wake: Condvar,
}

/// One line of the commit log: journal bytes and where in the journal they belong.
#[derive(Serialize, Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    instance: Cow<'a, str>,
    offset: u64,
    #[serde(borrow)]
    lines: Cow<'a, str>,
}

/// The commit thread's handle; dropping it waits for the thread to finish what is queued,
/// checkpoint and stop, so a store re-opened afterwards never races it.
pub struct Committer {
    queue: Arc<Queue>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Committer {
    /// Recovers the commit log at `path` into the journals under `root` (see [`recover`])
    /// and starts the thread.
    pub fn start(path: PathBuf, root: &Path) -> std::io::Result<Committer> {
        recover(&path, root)?;
        let log = OpenOptions::new().create(true).append(true).open(&path)?;
        let queue = Arc::new(Queue::default());
        let worker = queue.clone();
        let mut commit_thread = CommitThread {
            log,
            path,
            log_len: 0,
            dirty: Vec::new(),
        };
        let thread = std::thread::Builder::new()
            .name("journal-commit".into())
            .spawn(move || commit_thread.run(&worker))?;
        Ok(Committer {
            queue,
            thread: Some(thread),
        })
    }

    /// Wraps an open journal that is `len` bytes long.
    pub fn journal(&self, file: File, path: PathBuf, len: u64) -> Arc<Journal> {
        let instance = path
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .expect("a journal lives in its instance's directory");
        Arc::new(Journal {
            file,
            path,
            instance,
            dirty: AtomicBool::new(false),
            queue: self.queue.clone(),
            tail: Mutex::new(Tail {
                len,
                last_queued: 0,
            }),
            durable: watch::Sender::new(Durable::default()),
        })
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.queue
            .pending
            .lock()
            .expect("commit queue lock")
            .stopped = true;
        self.queue.wake.notify_one();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the journal commit thread panicked");
        }
    }
}

struct CommitThread {
    log: File,
    path: PathBuf,
    log_len: u64,
    /// Journals written since the last checkpoint.
    dirty: Vec<Arc<Journal>>,
}

impl CommitThread {
    fn run(&mut self, queue: &Queue) {
        loop {
            let batch = {
                let mut pending = queue.pending.lock().expect("commit queue lock");
                while pending.appends.is_empty() && !pending.stopped {
                    pending = queue.wake.wait(pending).expect("commit queue lock");
                }
                if pending.appends.is_empty() {
                    break;
                }
                std::mem::take(&mut pending.appends)
            };
            self.commit(batch);
            if self.log_len >= CHECKPOINT_BYTES {
                self.checkpoint();
            }
        }
        self.checkpoint();
    }

    /// Writes one batch: each journal's appends in queue order with one write, the same
    /// bytes into the log, one flush of the log, then every waiter is told.
    fn commit(&mut self, batch: Vec<Append>) {
        let mut groups: Vec<(Arc<Journal>, u64, Vec<u8>)> = Vec::new();
        for append in batch {
            match groups
                .iter_mut()
                .find(|(j, ..)| Arc::ptr_eq(j, &append.journal))
            {
                Some((_, seq, bytes)) => {
                    *seq = append.seq;
                    bytes.extend_from_slice(&append.bytes);
                }
                None => groups.push((append.journal, append.seq, append.bytes)),
            }
        }
        let mut records = Vec::new();
        let mut written = Vec::new();
        for (journal, seq, bytes) in groups {
            let Some(offset) = write(&journal, &bytes) else {
                continue;
            };
            let lines = std::str::from_utf8(&bytes).expect("journal lines are JSON text");
            serde_json::to_writer(
                &mut records,
                &Record {
                    instance: Cow::Borrowed(&journal.instance),
                    offset,
                    lines: Cow::Borrowed(lines),
                },
            )
            .expect("records always serialise");
            records.push(b'\n');
            written.push((journal, seq, offset));
        }
        if written.is_empty() {
            return;
        }
        let logged = (&self.log)
            .write_all(&records)
            .and_then(|()| self.log.sync_data());
        if let Err(e) = logged {
            tracing::error!(path = %self.path.display(), error = %e, "commit log write failed");
            if let Err(e) = self.log.set_len(self.log_len) {
                tracing::error!(path = %self.path.display(), error = %e, "could not cut the commit log back");
            }
            written
                .iter()
                .for_each(|(journal, _, offset)| journal.fail(*offset));
            return;
        }
        self.log_len += records.len() as u64;
        for (journal, seq, _) in written {
            if !journal.dirty.swap(true, Ordering::Relaxed) {
                self.dirty.push(journal.clone());
            }
            journal.durable.send_modify(|d| d.through = seq);
        }
    }

    /// Flushes every journal written since the last checkpoint, then empties the log. If a
    /// flush fails the log is kept, so its records still protect what they acknowledged.
    fn checkpoint(&mut self) {
        if self.log_len == 0 {
            return;
        }
        for journal in &self.dirty {
            journal.dirty.store(false, Ordering::Relaxed);
            if let Err(e) = journal.file.sync_data() {
                tracing::error!(path = %journal.path.display(), error = %e, "journal flush failed; keeping the commit log");
                journal.dirty.store(true, Ordering::Relaxed);
                return;
            }
        }
        self.dirty.clear();
        match self.log.set_len(0).and_then(|()| self.log.sync_data()) {
            Ok(()) => self.log_len = 0,
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "could not empty the commit log")
            }
        }
    }
}

/// Appends a journal's share of a batch; returns the offset it was written at, or `None`
/// when the journal has failed (now or before).
fn write(journal: &Journal, bytes: &[u8]) -> Option<u64> {
    if journal.failed() {
        return None;
    }
    let offset = journal.tail.lock().expect("journal tail lock").len;
    match (&journal.file).write_all(bytes) {
        Ok(()) => {
            journal.tail.lock().expect("journal tail lock").len += bytes.len() as u64;
            Some(offset)
        }
        Err(e) => {
            tracing::error!(path = %journal.path.display(), error = %e, "journal write failed");
            journal.fail(offset);
            None
        }
    }
}

/// Puts every record of the commit log at `path` back into its journal under `root`, flushes the
/// journals and empties the log. Each record is written at its recorded offset, so doing
/// this twice changes nothing; each logged journal is cut after its last record, since
/// anything beyond it was never acknowledged. Records of deleted instances are skipped. A
/// torn last line (a batch cut short, never acknowledged) ends the log; damage before it
/// is reported.
pub fn recover(path: &Path, root: &Path) -> std::io::Result<()> {
    let log = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut ends: BTreeMap<String, (File, u64)> = BTreeMap::new();
    let mut reader = BufReader::new(log);
    let mut line = Vec::new();
    let mut line_no = 0;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        line_no += 1;
        if line.last() != Some(&b'\n') {
            tracing::warn!(path = %path.display(), line = line_no, "ignoring a torn commit log tail");
            break;
        }
        let record: Record = serde_json::from_slice(&line).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} line {line_no}: {e}", path.display()),
            )
        })?;
        let dir = root.join(record.instance.as_ref());
        if !dir.join(crate::store::META).exists() {
            continue;
        }
        if !ends.contains_key(record.instance.as_ref()) {
            let journal = OpenOptions::new()
                .write(true)
                .open(dir.join(crate::store::JOURNAL))?;
            ends.insert(record.instance.to_string(), (journal, 0));
        }
        let (journal, end) = ends
            .get_mut(record.instance.as_ref())
            .expect("inserted above");
        journal.write_all_at(record.lines.as_bytes(), record.offset)?;
        *end = record.offset + record.lines.len() as u64;
    }
    for (journal, end) in ends.values() {
        journal.set_len(*end)?;
        journal.sync_data()?;
    }
    let log = OpenOptions::new().write(true).open(path)?;
    log.set_len(0)?;
    log.sync_data()
}
