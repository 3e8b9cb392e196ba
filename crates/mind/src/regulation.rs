//! Regulation by the identity engine. Each beat, what happened is turned into observations
//! for her identity instance; the contract that comes back (stress, allowed and forbidden
//! actions, decision style) is part of what she reads before deciding, and under `OVER` she
//! defers instead of acting.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use identity::{Mode, StressLevel};
use persona::Persona;
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::MindError;
use crate::journal::lock;
use crate::outbox::Outbox;
use crate::signal;

/// Something that happened during a beat that her identity should hear about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Her person said something.
    Heard,
    /// She answered her person.
    Answered,
    /// A tool did what she asked.
    ToolSucceeded,
    /// A tool failed or refused.
    ToolFailed,
    /// She met an intention she had no meaning for and learned one.
    Learned,
    /// Her Mind could not be reached or refused to think.
    MindFault,
    /// She consolidated her day.
    Consolidated,
}

impl Event {
    /// The mode this event feeds, how strongly, and how sure we are that it means that.
    pub fn observation(self) -> (Mode, f64, f64) {
        match self {
            Event::Heard => (Mode::Connection, 0.5, 0.8),
            Event::Answered => (Mode::Perception, 0.6, 0.8),
            Event::ToolSucceeded => (Mode::Order, 0.5, 0.8),
            Event::ToolFailed => (Mode::StressResponse, 0.8, 0.9),
            Event::Learned => (Mode::Exploration, 0.7, 0.8),
            Event::MindFault => (Mode::StressResponse, 0.9, 0.9),
            Event::Consolidated => (Mode::Identity, 0.4, 0.7),
        }
    }
}

/// The contract as her status and her prompt show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Regulated {
    pub instance: String,
    pub stress: String,
    pub system: String,
    pub energy: f64,
    pub allowed_actions: Vec<String>,
    pub forbidden_actions: Vec<String>,
    pub decision_style: DecisionStyle,
    pub dominant_modes: Vec<String>,
    pub should_pause: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DecisionStyle {
    pub tempo: String,
    pub risk: String,
    pub expressiveness: String,
    pub commitment_threshold: String,
}

impl Regulated {
    pub fn from_contract(instance: &str, c: &identity::Contract) -> Regulated {
        Regulated {
            instance: instance.to_string(),
            stress: c.stress.as_str().to_string(),
            system: format!("{:?}", c.system).to_lowercase(),
            energy: (c.energy_level * 1000.0).round() / 1000.0,
            allowed_actions: c
                .allowed_actions
                .iter()
                .map(|a| a.as_str().to_string())
                .collect(),
            forbidden_actions: c
                .forbidden_actions
                .iter()
                .map(|a| a.as_str().to_string())
                .collect(),
            decision_style: DecisionStyle {
                tempo: c.decision_style.tempo.into(),
                risk: c.decision_style.risk.into(),
                expressiveness: c.decision_style.expressiveness.into(),
                commitment_threshold: c.decision_style.commitment_threshold.into(),
            },
            dominant_modes: c
                .dominant_modes
                .as_slice()
                .iter()
                .map(|m| format!("{m:?}").to_lowercase())
                .collect(),
            should_pause: c.should_pause,
        }
    }

    /// Under `OVER` she does not act; she says she is deferring.
    pub fn must_defer(&self) -> bool {
        self.stress == StressLevel::Over.as_str()
    }
}

/// A call to her identity engine in flight.
pub type Pending<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, IdentityError>> + Send + 'a>>;

/// The identity engine that regulates her, as she needs it: an instance of her own, its
/// contract, and what happened to her. The daemon implements it over the instances it hosts,
/// so her life does not depend on how instances are stored or served.
pub trait Identity: Send + Sync {
    /// Creates an instance and returns its id.
    fn create<'a>(&'a self, name: &'a str, description: &'a str) -> Pending<'a, String>;
    /// The instance's current contract; [`IdentityError::Missing`] when it is gone.
    fn contract<'a>(&'a self, instance: &'a str) -> Pending<'a, identity::Contract>;
    /// Processes `batch` in order, durably, as one write.
    fn observe<'a>(&'a self, instance: &'a str, batch: Vec<Observed>) -> Pending<'a, ()>;
}

/// One observation of her, with what it came from and when.
#[derive(Clone, Debug)]
pub struct Observed {
    pub observation: identity::Observation,
    pub context: serde_json::Value,
    pub at: time::OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The instance was deleted (through `/instances`, say); she makes a new one.
    #[error("identity instance {0} not found")]
    Missing(String),
    #[error("{0}")]
    Failed(String),
}

/// Her hold on her identity instance: which one is hers, what happened to her since the last
/// flush, and the contract she read last.
pub struct Regulation {
    persona: Uuid,
    engine: Arc<dyn Identity>,
    /// Where her instance id is kept (`identity.json`).
    bound: PathBuf,
    instance: Mutex<String>,
    pending: Mutex<Vec<Event>>,
    regulated: Mutex<Regulated>,
    /// Wakes her regulator, which hands what happened to her identity instance beside the
    /// message path.
    regulator: tokio::sync::Notify,
    /// Held while a new instance replaces a deleted one, so only one is made.
    rebinding: tokio::sync::Mutex<()>,
}

#[derive(serde::Deserialize, Serialize)]
struct Bound {
    instance: String,
}

