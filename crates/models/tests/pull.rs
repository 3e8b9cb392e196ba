//! Pulls from a fake Hugging Face on loopback that serves the real resolve layout, ranges,
//! ETags and linked SHA-256s.

use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use models::Library;
use models::gguf::synthetic;
use models::hf::{Progress, PullError, Puller, Status};
use testkit::huggingface::{self, FakeHuggingFace};

const REPO: &str = "TestOrg/Tiny-Model-GGUF";

/// A fake with the repository holding a Q8_0 and a Q4_K_M file of the tiny model; returns the
/// Q8_0 bytes.
async fn fake() -> (FakeHuggingFace, Vec<u8>) {
    let hf = huggingface::start().await;
    let q8 = synthetic::tiny_model(200_000);
    hf.publish(REPO, "tiny-model-Q8_0.gguf", q8.clone());
    hf.publish(REPO, "tiny-model-Q4_K_M.gguf", synthetic::tiny_model(1_000));
    (hf, q8)
}

fn hidden_or_models(home: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(home.join("models"))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn recorder() -> (Arc<Mutex<Vec<Progress>>>, impl FnMut(&Progress) + Send) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    (seen, move |p: &Progress| {
        sink.lock().unwrap().push(p.clone())
    })
}

#[tokio::test]
async fn pull_downloads_checks_and_registers_the_quant_asked_for() {
    let (hf, q8) = fake().await;
    let home = tempfile::tempdir().unwrap();
    let (seen, progress) = recorder();
    let entry = Puller::new(&hf.url())
        .pull(home.path(), &format!("hf.co/{REPO}:Q8_0"), None, progress)
        .await
        .unwrap();
    assert_eq!(entry.name, "tiny-model");
    assert_eq!(entry.size, q8.len() as u64);
    assert_eq!(entry.context_length, Some(2048));
    assert_eq!(
        entry.origin.as_deref(),
        Some("hf.co/TestOrg/Tiny-Model-GGUF:Q8_0")
    );
    assert_eq!(std::fs::read(&entry.path).unwrap(), q8);

    // Pulling it again is done at once, with no download.
    let wire_before = hf.requests().all().len();
    let again = Puller::new(&hf.url())
        .pull(home.path(), &format!("hf.co/{REPO}:Q8_0"), None, |_| {})
        .await
        .unwrap();
    assert_eq!(again, entry);
    let repeated: Vec<String> = hf.requests().all()[wire_before..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert!(repeated.is_empty(), "{repeated:?}");

    let lib = Library::open(home.path()).unwrap();
    assert_eq!(lib.get("tiny-model"), Some(entry.clone()));
    assert_eq!(lib.get("hf.co/TestOrg/Tiny-Model-GGUF:Q8_0"), Some(entry));
    assert_eq!(
        hidden_or_models(home.path()),
        [".lock", "manifest.json", "tiny-model.gguf"]
    );

    let seen = seen.lock().unwrap();
    let statuses: Vec<Status> = seen.iter().map(|p| p.status).collect();
    assert_eq!(statuses.first(), Some(&Status::Downloading));
    assert!(statuses.contains(&Status::Verifying));
    assert_eq!(statuses.last(), Some(&Status::Done));
    let downloading: Vec<u64> = seen
        .iter()
        .filter(|p| p.status == Status::Downloading)
        .map(|p| p.completed)
        .collect();
    assert!(downloading.windows(2).all(|w| w[0] <= w[1]));
    assert!(seen.iter().all(|p| p.total == Some(q8.len() as u64)));

    let wire: Vec<String> = hf.requests().all()[..wire_before]
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        wire,
        [
            "GET /api/models/TestOrg/Tiny-Model-GGUF",
            "HEAD /TestOrg/Tiny-Model-GGUF/resolve/main/tiny-model-Q8_0.gguf",
            "GET /TestOrg/Tiny-Model-GGUF/resolve/main/tiny-model-Q8_0.gguf",
        ]
    );
}

