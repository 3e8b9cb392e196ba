//! On-disk layout of one instance and the replay that rebuilds it.
//!
//! ```text
//! <dir>/commit.log                    recent journal appends of every instance (`group_commit`)
//! <dir>/instances/<id>/meta.json      name, description, creation config (atomic rewrite)
//! <dir>/instances/<id>/journal.jsonl  every state-changing event, one line each, on disk
//!                                     before it is acknowledged (see `group_commit`)
//! ```
//! The engine state, observation history and drift log are all derived by replaying the
//! journal through the pure engine, so they cannot disagree with each other.

use crate::error::InstancesError;
use crate::group_commit::{Committer, Journal};
use identity::{Drift, DriftLevel, InitialConfig, Mode, Modes, Observation, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::OffsetDateTime;

pub const META: &str = "meta.json";
pub const JOURNAL: &str = "journal.jsonl";

/// Where a reset returns to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetTo {
    /// The configuration the instance was created with.
    Initial,
    /// The system defaults (all modes 0.0, energy 0.8), whatever the creation config was.
    Default,
}

impl ResetTo {
    pub fn as_str(self) -> &'static str {
        match self {
            ResetTo::Initial => "initial",
            ResetTo::Default => "default",
        }
    }
}

mod ts {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::clock::format(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        crate::clock::parse(&text).ok_or_else(|| D::Error::custom("bad timestamp"))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub id: String,
    pub name: String,
    pub description: String,
    #[serde(with = "ts")]
    pub created_at: OffsetDateTime,
    #[serde(with = "ts")]
    pub updated_at: OffsetDateTime,
    pub initial_modes: [f64; 7],
    pub initial_energy: f64,
}

impl Meta {
    pub fn initial_config(&self) -> InitialConfig {
        InitialConfig::new(Modes(self.initial_modes), self.initial_energy).unwrap_or_default()
    }
}

/// One journal line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Observation {
        #[serde(with = "ts")]
        at: OffsetDateTime,
        mode: Mode,
        signal_strength: f64,
        confidence: f64,
        #[serde(default, skip_serializing_if = "Value::is_null")]
        context: Value,
    },
    Reset {
        #[serde(with = "ts")]
        at: OffsetDateTime,
        to: ResetTo,
    },
    Profile {
        #[serde(with = "ts")]
        at: OffsetDateTime,
        modes: [f64; 7],
    },
}

impl Event {
    pub fn at(&self) -> OffsetDateTime {
        match self {
            Event::Observation { at, .. } | Event::Reset { at, .. } | Event::Profile { at, .. } => {
                *at
            }
        }
    }

    pub fn line(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec(self).expect("journal events always serialise");
        bytes.push(b'\n');
        bytes
    }
}

#[derive(Debug, Clone)]
pub struct HistoryRecord {
    pub cycle: u64,
    pub mode: Mode,
    pub signal_strength: f64,
    pub confidence: f64,
    pub context: Arc<Value>,
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy)]
pub struct DriftRecord {
    pub cycle: u64,
    pub drift: Drift,
    pub at: OffsetDateTime,
}

/// An instance in memory: its metadata, current state and the logs derived from its journal.
pub struct Live {
    pub meta: Meta,
    pub state: State,
    pub history: Vec<HistoryRecord>,
    /// Drift events at D1 and above; D0 is the normal case and is not logged.
    pub drift_log: Vec<DriftRecord>,
    pub last_observation_at: Option<OffsetDateTime>,
    pub last_event_at: OffsetDateTime,
    pub journal: Arc<Journal>,
    pub dir: PathBuf,
}

