//! The persona manager: the agent registry and the flows that bring personas into being, change
//! them and end them. Routes call these; every failure is a [`ManagerError`] whose variant decides
//! the status code in one place (`impl From<ManagerError> for ApiError`).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use channels::PlatformUrls;
use mind::{Agent, LifeEvent, Outgoing, Signal, Surroundings};
use organs::{OrganRequest, Preparer};
use persona::{Channel, ChannelKind, Organ, OrganSlot, Persona, Phrase, Status, Store, StoreError};
use tokio::sync::{Mutex, broadcast};
use uuid::Uuid;

use crate::error::ApiError;

pub mod reach;

#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error("Persona not found.")]
    NotFound,
    #[error("Persona is not running.")]
    NotRunning,
    #[error("Persona is not active.")]
    NotActive,
    #[error("Channel not found.")]
    ChannelNotFound,
    /// A model could not be prepared, a token failed validation, or a request was refused.
    #[error("{0}")]
    Invalid(String),
    /// The persona is running and the request needs her stopped.
    #[error("{0}")]
    Busy(String),
    /// Saved, but starting or restarting her failed afterwards.
    #[error("{0}")]
    Lifecycle(String),
    #[error("{0}")]
    Internal(String),
}

impl From<ManagerError> for ApiError {
    fn from(e: ManagerError) -> ApiError {
        match e {
            ManagerError::NotFound | ManagerError::NotRunning | ManagerError::ChannelNotFound => {
                ApiError::NotFound(e.to_string())
            }
            ManagerError::NotActive | ManagerError::Busy(_) => ApiError::Conflict(e.to_string()),
            ManagerError::Invalid(m) => ApiError::BadRequest(m),
            ManagerError::Lifecycle(m) | ManagerError::Internal(m) => ApiError::Internal(m),
        }
    }
}

fn internal(e: impl std::fmt::Display) -> ManagerError {
    ManagerError::Internal(e.to_string())
}

/// Everything a create or migrate declares about her environment.
#[derive(Default)]
pub struct Environment {
    pub thinking: OrganRequest,
    /// The six optional organs; an absent entry (or one without a model) means no such organ.
    pub organs: Vec<(OrganSlot, OrganRequest)>,
    pub telegram_token: Option<String>,
    pub discord_token: Option<String>,
}

/// Prepared organs and validated channels, ready to be written.
struct Prepared {
    thinking: Organ,
    organs: Vec<(OrganSlot, Organ)>,
    channels: Vec<Channel>,
}

/// What `update` may change.
#[derive(Default)]
pub struct Changes {
    pub status: Option<String>,
    pub organs: Vec<(OrganSlot, OrganRequest)>,
    pub clear: Vec<OrganSlot>,
}

type Agents = Arc<Mutex<HashMap<Uuid, Arc<Agent>>>>;

/// How many personas boot brings up at once: each start probes her Mind, and a provider that
/// does not answer costs a connect timeout, which must not be paid one persona after another.
const BOOT_CONCURRENCY: usize = 16;

/// How long a request that needs her running waits for a start already under way.
const START_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Where a persona is in her life on this daemon, for the views.
pub enum Live {
    Running(Arc<Agent>),
    /// Boot is bringing her up.
    Starting,
}

pub struct Manager {
    store: Store,
    preparer: Preparer,
    http: reqwest::Client,
    platforms: PlatformUrls,
    /// What every agent is started with: HTTP client, identity engine, clock.
    surroundings: Surroundings,
    agents: Agents,
    /// Every running persona's outgoing lines, so a web socket survives her restarts.
    hub: broadcast::Sender<Outgoing>,
    /// Every running persona's signals, for the live feeds.
    feed: broadcast::Sender<Signal>,
    /// One lifecycle change at a time per persona, without holding up the others.
    locks: std::sync::Mutex<HashMap<Uuid, Arc<Mutex<()>>>>,
    /// Personas boot has yet to bring up (or is bringing up).
    starting: std::sync::Mutex<HashSet<Uuid>>,
    /// Woken whenever boot is done with a persona, for requests waiting on her start.
    started: tokio::sync::Notify,
}

