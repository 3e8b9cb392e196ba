//! `migrate`: a persona restored from her diary onto this machine.

use std::path::Path;

use persona::{OrganSlot, Persona, Phrase, Status, Store};
use uuid::Uuid;

use super::birth::lay_out_home;
use super::{DiskError, Environment, Manager, ManagerError};

impl Manager {
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
            return Err(ManagerError::Running);
        }
        let store = self.store.clone();
        let restored = {
            let phrase = phrase.clone();
            tokio::task::spawn_blocking(move || restore(&store, &token, id, &phrase)).await?
        };
        let (staging, mut persona, previous) = restored?;
        if persona.name.chars().count() > crate::routes::birth::NAME_MAX_CHARS {
            return Err(ManagerError::NameTooLong {
                max: crate::routes::birth::NAME_MAX_CHARS,
            });
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
        self.embody(id, &mut persona, prepared.thinking).await?;
        let settled = {
            let (store, persona, phrase) = (self.store.clone(), persona.clone(), phrase.clone());
            let had_one = previous.is_some();
            tokio::task::spawn_blocking(move || {
                settle_migrated(&store, &persona, &phrase, staging.path(), had_one)
            })
            .await
            .map_err(DiskError::from)
            .and_then(|r| r)
        };
        if let Err(e) = settled {
            if previous.is_none() {
                self.undo_new(&persona).await;
            }
            return Err(e.into());
        }
        drop(held);
        if let Err(e) = self.start(id).await {
            return Err(ManagerError::Lifecycle {
                context: "Persona migrated but failed to start",
                source: Box::new(e),
            });
        }
        Ok(persona)
    }
}

/// Opens the diary into a fresh staging folder and reads her record from it; also says whether
/// she is already here. Blocking.
fn restore(
    store: &Store,
    token: &std::path::Path,
    id: Uuid,
    phrase: &Phrase,
) -> Result<(tempfile::TempDir, Persona, Option<Persona>), ManagerError> {
    let staging = store.staging()?;
    let home = staging.path().join("home");
    persona::diary::restore_file(token, id, phrase, &home).map_err(ManagerError::Restore)?;
    let bytes = std::fs::read(home.join("config.json")).map_err(|_| ManagerError::Corrupt)?;
    let persona = Persona::from_json(&bytes).map_err(|_| ManagerError::Corrupt)?;
    if persona.id != id {
        return Err(ManagerError::Corrupt);
    }
    let previous = store.exists(id).then(|| store.load(id).ok()).flatten();
    Ok((staging, persona, previous))
}

/// Lays out her restored home, keeps the workspace she had here, writes her record, phrase and
/// a fresh diary, then swaps her folder in (the old one aside until the new one is in place).
/// Blocking.
fn settle_migrated(
    store: &Store,
    persona: &Persona,
    phrase: &Phrase,
    staged: &Path,
    previous: bool,
) -> Result<(), DiskError> {
    let id = persona.id;
    let home = staged.join("home");
    let old_dir = store.persona_dir(id);
    let workspace = staged.join("workspace");
    if previous && old_dir.join("workspace").is_dir() {
        copy_tree(&old_dir.join("workspace"), &workspace)?;
    }
    lay_out_home(&home, &workspace)?;
    store.write_record(persona, &home)?;
    store.set_phrase(id, phrase)?;
    persona::diary::write(&store.diary_dir(id), &home, id, phrase)?;
    if old_dir.exists() {
        let aside = store
            .root()
            .join("personas")
            .join(format!(".replaced-{id}-{}", Uuid::new_v4()));
        std::fs::rename(&old_dir, &aside)?;
        if let Err(e) = store.install(id, staged) {
            let _ = std::fs::rename(&aside, &old_dir);
            return Err(e.into());
        }
        let _ = std::fs::remove_dir_all(&aside);
    } else {
        store.install(id, staged)?;
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
