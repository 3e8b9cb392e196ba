//! The master key in the system keyring, against a real Secret Service: a fresh GNOME Keyring in
//! a D-Bus session of its own (`dbus-run-session`), with the real `secret-tool` writing entries
//! the way versions before the keyring crates did. And without any secret store, the key file.
//!
//! Each outer test runs this binary again in a child process whose environment is the session
//! (a private home, so no developer's keyring is touched); the `inner_` tests are the ones that
//! child runs, ignored in a plain run. Without `dbus-run-session`, `gnome-keyring-daemon` or
//! `secret-tool`, or if the keyring daemon cannot start, the Secret Service test skips with a
//! message — or fails when `ETERNEGO_REQUIRE_KEYRING=1`.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use persona::SecretStore;
use persona::secrets::{Keyring, SecretError};

const TOKEN: &str = "sk-ant-api03-very-secret-value";

/// Set in the child that runs the `inner_` tests, so they never run against a real keyring.
const SESSION: &str = "ETERNEGO_TEST_KEYRING_SESSION";

/// The exit code the session script gives when the keyring daemon cannot run here.
const NO_DAEMON: i32 = 77;

/// Starts a fresh, unlocked login keyring in the session, checks that `secret-tool` can write to
/// it, then runs the rest of the command line.
const GNOME_KEYRING: &str = r#"echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 77
echo -n probe | secret-tool store --label probe eternego-test probe || exit 77
exec "$@""#;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Skips (returning true) unless the keyring is required, when it fails instead.
fn skip(why: &str) -> bool {
    if std::env::var("ETERNEGO_REQUIRE_KEYRING").as_deref() == Ok("1") {
        panic!("ETERNEGO_REQUIRE_KEYRING=1 but {why}");
    }
    eprintln!("skipped: {why} (ETERNEGO_REQUIRE_KEYRING=1 makes this a failure)");
    true
}

