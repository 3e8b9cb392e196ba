//! The index kept true by filesystem events: once the store watches `personas/`, a hand edit,
//! a folder moved in and a folder removed show at the next list after their event arrives.

use std::time::Duration;

use persona::secrets::Keyring;
use persona::{Organ, Persona, Phrase, Provider, Status, Store};
use uuid::Uuid;

fn organ() -> Organ {
    Organ {
        name: "claude".into(),
        provider: Some(Provider::Anthropic),
        api_key: Some("sk-test".into()),
        url: "http://127.0.0.1:1/anthropic".into(),
    }
}

/// A persona installed the way a create installs her.
fn born(store: &Store, name: &str) -> Persona {
    let persona = Persona::new(Uuid::new_v4(), name.into(), organ(), "2026-05-01".into());
    let staging = store.staging().unwrap();
    let home = staging.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(staging.path().join("workspace")).unwrap();
    store.write_record(&persona, &home).unwrap();
    store.set_phrase(persona.id, &Phrase::generate()).unwrap();
    store.install(persona.id, staging.path()).unwrap();
    persona
}

/// Waits for the watcher to report a change after generation `since`. The change was made
/// (and finished) before the wait, so whichever of its events arrives first, the next read
/// finds it complete. Bounded so a lost event fails the test instead of hanging it.
fn wait_for_event(store: &Store, since: u64) {
    for _ in 0..2_000 {
        if store.generation() > since {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("no filesystem event arrived");
}

fn names(store: &Store) -> Vec<String> {
    let mut names: Vec<String> = store
        .records()
        .iter()
        .map(|i| i.record.name.clone())
        .collect();
    names.sort();
    names
}

#[test]
fn a_watched_index_sees_hand_edits_and_folders_moved_in_or_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &Keyring::none()).unwrap();
    let iris = born(&store, "Iris");
    store.watch().unwrap();
    assert!(store.watching());
    assert_eq!(names(&store), ["Iris"]);
    let version = store.version();
    assert_eq!(names(&store), ["Iris"]);
    assert_eq!(
        store.version(),
        version,
        "nothing changed, the version stays"
    );

    // A person renames her in an editor that writes in place.
    let since = store.generation();
    let config = store.home(iris.id).join("config.json");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("\"Iris\"", "\"Iris Prime\"")).unwrap();
    wait_for_event(&store, since);
    assert_eq!(names(&store), ["Iris Prime"]);
    assert!(
        store.version() > version,
        "a changed record moves the version"
    );
    assert_eq!(store.record(iris.id).unwrap().record.name, "Iris Prime");

    // A daemon write shows at once, without waiting for its event.
    let mut changed = store.load(iris.id).unwrap();
    changed.status = Status::Hibernate;
    store.save(&changed).unwrap();
    assert_eq!(
        store.record(iris.id).unwrap().record.status,
        Status::Hibernate
    );

    // A persona folder moved in by hand.
    let elsewhere = tempfile::tempdir().unwrap();
    let other = Store::open(elsewhere.path(), &Keyring::none()).unwrap();
    let ada = born(&other, "Ada");
    let since = store.generation();
    std::fs::rename(other.persona_dir(ada.id), store.persona_dir(ada.id)).unwrap();
    wait_for_event(&store, since);
    assert_eq!(names(&store), ["Ada", "Iris Prime"]);

    // One removed by hand.
    let since = store.generation();
    std::fs::remove_dir_all(store.persona_dir(iris.id)).unwrap();
    wait_for_event(&store, since);
    assert_eq!(names(&store), ["Ada"]);
    assert!(store.record(iris.id).is_none());
}
