//! Bringing a persona into being: her organs prepared and channels validated before anything is
//! written, her folder built in staging and moved into place, all or nothing.

use std::path::Path;

use mind::home::Home;
use organs::OrganRequest;
use persona::{Channel, ChannelKind, Organ, OrganSlot, Persona, Phrase};
use uuid::Uuid;

use super::{DiskError, Manager, ManagerError};

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
pub(super) struct Prepared {
    pub thinking: Organ,
    pub organs: Vec<(OrganSlot, Organ)>,
    pub channels: Vec<Channel>,
}

impl Manager {
    /// Prepares one organ; a refusal is [`ManagerError::Organ`], which names the organ and why.
    pub(super) async fn prepare_organ(
        &self,
        slot: OrganSlot,
        ask: &OrganRequest,
    ) -> Result<Organ, ManagerError> {
        Ok(self.preparer.prepare(slot, ask).await?)
    }

    pub(super) async fn prepare_environment(
        &self,
        env: &Environment,
    ) -> Result<Prepared, ManagerError> {
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
                let channel =
                    channels::validate(&self.http, &self.platforms, kind, token.trim()).await?;
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
    pub(super) async fn embody(
        &self,
        id: Uuid,
        persona: &mut Persona,
        thinking: Organ,
    ) -> Result<(), ManagerError> {
        if thinking.provider.is_none() {
            persona.base_model = thinking.name.clone();
            persona.thinking = self
                .preparer
                .register_mind(id, &thinking)
                .await
                .map_err(ManagerError::Register)?;
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
            return Err(ManagerError::Create(e));
        }
        if let Err(e) = self.start(id).await {
            return Err(ManagerError::Lifecycle {
                context: "Persona created but failed to start",
                source: Box::new(e),
            });
        }
        Ok((persona, phrase))
    }

    /// Builds her folder in staging, writes her first diary, stores her secrets, then moves
    /// the folder into place — on the blocking pool.
    async fn settle_new(&self, persona: &Persona, phrase: &Phrase) -> Result<(), DiskError> {
        let (store, persona, phrase) = (self.store.clone(), persona.clone(), phrase.clone());
        tokio::task::spawn_blocking(move || {
            let staging = store.staging()?;
            let home = staging.path().join("home");
            lay_out_home(&home, &staging.path().join("workspace"))?;
            store.write_record(&persona, &home)?;
            store.set_phrase(persona.id, &phrase)?;
            persona::diary::write(&store.diary_dir(persona.id), &home, persona.id, &phrase)?;
            store.install(persona.id, staging.path())?;
            Ok(())
        })
        .await?
    }

    /// Removes every trace of a persona whose creation failed part-way.
    pub(super) async fn undo_new(&self, persona: &Persona) {
        let (store, id) = (self.store.clone(), persona.id);
        let removed = tokio::task::spawn_blocking(move || {
            if let Err(e) = store.forget_secrets(id) {
                tracing::error!(persona = %id, error = %e, "could not remove secrets of a failed create");
            }
            for dir in [store.diary_dir(id), store.persona_dir(id)] {
                if dir.exists() {
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
            // The index learns of the removal now, not when the watcher's event arrives.
            store.reread(id);
        })
        .await;
        if let Err(e) = removed {
            tracing::error!(persona = %id, error = %e, "could not clean up a failed create");
        }
        if persona.thinks_locally()
            && let Err(e) = self.preparer.unregister_mind(&persona.thinking).await
        {
            tracing::warn!(persona = %id, error = %e, "could not unregister the model of a failed create");
        }
    }
}

/// The folders and files every home starts with: her mind's own layout ([`Home::ensure`]), so
/// the daemon and her agent never disagree on it.
pub(super) fn lay_out_home(home: &Path, workspace: &Path) -> std::io::Result<()> {
    Home::new(home.to_path_buf(), workspace.to_path_buf()).ensure()
}

fn today() -> String {
    let now = time::OffsetDateTime::now_local().unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let format = time::macros::format_description!("[year]-[month]-[day]");
    now.date().format(&format).unwrap_or_default()
}
