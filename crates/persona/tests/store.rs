//! The store's promises across a crash: her record and her secrets change at one commit point,
//! a restart finishes or rolls back whatever a kill left, and the index stays true to the disk.

use std::path::Path;

use persona::secrets::Keyring;
use persona::store::{Recovered, WriteStep};
use persona::{Organ, Persona, Phrase, Provider, Status, Store};
use uuid::Uuid;

fn cloud(provider: Provider, key: &str) -> Organ {
    Organ {
        name: format!("{}-model", provider.as_str()),
        provider: Some(provider),
        api_key: Some(key.into()),
        url: format!("http://127.0.0.1:1/{}", provider.as_str()),
    }
}

/// A persona installed the way a create installs her, with a phrase and a diary folder.
fn born(store: &Store, thinking: Organ) -> Persona {
    let persona = Persona::new(Uuid::new_v4(), "Iris".into(), thinking, "2026-05-01".into());
    let staging = store.staging().unwrap();
    let home = staging.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(staging.path().join("workspace")).unwrap();
    store.write_record(&persona, &home).unwrap();
    store.set_phrase(persona.id, &Phrase::generate()).unwrap();
    std::fs::create_dir_all(store.diary_dir(persona.id)).unwrap();
    store.install(persona.id, staging.path()).unwrap();
    persona
}

/// The store as a restarted daemon opens it.
fn restart(root: &Path) -> Store {
    let store = Store::open(root, &Keyring::none()).unwrap();
    store.recover().unwrap();
    store
}

fn her_vault_entries(root: &Path, id: Uuid) -> Vec<String> {
    let store = Store::open(root, &Keyring::none()).unwrap();
    let prefix = format!("persona/{id}/");
    let mut keys = Vec::new();
    store
        .secrets()
        .retain(|k| {
            if k.starts_with(&prefix) {
                keys.push(k.to_string());
            }
            true
        })
        .unwrap();
    keys
}

#[test]
fn an_organ_swap_stopped_at_any_step_leaves_her_record_and_key_matching() {
    for (step, swapped) in [
        (WriteStep::SecretsStored, false),
        (WriteStep::RecordWritten, true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &Keyring::none()).unwrap();
        let before = born(&store, cloud(Provider::Anthropic, "sk-old"));
        let mut after = before.clone();
        after.thinking = cloud(Provider::Openai, "sk-new");

        store.halt_after(step);
        let _ = store.save(&after);
        drop(store);

        let store = restart(dir.path());
        let loaded = store.load(before.id).unwrap();
        let expected = if swapped { &after } else { &before };
        assert_eq!(loaded.thinking, expected.thinking, "stopped after {step:?}");
        // Only her live generation, her phrase: nothing of the other side of the swap.
        let entries = her_vault_entries(dir.path(), before.id);
        assert_eq!(entries.len(), 2, "stopped after {step:?}: {entries:?}");
        assert!(entries.iter().any(|k| k.ends_with("/phrase")));
    }
}

#[test]
fn a_save_keeps_one_generation_and_a_record_without_one_still_finds_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &Keyring::none()).unwrap();
    let mut iris = born(&store, cloud(Provider::Anthropic, "sk-1"));
    for key in ["sk-2", "sk-3"] {
        iris.thinking.api_key = Some(key.into());
        store.save(&iris).unwrap();
    }
    assert_eq!(
        store.load(iris.id).unwrap().thinking.api_key.as_deref(),
        Some("sk-3")
    );
    assert_eq!(her_vault_entries(dir.path(), iris.id).len(), 2);
    let text = std::fs::read_to_string(store.home(iris.id).join("config.json")).unwrap();
    assert!(text.contains("secrets_generation") && !text.contains("sk-3"));

    // A record written before generations: her keys under the older names.
    let ada = Persona::new(
        Uuid::new_v4(),
        "Ada".into(),
        cloud(Provider::Gemini, "ignored"),
        "2026-05-01".into(),
    );
    let home = store.home(ada.id);
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("config.json"),
        serde_json::to_vec(&ada.without_secrets()).unwrap(),
    )
    .unwrap();
    store
        .secrets()
        .set(
            &format!("persona/{}/config/organ/thinking", ada.id),
            "sk-legacy",
        )
        .unwrap();
    let store = restart(dir.path());
    assert_eq!(
        store.load(ada.id).unwrap().thinking.api_key.as_deref(),
        Some("sk-legacy"),
        "boot keeps the older entries of a record that names no generation"
    );
}

