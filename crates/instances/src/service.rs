//! The instance service: creates, finds and changes instances, one at a time per instance
//! (a tokio mutex each) and in parallel across instances.
//!
//! A change is queued for the journal and applied in memory under the instance's lock; the
//! lock is then released and the answer waits, outside it, until the commit thread reports
//! the journal on disk. Releasing early lets the next change to the same instance join the
//! same disk flush; waiting before answering keeps the rule that nothing is acknowledged,
//! and nothing is shown, before it is durable: every call, reads included, waits for all
//! changes queued on its instance before it answers.

use crate::clock::{self, Clock};
use crate::error::InstancesError;
use crate::group_commit::{Committer, Journal};
use crate::store::{self, DriftRecord, Event, HistoryRecord, Live, Meta, ResetTo};
use identity::{Contract, DriftLevel, InitialConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use time::OffsetDateTime;

mod views;

pub use views::{
    InstanceView, ListQuery, ObservationInput, Page, ProcessOutcome, SnapshotView, SortKey,
    TestOutcome, TestSubject,
};

pub const NAME_MAX_CHARS: usize = 100;
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;
pub const BATCH_MAX: usize = 1000;

/// How the service behaves; the daemon uses the default.
#[derive(Clone)]
pub struct Settings {
    /// Observations closer together than this are answered with the unchanged state
    /// (measured on the caller's `timestamp` when given, else on the clock).
    pub min_interval: Duration,
    pub clock: Arc<dyn Clock>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            min_interval: Duration::from_secs(1),
            clock: Arc::new(clock::SystemClock),
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("min_interval", &self.min_interval)
            .finish_non_exhaustive()
    }
}

struct Slot {
    live: tokio::sync::Mutex<Option<Live>>,
    /// Kept current once each change is durable, so listing never waits for a busy
    /// instance and never shows a change that is not on disk yet.
    view: RwLock<(u64, InstanceView)>,
    /// Counts calls in the order they held the instance's lock; a view is replaced only by
    /// a later one, whichever order their flushes are reported in.
    calls: AtomicU64,
}

impl Slot {
    fn new(live: Live) -> Slot {
        let view = RwLock::new((0, view_of(&live)));
        Slot {
            live: tokio::sync::Mutex::new(Some(live)),
            view,
            calls: AtomicU64::new(0),
        }
    }

    fn show(&self, call: u64, view: InstanceView) {
        let mut shown = self.view.write().expect("view lock");
        if call >= shown.0 {
            *shown = (call, view);
        }
    }
}

pub struct Service {
    root: PathBuf,
    settings: Settings,
    slots: RwLock<BTreeMap<String, Arc<Slot>>>,
    committer: Arc<Committer>,
}

fn view_of(live: &Live) -> InstanceView {
    InstanceView {
        id: live.meta.id.clone(),
        name: live.meta.name.clone(),
        description: live.meta.description.clone(),
        created_at: live.meta.created_at,
        updated_at: live.updated_at(),
        cycle_count: live.state.cycle,
        energy_level: live.state.energy,
        stress_state: live.state.stress,
        stability_index: live.state.stability,
    }
}

