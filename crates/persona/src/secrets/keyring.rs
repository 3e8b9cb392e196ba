//! The system keyring that may keep a store's master key: the Secret Service (GNOME Keyring,
//! KWallet, KeePassXC) over D-Bus on Linux and the BSDs, the Keychain on macOS, the Credential
//! Manager on Windows — all through `keyring-core` and the keyring project's store crates.
//!
//! An entry is `service = "eternego"`, `user = <item>`. Versions before these crates wrote the
//! key through the `secret-tool` command, with the attributes `application=eternego` and
//! `key=<item>`; such an entry is still found, and moved to the crate's form (see [`adopt`]).

use std::collections::HashMap;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use keyring_core::{CredentialStore, Entry, Error};

/// The service every entry is filed under (and, for `secret-tool` entries, the application).
const SERVICE: &str = "eternego";

/// How long one keyring conversation may take: a locked keyring waiting on an unlock prompt
/// nobody answers, or a bus that never replies, must not hang the daemon's start.
const DEADLINE: Duration = Duration::from_secs(10);

/// Where a new store may put its master key. An existing store always uses where its key is.
#[derive(Clone, Debug)]
pub struct Keyring {
    system: bool,
}

impl Keyring {
    /// The platform's secret store. Whether one answers is only known when it is asked: a
    /// machine without one (no session bus, no Secret Service, a headless server) gets the key
    /// file instead. (The daemon's configuration decides whether to use it at all:
    /// `ETERNEGO_KEYRING=file` keeps the key in a file.)
    pub fn system() -> Keyring {
        Keyring { system: true }
    }

    /// No keyring: the master key goes to a file.
    pub fn none() -> Keyring {
        Keyring { system: false }
    }

    pub(super) fn is_system(&self) -> bool {
        self.system
    }

    /// Keeps `secret` under `item`, then reads it back: a keyring that accepts a write but
    /// does not return it would lose the key.
    pub(super) fn keep(&self, item: &str, secret: &str) -> Result<(), String> {
        if !self.system {
            return Err("is not used".into());
        }
        let (item, secret) = (item.to_string(), secret.to_string());
        ask(move |store| {
            let entry = entry(&store, &item)?;
            entry.set_password(&secret).map_err(describe)?;
            match entry.get_password().map_err(describe)? == secret {
                true => Ok(()),
                false => Err("did not give the key back".into()),
            }
        })
    }

    /// The secret under `item`, from the crate's entry or else from one `secret-tool` wrote.
    /// Asked whichever keyring this is: a store whose key is in the system keyring can only
    /// open from there.
    pub(super) fn lookup(&self, item: &str) -> Result<String, String> {
        let item = item.to_string();
        ask(move |store| match entry(&store, &item)?.get_password() {
            Ok(secret) => Ok(secret),
            Err(Error::NoEntry) => adopt(&store, &item)?.ok_or_else(|| "has no such entry".into()),
            Err(e) => Err(describe(e)),
        })
    }
}

/// Runs one conversation with the platform store on its own thread, waiting at most
/// [`DEADLINE`] for it. A conversation past the deadline is left to finish on its own: at
/// worst it writes an entry no store names.
fn ask<T: Send + 'static>(
    work: impl FnOnce(Arc<CredentialStore>) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("keyring".into())
        .spawn(move || {
            let answer = platform::store()
                .map_err(|e| format!("is not available: {}", describe(e)))
                .and_then(work);
            let _ = tx.send(answer);
        })
        .map_err(|e| format!("could not be asked: {e}"))?;
    match rx.recv_timeout(DEADLINE) {
        Ok(answer) => answer,
        Err(mpsc::RecvTimeoutError::Timeout) => Err("did not answer in time".into()),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("failed while asked".into()),
    }
}

