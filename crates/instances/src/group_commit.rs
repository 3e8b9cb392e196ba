//! Group commit: one thread puts every journal append on disk, so concurrent changes share
//! the cost of reaching the disk instead of paying one `fdatasync` each.
//!
//! Appends are queued in the order they are made (the caller holds its instance's lock, so
//! that is the instance's order). The thread takes everything queued, writes each journal's
//! share with one `write`, then `fdatasync`s every touched journal once before it reports
//! the whole batch durable. While it waits on the disk, new appends pile up for the next
//! batch, so the busier the service, the more writes one flush covers. On ext4 the first
//! `fdatasync` of a batch commits the file-system journal transaction that holds every
//! touched file's new size, and the ones after it find their metadata already committed.
//!
//! `fdatasync` suffices for appends: it flushes the data and the metadata needed to read it
//! back, which includes the file size (fdatasync(2)); only times like mtime are skipped.
//!
//! A journal whose write or flush fails is cut back to its last durable length and stays
//! failed: later appends to it are refused, because they were computed on top of state
//! that never reached the disk. The owner re-opens it from disk to recover.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use tokio::sync::watch;

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
    queue: Arc<Queue>,
    /// Length on disk and the number of the last append queued; guarded together so
    /// numbering follows queue order.
    tail: Mutex<Tail>,
    durable: watch::Sender<Durable>,
}

struct Tail {
    durable_len: u64,
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
            return Err(std::io::Error::other("an earlier write to this journal failed"));
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
        pending.appends.push(Append { journal: self.clone(), seq, bytes });
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
        let state = *rx.wait_for(|d| d.through >= seq || d.failed).await.expect("the journal owns its sender");
        if state.through >= seq { Ok(()) } else { Err(std::io::Error::other("the write did not reach the disk")) }
    }

    /// Cuts off a tail that was never acknowledged (a write torn by a crash), found while
    /// replaying before any append was queued.
    pub fn cut_torn_tail(&self, len: u64) -> std::io::Result<()> {
        self.file.set_len(len)?;
        self.file.sync_data()?;
        self.tail.lock().expect("journal tail lock").durable_len = len;
        Ok(())
    }

    pub fn failed(&self) -> bool {
        self.durable.borrow().failed
    }

    fn fail(&self) {
        let len = self.tail.lock().expect("journal tail lock").durable_len;
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

/// The commit thread's handle; dropping it lets the thread finish what is queued and stop.
pub struct Committer {
    queue: Arc<Queue>,
}

impl Committer {
    pub fn start() -> std::io::Result<Committer> {
        let queue = Arc::new(Queue::default());
        let worker = queue.clone();
        std::thread::Builder::new().name("journal-commit".into()).spawn(move || run(&worker))?;
        Ok(Committer { queue })
    }

    /// Wraps an open journal whose first `len` bytes are already on disk.
    pub fn journal(&self, file: File, path: PathBuf, len: u64) -> Arc<Journal> {
        Arc::new(Journal {
            file,
            path,
            queue: self.queue.clone(),
            tail: Mutex::new(Tail { durable_len: len, last_queued: 0 }),
            durable: watch::Sender::new(Durable::default()),
        })
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.queue.pending.lock().expect("commit queue lock").stopped = true;
        self.queue.wake.notify_one();
    }
}

fn run(queue: &Queue) {
    loop {
        let batch = {
            let mut pending = queue.pending.lock().expect("commit queue lock");
            while pending.appends.is_empty() && !pending.stopped {
                pending = queue.wake.wait(pending).expect("commit queue lock");
            }
            if pending.appends.is_empty() {
                return;
            }
            std::mem::take(&mut pending.appends)
        };
        commit(batch);
    }
}

/// Writes one batch: each journal's appends in queue order with one write, then one flush
/// per journal, then every waiter is told.
fn commit(batch: Vec<Append>) {
    let mut groups: Vec<(Arc<Journal>, u64, Vec<u8>)> = Vec::new();
    for append in batch {
        match groups.iter_mut().find(|(j, ..)| Arc::ptr_eq(j, &append.journal)) {
            Some((_, seq, bytes)) => {
                *seq = append.seq;
                bytes.extend_from_slice(&append.bytes);
            }
            None => groups.push((append.journal, append.seq, append.bytes)),
        }
    }
    let written: Vec<_> = groups.into_iter().filter(|(journal, _, bytes)| write(journal, bytes)).collect();
    let per_thread = written.len().div_ceil(FLUSHERS).max(1);
    std::thread::scope(|scope| {
        for share in written.chunks(per_thread) {
            scope.spawn(move || share.iter().for_each(|(journal, seq, bytes)| flush(journal, *seq, bytes.len())));
        }
    });
}

const FLUSHERS: usize = 16;

fn flush(journal: &Journal, seq: u64, len: usize) {
    if let Err(e) = journal.file.sync_data() {
        tracing::error!(path = %journal.path.display(), error = %e, "journal flush failed");
        journal.fail();
        return;
    }
    journal.tail.lock().expect("journal tail lock").durable_len += len as u64;
    journal.durable.send_modify(|d| d.through = seq);
}

fn write(journal: &Journal, bytes: &[u8]) -> bool {
    if journal.failed() {
        return false;
    }
    match (&journal.file).write_all(bytes) {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(path = %journal.path.display(), error = %e, "journal write failed");
            journal.fail();
            false
        }
    }
}