#[tokio::test]
async fn without_a_quant_q4_k_m_is_chosen_and_a_name_can_be_given() {
    let (hf, _) = fake().await;
    let home = tempfile::tempdir().unwrap();
    let entry = Puller::new(&hf.url())
        .pull(home.path(), &format!("hf.co/{REPO}"), Some("mine"), |_| {})
        .await
        .unwrap();
    assert_eq!(entry.name, "mine");
    assert_eq!(entry.size, synthetic::tiny_model(1_000).len() as u64);

    // A name already taken is refused before anything is downloaded.
    hf.requests().clear();
    let err = Puller::new(&hf.url())
        .pull(
            home.path(),
            &format!("hf.co/{REPO}:Q8_0"),
            Some("mine"),
            |_| {},
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert!(hf.requests().all().is_empty());
}

#[tokio::test]
async fn a_cut_download_resumes_with_a_range() {
    let (hf, q8) = fake().await;
    let home = tempfile::tempdir().unwrap();
    hf.cut_next_download_after(100_000);
    let reference = format!("hf.co/{REPO}:Q8_0");
    let (seen, progress) = recorder();
    let err = Puller::new(&hf.url())
        .pull(home.path(), &reference, None, progress)
        .await
        .unwrap_err();
    assert!(matches!(err, PullError::Cut { .. }), "{err}");
    assert!(err.to_string().contains("pull again to resume"), "{err}");
    assert_eq!(
        seen.lock().unwrap().last().map(|p| p.status),
        Some(Status::Failed)
    );
    // Only the hidden partial download remains; no model was registered.
    assert!(Library::open(home.path()).unwrap().list().is_empty());
    let left = hidden_or_models(home.path());
    assert!(left.iter().all(|f| f.starts_with('.')), "{left:?}");
    let partial = std::fs::metadata(home.path().join("models/.partial-tiny-model.gguf"))
        .unwrap()
        .len();
    assert!(partial > 0 && partial < q8.len() as u64, "{partial}");

    hf.requests().clear();
    let entry = Puller::new(&hf.url())
        .pull(home.path(), &reference, None, |_| {})
        .await
        .unwrap();
    assert_eq!(std::fs::read(&entry.path).unwrap(), q8);
    let get = hf
        .requests()
        .all()
        .into_iter()
        .find(|r| r.method == "GET" && r.path.contains("/resolve/"))
        .unwrap();
    assert_eq!(
        get.header("range").map(str::to_string),
        Some(format!("bytes={partial}-"))
    );
    assert_eq!(
        hidden_or_models(home.path()),
        [".lock", "manifest.json", "tiny-model.gguf"]
    );
}

#[tokio::test]
async fn a_missing_repo_or_quant_is_named() {
    let (hf, _) = fake().await;
    let home = tempfile::tempdir().unwrap();
    let puller = Puller::new(&hf.url());
    let err = puller
        .pull(home.path(), "hf.co/Nobody/Nothing-GGUF", None, |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, PullError::RepoNotFound(_)), "{err}");
    assert!(err.to_string().contains("Nobody/Nothing-GGUF"));

    let err = puller
        .pull(home.path(), &format!("hf.co/{REPO}:Q2_K"), None, |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, PullError::QuantNotFound { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("Q2_K") && text.contains("tiny-model-Q8_0.gguf"),
        "{text}"
    );

    let err = puller
        .pull(home.path(), "hf.co/../etc:Q8_0", None, |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, PullError::Reference(_)), "{err}");
    assert!(hidden_or_models(home.path()).is_empty());
}

#[tokio::test]
async fn a_checksum_mismatch_leaves_nothing_behind() {
    let (hf, _) = fake().await;
    hf.advertise_sha256(REPO, "tiny-model-Q8_0.gguf", &"ab".repeat(32));
    let home = tempfile::tempdir().unwrap();
    let err = Puller::new(&hf.url())
        .pull(home.path(), &format!("hf.co/{REPO}:Q8_0"), None, |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, PullError::Checksum { .. }), "{err}");
    assert!(err.to_string().contains(&"ab".repeat(32)));
    let left = hidden_or_models(home.path());
    assert!(
        left.iter()
            .all(|f| !f.starts_with(".partial") && !f.ends_with(".gguf")),
        "{left:?}"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_gguf_is_refused() {
    let hf = huggingface::start().await;
    hf.publish(
        "Odd/Thing-GGUF",
        "thing-Q8_0.gguf",
        b"<html>not a model</html>".to_vec(),
    );
    let home = tempfile::tempdir().unwrap();
    let err = Puller::new(&hf.url())
        .pull(home.path(), "hf.co/Odd/Thing-GGUF", None, |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a GGUF"), "{err}");
    assert!(Library::open(home.path()).unwrap().list().is_empty());
    assert!(
        !home.path().join("models/.partial-thing.gguf").exists(),
        "{:?}",
        hidden_or_models(home.path())
    );
}

/// Accepts a few writes, then fails like a full disk.
struct FullDisk {
    inner: std::fs::File,
    room: usize,
}

impl Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.room == 0 {
            return Err(io::Error::from_raw_os_error(28)); // ENOSPC
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        self.inner.write(&buf[..n])
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[tokio::test]
async fn a_full_disk_is_reported_and_leaves_no_partial_file() {
    let (hf, _) = fake().await;
    let home = tempfile::tempdir().unwrap();
    let puller = Puller::new(&hf.url()).with_writer(Arc::new(|file| {
        Box::new(FullDisk {
            inner: file,
            room: 70_000,
        })
    }));
    let err = puller
        .pull(home.path(), &format!("hf.co/{REPO}:Q8_0"), None, |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, PullError::Write(_)), "{err}");
    assert!(err.to_string().contains("disk full"), "{err}");
    let left = hidden_or_models(home.path());
    assert!(
        left.iter()
            .all(|f| !f.starts_with(".partial") && !f.ends_with(".gguf")),
        "{left:?}"
    );
    assert!(Library::open(home.path()).unwrap().list().is_empty());
}

#[tokio::test]
async fn a_second_pull_of_the_same_name_waits_its_turn() {
    let (hf, _) = fake().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("models")).unwrap();
    // Another pull (here: this test) holds the partial download.
    let held = std::fs::File::create(home.path().join("models/.partial-tiny-model.gguf")).unwrap();
    held.lock().unwrap();
    let err = Puller::new(&hf.url())
        .pull(home.path(), &format!("hf.co/{REPO}:Q8_0"), None, |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, PullError::Busy(_)), "{err}");
    assert!(home.path().join("models/.partial-tiny-model.gguf").exists());
    drop(held);
    Puller::new(&hf.url())
        .pull(home.path(), &format!("hf.co/{REPO}:Q8_0"), None, |_| {})
        .await
        .unwrap();
}
