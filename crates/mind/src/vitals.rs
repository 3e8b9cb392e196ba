//! Her vitals: the phase of her day, whether she is thinking, how her beats end (at rest or
//! in a fault), and her sickness. Her status view is read from here.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use serde::Serialize;
use time::OffsetDateTime;

use crate::cycle::Phase;
use crate::health;
use crate::journal::lock;
use crate::regulation::Regulated;

/// Failed beats in a row, with her Mind unreachable or refusing, after which she is marked
/// sick and stopped. One failure is retried at the next heartbeat; the third in a row (so at
/// least two minutes of a dead Mind) means something is wrong that she cannot fix herself.
pub const SICK_AFTER: u32 = 3;

/// What her status view shows about her life right now.
#[derive(Clone, Debug, Serialize)]
pub struct LiveStatus {
    pub phase: Phase,
    pub thinking: bool,
    pub faults_in_a_row: u32,
    /// How many beats have come to rest since she started: each time her thinking on what
    /// reached her ends (after her reply, when she owed one). A beat cut short by a new
    /// perception, or ended by a fault, is not counted; watch `faults_in_a_row` for those.
    pub beats: u64,
    pub sickness: Option<String>,
    pub regulation: Regulated,
}

pub struct Vitals {
    phase: Mutex<Phase>,
    last_activity: Mutex<OffsetDateTime>,
    /// Faults since her last heartbeat, recorded in `health.jsonl` at the next.
    faults: Mutex<Vec<health::Fault>>,
    in_a_row: AtomicU32,
    /// How many beats have come to rest; a watch so an exchange can wait for her rest.
    beats: tokio::sync::watch::Sender<u64>,
    thinking: AtomicBool,
    sickness: Mutex<Option<String>>,
}

impl Vitals {
    pub(crate) fn new(now: OffsetDateTime) -> Vitals {
        Vitals {
            phase: Mutex::new(Phase::Morning),
            last_activity: Mutex::new(now),
            faults: Mutex::new(Vec::new()),
            in_a_row: AtomicU32::new(0),
            beats: tokio::sync::watch::channel(0).0,
            thinking: AtomicBool::new(false),
            sickness: Mutex::new(None),
        }
    }

    pub fn phase(&self) -> Phase {
        *lock(&self.phase)
    }

    pub(crate) fn set_phase(&self, p: Phase) {
        *lock(&self.phase) = p;
    }

    pub fn last_activity(&self) -> OffsetDateTime {
        *lock(&self.last_activity)
    }

    pub(crate) fn touch(&self, now: OffsetDateTime) {
        *lock(&self.last_activity) = now;
    }

    pub(crate) fn set_thinking(&self, thinking: bool) {
        self.thinking.store(thinking, Ordering::Relaxed);
    }

    /// Her thinking on what reached her came to rest.
    pub(crate) fn rested(&self) {
        self.beats.send_modify(|b| *b += 1);
    }

    pub(crate) fn beats(&self) -> u64 {
        *self.beats.borrow()
    }

    pub(crate) fn watch_beats(&self) -> tokio::sync::watch::Receiver<u64> {
        self.beats.subscribe()
    }

    /// A beat came to its end without a fault.
    pub(crate) fn healthy(&self) {
        self.in_a_row.store(0, Ordering::Relaxed);
    }

    /// A beat failed; returns how many have in a row.
    pub(crate) fn faulted(&self, fault: health::Fault) -> u32 {
        lock(&self.faults).push(fault);
        self.in_a_row.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn in_a_row(&self) -> u32 {
        self.in_a_row.load(Ordering::Relaxed)
    }

    /// The faults since the last heartbeat, taken for `health.jsonl`.
    pub(crate) fn take_faults(&self) -> Vec<health::Fault> {
        std::mem::take(&mut *lock(&self.faults))
    }

    pub(crate) fn mark_sick(&self, reason: &str) {
        *lock(&self.sickness) = Some(reason.to_string());
    }

    pub(crate) fn status(&self, regulation: Regulated) -> LiveStatus {
        LiveStatus {
            phase: self.phase(),
            thinking: self.thinking.load(Ordering::Relaxed),
            faults_in_a_row: self.in_a_row(),
            beats: self.beats(),
            sickness: lock(&self.sickness).clone(),
            regulation,
        }
    }
}