impl Regulation {
    /// Binds her identity instance (the id kept in `identity.json`, or a new instance on first
    /// start or when hers is gone) and reads its contract.
    pub(crate) async fn bind(
        persona: &Persona,
        bound: PathBuf,
        engine: Arc<dyn Identity>,
    ) -> Result<Regulation, MindError> {
        let kept = std::fs::read(&bound)
            .ok()
            .and_then(|b| serde_json::from_slice::<Bound>(&b).ok());
        let (instance, contract) = match kept {
            Some(Bound { instance }) => match engine.contract(&instance).await {
                Ok(c) => (instance, c),
                Err(IdentityError::Missing(_)) => {
                    tracing::warn!(persona = %persona.id, instance, "identity instance missing; creating a new one");
                    create(persona, &bound, engine.as_ref()).await?
                }
                Err(e) => return Err(MindError::Identity(e.to_string())),
            },
            None => create(persona, &bound, engine.as_ref()).await?,
        };
        Ok(Regulation {
            persona: persona.id,
            regulated: Mutex::new(Regulated::from_contract(&instance, &contract)),
            instance: Mutex::new(instance),
            engine,
            bound,
            pending: Mutex::new(Vec::new()),
            regulator: tokio::sync::Notify::new(),
            rebinding: tokio::sync::Mutex::new(()),
        })
    }

    pub fn regulated(&self) -> Regulated {
        lock(&self.regulated).clone()
    }

    fn instance(&self) -> String {
        lock(&self.instance).clone()
    }

    pub fn observe(&self, e: Event) {
        lock(&self.pending).push(e);
    }

    /// Leaves the durable flush of what happened to her regulator, so a message that arrives
    /// as a beat ends does not wait for the identity journal's fsync.
    pub(crate) fn regulate_soon(&self) {
        self.regulator.notify_one();
    }

    /// Hands the events since the last flush to her identity instance (one durable batch) and
    /// reads her contract.
    pub(crate) async fn regulate(&self, persona: &Persona, outbox: &Outbox, at: OffsetDateTime) {
        let events: Vec<Event> = std::mem::take(&mut *lock(&self.pending));
        if !events.is_empty() {
            let batch: Vec<Observed> = events
                .iter()
                .filter_map(|e| {
                    let (mode, strength, confidence) = e.observation();
                    Some(Observed {
                        observation: identity::Observation::new(mode, strength, confidence).ok()?,
                        context: json!({"persona": self.persona, "event": format!("{e:?}")}),
                        at,
                    })
                })
                .collect();
            let instance = self.instance();
            let mut sent = self.engine.observe(&instance, batch.clone()).await;
            if let Err(IdentityError::Missing(_)) = sent {
                self.rebind(persona, outbox, &instance).await;
                sent = self.engine.observe(&self.instance(), batch).await;
            }
            if let Err(e) = sent {
                tracing::warn!(persona = %self.persona, error = %e, "identity engine refused observations");
            }
        }
        self.read_contract(persona, outbox).await;
    }

    /// Reads her current contract without writing anything: what she must know before she
    /// decides, kept off the path of a message by leaving the durable flush for after.
    pub(crate) async fn read_contract(&self, persona: &Persona, outbox: &Outbox) {
        let instance = self.instance();
        let mut read = self.engine.contract(&instance).await;
        if let Err(IdentityError::Missing(_)) = read {
            self.rebind(persona, outbox, &instance).await;
            read = self.engine.contract(&self.instance()).await;
        }
        match read {
            Ok(c) => *lock(&self.regulated) = Regulated::from_contract(&self.instance(), &c),
            Err(e) => {
                tracing::warn!(persona = %self.persona, error = %e, "could not read her contract")
            }
        }
    }

    /// Her instance `lost` was deleted (through `/instances`, say): she makes a new one, keeps
    /// its id, and says so on her live feed, instead of failing at every heartbeat until a
    /// restart. What the old instance knew of her is gone with it.
    async fn rebind(&self, persona: &Persona, outbox: &Outbox, lost: &str) {
        let _one = self.rebinding.lock().await;
        if self.instance() != lost {
            return;
        }
        match create(persona, &self.bound, self.engine.as_ref()).await {
            Ok((instance, _)) => {
                tracing::warn!(persona = %self.persona, lost, instance, "her identity instance was deleted; she made a new one");
                outbox.signal(
                    signal::Kind::Event,
                    "IdentityRecreated",
                    json!({"lost": lost, "instance": instance}),
                );
                *lock(&self.instance) = instance;
            }
            Err(e) => {
                tracing::warn!(persona = %self.persona, error = %e, "could not make her a new identity instance")
            }
        }
    }
}

/// Makes her a new instance and keeps its id in `identity.json`.
async fn create(
    persona: &Persona,
    bound: &Path,
    engine: &dyn Identity,
) -> Result<(String, identity::Contract), MindError> {
    let fail = |e: IdentityError| MindError::Identity(e.to_string());
    let instance = engine
        .create(
            &format!("persona {}", persona.name),
            &format!("Identity of persona {}", persona.id),
        )
        .await
        .map_err(fail)?;
    let bytes = serde_json::to_vec_pretty(&Bound {
        instance: instance.clone(),
    })
    .map_err(std::io::Error::other)?;
    persona::atomic::write(bound, &bytes)?;
    let contract = engine.contract(&instance).await.map_err(fail)?;
    Ok((instance, contract))
}

/// Flushes her observations to her identity instance whenever a beat ends or the heartbeat
/// finds her idle, and once more when she stops so nothing she lived through is lost.
pub(crate) async fn keep_regulated(life: Arc<crate::life::Life>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = life.regulation.regulator.notified() => life.regulate().await,
        }
    }
    life.regulate().await;
}
