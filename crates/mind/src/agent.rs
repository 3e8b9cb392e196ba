//! One running persona. The daemon's registry owns one `Agent` per persona it serves.

use persona::{Persona, Store};
use tokio::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum MindError {
    #[error("Her recovery phrase is missing from the secret store.")]
    NoPhrase,
    #[error(transparent)]
    Store(#[from] persona::StoreError),
    #[error(transparent)]
    Diary(#[from] persona::diary::DiaryError),
    #[error("Sleep task failed: {0}")]
    Join(String),
}

pub struct Agent {
    persona: Persona,
    store: Store,
    /// Sleep cannot run twice at once; a second request waits and then sleeps again (idempotent).
    sleeping: Mutex<()>,
}

impl Agent {
    pub fn start(persona: Persona, store: Store) -> Result<Agent, MindError> {
        Ok(Agent { persona, store, sleeping: Mutex::new(()) })
    }

    pub fn persona(&self) -> &Persona {
        &self.persona
    }

    /// Stops her work; nothing is left half-written because every write is atomic.
    pub async fn stop(&self) {}

    /// The nightly ritual. Writes her diary from her home with the phrase from the secret store.
    pub async fn sleep(&self) -> Result<(), MindError> {
        let _guard = self.sleeping.lock().await;
        let id = self.persona.id;
        let phrase = self.store.phrase(id)?.ok_or(MindError::NoPhrase)?;
        let (diary_dir, home) = (self.store.diary_dir(id), self.store.home(id));
        tokio::task::spawn_blocking(move || persona::diary::write(&diary_dir, &home, id, &phrase))
            .await
            .map_err(|e| MindError::Join(e.to_string()))??;
        Ok(())
    }
}