impl Live {
    /// Applies one event. Live processing and replay both go through here, which is what
    /// makes a replay reproduce the state exactly.
    pub fn apply(&mut self, event: &Event) -> Result<(), String> {
        match event {
            Event::Observation {
                at,
                mode,
                signal_strength,
                confidence,
                context,
            } => {
                let obs = Observation::new(*mode, *signal_strength, *confidence)
                    .map_err(|e| e.to_string())?;
                self.state = identity::step(&self.state, &obs);
                self.history.push(HistoryRecord {
                    cycle: self.state.cycle,
                    mode: *mode,
                    signal_strength: *signal_strength,
                    confidence: *confidence,
                    context: Arc::new(context.clone()),
                    at: *at,
                });
                if let Some(d) = self.state.last_drift.filter(|d| d.level > DriftLevel::D0) {
                    self.drift_log.push(DriftRecord {
                        cycle: self.state.cycle,
                        drift: d,
                        at: *at,
                    });
                }
                self.last_observation_at = Some(*at);
            }
            Event::Reset { to, .. } => {
                let config = match to {
                    ResetTo::Initial => self.meta.initial_config(),
                    ResetTo::Default => InitialConfig::default(),
                };
                self.state = State::new(&config);
            }
            Event::Profile { modes, .. } => {
                self.state = self.state.with_profile(&Modes(*modes));
            }
        }
        self.last_event_at = event.at();
        Ok(())
    }

    pub fn updated_at(&self) -> OffsetDateTime {
        self.meta.updated_at.max(self.last_event_at)
    }
}

/// Writes a new instance directory: meta first, then an empty journal, then the entry is
/// made durable. A directory without meta.json is ignored (and removed) on the next open.
pub fn create(root: &Path, meta: &Meta, committer: &Committer) -> Result<Live, InstancesError> {
    let dir = root.join(&meta.id);
    std::fs::create_dir(&dir).map_err(InstancesError::storage(&dir))?;
    write_meta(&dir, meta)?;
    let journal = open_journal(&dir)?;
    durable::sync_dir(root).map_err(InstancesError::storage(root))?;
    Ok(Live {
        state: State::new(&meta.initial_config()),
        meta: meta.clone(),
        history: Vec::new(),
        drift_log: Vec::new(),
        last_observation_at: None,
        last_event_at: meta.created_at,
        journal: committer.journal(journal, dir.join(JOURNAL), 0),
        dir,
    })
}

pub fn write_meta(dir: &Path, meta: &Meta) -> Result<(), InstancesError> {
    let path = dir.join(META);
    let bytes = serde_json::to_vec_pretty(meta).expect("meta always serialises");
    durable::write(&path, &bytes).map_err(InstancesError::storage(&path))
}

fn open_journal(dir: &Path) -> Result<File, InstancesError> {
    let path = dir.join(JOURNAL);
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(&path)
        .map_err(InstancesError::storage(&path))
}

/// Loads an instance and replays its journal. A torn last line (a write cut short by a
/// crash, never acknowledged) is cut off; damage anywhere else is reported, not guessed at.
pub fn load(dir: &Path, committer: &Committer) -> Result<Option<Live>, InstancesError> {
    let meta_path = dir.join(META);
    let meta_bytes = match std::fs::read(&meta_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(InstancesError::storage(&meta_path)(e)),
    };
    let meta: Meta = serde_json::from_slice(&meta_bytes).map_err(|e| InstancesError::Corrupt {
        path: meta_path.clone(),
        line: e.line(),
        reason: e.to_string(),
    })?;
    let path = dir.join(JOURNAL);
    let journal = open_journal(dir)?;
    let len = journal
        .metadata()
        .map_err(InstancesError::storage(&path))?
        .len();
    let mut live = Live {
        state: State::new(&meta.initial_config()),
        last_event_at: meta.created_at,
        meta,
        history: Vec::new(),
        drift_log: Vec::new(),
        last_observation_at: None,
        journal: committer.journal(journal, path.clone(), len),
        dir: dir.to_path_buf(),
    };
    let mut reader = BufReader::new(File::open(&path).map_err(InstancesError::storage(&path))?);
    let mut good_len = 0u64;
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(InstancesError::storage(&path))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if buf.last() != Some(&b'\n') {
            tracing::warn!(path = %path.display(), line = line_no, "cutting off a torn journal tail");
            live.journal
                .cut_torn_tail(good_len)
                .map_err(InstancesError::storage(&path))?;
            break;
        }
        let corrupt = |reason: String| InstancesError::Corrupt {
            path: path.clone(),
            line: line_no,
            reason,
        };
        let event = serde_json::from_slice::<Event>(&buf).map_err(|e| corrupt(e.to_string()))?;
        live.apply(&event).map_err(corrupt)?;
        good_len += n as u64;
    }
    Ok(Some(live))
}