impl Manager {
    pub fn new(
        store: Store,
        preparer: Preparer,
        http: reqwest::Client,
        platforms: PlatformUrls,
        surroundings: Surroundings,
    ) -> Manager {
        Manager {
            store,
            preparer,
            http,
            platforms,
            surroundings,
            agents: Agents::default(),
            hub: broadcast::channel(256).0,
            feed: broadcast::channel(256).0,
            locks: std::sync::Mutex::new(HashMap::new()),
            starting: std::sync::Mutex::new(HashSet::new()),
            started: tokio::sync::Notify::new(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn lock_for(&self, id: Uuid) -> Arc<Mutex<()>> {
        self.locks.lock().unwrap().entry(id).or_default().clone()
    }

    pub async fn is_running(&self, id: Uuid) -> bool {
        self.agents.lock().await.contains_key(&id)
    }

    /// Her running agent, for the live-agent routes.
    pub async fn agent(&self, id: Uuid) -> Option<Arc<Agent>> {
        self.agents.lock().await.get(&id).cloned()
    }

    /// Her running agent, waiting (bounded) while boot is still bringing her up, so a request
    /// that arrives just after the daemon starts is answered instead of refused.
    pub async fn agent_ready(&self, id: Uuid) -> Option<Arc<Agent>> {
        let deadline = tokio::time::Instant::now() + START_WAIT;
        loop {
            let woken = self.started.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if let Some(agent) = self.agent(id).await {
                return Some(agent);
            }
            if !self.starting.lock().unwrap().contains(&id) {
                return None;
            }
            if tokio::time::timeout_at(deadline, woken).await.is_err() {
                return None;
            }
        }
    }

    /// Every persona running or being started, for the list.
    pub async fn live(&self) -> HashMap<Uuid, Live> {
        let mut live: HashMap<Uuid, Live> = self
            .starting
            .lock()
            .unwrap()
            .iter()
            .map(|id| (*id, Live::Starting))
            .collect();
        for (id, agent) in self.agents.lock().await.iter() {
            live.insert(*id, Live::Running(agent.clone()));
        }
        live
    }

    /// Starts every persona whose status is `active`, at most [`BOOT_CONCURRENCY`] at a time,
    /// in the background: the daemon serves meanwhile, showing them as `starting`. A persona
    /// that fails to start is logged and left stopped; the others still come up.
    pub fn boot(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let mut active = Vec::new();
        for indexed in self.store.records() {
            let persona = &indexed.record;
            if persona.status == Status::Active {
                active.push(persona.id);
            } else {
                tracing::info!(persona = %persona.id, status = persona.status.as_str(), "not starting inactive persona");
            }
        }
        self.starting.lock().unwrap().extend(active.iter().copied());
        let manager = self.clone();
        tokio::spawn(async move {
            use futures::StreamExt;
            futures::stream::iter(active)
                .for_each_concurrent(BOOT_CONCURRENCY, |id| {
                    let manager = manager.clone();
                    async move {
                        if let Err(e) = manager.start(id).await {
                            tracing::warn!(persona = %id, error = %e, "could not start persona at boot");
                        }
                        manager.starting.lock().unwrap().remove(&id);
                        manager.started.notify_waiters();
                    }
                })
                .await;
        })
    }

    /// Stops every running persona; used at shutdown.
    pub async fn stop_all(&self) {
        let agents: Vec<Arc<Agent>> = self.agents.lock().await.drain().map(|(_, a)| a).collect();
        for agent in agents {
            agent.stop().await;
        }
    }

    fn load(&self, id: Uuid) -> Result<Persona, ManagerError> {
        self.store.load(id).map_err(|e| match e {
            StoreError::NotFound => ManagerError::NotFound,
            other => internal(other),
        })
    }

    /// Checks that her Mind answers, then registers a running agent for her.
    async fn bring_up(&self, persona: Persona) -> Result<(), String> {
        let request = OrganRequest {
            model: Some(persona.thinking.name.clone()),
            provider: persona.thinking.provider.map(|p| p.as_str().to_string()),
            url: Some(persona.thinking.url.clone()),
            api_key: persona.thinking.api_key.clone(),
        };
        self.preparer
            .prepare(OrganSlot::Thinking, &request)
            .await
            .map_err(|e| e.to_string())?;
        let id = persona.id;
        let agent = Agent::start(persona, self.store.clone(), self.surroundings.clone())
            .await
            .map_err(|e| e.to_string())?;
        let agent = Arc::new(agent);
        tokio::spawn(attend(
            Arc::downgrade(&agent),
            self.agents.clone(),
            self.hub.clone(),
            self.feed.clone(),
        ));
        self.agents.lock().await.insert(id, agent);
        Ok(())
    }

    /// Her outgoing lines and every other running persona's, for the web socket.
    pub fn listen(&self) -> broadcast::Receiver<Outgoing> {
        self.hub.subscribe()
    }

    /// Every running persona's signals, for `/ws/system` and her own socket.
    pub fn feed(&self) -> broadcast::Receiver<Signal> {
        self.feed.subscribe()
    }

    async fn take_down(&self, id: Uuid) -> bool {
        let agent = self.agents.lock().await.remove(&id);
        match agent {
            Some(agent) => {
                agent.stop().await;
                true
            }
            None => false,
        }
    }

    /// `POST .../start`: `Ok(false)` when she was already running.
    pub async fn start(&self, id: Uuid) -> Result<bool, ManagerError> {
        let lock = self.lock_for(id);
        let _held = lock.lock().await;
        if self.is_running(id).await {
            return Ok(false);
        }
        let persona = self.load(id)?;
        self.bring_up(persona)
            .await
            .map_err(ManagerError::Invalid)?;
        Ok(true)
    }

    pub async fn stop(&self, id: Uuid) -> Result<(), ManagerError> {
        let lock = self.lock_for(id);
        let _held = lock.lock().await;
        if self.take_down(id).await {
            Ok(())
        } else {
            Err(ManagerError::NotRunning)
        }
    }

    /// Rebuilds her agent from what is on disk now (not from the running agent's copy, which
    /// would lose a change just saved).
    pub async fn restart(&self, id: Uuid) -> Result<(), ManagerError> {
        let lock = self.lock_for(id);
        let _held = lock.lock().await;
        let persona = self.load(id)?;
        self.relaunch(persona).await.map_err(ManagerError::Invalid)
    }

    pub async fn sleep(&self, id: Uuid) -> Result<(), ManagerError> {
        let agent = self.agent_ready(id).await.ok_or(ManagerError::NotActive)?;
        agent.sleep().await.map_err(|e| {
            tracing::error!(persona = %id, error = %e, "sleep failed");
            ManagerError::Invalid("Sleep failed unexpectedly.".into())
        })
    }

    /// Prepares one organ, turning a refusal into the 400 that names the organ and why.
    /// An organ re-saved with the same cloud provider and URL but no `api_key` keeps the key
    /// she already has: a form that never shows a stored key (the dashboard's) can re-save an
    /// organ, changing only its model, without asking the person to type the key again. A new
    /// provider or URL needs a key of its own, so a key is never sent somewhere it was not
    /// given for.
    fn keep_stored_key(&self, current: Option<&Organ>, ask: &OrganRequest) -> OrganRequest {
        let mut ask = ask.clone();
        let blank = ask.api_key.as_deref().is_none_or(|k| k.trim().is_empty());
        let Some(current) = current.filter(|c| blank && c.api_key.is_some()) else {
            return ask;
        };
        let Ok(provider) = persona::Provider::parse(ask.provider.as_deref()) else {
            return ask;
        };
        let url = ask
            .url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .unwrap_or(self.preparer.endpoints().url_for(provider))
            .trim_end_matches('/');
        if provider.is_some() && provider == current.provider && url == current.url {
            ask.api_key = current.api_key.clone();
        }
        ask
    }

    async fn prepare_organ(
        &self,
        slot: OrganSlot,
        ask: &OrganRequest,
    ) -> Result<Organ, ManagerError> {
        self.preparer
            .prepare(slot, ask)
            .await
            .map_err(|e| ManagerError::Invalid(e.to_string()))
    }

    async fn prepare_environment(&self, env: &Environment) -> Result<Prepared, ManagerError> {
        let thinking = self
            .prepare_organ(OrganSlot::Thinking, &env.thinking)
            .await?;
        let mut organs = Vec::new();
        for (slot, ask) in &env.organs {
            if ask.model.as_deref().is_some_and(|m| !m.trim().is_empty()) {
                organs.push((*slot, self.prepare_organ(*slot, ask).await?));
            }
        }
        let mut channels = Vec::new();
        for (kind, token) in [
            (ChannelKind::Telegram, &env.telegram_token),
            (ChannelKind::Discord, &env.discord_token),
        ] {
            if let Some(token) = token.as_deref().filter(|t| !t.trim().is_empty()) {
                let channel = channels::validate(&self.http, &self.platforms, kind, token.trim())
                    .await
                    .map_err(|e| ManagerError::Invalid(e.to_string()))?;
                channels.push(channel);
            }
        }
        Ok(Prepared {
            thinking,
            organs,
            channels,
        })
    }

    /// Registers a local Mind under her wrapper name; cloud Minds are used as they are.
    async fn embody(
        &self,
        id: Uuid,
        persona: &mut Persona,
        thinking: Organ,
    ) -> Result<(), ManagerError> {
        if thinking.provider.is_none() {
            persona.base_model = thinking.name.clone();
            persona.thinking = self.preparer.register_mind(id, &thinking).await.map_err(|e| {
                ManagerError::Invalid(format!(
                    "Could not reach the local inference engine to register the thinking model. ({e})"
                ))
            })?;
        } else {
            persona.base_model = String::new();
            persona.thinking = thinking;
        }
        Ok(())
    }

    /// `POST /api/persona/create`. All or nothing: a failure after validation leaves no folder,
    /// no diary, no secret and no registered model behind.
    pub async fn create(
        &self,
        name: String,
        env: Environment,
    ) -> Result<(Persona, Phrase), ManagerError> {
        let prepared = self.prepare_environment(&env).await?;
        let id = Uuid::new_v4();
        let mut persona = Persona::new(id, name, prepared.thinking.clone(), today());
        persona.channels = prepared.channels;
        for (slot, organ) in prepared.organs {
            persona.set_organ(slot, Some(organ));
        }
        self.embody(id, &mut persona, prepared.thinking).await?;
        let phrase = Phrase::generate();
        if let Err(e) = self.settle_new(&persona, &phrase).await {
            self.undo_new(&persona).await;
            return Err(match e {
                ManagerError::Internal(m) => {
                    ManagerError::Invalid(format!("Could not create the persona: {m}"))
                }
                other => other,
            });
        }
        if let Err(e) = self.start(id).await {
            return Err(ManagerError::Lifecycle(format!(
                "Persona created but failed to start: {e}"
            )));
        }
        Ok((persona, phrase))
    }

    /// Builds her folder in staging, writes her first diary, stores her secrets, then moves
    /// the folder into place.
    async fn settle_new(&self, persona: &Persona, phrase: &Phrase) -> Result<(), ManagerError> {
        let staging = self.store.staging().map_err(internal)?;
        let home = staging.path().join("home");
        lay_out_home(&home).map_err(internal)?;
        std::fs::create_dir_all(staging.path().join("workspace")).map_err(internal)?;
        self.store.write_record(persona, &home).map_err(internal)?;
        self.store
            .set_phrase(persona.id, phrase)
            .map_err(internal)?;
        self.write_diary(persona.id, &home, phrase).await?;
        self.store
            .install(persona.id, staging.path())
            .map_err(internal)?;
        Ok(())
    }

    async fn write_diary(
        &self,
        id: Uuid,
        home: &Path,
        phrase: &Phrase,
    ) -> Result<(), ManagerError> {
        let (diary_dir, home, phrase) =
            (self.store.diary_dir(id), home.to_path_buf(), phrase.clone());
        tokio::task::spawn_blocking(move || persona::diary::write(&diary_dir, &home, id, &phrase))
            .await
            .map_err(internal)?
            .map_err(|e| ManagerError::Internal(format!("Could not write her diary: {e}")))?;
        Ok(())
    }

    /// Removes every trace of a persona whose creation failed part-way.
    async fn undo_new(&self, persona: &Persona) {
        let id = persona.id;
        if let Err(e) = self.store.forget_secrets(id) {
            tracing::error!(persona = %id, error = %e, "could not remove secrets of a failed create");
        }
        let diary = self.store.diary_dir(id);
        if diary.exists() {
            let _ = std::fs::remove_dir_all(&diary);
        }
        let dir = self.store.persona_dir(id);
        if dir.exists() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        if persona.thinks_locally()
            && let Err(e) = self.preparer.unregister_mind(&persona.thinking).await
        {
            tracing::warn!(persona = %id, error = %e, "could not unregister the model of a failed create");
        }
    }

    /// `POST .../update`: validate everything first, save once, then reconcile her agent.
    pub async fn update(&self, id: Uuid, changes: Changes) -> Result<(Status, bool), ManagerError> {
        let lock = self.lock_for(id);
        let _held = lock.lock().await;
        let mut persona = self.load(id)?;
        let status = match changes.status.as_deref() {
            None => None,
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                ManagerError::Invalid("Status must be one of: active, hibernate, sick.".into())
            })?),
        };
        let mut replaced = Vec::new();
        for (slot, ask) in &changes.organs {
            if changes.clear.contains(slot) {
                continue;
            }
            let ask = self.keep_stored_key(persona.organ(*slot), ask);
            replaced.push((*slot, self.prepare_organ(*slot, &ask).await?));
        }
        let before = persona.clone();
        let old_mind = persona.thinking.clone();
        for slot in &changes.clear {
            persona.set_organ(*slot, None);
        }
        for (slot, organ) in replaced {
            if slot == OrganSlot::Thinking {
                self.embody(id, &mut persona, organ).await?;
            } else {
                persona.set_organ(slot, Some(organ));
            }
        }
        if let Some(status) = status {
            persona.status = status;
            if status == Status::Active {
                persona.sickness = None;
            }
        }
        let organs_changed = OrganSlot::ALL
            .iter()
            .any(|s| before.organ(*s) != persona.organ(*s));
        if persona != before {
            self.store.save(&persona).map_err(|e| {
                ManagerError::Invalid(format!("Could not save the persona's identity. ({e})"))
            })?;
        }
        if old_mind.provider.is_none()
            && old_mind.name != persona.thinking.name
            && let Err(e) = self.preparer.unregister_mind(&old_mind).await
        {
            tracing::warn!(persona = %id, error = %e, "could not unregister her previous local model");
        }
        let running = self.is_running(id).await;
        let outcome = match (persona.status, running) {
            (Status::Active, true) => self.relaunch(persona.clone()).await,
            (Status::Active, false) => self.bring_up(persona.clone()).await,
            (_, true) if status.is_some() => {
                self.take_down(id).await;
                Ok(())
            }
            (_, true) if organs_changed => self.relaunch(persona.clone()).await,
            _ => Ok(()),
        };
        outcome.map_err(|e| {
            ManagerError::Lifecycle(format!("Updated but lifecycle change failed: {e}"))
        })?;
        Ok((persona.status, self.is_running(id).await))
    }

