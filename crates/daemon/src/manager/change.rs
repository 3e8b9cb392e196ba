//! Changing a persona who exists: `update` (status and organs) and `delete`.

use organs::OrganRequest;
use persona::{Organ, OrganSlot, Persona, Status};
use uuid::Uuid;

use super::{DiskError, Manager, ManagerError, blocking};

/// What `update` may change.
#[derive(Default)]
pub struct Changes {
    pub status: Option<String>,
    pub organs: Vec<(OrganSlot, OrganRequest)>,
    pub clear: Vec<OrganSlot>,
}

impl Manager {
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

    /// Saves her record off the runtime; a failure is [`ManagerError::Save`] naming `what`.
    pub(super) async fn save(
        &self,
        persona: &Persona,
        what: &'static str,
    ) -> Result<(), ManagerError> {
        let persona = persona.clone();
        blocking(&self.store, move |store| {
            store.save(&persona).map_err(|e| ManagerError::Save {
                what,
                source: DiskError::Store(e),
            })
        })
        .await
    }

    /// `POST .../update`: validate everything first, save once, then reconcile her agent.
    pub async fn update(&self, id: Uuid, changes: Changes) -> Result<(Status, bool), ManagerError> {
        let lock = self.lock_for(id);
        let _held = lock.lock().await;
        let mut persona = self.load(id).await?;
        let status = match changes.status.as_deref() {
            None => None,
            Some(s) => Some(Status::parse(s).ok_or(ManagerError::InvalidStatus)?),
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
            self.save(&persona, "identity").await?;
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
        outcome.map_err(|e| ManagerError::Lifecycle {
            context: "Updated but lifecycle change failed",
            source: Box::new(e.into()),
        })?;
        Ok((persona.status, self.is_running(id).await))
    }

    /// `POST .../delete`: stop her, unregister her local Mind, remove her folder, diary and
    /// secrets.
    pub async fn delete(&self, id: Uuid) -> Result<(), ManagerError> {
        let lock = self.lock_for(id);
        let _held = lock.lock().await;
        let persona = self.load(id).await?;
        self.take_down(id).await;
        if persona.thinks_locally() {
            self.preparer
                .unregister_mind(&persona.thinking)
                .await
                .map_err(ManagerError::Unregister)?;
        }
        blocking(&self.store, move |store| {
            store
                .delete(id)
                .map_err(|e| ManagerError::Delete(DiskError::Store(e)))
        })
        .await?;
        self.locks.lock().unwrap().remove(&id);
        Ok(())
    }
}
