//! The secret store: encrypted at rest, owner-only, and its master key where the store says.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use persona::SecretStore;
use persona::secrets::{Keyring, SecretError};

const TOKEN: &str = "sk-ant-api03-very-secret-value";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn secrets_survive_a_reopen_and_never_touch_disk_in_plain_text() {
    let root = tempfile::tempdir().unwrap();
    let store = SecretStore::open_with(root.path(), &Keyring::none()).unwrap();
    store.set("persona/a/config/organ/teacher", TOKEN).unwrap();
    store
        .set("persona/a/phrase", "cycle festival juice")
        .unwrap();

    let again = SecretStore::open_with(root.path(), &Keyring::none()).unwrap();
    assert_eq!(
        again
            .get("persona/a/config/organ/teacher")
            .unwrap()
            .as_deref(),
        Some(TOKEN)
    );
    assert_eq!(
        again.get("persona/a/phrase").unwrap().as_deref(),
        Some("cycle festival juice")
    );
    assert_eq!(again.get("persona/a/unknown").unwrap(), None);

    let dir = root.path().join("secrets");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(TOKEN) && !text.contains("festival"),
            "a secret in plain text"
        );
    }
    assert!(
        std::fs::read(dir.join("vault"))
            .unwrap()
            .starts_with(b"gAAAAA"),
        "a Fernet token"
    );
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("vault")), 0o600);
    assert_eq!(mode(&dir.join("master.key")), 0o600);
}

#[test]
fn a_loose_secrets_folder_is_made_private_again() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("secrets");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    SecretStore::open_with(root.path(), &Keyring::none()).unwrap();
    assert_eq!(mode(&dir), 0o700);
}

#[test]
fn clones_share_one_store_and_prefixes_replace_together() {
    let root = tempfile::tempdir().unwrap();
    let store = SecretStore::open_with(root.path(), &Keyring::none()).unwrap();
    let clone = store.clone();
    store.set("persona/a/config/organ/mind", "k1").unwrap();
    store
        .set("persona/a/config/channel/telegram", "t1")
        .unwrap();
    store.set("persona/b/config/organ/mind", "k2").unwrap();
    assert_eq!(
        clone.get("persona/a/config/organ/mind").unwrap().as_deref(),
        Some("k1")
    );

    clone
        .replace_prefix(
            "persona/a/config/",
            &[("persona/a/config/organ/eye".into(), "k3".into())],
        )
        .unwrap();
    assert_eq!(store.get("persona/a/config/organ/mind").unwrap(), None);
    assert_eq!(
        store.get("persona/a/config/channel/telegram").unwrap(),
        None
    );
    assert_eq!(
        store.get("persona/a/config/organ/eye").unwrap().as_deref(),
        Some("k3")
    );

    store.remove_prefix("persona/a/").unwrap();
    let reopened = SecretStore::open_with(root.path(), &Keyring::none()).unwrap();
    assert_eq!(reopened.get("persona/a/config/organ/eye").unwrap(), None);
    assert_eq!(
        reopened
            .get("persona/b/config/organ/mind")
            .unwrap()
            .as_deref(),
        Some("k2")
    );
}

#[test]
fn a_vault_without_its_key_is_refused_not_replaced() {
    let root = tempfile::tempdir().unwrap();
    SecretStore::open_with(root.path(), &Keyring::none())
        .unwrap()
        .set("k", TOKEN)
        .unwrap();
    let vault = root.path().join("secrets/vault");
    let before = std::fs::read(&vault).unwrap();
    std::fs::remove_file(root.path().join("secrets/master.key")).unwrap();
    let err = SecretStore::open_with(root.path(), &Keyring::none())
        .err()
        .unwrap();
    assert!(matches!(err, SecretError::Corrupt(_)), "{err:?}");
    assert_eq!(std::fs::read(&vault).unwrap(), before);
    assert!(
        !root.path().join("secrets/master.key").exists(),
        "no new key invented"
    );
}

#[test]
fn a_tampered_vault_is_reported_as_damaged() {
    let root = tempfile::tempdir().unwrap();
    SecretStore::open_with(root.path(), &Keyring::none())
        .unwrap()
        .set("k", TOKEN)
        .unwrap();
    let vault = root.path().join("secrets/vault");
    let mut token = std::fs::read(&vault).unwrap();
    let mid = token.len() / 2;
    token[mid] = if token[mid] == b'A' { b'B' } else { b'A' };
    std::fs::write(&vault, token).unwrap();
    let err = SecretStore::open_with(root.path(), &Keyring::none())
        .err()
        .unwrap();
    assert!(matches!(err, SecretError::Corrupt(_)), "{err:?}");
}

// Where the master key goes when a system keyring answers, or none does: tests/keyring.rs, against
// a real Secret Service in its own D-Bus session.