    async fn relaunch(&self, persona: Persona) -> Result<(), String> {
        self.take_down(persona.id).await;
        self.bring_up(persona).await
    }

    /// `POST .../delete`: stop her, unregister her local Mind, remove her folder, diary and
    /// secrets.
    pub async fn delete(&self, id: Uuid) -> Result<(), ManagerError> {
        let lock = self.lock_for(id);
        let _held = lock.lock().await;
        let persona = self.load(id)?;
        self.take_down(id).await;
        if persona.thinks_locally() {
            self.preparer.unregister_mind(&persona.thinking).await.map_err(|_| {
                ManagerError::Invalid(
                    "Could not connect to the local inference engine to delete the model. Please make sure it is running."
                        .into(),
                )
            })?;
        }
        self.store.delete(id).map_err(|_| {
            ManagerError::Invalid("Could not delete persona. Please check the persona data.".into())
        })?;
        self.locks.lock().unwrap().remove(&id);
        Ok(())
    }

    /// `POST /api/persona/migrate`: restore her home from a diary, re-declare her organs and
    /// channels for this machine, write a fresh diary and start her. Nothing is left behind on
    /// failure; a persona already here is replaced only when stopped, and her old folder stays
    /// until the new one is in place.
    pub async fn migrate(
        &self,
        id: Uuid,
        token: tempfile::TempPath,
        phrase: Phrase,
        env: Environment,
    ) -> Result<Persona, ManagerError> {
        let prepared = self.prepare_environment(&env).await?;
        let lock = self.lock_for(id);
        let held = lock.lock().await;
        if self.is_running(id).await {
            return Err(ManagerError::Busy(
                "Persona is running here; stop her before restoring over her.".into(),
            ));
        }
        let staging = self.store.staging().map_err(internal)?;
        let home = staging.path().join("home");
        {
            let (home, phrase) = (home.clone(), phrase.clone());
            tokio::task::spawn_blocking(move || {
                persona::diary::restore_file(&token, id, &phrase, &home)
            })
            .await
            .map_err(internal)?
            .map_err(|e| ManagerError::Invalid(e.to_string()))?;
        }
        let bytes = std::fs::read(home.join("config.json")).map_err(|_| corrupt())?;
        let mut persona = Persona::from_json(&bytes).map_err(|_| corrupt())?;
        if persona.id != id {
            return Err(corrupt());
        }
        if persona.name.chars().count() > crate::routes::birth::NAME_MAX_CHARS {
            return Err(ManagerError::Invalid(format!(
                "Her name is longer than {} characters, the most her identity can carry; \
                 she cannot be restored here.",
                crate::routes::birth::NAME_MAX_CHARS
            )));
        }
        for slot in OrganSlot::OPTIONAL {
            persona.set_organ(slot, None);
        }
        for (slot, organ) in prepared.organs {
            persona.set_organ(slot, Some(organ));
        }
        persona.channels = prepared.channels;
        persona.status = Status::Active;
        persona.sickness = None;
        let previous = self
            .store
            .exists(id)
            .then(|| self.store.load(id).ok())
            .flatten();
        self.embody(id, &mut persona, prepared.thinking).await?;
        lay_out_home(&home).map_err(internal)?;
        let result = self
            .settle_migrated(&persona, &phrase, staging.path(), previous.as_ref())
            .await;
        if let Err(e) = result {
            if previous.is_none() {
                self.undo_new(&persona).await;
            }
            return Err(e);
        }
        drop(held);
        if let Err(e) = self.start(id).await {
            return Err(ManagerError::Lifecycle(format!(
                "Persona migrated but failed to start: {e}"
            )));
        }
        Ok(persona)
    }

