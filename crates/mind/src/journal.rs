//! Her journal: her working memory and `conversation.jsonl`, the log that replays it.
//!
//! The message path never rewrites her whole memory: a turn is appended to the log (the
//! journal a crash replays from) and kept in memory, and `memory.json` catches up at her next
//! heartbeat. Her keeper fsyncs the log beside the message path.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::MindError;
use crate::home::Home;
use crate::memory::{Memory, Message};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Journal {
    persona: Uuid,
    home: Home,
    /// Her memory and how many changes it has had.
    memory: Mutex<(Memory, u64)>,
    /// Held while `memory.json` is written; the version last written.
    written: Mutex<u64>,
    /// Wakes her keeper, which fsyncs what she said to `conversation.jsonl`.
    keeper: tokio::sync::Notify,
    /// Her words are in `conversation.jsonl` but not yet fsynced; her keeper syncs them.
    unsynced: AtomicBool,
}

impl Journal {
    /// Her memory as she left it: `memory.json`, plus whatever `conversation.jsonl` holds that
    /// it lost, saved at once so the replay happens only once.
    pub(crate) fn recollect(persona: Uuid, home: &Home) -> Result<Journal, MindError> {
        let mut memory = Memory::load(&home.memory());
        let back = memory.replay(&crate::home::read_jsonl(&home.conversation()));
        if back > 0 {
            tracing::info!(persona = %persona, turns = back, "replayed turns from conversation.jsonl that memory.json had not kept");
            memory.save(&home.memory())?;
        }
        Ok(Journal {
            persona,
            home: home.clone(),
            memory: Mutex::new((memory, 0)),
            written: Mutex::new(0),
            keeper: tokio::sync::Notify::new(),
            unsynced: AtomicBool::new(false),
        })
    }

    pub fn memory(&self) -> Memory {
        lock(&self.memory).0.clone()
    }

    /// Reads her memory in place. A stage uses it to take only what it needs (a flag, the
    /// turns of a prompt), so the whole memory is not copied on the way to her Mind.
    pub fn recall<R>(&self, f: impl FnOnce(&Memory) -> R) -> R {
        f(&lock(&self.memory).0)
    }

    /// Changes her memory and saves it before anyone else can see the change.
    pub fn with_memory<R>(&self, f: impl FnOnce(&mut Memory) -> R) -> R {
        let r = self.change(f);
        self.persist();
        r
    }

    /// Remembers a turn that is already a line of `conversation.jsonl` and leaves the save
    /// of `memory.json` to her next heartbeat.
    pub(crate) fn remember_logged(&self, m: Message) {
        self.change(|memory| memory.remember_logged(m));
    }

    fn change<R>(&self, f: impl FnOnce(&mut Memory) -> R) -> R {
        let mut held = lock(&self.memory);
        let r = f(&mut held.0);
        held.1 += 1;
        r
    }

    /// Appends what she said to `conversation.jsonl` without waiting for the disk; her keeper
    /// fsyncs it.
    pub(crate) fn log_said(&self, line: &Value) {
        match persona::atomic::append_line_unsynced(&self.home.conversation(), &line.to_string()) {
            Ok(()) => {
                self.unsynced.store(true, Ordering::Release);
                self.keeper.notify_one();
            }
            Err(e) => {
                tracing::error!(persona = %self.persona, error = %e, "could not append to conversation.jsonl")
            }
        }
    }

    /// Makes what she said durable in `conversation.jsonl`, if anything is waiting.
    pub(crate) fn sync_log(&self) {
        if !self.unsynced.swap(false, Ordering::AcqRel) {
            return;
        }
        let synced = std::fs::OpenOptions::new()
            .append(true)
            .open(self.home.conversation())
            .and_then(|f| f.sync_data());
        // Sleep may have archived the log meanwhile; its archive was written durably.
        if let Err(e) = synced.or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Ok(())
            } else {
                Err(e)
            }
        }) {
            tracing::error!(persona = %self.persona, error = %e, "could not fsync conversation.jsonl");
        }
    }

    /// Writes her memory as it is now unless that version is already on disk. Holding
    /// `written` across the write keeps saves in order, so an older mind never lands over a
    /// newer one.
    pub(crate) fn persist(&self) {
        let mut written = lock(&self.written);
        let (memory, version) = {
            let held = lock(&self.memory);
            if held.1 <= *written {
                return;
            }
            (held.0.clone(), held.1)
        };
        match memory.save(&self.home.memory()) {
            Ok(()) => *written = version,
            Err(e) => {
                tracing::error!(persona = %self.persona, error = %e, "could not save memory.json")
            }
        }
    }
}

/// Fsyncs what she said to `conversation.jsonl`, on a blocking thread so neither her next
/// message nor her Mind's request waits for the disk. Lines written while an fsync runs are
/// covered by the next one. Her life task syncs once more when she stops.
pub(crate) async fn keep_log(journal: Arc<Journal>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = journal.keeper.notified() => {}
        }
        let writer = journal.clone();
        let _ = tokio::task::spawn_blocking(move || writer.sync_log()).await;
    }
}
