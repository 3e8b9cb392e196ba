//! The read model the read routes go through: records from the store's index (no secret opened),
//! her home's files, and who is running or starting. Routes never reach the store or
//! `mind::home` themselves, so the index behind this can change without touching them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use mind::Agent;
use mind::home::Home;
use persona::Persona;
use persona::store::Indexed;
use uuid::Uuid;

use super::{Manager, ManagerError, blocking};

/// Where a persona is in her life on this daemon, for the views.
pub enum Live {
    Running(Arc<Agent>),
    /// Boot is bringing her up.
    Starting,
}

impl Manager {
    /// Whether anybody has this id on this machine.
    pub fn exists(&self, id: Uuid) -> bool {
        self.store.exists(id)
    }

    /// `NotFound` unless she exists.
    pub fn known(&self, id: Uuid) -> Result<(), ManagerError> {
        if self.exists(id) {
            Ok(())
        } else {
            Err(ManagerError::NotFound)
        }
    }

    /// Every persona's record without secrets, in id order, read off the runtime.
    pub async fn records(&self) -> Result<Vec<Indexed>, ManagerError> {
        blocking(&self.store, |store| Ok::<_, ManagerError>(store.records())).await
    }

    /// [`Manager::records`] with the index version they are exactly (`None` when the index
    /// changed while they were read).
    pub async fn records_at(&self) -> Result<(Option<u64>, Vec<Indexed>), ManagerError> {
        blocking(&self.store, |store| {
            let before = store.version();
            let records = store.records();
            let exact = (store.version() == before).then_some(before);
            Ok::<_, ManagerError>((exact, records))
        })
        .await
    }

    /// The list body kept for this index version, if the last one built while nobody ran was.
    pub fn kept_list(&self, version: u64) -> Option<bytes::Bytes> {
        match &*self.list_body.lock().unwrap() {
            Some((v, body)) if *v == version => Some(body.clone()),
            _ => None,
        }
    }

    /// Keeps a list body built while nobody ran: until the index moves, it is the answer.
    pub fn keep_list(&self, version: u64, body: bytes::Bytes) {
        *self.list_body.lock().unwrap() = Some((version, body));
    }

    /// Her record without secrets, from the index (one `stat` when it is current).
    pub fn record(&self, id: Uuid) -> Option<Arc<Persona>> {
        self.store.record(id).map(|i| i.record)
    }

    /// Her home and workspace, for the views of what she keeps; `NotFound` for an unknown id.
    pub fn home(&self, id: Uuid) -> Result<Home, ManagerError> {
        self.known(id)?;
        Ok(Home::new(self.store.home(id), self.store.workspace(id)))
    }

    /// Where uploads are spooled while they arrive: the store's `personas/` folder, on the same
    /// disk as her media (so keeping a file is a rename) and swept by the store's boot recovery
    /// (`.tmp-*`) if the daemon dies mid-upload. See `upload`.
    pub fn spool_dir(&self) -> PathBuf {
        self.store.root().join("personas")
    }

    /// Where her diaries are kept.
    pub fn diary_dir(&self, id: Uuid) -> PathBuf {
        self.store.diary_dir(id)
    }

    /// Her running agent (waiting while boot brings her up); an id nobody has is `NotFound`,
    /// and only a persona who exists but is stopped is `NotActive`.
    pub async fn running(&self, id: Uuid) -> Result<Arc<Agent>, ManagerError> {
        match self.agent_ready(id).await {
            Some(agent) => Ok(agent),
            None if !self.exists(id) => Err(ManagerError::NotFound),
            None => Err(ManagerError::NotActive),
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
}