/// The crate's entry for `item`, labelled as `secret-tool` labelled it (what keyring GUIs show).
fn entry(store: &Arc<CredentialStore>, item: &str) -> Result<Entry, String> {
    let label = format!("{SERVICE}:{item}");
    let built = match platform::LABELS {
        true => Entry::new_in_store_with_modifiers(
            store,
            SERVICE,
            item,
            &HashMap::from([("label", label.as_str())]),
        ),
        false => Entry::new_in_store(store, SERVICE, item),
    };
    built.map_err(describe)
}

/// Finds the entry an older version wrote through `secret-tool` (`application=eternego`,
/// `key=<item>`) and moves it to the crate's entry: the new entry is written and read back
/// before the old one is removed, and if the move fails the old entry stays and still answers.
/// Losing this key would lose every stored key and phrase.
fn adopt(store: &Arc<CredentialStore>, item: &str) -> Result<Option<String>, String> {
    if !platform::SECRET_TOOL {
        return Ok(None);
    }
    let spec = HashMap::from([("application", SERVICE), ("key", item)]);
    let old = Entry::search_in_store(store, &spec).map_err(describe)?;
    let Some(first) = old.first() else {
        return Ok(None);
    };
    let secret = first.get_password().map_err(describe)?;
    let moved = entry(store, item).and_then(|new| {
        new.set_password(&secret).map_err(describe)?;
        match new.get_password().map_err(describe)? == secret {
            true => Ok(()),
            false => Err("did not give the key back".into()),
        }
    });
    match moved {
        Ok(()) => {
            for entry in &old {
                if let Err(e) = entry.delete_credential() {
                    tracing::warn!(
                        "the system keyring kept the master key's secret-tool entry: {}",
                        describe(e)
                    );
                }
            }
        }
        Err(e) => {
            tracing::warn!("the master key stays in its secret-tool entry: the keyring {e}")
        }
    }
    Ok(Some(secret))
}

/// Says what went wrong without ever quoting an entry's content.
fn describe(error: Error) -> String {
    match error {
        Error::NoEntry => "has no such entry".into(),
        Error::NoStorageAccess(e) => format!("is locked or refused access ({e})"),
        Error::PlatformFailure(e) => format!("failed ({e})"),
        Error::BadEncoding(_) | Error::BadDataFormat(..) => {
            "holds an entry that is not text".into()
        }
        Error::Ambiguous(found) => format!("holds {} entries under one name", found.len()),
        other => other.to_string(),
    }
}

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
mod platform {
    use super::*;

    /// Entries carry the label `secret-tool` gave them.
    pub const LABELS: bool = true;
    /// `secret-tool` wrote the master keys of earlier versions here.
    pub const SECRET_TOOL: bool = true;

    /// The Secret Service on the session bus; fails at once without a bus or a service on it.
    pub fn store() -> keyring_core::Result<Arc<CredentialStore>> {
        let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new()?;
        Ok(store)
    }
}

#[cfg(target_os = "macos")]
mod platform {
    use super::*;

    pub const LABELS: bool = false;
    pub const SECRET_TOOL: bool = false;

    /// The user's login Keychain.
    pub fn store() -> keyring_core::Result<Arc<CredentialStore>> {
        let store: Arc<CredentialStore> = apple_native_keyring_store::keychain::Store::new()?;
        Ok(store)
    }
}

#[cfg(target_os = "windows")]
mod platform {
    use super::*;

    pub const LABELS: bool = false;
    pub const SECRET_TOOL: bool = false;

    /// The Credential Manager.
    pub fn store() -> keyring_core::Result<Arc<CredentialStore>> {
        let store: Arc<CredentialStore> = windows_native_keyring_store::Store::new()?;
        Ok(store)
    }
}

#[cfg(any(target_os = "ios", target_os = "android", not(any(unix, windows))))]
mod platform {
    use super::*;

    pub const LABELS: bool = false;
    pub const SECRET_TOOL: bool = false;

    /// No store this build knows: the master key goes to the key file.
    pub fn store() -> keyring_core::Result<Arc<CredentialStore>> {
        Err(Error::NotSupportedByStore(
            "no system keyring on this platform".into(),
        ))
    }
}