fn check_name(name: &str) -> Result<(), InstancesError> {
    if name.trim().is_empty() {
        return Err(InstancesError::invalid("name", "must not be empty"));
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(InstancesError::invalid(
            "name",
            format!("must be at most {NAME_MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

fn check_description(description: &str) -> Result<(), InstancesError> {
    if description.chars().count() > DESCRIPTION_MAX_CHARS {
        return Err(InstancesError::invalid(
            "description",
            format!("must be at most {DESCRIPTION_MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

fn new_id() -> String {
    format!("inst_{:016x}", rand::random::<u64>())
}

impl Service {
    /// Opens (creating if needed) the store under `dir` and replays every instance.
    pub fn open(dir: &Path, settings: Settings) -> Result<Arc<Service>, InstancesError> {
        let root = dir.join("instances");
        std::fs::create_dir_all(&root).map_err(InstancesError::storage(&root))?;
        let log = dir.join(crate::group_commit::COMMIT_LOG);
        let committer =
            Arc::new(Committer::start(log.clone(), &root).map_err(InstancesError::storage(log))?);
        let mut slots = BTreeMap::new();
        for entry in std::fs::read_dir(&root).map_err(InstancesError::storage(&root))? {
            let entry = entry.map_err(InstancesError::storage(&root))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !path.is_dir() {
                continue;
            }
            if name.starts_with(".deleted-") {
                std::fs::remove_dir_all(&path).map_err(InstancesError::storage(&path))?;
                continue;
            }
            match store::load(&path, &committer)? {
                Some(live) => {
                    slots.insert(live.meta.id.clone(), Arc::new(Slot::new(live)));
                }
                None => {
                    tracing::warn!(path = %path.display(), "removing an instance directory whose creation never finished");
                    std::fs::remove_dir_all(&path).map_err(InstancesError::storage(&path))?;
                }
            }
        }
        Ok(Arc::new(Service {
            root,
            settings,
            slots: RwLock::new(slots),
            committer,
        }))
    }

    fn slot(&self, id: &str) -> Result<Arc<Slot>, InstancesError> {
        self.slots
            .read()
            .expect("slot map lock")
            .get(id)
            .cloned()
            .ok_or_else(|| InstancesError::NotFound(id.to_string()))
    }

    /// Runs `f` on the live instance under its lock, then, with the lock released, waits
    /// until everything queued on the instance's journal is on disk before answering. A
    /// deleted instance is not found.
    async fn with_live<T>(
        &self,
        id: &str,
        f: impl AsyncFnOnce(&mut Live) -> Result<T, InstancesError>,
    ) -> Result<T, InstancesError> {
        let slot = self.slot(id)?;
        let (out, journal, queued, call, view) = {
            let mut guard = slot.live.lock().await;
            let live = guard
                .as_mut()
                .ok_or_else(|| InstancesError::NotFound(id.to_string()))?;
            let out = f(live).await;
            let call = slot.calls.fetch_add(1, Ordering::Relaxed) + 1;
            (
                out,
                live.journal.clone(),
                live.journal.last_queued(),
                call,
                view_of(live),
            )
        };
        if let Err(e) = journal.durable(queued).await {
            self.recover(&slot, &journal).await;
            return Err(InstancesError::storage(journal.path())(e));
        }
        slot.show(call, view);
        out
    }

    /// Replaces an instance whose journal failed with what its journal on disk holds, so
    /// changes that were applied in memory but never made durable are forgotten.
    async fn recover(&self, slot: &Slot, failed: &Arc<Journal>) {
        let mut guard = slot.live.lock().await;
        let Some(live) = guard
            .as_mut()
            .filter(|live| Arc::ptr_eq(&live.journal, failed))
        else {
            return;
        };
        let (dir, committer) = (live.dir.clone(), self.committer.clone());
        match tokio::task::spawn_blocking(move || store::load(&dir, &committer))
            .await
            .expect("reload task")
        {
            Ok(Some(fresh)) => {
                let call = slot.calls.fetch_add(1, Ordering::Relaxed) + 1;
                slot.show(call, view_of(&fresh));
                *live = fresh;
            }
            Ok(None) => {
                tracing::error!(dir = %live.dir.display(), "instance metadata vanished after a journal failure")
            }
            Err(e) => {
                tracing::error!(dir = %live.dir.display(), error = %e, "could not reload an instance after a journal failure")
            }
        }
    }

    fn now(&self) -> OffsetDateTime {
        clock::normalize(self.settings.clock.now_utc())
    }

    pub async fn create(
        &self,
        name: &str,
        description: &str,
        initial: Option<InitialConfig>,
    ) -> Result<InstanceView, InstancesError> {
        check_name(name)?;
        check_description(description)?;
        let initial = initial.unwrap_or_default();
        let now = self.now();
        let mut id = new_id();
        while self.slots.read().expect("slot map lock").contains_key(&id) {
            id = new_id();
        }
        let meta = Meta {
            id: id.clone(),
            name: name.to_string(),
            description: description.to_string(),
            created_at: now,
            updated_at: now,
            initial_modes: initial.mode_strengths().0,
            initial_energy: initial.energy_level(),
        };
        let (root, committer) = (self.root.clone(), self.committer.clone());
        let live = tokio::task::spawn_blocking(move || store::create(&root, &meta, &committer))
            .await
            .expect("create task")?;
        let view = view_of(&live);
        self.slots
            .write()
            .expect("slot map lock")
            .insert(id, Arc::new(Slot::new(live)));
        Ok(view)
    }

    pub fn list(&self, query: ListQuery) -> Page<InstanceView> {
        let mut views: Vec<InstanceView> = self
            .slots
            .read()
            .expect("slot map lock")
            .values()
            .map(|s| s.view.read().expect("view lock").1.clone())
            .collect();
        views.sort_by(|a, b| {
            let key = match query.sort {
                SortKey::CreatedAt => a.created_at.cmp(&b.created_at),
                SortKey::Name => a.name.cmp(&b.name),
            };
            key.then_with(|| a.id.cmp(&b.id))
        });
        if query.descending {
            views.reverse();
        }
        let total = views.len();
        let items = views
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .collect();
        Page {
            items,
            total,
            limit: query.limit,
            offset: query.offset,
        }
    }

    pub async fn get(&self, id: &str) -> Result<InstanceView, InstancesError> {
        self.with_live(id, async |live| Ok(view_of(live))).await
    }

    /// Changes name and/or description; engine state is never touched here.
    pub async fn update(
        &self,
        id: &str,
        name: Option<&str>,
        description: Option<&str>,
    ) -> Result<InstanceView, InstancesError> {
        if let Some(n) = name {
            check_name(n)?;
        }
        if let Some(d) = description {
            check_description(d)?;
        }
        let now = self.now();
        self.with_live(id, async |live| {
            let mut meta = live.meta.clone();
            if let Some(n) = name {
                meta.name = n.to_string();
            }
            if let Some(d) = description {
                meta.description = d.to_string();
            }
            meta.updated_at = now.max(live.updated_at());
            let dir = live.dir.clone();
            let written = meta.clone();
            tokio::task::spawn_blocking(move || store::write_meta(&dir, &written))
                .await
                .expect("meta task")?;
            live.meta = meta;
            Ok(view_of(live))
        })
        .await
    }

    /// Deletes the instance and everything recorded about it.
    pub async fn delete(&self, id: &str) -> Result<(), InstancesError> {
        let slot = self.slot(id)?;
        let mut guard = slot.live.lock().await;
        let live = guard
            .take()
            .ok_or_else(|| InstancesError::NotFound(id.to_string()))?;
        self.slots.write().expect("slot map lock").remove(id);
        let root = self.root.clone();
        let id = id.to_string();
        tokio::task::spawn_blocking(move || -> Result<(), InstancesError> {
            drop(live);
            let from = root.join(&id);
            let doomed = root.join(format!(".deleted-{id}"));
            std::fs::rename(&from, &doomed).map_err(InstancesError::storage(&from))?;
            durable::sync_dir(&root).map_err(InstancesError::storage(&root))?;
            std::fs::remove_dir_all(&doomed).map_err(InstancesError::storage(&doomed))
        })
        .await
        .expect("delete task")
    }

    /// Queues events for the journal as one write; `with_live` waits for them to be on disk
    /// before the call answers.
    fn queue(live: &mut Live, events: &[Event]) -> Result<(), InstancesError> {
        let bytes: Vec<u8> = events.iter().flat_map(Event::line).collect();
        live.journal
            .append(bytes)
            .map_err(InstancesError::storage(live.journal.path()))?;
        Ok(())
    }

    fn apply(live: &mut Live, event: &Event) -> Result<(), InstancesError> {
        live.apply(event)
            .map_err(|reason| InstancesError::invalid("observation", reason))
    }

    fn commit(live: &mut Live, event: Event) -> Result<(), InstancesError> {
        Self::queue(live, std::slice::from_ref(&event))?;
        Self::apply(live, &event)
    }

    fn outcome(live: &Live, throttled: bool) -> ProcessOutcome {
        let drift = if throttled {
            None
        } else {
            live.state.last_drift.map(|drift| DriftRecord {
                cycle: live.state.cycle,
                drift,
                at: live.last_observation_at.unwrap_or(live.last_event_at),
            })
        };
        ProcessOutcome {
            snapshot: SnapshotView::of(live),
            contract: identity::contract(&live.state),
            drift,
            throttled,
        }
    }

    fn event_for(&self, input: &ObservationInput, at: OffsetDateTime) -> Event {
        Event::Observation {
            at,
            mode: input.observation.mode_target(),
            signal_strength: input.observation.signal_strength(),
            confidence: input.observation.confidence(),
            context: input.context.clone(),
        }
    }

    /// Processes one observation. Inside the minimum interval it changes nothing and
    /// answers with the current state, marked `throttled`.
    pub async fn observe(
        &self,
        id: &str,
        input: impl Into<ObservationInput>,
    ) -> Result<ProcessOutcome, InstancesError> {
        let input = input.into();
        let at = input
            .timestamp
            .map(clock::normalize)
            .unwrap_or_else(|| self.now());
        let min = self.settings.min_interval;
        self.with_live(id, async |live| {
            if let Some(last) = live.last_observation_at
                && !min.is_zero()
                && at < last + min
            {
                return Ok(Self::outcome(live, true));
            }
            Self::commit(live, self.event_for(&input, at))?;
            Ok(Self::outcome(live, false))
        })
        .await
    }

    /// Processes observations in order with one durable write; the interval does not apply
    /// inside a batch. Returns the outcome after each observation.
    pub async fn observe_batch(
        &self,
        id: &str,
        inputs: Vec<ObservationInput>,
    ) -> Result<Vec<ProcessOutcome>, InstancesError> {
        if inputs.is_empty() || inputs.len() > BATCH_MAX {
            return Err(InstancesError::invalid(
                "observations",
                format!("must hold 1 to {BATCH_MAX} observations"),
            ));
        }
        let now = self.now();
        self.with_live(id, async |live| {
            let events: Vec<Event> = inputs
                .iter()
                .map(|i| self.event_for(i, i.timestamp.map(clock::normalize).unwrap_or(now)))
                .collect();
            Self::queue(live, &events)?;
            let mut outcomes = Vec::with_capacity(events.len());
            for e in &events {
                Self::apply(live, e)?;
                outcomes.push(Self::outcome(live, false));
            }
            Ok(outcomes)
        })
        .await
    }

    pub async fn snapshot(&self, id: &str) -> Result<SnapshotView, InstancesError> {
        self.with_live(id, async |live| Ok(SnapshotView::of(live)))
            .await
    }

    pub async fn contract(&self, id: &str) -> Result<Contract, InstancesError> {
        self.with_live(id, async |live| Ok(identity::contract(&live.state)))
            .await
    }

    /// Returns the engine state to the creation config or the system default. History and
    /// drift logs are kept: they are the audit trail of what happened before the reset.
    pub async fn reset(&self, id: &str, to: ResetTo) -> Result<SnapshotView, InstancesError> {
        let at = self.now();
        self.with_live(id, async |live| {
            Self::commit(live, Event::Reset { at, to })?;
            Ok(SnapshotView::of(live))
        })
        .await
    }

    /// Observations, newest first.
    pub async fn history(
        &self,
        id: &str,
        limit: usize,
        offset: usize,
    ) -> Result<Page<HistoryRecord>, InstancesError> {
        self.with_live(id, async |live| {
            let items = live
                .history
                .iter()
                .rev()
                .skip(offset)
                .take(limit)
                .cloned()
                .collect();
            Ok(Page {
                items,
                total: live.history.len(),
                limit,
                offset,
            })
        })
        .await
    }

    /// Drift events (D1 and above), newest first, optionally only one level.
    pub async fn drift(
        &self,
        id: &str,
        limit: usize,
        offset: usize,
        level: Option<DriftLevel>,
    ) -> Result<Page<DriftRecord>, InstancesError> {
        self.with_live(id, async |live| {
            let matching: Vec<&DriftRecord> = live
                .drift_log
                .iter()
                .rev()
                .filter(|r| level.is_none_or(|l| r.drift.level == l))
                .collect();
            let items = matching
                .iter()
                .skip(offset)
                .take(limit)
                .map(|r| **r)
                .collect();
            Ok(Page {
                items,
                total: matching.len(),
                limit,
                offset,
            })
        })
        .await
    }

    /// Scores a personality test and sets the subject's personality to the result.
    pub async fn submit_test(
        &self,
        subject: TestSubject,
        version: &str,
        answers: &[(u32, u8)],
    ) -> Result<TestOutcome, InstancesError> {
        use identity::test_bank::TestError;
        let profile = identity::test_bank::score(version, answers).map_err(|e| match e {
            TestError::Incomplete(missing) => InstancesError::IncompleteTest { missing },
            TestError::UnknownVersion(_) => InstancesError::invalid("version", e.to_string()),
            other => InstancesError::invalid("responses", other.to_string()),
        })?;
        let id = match subject {
            TestSubject::Existing(id) => id,
            TestSubject::Create { name } => self.create(&name, "", None).await?.id,
        };
        let at = self.now();
        self.with_live(&id, async |live| {
            Self::commit(
                live,
                Event::Profile {
                    at,
                    modes: profile.0,
                },
            )?;
            Ok(TestOutcome {
                instance: view_of(live),
                profile,
                snapshot: SnapshotView::of(live),
                contract: identity::contract(&live.state),
            })
        })
        .await
    }
}
