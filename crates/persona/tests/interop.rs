//! A diary written here opens with an independent Fernet implementation: Python's `cryptography`
//! with `hashlib.pbkdf2_hmac` and `zipfile`, as the original read them.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use persona::Phrase;
use persona::diary;
use sha2::{Digest, Sha256};
use uuid::Uuid;

fn python_has_cryptography() -> bool {
    Command::new("python3")
        .args(["-c", "import cryptography.fernet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn python_cryptography_opens_our_diary_and_lists_her_files() {
    if !python_has_cryptography() {
        println!(
            "SKIPPED: python3 with the `cryptography` package is not available (pip install cryptography)"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let home = common::sample_home(tmp.path());
    let id = Uuid::new_v4();
    let phrase = Phrase::generate();
    let path = diary::write(&tmp.path().join("diary"), &home, id, &phrase).unwrap();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/read_diary.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(phrase.as_str().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected: serde_json::Map<String, serde_json::Value> = common::tree(&home)
        .into_iter()
        .map(|(name, content)| {
            let hash = content.map(|bytes| {
                Sha256::digest(&bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            });
            (name, serde_json::json!(hash))
        })
        .collect();
    assert_eq!(listed["entries"], serde_json::Value::Object(expected));
}
