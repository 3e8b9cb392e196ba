//! The secret store: encrypted at rest, owner-only, and its master key where the store says.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

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

/// Tests that write and run a script hold this: a fork in another test thread while a script is
/// still open for writing would make running it fail with "text file busy".
static SCRIPTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A stand-in for `secret-tool` that keeps entries as files in `shelf`, speaking the same
/// command line (`store --label L application eternego key K` with the secret on stdin, and
/// `lookup application eternego key K`). `mode` "refuse-store" fails every store.
fn fake_secret_tool(dir: &Path, shelf: &Path, mode: &str) -> PathBuf {
    std::fs::create_dir_all(shelf).unwrap();
    let script = dir.join(format!("secret-tool-{mode}"));
    let body = format!(
        r#"#!/bin/sh
shelf='{shelf}'
cmd="$1"; shift
[ "$cmd" = store ] && [ "$1" = --label ] && shift 2
[ "$1" = application ] && [ "$2" = eternego ] && [ "$3" = key ] || exit 2
item="$4"
case "$cmd" in
  store) [ '{mode}' = refuse-store ] && exit 1; cat > "$shelf/$item" ;;
  lookup) [ -f "$shelf/$item" ] || exit 1; cat "$shelf/$item" ;;
  *) exit 2 ;;
esac
"#,
        shelf = shelf.display(),
    );
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn the_master_key_goes_to_the_keyring_when_one_answers() {
    let _serial = SCRIPTS.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let shelf = tmp.path().join("shelf");
    let keyring = Keyring::command(&fake_secret_tool(tmp.path(), &shelf, "ok"));

    SecretStore::open_with(&root, &keyring)
        .unwrap()
        .set("k", TOKEN)
        .unwrap();
    assert!(
        !root.join("secrets/master.key").exists(),
        "no key file when the keyring keeps it"
    );
    let item = std::fs::read_to_string(root.join("secrets/keyring")).unwrap();
    let kept = std::fs::read_to_string(shelf.join(item.trim())).unwrap();
    assert_eq!(
        fernet::Fernet::new(&kept).map(|_| ()),
        Some(()),
        "a Fernet key in the keyring"
    );

    let again = SecretStore::open_with(&root, &keyring).unwrap();
    assert_eq!(again.get("k").unwrap().as_deref(), Some(TOKEN));

    // The keyring loses the entry: the store says so and keeps its vault.
    std::fs::remove_file(shelf.join(item.trim())).unwrap();
    let err = SecretStore::open_with(&root, &keyring).err().unwrap();
    assert!(matches!(err, SecretError::Keyring(_)), "{err:?}");
    assert!(root.join("secrets/vault").is_file());
}

#[test]
fn a_keyring_that_refuses_leaves_the_key_in_a_private_file() {
    let _serial = SCRIPTS.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let keyring = Keyring::command(&fake_secret_tool(
        tmp.path(),
        &tmp.path().join("shelf"),
        "refuse-store",
    ));
    SecretStore::open_with(&root, &keyring)
        .unwrap()
        .set("k", TOKEN)
        .unwrap();
    assert!(!root.join("secrets/keyring").exists());
    assert_eq!(mode(&root.join("secrets/master.key")), 0o600);
    assert_eq!(
        SecretStore::open_with(&root, &keyring)
            .unwrap()
            .get("k")
            .unwrap()
            .as_deref(),
        Some(TOKEN)
    );
}
