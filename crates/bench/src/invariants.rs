//! What must hold in a data root after any crash and restart, checked on the files with the
//! daemon stopped: every `config.json` parses and agrees with her vault entries, nothing an
//! interrupted write leaves behind is left, and no vault entry outlives its persona.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use persona::secrets::Keyring;
use persona::{OrganSlot, Persona, Provider, Store};
use uuid::Uuid;

use crate::fakes::{ANTHROPIC_KEY, OPENAI_KEY};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A `.staging-*`, `.deleted-*`, `.replaced-*` or `.tmp-*` left by an interrupted write,
    /// or a diary folder of nobody.
    Leftover(String),
    /// A persona folder whose record does not parse (or is missing).
    Corrupt(Uuid, String),
    /// Her record and her vault disagree: a key missing, wrong for its provider, or present for
    /// an organ that has none.
    Torn(Uuid, String),
    /// A vault entry of a persona that does not exist, or of a generation no record names.
    Orphan(String),
    /// Something acknowledged is not on disk (or something deleted came back).
    Lost(String),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Leftover(p) => write!(f, "leftover {p}"),
            Violation::Corrupt(id, why) => write!(f, "corrupt record of {id}: {why}"),
            Violation::Torn(id, why) => write!(f, "torn persona {id}: {why}"),
            Violation::Orphan(key) => write!(f, "orphan vault entry {key}"),
            Violation::Lost(what) => write!(f, "lost: {what}"),
        }
    }
}

/// The personas found, with their secrets, and everything that was wrong.
pub struct Inspection {
    pub personas: BTreeMap<Uuid, Persona>,
    pub violations: Vec<Violation>,
}

/// The key a fake provider accepts: an organ of that provider must carry exactly it.
fn key_for(provider: Provider) -> Option<&'static str> {
    match provider {
        Provider::Openai => Some(OPENAI_KEY),
        Provider::Anthropic => Some(ANTHROPIC_KEY),
        _ => None,
    }
}

fn tmp_files(dir: &Path, out: &mut Vec<Violation>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".tmp-") {
            out.push(Violation::Leftover(e.path().display().to_string()));
        } else if e.file_type().is_ok_and(|t| t.is_dir()) && !name.starts_with('.') {
            tmp_files(&e.path(), out);
        }
    }
}

/// Inspects the data root `root` of a stopped daemon.
pub fn inspect(root: &Path) -> anyhow::Result<Inspection> {
    let mut v = Vec::new();
    let personas_dir = root.join("personas");
    let mut ids = BTreeSet::new();
    for e in std::fs::read_dir(&personas_dir)?.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        match Uuid::parse_str(&name) {
            Ok(id) if id.hyphenated().to_string() == name => {
                ids.insert(id);
            }
            _ => v.push(Violation::Leftover(format!("personas/{name}"))),
        }
    }
    for id in &ids {
        tmp_files(&personas_dir.join(id.to_string()), &mut v);
    }
    if let Ok(diaries) = std::fs::read_dir(root.join("diary")) {
        for e in diaries.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().into_owned();
            match Uuid::parse_str(&name) {
                Ok(id) if ids.contains(&id) => tmp_files(&e.path(), &mut v),
                _ => v.push(Violation::Leftover(format!("diary/{name}"))),
            }
        }
    }
    tmp_files(&root.join("secrets"), &mut v);

    let store = Store::open(root, &Keyring::none())?;
    let mut keys = Vec::new();
    store.secrets().retain(|k| {
        keys.push(k.to_string());
        true
    })?;
    let mut personas = BTreeMap::new();
    let mut generations = BTreeMap::new();
    for id in &ids {
        let config = store.home(*id).join("config.json");
        let generation = std::fs::read(&config)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                serde_json::from_slice::<serde_json::Value>(&b).map_err(|e| e.to_string())
            })
            .map(|value| value["secrets_generation"].as_str().map(str::to_string));
        let generation = match generation {
            Ok(g) => g,
            Err(why) => {
                v.push(Violation::Corrupt(*id, why));
                continue;
            }
        };
        match store.load(*id) {
            Ok(p) => {
                if p.id != *id {
                    v.push(Violation::Corrupt(
                        *id,
                        "her record names another id".into(),
                    ));
                }
                check_keys(&p, &mut v);
                generations.insert(*id, generation);
                personas.insert(*id, p);
            }
            Err(e) => v.push(Violation::Corrupt(*id, e.to_string())),
        }
    }
    for key in &keys {
        let Some(owner) = key
            .strip_prefix("persona/")
            .and_then(|r| r.get(..36))
            .and_then(|s| Uuid::parse_str(s).ok())
        else {
            continue;
        };
        let Some(generation) = generations.get(&owner) else {
            // An unreadable record keeps her entries (already reported as corrupt).
            if !ids.contains(&owner) {
                v.push(Violation::Orphan(key.clone()));
            }
            continue;
        };
        let sealed = format!("persona/{owner}/sealed/");
        let legacy = format!("persona/{owner}/config/");
        let stale = match generation {
            Some(g) => {
                key.starts_with(&legacy)
                    || (key.starts_with(&sealed) && !key.starts_with(&format!("{sealed}{g}/")))
            }
            None => key.starts_with(&sealed),
        };
        if stale {
            v.push(Violation::Orphan(key.clone()));
        }
    }
    for id in personas.keys() {
        if !keys.iter().any(|k| *k == persona::store::phrase_key(*id)) {
            v.push(Violation::Torn(
                *id,
                "her recovery phrase is not in the vault".into(),
            ));
        }
    }
    Ok(Inspection {
        personas,
        violations: v,
    })
}