    async fn settle_migrated(
        &self,
        persona: &Persona,
        phrase: &Phrase,
        staged: &Path,
        previous: Option<&Persona>,
    ) -> Result<(), ManagerError> {
        let id = persona.id;
        let home = staged.join("home");
        let old_dir = self.store.persona_dir(id);
        let workspace = staged.join("workspace");
        if previous.is_some() && old_dir.join("workspace").is_dir() {
            copy_tree(&old_dir.join("workspace"), &workspace).map_err(internal)?;
        } else {
            std::fs::create_dir_all(&workspace).map_err(internal)?;
        }
        self.store.write_record(persona, &home).map_err(internal)?;
        self.store.set_phrase(id, phrase).map_err(internal)?;
        self.write_diary(id, &home, phrase).await?;
        if old_dir.exists() {
            let aside = self
                .store
                .root()
                .join("personas")
                .join(format!(".replaced-{id}-{}", Uuid::new_v4()));
            std::fs::rename(&old_dir, &aside).map_err(internal)?;
            if let Err(e) = self.store.install(id, staged) {
                let _ = std::fs::rename(&aside, &old_dir);
                return Err(internal(e));
            }
            let _ = std::fs::remove_dir_all(&aside);
        } else {
            self.store.install(id, staged).map_err(internal)?;
        }
        Ok(())
    }
}