#[test]
fn boot_finishes_or_rolls_back_what_a_kill_left() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = Store::open(root, &Keyring::none()).unwrap();
    let iris = born(&store, cloud(Provider::Anthropic, "sk-iris"));
    let ada = born(&store, cloud(Provider::Xai, "sk-ada"));
    let personas = root.join("personas");

    // A create killed before its rename: staging folder, her secrets, her diary.
    let ghost = Persona::new(
        Uuid::new_v4(),
        "Ghost".into(),
        cloud(Provider::Openai, "sk-ghost"),
        "2026-05-01".into(),
    );
    let staging = store.staging().unwrap().keep();
    store.write_record(&ghost, &staging.join("home")).unwrap();
    store.set_phrase(ghost.id, &Phrase::generate()).unwrap();
    std::fs::create_dir_all(store.diary_dir(ghost.id)).unwrap();
    // A delete killed after its rename.
    let grave = personas.join(format!(".deleted-{}-{}", ada.id, Uuid::new_v4()));
    std::fs::rename(store.persona_dir(ada.id), &grave).unwrap();
    // A migrate killed after setting her old folder aside, before installing the new one.
    let aside = personas.join(format!(".replaced-{}-{}", iris.id, Uuid::new_v4()));
    std::fs::rename(store.persona_dir(iris.id), &aside).unwrap();
    // Writes killed before their rename.
    std::fs::write(personas.join(".tmp-a"), b"x").unwrap();
    std::fs::write(root.join("secrets/.tmp-b"), b"x").unwrap();
    std::fs::create_dir_all(aside.join("home/history")).unwrap();
    std::fs::write(aside.join("home/.tmp-c"), b"x").unwrap();
    std::fs::write(aside.join("home/history/.tmp-d"), b"x").unwrap();
    // A sleep killed while writing an earlier night (found by the 1,000-trial crash run).
    let nights = store.diary_dir(iris.id).join("nights");
    std::fs::create_dir_all(&nights).unwrap();
    std::fs::write(nights.join(".tmp-e"), b"x").unwrap();
    drop(store);

    let store = Store::open(root, &Keyring::none()).unwrap();
    let done = store.recover().unwrap();
    assert_eq!(
        done,
        Recovered {
            staging: 1,
            deleted: 1,
            replaced: 1,
            temporary: 5,
            diaries: 2,
            secrets: 4,
        }
    );
    let mut left: Vec<String> = std::fs::read_dir(&personas)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, vec![iris.id.to_string()], "only Iris, put back");
    assert_eq!(
        store.load(iris.id).unwrap().thinking.api_key.as_deref(),
        Some("sk-iris")
    );
    assert!(her_vault_entries(root, ghost.id).is_empty());
    assert!(her_vault_entries(root, ada.id).is_empty());
    assert!(!store.diary_dir(ada.id).exists() && !store.diary_dir(ghost.id).exists());
    assert!(store.diary_dir(iris.id).exists());
    assert!(!store.home(iris.id).join(".tmp-c").exists());
    assert!(!nights.join(".tmp-e").exists());
    assert_eq!(store.recover().unwrap(), Recovered::default(), "idempotent");
}

#[test]
fn delete_takes_her_secrets_and_diary_with_her() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &Keyring::none()).unwrap();
    let iris = born(&store, cloud(Provider::Anthropic, "sk-iris"));
    store.delete(iris.id).unwrap();
    assert!(her_vault_entries(dir.path(), iris.id).is_empty());
    assert!(!store.diary_dir(iris.id).exists());
    assert!(store.records().is_empty());
}

#[test]
fn the_index_follows_hand_edits_and_folders_added_or_removed_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &Keyring::none()).unwrap();
    let iris = born(&store, cloud(Provider::Anthropic, "sk-iris"));
    let first = store.records();
    assert_eq!(first.len(), 1);
    assert!(
        first[0].record.thinking.api_key.is_none(),
        "views carry no secret"
    );
    assert_eq!(first[0].record.name, "Iris");

    // Unchanged: the same indexed version (its derived slot survives).
    first[0].derived.set(b"cached".to_vec()).unwrap();
    assert_eq!(
        store.records()[0].derived.get().map(Vec::as_slice),
        Some(&b"cached"[..])
    );

    // A person renames her in an editor that writes in place.
    let config = store.home(iris.id).join("config.json");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("\"Iris\"", "\"Iris Prime\"")).unwrap();
    let again = store.records();
    assert_eq!(again[0].record.name, "Iris Prime");
    assert!(
        again[0].derived.get().is_none(),
        "a changed record drops what was derived"
    );

    // A daemon write shows at once.
    let mut changed = store.load(iris.id).unwrap();
    changed.status = Status::Hibernate;
    store.save(&changed).unwrap();
    assert_eq!(
        store.record(iris.id).unwrap().record.status,
        Status::Hibernate
    );

    // A persona folder copied in by hand, and one removed by hand.
    let elsewhere = tempfile::tempdir().unwrap();
    let other = Store::open(elsewhere.path(), &Keyring::none()).unwrap();
    let ada = born(&other, cloud(Provider::Xai, "sk-ada"));
    std::fs::rename(other.persona_dir(ada.id), store.persona_dir(ada.id)).unwrap();
    let names: Vec<String> = store
        .records()
        .iter()
        .map(|i| i.record.name.clone())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    std::fs::remove_dir_all(store.persona_dir(iris.id)).unwrap();
    let ids: Vec<Uuid> = store.records().iter().map(|i| i.record.id).collect();
    assert_eq!(ids, vec![ada.id]);
}