/// Runs this binary's `tests` in a child process: `wrapper` (empty for none) then the binary,
/// with a private home and the `env` given.
fn run_inner(wrapper: &[&str], env: &[(&str, &OsStr)], tests: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let runtime = home.path().join("run");
    std::fs::create_dir(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(&exe);
            command
        }
        None => Command::new(&exe),
    };
    command
        .args(["--ignored", "--exact", "--test-threads=1", "--nocapture"])
        .args(tests)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("HOME", home.path())
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_CACHE_HOME", home.path().join("cache"))
        .env(SESSION, "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Fails unless the child ran every test it was given, and all passed.
fn assert_passed(output: &Output, tests: &[&str]) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(&format!(" {} passed;", tests.len())),
        "the inner tests failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

#[test]
fn the_secret_service_finds_secret_tool_entries_and_keeps_new_keys() {
    let missing: Vec<_> = ["dbus-run-session", "gnome-keyring-daemon", "secret-tool"]
        .into_iter()
        .filter(|p| !on_path(p))
        .collect();
    if !missing.is_empty() && skip(&format!("{} not installed", missing.join(", "))) {
        return;
    }
    let tests = [
        "inner_a_key_secret_tool_kept_is_found_and_moved_to_the_crate_entry",
        "inner_the_master_key_goes_to_the_keyring_when_one_answers",
    ];
    let wrapper = ["dbus-run-session", "--", "sh", "-c", GNOME_KEYRING, "sh"];
    let output = run_inner(&wrapper, &[], &tests);
    if output.status.code() == Some(NO_DAEMON)
        && skip(&format!(
            "the keyring daemon cannot run here: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    {
        return;
    }
    assert_passed(&output, &tests);
}

#[test]
fn without_a_secret_store_the_key_stays_in_a_private_file() {
    let tmp = tempfile::tempdir().unwrap();
    let bus = format!("unix:path={}", tmp.path().join("no-bus").display());
    let tests = ["inner_without_a_secret_store_the_key_goes_to_a_file"];
    let output = run_inner(
        &[],
        &[("DBUS_SESSION_BUS_ADDRESS", OsStr::new(&bus))],
        &tests,
    );
    assert_passed(&output, &tests);
}

/// True inside the child the outer tests start; otherwise says why the test does nothing.
fn inside_session() -> bool {
    let inside = std::env::var_os(SESSION).is_some();
    if !inside {
        eprintln!("skipped: run by the outer tests of tests/keyring.rs in their own session");
    }
    inside
}

/// The real `secret-tool` with `args`, `input` on its stdin.
fn secret_tool(args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new("secret-tool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// What `secret-tool lookup` finds under `attributes` (empty when nothing).
fn lookup(attributes: &[&str]) -> String {
    let mut args = vec!["lookup"];
    args.extend_from_slice(attributes);
    String::from_utf8(secret_tool(&args, "").stdout).unwrap()
}

#[test]
#[ignore = "run inside a D-Bus session with GNOME Keyring by the test above"]
fn inner_a_key_secret_tool_kept_is_found_and_moved_to_the_crate_entry() {
    if !inside_session() {
        return;
    }
    // A store as the secret-tool versions left it: the vault, its key in an entry with the
    // attributes they gave (`application`, `key`), and the mark naming that entry.
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("secrets");
    SecretStore::open_with(root.path(), &Keyring::none())
        .unwrap()
        .set("k", TOKEN)
        .unwrap();
    let key = std::fs::read_to_string(dir.join("master.key")).unwrap();
    let item = "vault-5f0c2b9e-8d4a-4c1e-9a57-3b6e2f1d0c84";
    let stored = secret_tool(
        &[
            "store",
            "--label",
            &format!("eternego:{item}"),
            "application",
            "eternego",
            "key",
            item,
        ],
        &key,
    );
    assert!(stored.status.success(), "{stored:?}");
    std::fs::write(dir.join("keyring"), item).unwrap();
    std::fs::remove_file(dir.join("master.key")).unwrap();

    let store = SecretStore::open_with(root.path(), &Keyring::system()).unwrap();
    assert_eq!(store.get("k").unwrap().as_deref(), Some(TOKEN));

    // Moved: the crate's entry holds the key, the secret-tool entry is gone.
    assert_eq!(
        lookup(&["service", "eternego", "username", item]),
        key.trim()
    );
    assert_eq!(lookup(&["application", "eternego", "key", item]), "");
    let again = SecretStore::open_with(root.path(), &Keyring::system()).unwrap();
    assert_eq!(again.get("k").unwrap().as_deref(), Some(TOKEN));
}

#[test]
#[ignore = "run inside a D-Bus session with GNOME Keyring by the test above"]
fn inner_the_master_key_goes_to_the_keyring_when_one_answers() {
    if !inside_session() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    SecretStore::open_with(root, &Keyring::system())
        .unwrap()
        .set("k", TOKEN)
        .unwrap();
    assert!(
        !root.join("secrets/master.key").exists(),
        "no key file when the keyring keeps it"
    );
    let item = std::fs::read_to_string(root.join("secrets/keyring")).unwrap();
    let kept = lookup(&["service", "eternego", "username", item.trim()]);
    assert_eq!(
        fernet::Fernet::new(&kept).map(|_| ()),
        Some(()),
        "a Fernet key in the keyring"
    );

    let again = SecretStore::open_with(root, &Keyring::system()).unwrap();
    assert_eq!(again.get("k").unwrap().as_deref(), Some(TOKEN));
    // `ETERNEGO_KEYRING=file` only decides for new stores: this one still opens from the keyring.
    let file_only = SecretStore::open_with(root, &Keyring::none()).unwrap();
    assert_eq!(file_only.get("k").unwrap().as_deref(), Some(TOKEN));
    assert!(!root.join("secrets/master.key").exists());

    // The keyring loses the entry: the store says so and keeps its vault.
    let cleared = secret_tool(
        &["clear", "service", "eternego", "username", item.trim()],
        "",
    );
    assert!(cleared.status.success(), "{cleared:?}");
    let err = SecretStore::open_with(root, &Keyring::system())
        .err()
        .unwrap();
    assert!(matches!(err, SecretError::Keyring(_)), "{err:?}");
    assert!(root.join("secrets/vault").is_file());
}

#[test]
#[ignore = "run with a session bus address nobody answers by the test above"]
fn inner_without_a_secret_store_the_key_goes_to_a_file() {
    if !inside_session() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    SecretStore::open_with(root, &Keyring::system())
        .unwrap()
        .set("k", TOKEN)
        .unwrap();
    assert!(!root.join("secrets/keyring").exists());
    assert_eq!(mode(&root.join("secrets/master.key")), 0o600);
    assert_eq!(
        SecretStore::open_with(root, &Keyring::system())
            .unwrap()
            .get("k")
            .unwrap()
            .as_deref(),
        Some(TOKEN)
    );
}
