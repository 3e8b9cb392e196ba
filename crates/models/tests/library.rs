//! The GGUF header reader and the models library, on small GGUF files written by the tests.

use std::path::Path;

use models::gguf::{self, GgufError, synthetic};
use models::{Library, LibraryError};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// What a folder holds, hidden files included, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn header_gives_name_context_and_template() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "m.gguf", &synthetic::tiny_model(64));
    let h = gguf::read_header(&path).unwrap();
    assert_eq!(h.version, 3);
    assert_eq!(h.tensor_count, 1);
    assert_eq!(h.architecture.as_deref(), Some("llama"));
    assert_eq!(h.name.as_deref(), Some("Tiny Test Model"));
    assert_eq!(h.context_length, Some(2048));
    assert!(h.chat_template.unwrap().contains("messages"));
    assert_eq!(h.expected_len, std::fs::metadata(&path).unwrap().len());
}

#[test]
fn context_length_belongs_to_the_files_own_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = synthetic::gguf(
        &[("general.architecture", "qwen2")],
        Some(("llama", 4096)),
        4,
    );
    let h = gguf::read_header(&write(dir.path(), "m.gguf", &bytes)).unwrap();
    assert_eq!(h.context_length, None);
    assert_eq!(h.chat_template, None);
}

#[test]
fn not_a_gguf_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    for (i, bytes) in [&b"not a model at all"[..], b"", b"GG"].iter().enumerate() {
        let path = write(dir.path(), &format!("x{i}"), bytes);
        assert!(
            matches!(gguf::read_header(&path), Err(GgufError::NotGguf)),
            "{bytes:?}"
        );
    }
}

#[test]
fn every_truncation_of_a_gguf_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let whole = synthetic::tiny_model(16);
    for cut in 4..whole.len() {
        let path = write(dir.path(), "cut.gguf", &whole[..cut]);
        match gguf::read_header(&path) {
            Err(GgufError::Truncated(_)) => {}
            other => panic!("cut at {cut} of {}: {other:?}", whole.len()),
        }
    }
}

#[test]
fn absurd_lengths_are_refused_without_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"GGUF");
    bytes.extend_from_slice(&3u32.to_le_bytes());
    bytes.extend_from_slice(&0u64.to_le_bytes());
    bytes.extend_from_slice(&1u64.to_le_bytes());
    bytes.extend_from_slice(&u64::MAX.to_le_bytes()); // a key "u64::MAX bytes long"
    let path = write(dir.path(), "huge.gguf", &bytes);
    assert!(matches!(
        gguf::read_header(&path),
        Err(GgufError::Corrupt(_))
    ));

    let mut version = synthetic::tiny_model(4);
    version[4] = 9;
    let path = write(dir.path(), "v9.gguf", &version);
    assert!(matches!(
        gguf::read_header(&path),
        Err(GgufError::Version(9))
    ));
}

#[test]
fn add_list_get_remove() {
    let home = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let bytes = synthetic::tiny_model(256);
    let path = write(src.path(), "Tiny-Q8_0.gguf", &bytes);

    let mut lib = Library::open(home.path()).unwrap();
    assert!(lib.list().is_empty());
    let entry = lib.add(&path, "tiny").unwrap();
    assert_eq!(entry.name, "tiny");
    assert_eq!(entry.file, "tiny.gguf");
    assert_eq!(entry.size, bytes.len() as u64);
    assert_eq!(entry.context_length, Some(2048));
    assert!(entry.chat_template.is_some());
    use sha2::Digest;
    let want: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(entry.sha256, want);
    assert_eq!(std::fs::read(&entry.path).unwrap(), bytes);

    // A second process sees it; the copy left no temporary file behind.
    let reopened = Library::open(home.path()).unwrap();
    assert_eq!(reopened.get("tiny"), Some(entry.clone()));
    assert_eq!(reopened.list(), vec![entry.clone()]);
    assert_eq!(
        files(&home.path().join("models")),
        [".lock", "manifest.json", "tiny.gguf"]
    );

    assert!(matches!(
        lib.add(&path, "tiny"),
        Err(LibraryError::Exists(n)) if n == "tiny"
    ));

    let mut lib = Library::open(home.path()).unwrap();
    lib.remove("tiny").unwrap();
    assert!(lib.get("tiny").is_none());
    assert!(Library::open(home.path()).unwrap().list().is_empty());
    assert!(!entry.path.exists());
    assert!(matches!(lib.remove("tiny"), Err(LibraryError::NotFound(_))));
}

#[test]
fn bad_files_and_names_leave_the_folder_untouched() {
    let home = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let good = write(src.path(), "good.gguf", &synthetic::tiny_model(8));
    let text = write(src.path(), "notes.gguf", b"hello, I am not a model");
    let whole = synthetic::tiny_model(64);
    let cut = write(src.path(), "cut.gguf", &whole[..whole.len() - 10]);

    let mut lib = Library::open(home.path()).unwrap();
    for bad in [
        "",
        "a/b",
        "..",
        "a..b",
        ".hidden",
        "a\\b",
        "with space",
        "x\n",
    ] {
        assert!(
            matches!(lib.add(&good, bad), Err(LibraryError::InvalidName { .. })),
            "{bad:?}"
        );
    }
    let err = lib.add(&text, "text").unwrap_err();
    assert!(err.to_string().contains("not a GGUF"), "{err}");
    let err = lib.add(&cut, "cut").unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    assert!(
        lib.add(&src.path().join("missing.gguf"), "missing")
            .is_err()
    );
    let models = home.path().join("models");
    assert!(
        files(&models).is_empty(),
        "left behind: {:?}",
        files(&models)
    );
}

#[test]
fn concurrent_adds_from_two_handles_both_land() {
    let home = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let path = write(src.path(), "m.gguf", &synthetic::tiny_model(8));
    let mut a = Library::open(home.path()).unwrap();
    let mut b = Library::open(home.path()).unwrap();
    a.add(&path, "one").unwrap();
    b.add(&path, "two").unwrap();
    let names: Vec<String> = Library::open(home.path())
        .unwrap()
        .list()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["one", "two"]);
}

#[test]
fn a_corrupt_manifest_is_an_error_not_an_empty_library() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("models")).unwrap();
    std::fs::write(home.path().join("models/manifest.json"), b"{not json").unwrap();
    assert!(matches!(
        Library::open(home.path()),
        Err(LibraryError::Manifest { .. })
    ));
    std::fs::write(
        home.path().join("models/manifest.json"),
        br#"{"version":1,"models":[{"name":"../x","file":"../x.gguf","size":1,"sha256":"","context_length":null,"chat_template":null}]}"#,
    )
    .unwrap();
    assert!(Library::open(home.path()).is_err());
}

#[test]
fn default_names_come_from_file_and_repo_names() {
    assert_eq!(
        models::default_name("SmolLM2-135M-Instruct-Q8_0.gguf"),
        "smollm2-135m-instruct-q8_0"
    );
    assert_eq!(
        models::default_name("Qwen2.5-0.5B-Instruct-GGUF"),
        "qwen2.5-0.5b-instruct"
    );
    assert_eq!(models::default_name("my model (v2)"), "my-model--v2-");
}
