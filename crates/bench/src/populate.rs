//! Writes bench personas straight into a data root as folders, through `persona::Store` (so the
//! record and vault format is exactly the daemon's), without the daemon: creating 10,000 through
//! the API would spend most of the run deriving diary keys.

use std::path::Path;
use std::time::{Duration, Instant};

use persona::secrets::Keyring;
use persona::{Organ, Persona, Status, Store};
use uuid::Uuid;

/// The folders a home has from birth (as the daemon lays them out).
const HOME_DIRS: [&str; 6] = [
    "history", "destiny", "meanings", "lessons", "media", "training",
];

/// Adds personas with `status` to `root` until it holds `total` with that status; returns how
/// many were written and how long it took.
pub fn fill(
    root: &Path,
    total: usize,
    status: Status,
    mind_url: &str,
) -> anyhow::Result<(usize, Duration)> {
    let store = Store::open(root, &Keyring::none())?;
    let have = store
        .records()
        .iter()
        .filter(|i| i.record.status == status)
        .count();
    let started = Instant::now();
    let mut written = 0;
    for n in have..total {
        let id = Uuid::new_v4();
        let mind = Organ {
            name: crate::fakes::MODEL.into(),
            provider: None,
            api_key: None,
            url: mind_url.into(),
        };
        let mut persona = Persona::new(id, format!("Bench {n}"), mind, "2026-01-01".into());
        persona.base_model = crate::fakes::MODEL.into();
        persona.status = status;
        let home = store.home(id);
        for dir in HOME_DIRS {
            std::fs::create_dir_all(home.join(dir))?;
        }
        std::fs::create_dir_all(store.workspace(id))?;
        store.write_record(&persona, &home)?;
        written += 1;
    }
    Ok((written, started.elapsed()))
}

/// Points every persona's Mind at `mind_url` (the bench's provider front moves between runs).
pub fn repoint(root: &Path, mind_url: &str) -> anyhow::Result<()> {
    let store = Store::open(root, &Keyring::none())?;
    for persona in store.list() {
        if persona.thinking.url != mind_url {
            let mut p = persona;
            p.thinking.url = mind_url.into();
            store.save(&p)?;
        }
    }
    Ok(())
}
