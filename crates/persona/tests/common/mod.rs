//! Helpers shared by the persona crate's integration tests.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The project's `shared/` folder: `ETERNEGO_SHARED` if set, else beside the repository.
pub fn shared() -> PathBuf {
    match std::env::var_os("ETERNEGO_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
}

/// Every file and folder below `root`: relative path → contents (`None` for a folder).
pub fn tree(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        if path.is_dir() {
            out.insert(rel, None);
            walk(root, &path, out);
        } else {
            out.insert(rel, Some(std::fs::read(&path).unwrap()));
        }
    }
}

/// The names directly inside `dir`, sorted (empty if it does not exist).
pub fn listing(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// A small home shaped like hers: nested folders, an empty one, text, binary and a non-ASCII name.
pub fn sample_home(root: &Path) -> PathBuf {
    let home = root.join("home");
    let files: &[(&str, &[u8])] = &[
        ("config.json", br#"{"id":"x","name":"Iris"}"#),
        (
            "memory.json",
            br#"[{"messages":[],"archive":[],"context":null}]"#,
        ),
        (
            "conversation.jsonl",
            b"{\"role\":\"person\",\"content\":\"hi\"}\n",
        ),
        (
            "history/conversation-2026-06-03.md",
            b"[10:00] person: hi\n",
        ),
        ("meanings/learned.json", b"{}"),
        (
            "media/screenshots/20260603100000.png",
            &[0x89, b'P', b'N', b'G', 0, 0xff, 0x10, 0x80],
        ),
        ("notes/caf\u{e9}.md", "un caf\u{e9}, merci\n".as_bytes()),
    ];
    for (rel, bytes) in files {
        let path = home.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    std::fs::create_dir_all(home.join("destiny")).unwrap();
    home
}