/// Follows one running agent: forwards what she says to the hub and her signals to the feed,
/// and when she falls sick (she has already saved `status: sick` and why) drops her from the
/// registry, as the original did. Ends when she is stopped and her channels close.
async fn attend(
    agent: std::sync::Weak<Agent>,
    agents: Agents,
    hub: broadcast::Sender<Outgoing>,
    feed: broadcast::Sender<Signal>,
) {
    let (mut said, mut events, mut signals) = match agent.upgrade() {
        Some(a) => (a.subscribe(), a.life_events(), a.signals()),
        None => return,
    };
    loop {
        tokio::select! {
            signal = signals.recv() => match signal {
                Ok(signal) => { let _ = feed.send(signal); }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            line = said.recv() => match line {
                Ok(line) => { let _ = hub.send(line); }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            event = events.recv() => match event {
                Ok(LifeEvent::Sick { reason }) => {
                    let Some(sick) = agent.upgrade() else { return };
                    let id = sick.persona().id;
                    tracing::warn!(persona = %id, %reason, "persona fell sick; stopping her");
                    let mut map = agents.lock().await;
                    if map.get(&id).is_some_and(|current| Arc::ptr_eq(current, &sick)) {
                        map.remove(&id);
                    }
                    drop(map);
                    sick.stop().await;
                    return;
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

fn corrupt() -> ManagerError {
    ManagerError::Invalid("Could not restore persona. The diary data may be corrupted.".into())
}

/// The folders and files every home starts with.
fn lay_out_home(home: &Path) -> std::io::Result<()> {
    for dir in [
        "history", "destiny", "meanings", "lessons", "media", "training",
    ] {
        std::fs::create_dir_all(home.join(dir))?;
    }
    let routines = home.join("routines.json");
    if !routines.exists() {
        persona::atomic::write(
            &routines,
            br#"{"routines": [{"spec": "sleep", "time": "00:00", "recurrence": "daily"}]}"#,
        )?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn today() -> String {
    let now = time::OffsetDateTime::now_local().unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let format = time::macros::format_description!("[year]-[month]-[day]");
    now.date().format(&format).unwrap_or_default()
}