/// Each cloud organ carries exactly its provider's key; a local one carries none.
fn check_keys(p: &Persona, v: &mut Vec<Violation>) {
    for slot in OrganSlot::ALL {
        let Some(organ) = p.organ(slot) else { continue };
        let want = organ.provider.and_then(key_for);
        let have = organ.api_key.as_deref();
        if have != want {
            let name = |k: Option<&str>| match k {
                Some(k) if Some(k) == key_for(Provider::Openai) => "the openai key",
                Some(k) if Some(k) == key_for(Provider::Anthropic) => "the anthropic key",
                Some(_) => "another key",
                None => "no key",
            };
            v.push(Violation::Torn(
                p.id,
                format!(
                    "{} on {} has {}",
                    slot.as_str(),
                    organ.provider.map_or("a local model", |p| p.as_str()),
                    name(have)
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use persona::Organ;

    fn cloud_persona(store: &Store) -> Persona {
        let id = Uuid::new_v4();
        let mind = Organ {
            name: crate::fakes::OPENAI_MODEL.into(),
            provider: Some(Provider::Openai),
            api_key: Some(OPENAI_KEY.into()),
            url: "http://127.0.0.1:9".into(),
        };
        let p = Persona::new(id, "Test".into(), mind, "2026-01-01".into());
        let home = store.home(id);
        std::fs::create_dir_all(&home).unwrap();
        store.write_record(&p, &home).unwrap();
        store.set_phrase(id, &persona::Phrase::generate()).unwrap();
        p
    }

    #[test]
    fn a_whole_data_root_has_no_violation() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path(), &Keyring::none()).unwrap();
        let p = cloud_persona(&store);
        let found = inspect(root.path()).unwrap();
        assert_eq!(found.violations, vec![]);
        assert_eq!(
            found.personas[&p.id].thinking.api_key.as_deref(),
            Some(OPENAI_KEY)
        );
    }

    #[test]
    fn torn_leftover_and_orphan_states_are_each_reported() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path(), &Keyring::none()).unwrap();
        let p = cloud_persona(&store);
        // Her record names a generation the vault does not hold: the key is gone.
        let config = store.home(p.id).join("config.json");
        let mut value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
        value["secrets_generation"] = "0000".into();
        std::fs::write(&config, serde_json::to_vec(&value).unwrap()).unwrap();
        std::fs::create_dir_all(root.path().join("personas/.staging-x")).unwrap();
        std::fs::write(store.home(p.id).join(".tmp-1"), b"half").unwrap();
        let ghost = Uuid::new_v4();
        store
            .secrets()
            .set(&format!("persona/{ghost}/phrase"), "words")
            .unwrap();

        let found = inspect(root.path()).unwrap().violations;
        let has = |f: &dyn Fn(&Violation) -> bool| found.iter().any(f);
        assert!(
            has(
                &|v| matches!(v, Violation::Torn(id, why) if *id == p.id && why.contains("no key"))
            ),
            "{found:?}"
        );
        assert!(
            has(&|v| matches!(v, Violation::Leftover(p) if p.ends_with(".staging-x"))),
            "{found:?}"
        );
        assert!(
            has(&|v| matches!(v, Violation::Leftover(p) if p.ends_with(".tmp-1"))),
            "{found:?}"
        );
        assert!(
            has(&|v| matches!(v, Violation::Orphan(k) if k.contains(&ghost.to_string()))),
            "{found:?}"
        );
        // The generation her record no longer names is stale.
        assert!(
            has(&|v| matches!(v, Violation::Orphan(k) if k.contains(&format!("{}/sealed/", p.id)))),
            "{found:?}"
        );
        assert_eq!(found.len(), 5, "{found:?}");
    }

    #[test]
    fn an_unparsable_record_is_corrupt() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path(), &Keyring::none()).unwrap();
        let p = cloud_persona(&store);
        std::fs::write(store.home(p.id).join("config.json"), b"{\"id\": ").unwrap();
        let found = inspect(root.path()).unwrap().violations;
        assert!(
            found
                .iter()
                .any(|v| matches!(v, Violation::Corrupt(id, _) if *id == p.id)),
            "{found:?}"
        );
    }
}
