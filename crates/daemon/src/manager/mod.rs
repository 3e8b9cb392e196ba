//! The persona manager: the agent registry and the flows that bring personas into being, change
//! them and end them. Routes call these; every failure is a [`ManagerError`], whose status is
//! decided in one place (`crate::error`).
//!
//! - this module: the registry of running agents (start, stop, restart, sleep, boot);
//! - [`read`]: what the read routes see (records, her home, her running agent);
//! - [`birth`]: preparing her organs and channels, `create`;
//! - [`change`]: `update` and `delete`;
//! - [`restore`]: `migrate` from a diary;
//! - [`reach`]: adding and removing chat channels while she lives.
//!
//! File work (store writes, copies, deletes) runs on the blocking pool, never on the runtime.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use channels::PlatformUrls;
use mind::{Agent, LifeEvent, Outgoing, Signal, Surroundings};
use organs::{OrganRequest, Preparer};
use persona::{OrganSlot, Persona, Status, Store};
use tokio::sync::{Mutex, broadcast};
use uuid::Uuid;

pub mod birth;
pub mod change;
pub mod error;
pub mod reach;
pub mod read;
pub mod restore;

pub use birth::Environment;
pub use change::Changes;
pub use error::{DiskError, ManagerError, StartError};
pub use read::Live;

type Agents = Arc<Mutex<HashMap<Uuid, Arc<Agent>>>>;

/// How many personas boot brings up at once: each start probes her Mind, and a provider that
/// does not answer costs a connect timeout, which must not be paid one persona after another.
const BOOT_CONCURRENCY: usize = 16;

/// How long a request that needs her running waits for a start already under way.
const START_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

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
    /// The last list body built while nobody ran, under the index version it was built from.
    list_body: std::sync::Mutex<Option<(u64, bytes::Bytes)>>,
}

/// Runs file work on the blocking pool with a clone of the store, so a slow disk never holds
/// up the runtime's workers.
async fn blocking<T, E>(
    store: &Store,
    work: impl FnOnce(Store) -> Result<T, E> + Send + 'static,
) -> Result<T, ManagerError>
where
    T: Send + 'static,
    E: Into<ManagerError> + Send + 'static,
{
    let store = store.clone();
    tokio::task::spawn_blocking(move || work(store))
        .await?
        .map_err(Into::into)
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
            // Her lines include drafts, one per streamed piece of a reply.
            hub: broadcast::channel(1024).0,
            feed: broadcast::channel(256).0,
            locks: std::sync::Mutex::new(HashMap::new()),
            starting: std::sync::Mutex::new(HashSet::new()),
            started: tokio::sync::Notify::new(),
            list_body: std::sync::Mutex::new(None),
        }
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

    /// Her record as it is on disk now, read off the runtime.
    async fn load(&self, id: Uuid) -> Result<Persona, ManagerError> {
        blocking(&self.store, move |store| store.load(id)).await
    }

    /// Checks that her Mind answers, then registers a running agent for her.
    async fn bring_up(&self, persona: Persona) -> Result<(), StartError> {
        let request = OrganRequest {
            model: Some(persona.thinking.name.clone()),
            provider: persona.thinking.provider.map(|p| p.as_str().to_string()),
            url: Some(persona.thinking.url.clone()),
            api_key: persona.thinking.api_key.clone(),
        };
        self.preparer.prepare(OrganSlot::Thinking, &request).await?;
        let id = persona.id;
        let agent = Agent::start(persona, self.store.clone(), self.surroundings.clone()).await?;
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

    async fn relaunch(&self, persona: Persona) -> Result<(), StartError> {
        self.take_down(persona.id).await;
        self.bring_up(persona).await
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
        let persona = self.load(id).await?;
        self.bring_up(persona).await?;
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
        let persona = self.load(id).await?;
        Ok(self.relaunch(persona).await?)
    }

    pub async fn sleep(&self, id: Uuid) -> Result<(), ManagerError> {
        let agent = self.agent_ready(id).await.ok_or(ManagerError::NotActive)?;
        agent.sleep().await.map_err(|e| {
            tracing::error!(persona = %id, error = %e, "sleep failed");
            ManagerError::Sleep(e)
        })
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
