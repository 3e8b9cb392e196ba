//! Memory that does not follow the sender's file size (issue 9, finding 9): uploads are written
//! to disk as they arrive, a refused or broken one leaves nothing, and her files go out streamed.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::multipart::{Form, Part};
use serde_json::json;
use support::{Fakes, Harness, read};
use tokio::io::AsyncWriteExt;

const MIB: usize = 1024 * 1024;
const BOUNDARY: &str = "eternego-uploads-test";

/// The spooled uploads in the store's `personas/` folder, with their sizes.
fn spooled(home: &Path) -> Vec<(PathBuf, u64)> {
    std::fs::read_dir(home.join("personas"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-upload-"))
        .map(|e| (e.path(), e.metadata().map(|m| m.len()).unwrap_or(0)))
        .collect()
}

/// Waits (bounded) until `done` holds for the spool folder; the daemon moves on its own, the
/// test only watches for the step it is waiting for.
async fn until_spooled(home: &Path, what: &str, done: impl Fn(&[(PathBuf, u64)]) -> bool) {
    for _ in 0..3000 {
        if done(&spooled(home)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: spool folder is {:?}", spooled(home));
}

/// One MiB of ASCII text.
fn text_chunk() -> Vec<u8> {
    b"all work and no play makes a dull day\n"
        .iter()
        .copied()
        .cycle()
        .take(MIB)
        .collect()
}

fn file_head(field: &str, file: &str, mime: &str) -> Vec<u8> {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nmy notes\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file}\"\r\n\
         Content-Type: {mime}\r\n\r\n"
    )
    .into_bytes()
}

fn tail() -> Vec<u8> {
    format!("\r\n--{BOUNDARY}--\r\n").into_bytes()
}

/// Files below `root` whose name ends with `suffix`.
fn files_ending(root: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found
}

async fn local_persona(d: &Harness) -> String {
    d.create_local("Adam").await["persona"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn an_attach_is_on_disk_before_its_last_byte_arrives() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = local_persona(&d).await;

    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Vec<u8>, std::io::Error>>();
    tx.unbounded_send(Ok(file_head("file", "notes.txt", "text/plain")))
        .unwrap();
    for _ in 0..4 {
        tx.unbounded_send(Ok(text_chunk())).unwrap();
    }
    let request = d
        .client
        .post(format!("{}/api/persona/{id}/attach", d.url))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(reqwest::Body::wrap_stream(rx))
        .send();
    let request = tokio::spawn(request);
    // Held in memory until the end, nothing would be on disk while the body is still open.
    until_spooled(home.path(), "the first 4 MiB", |s| {
        s.iter().any(|(_, len)| *len >= 3 * MIB as u64)
    })
    .await;
    for _ in 0..2 {
        tx.unbounded_send(Ok(text_chunk())).unwrap();
    }
    tx.unbounded_send(Ok(tail())).unwrap();
    drop(tx);
    let r = request.await.unwrap().unwrap();
    assert_eq!(read(r).await, (200, json!({"status": "received"})));

    assert!(
        spooled(home.path()).is_empty(),
        "the spooled file was moved"
    );
    let kept = files_ending(&home.path().join("personas").join(&id), "-notes.txt");
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].to_string_lossy().contains("/home/media/web-"));
    let bytes = std::fs::read(&kept[0]).unwrap();
    assert_eq!(bytes.len(), 6 * MIB);
    assert!(bytes.chunks(MIB).all(|c| c == text_chunk().as_slice()));
    d.shutdown().await;
}

#[tokio::test]
async fn a_refused_or_broken_upload_leaves_no_file() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = local_persona(&d).await;
    let attach = |form: Form| {
        d.client
            .post(format!("{}/api/persona/{id}/attach", d.url))
            .multipart(form)
            .send()
    };

    // Over the upload limit (8 MiB in tests).
    let huge = Part::bytes(vec![b'a'; 9 * MIB]).file_name("big.txt");
    let (status, body) = read(attach(Form::new().part("file", huge)).await.unwrap()).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(
        body["detail"],
        "The upload is larger than this daemon accepts (ETERNEGO_UPLOAD_LIMIT_MB)."
    );
    assert!(spooled(home.path()).is_empty());

    // A kind no organ of hers perceives, and a text that is not UTF-8 past its first buffer.
    let zip = Part::bytes(b"PK\x03\x04".to_vec())
        .file_name("photos.zip")
        .mime_str("application/zip")
        .unwrap();
    let (status, _) = read(attach(Form::new().part("file", zip)).await.unwrap()).await;
    assert_eq!(status, 415);
    let mut late = text_chunk();
    late.extend_from_slice(b"\xff\xfe");
    let bad = Part::bytes(late).file_name("late.txt");
    let (status, body) = read(attach(Form::new().part("file", bad)).await.unwrap()).await;
    assert_eq!(status, 415);
    assert_eq!(body["detail"], "late.txt is not UTF-8 text.");
    assert!(spooled(home.path()).is_empty());

    // A text field is held in memory, so it has its own, smaller bound.
    let long = Form::new()
        .part("file", Part::bytes(b"hi".to_vec()).file_name("a.txt"))
        .text("caption", "x".repeat(2 * MIB));
    let (status, _) = read(attach(long).await.unwrap()).await;
    assert_eq!(status, 413);

    // A sender that goes away half-way.
    let addr = d.url.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = file_head("file", "cut.txt", "text/plain");
    let request = format!(
        "POST /api/persona/{id}/attach HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
        head.len() + 6 * MIB
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(&head).await.unwrap();
    stream.write_all(&text_chunk()).await.unwrap();
    stream.write_all(&text_chunk()).await.unwrap();
    until_spooled(home.path(), "the cut upload's start", |s| !s.is_empty()).await;
    drop(stream);
    until_spooled(home.path(), "the cut upload removed", |s| s.is_empty()).await;

    assert!(files_ending(home.path(), ".txt").is_empty(), "nothing kept");
    assert!(files_ending(home.path(), ".zip").is_empty(), "nothing kept");
    d.shutdown().await;
}

#[tokio::test]
async fn a_voice_note_larger_than_her_ear_takes_is_refused_unread() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut config = support::config(home.path(), &fakes);
    config.upload_limit = 32 * MIB;
    let d = Harness::with_config(config).await;
    let id = local_persona(&d).await;
    let hear = |bytes: Vec<u8>| {
        let audio = Part::bytes(bytes)
            .file_name("note.ogg")
            .mime_str("audio/ogg")
            .unwrap();
        d.client
            .post(format!("{}/api/persona/{id}/hear", d.url))
            .multipart(Form::new().part("audio", audio))
            .send()
    };
    let (status, body) = read(hear(vec![0u8; 26 * MIB]).await.unwrap()).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(
        body["detail"],
        "The voice note is larger than her ear accepts (25 MiB)."
    );
    // Under the bound it is read back and reaches her senses (she has no ear: 415).
    let (status, body) = read(hear(vec![0u8; MIB]).await.unwrap()).await;
    assert_eq!(status, 415, "{body}");
    assert!(spooled(home.path()).is_empty());
    d.shutdown().await;
}

#[tokio::test]
async fn media_goes_out_streamed_with_its_type_and_length() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = local_persona(&d).await;
    let media = home.path().join(format!("personas/{id}/home/media"));
    std::fs::create_dir_all(media.join("folder.png")).unwrap();
    let bytes: Vec<u8> = (0..3 * MIB).map(|i| (i % 251) as u8).collect();
    std::fs::write(media.join("big.png"), &bytes).unwrap();

    let r = d
        .client
        .get(format!("{}/api/persona/{id}/media/big.png", d.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["content-length"], (3 * MIB).to_string());
    assert!(r.bytes().await.unwrap() == bytes);

    for missing in ["folder.png", "nothing.png"] {
        assert_eq!(
            d.get(&format!("/api/persona/{id}/media/{missing}")).await,
            (404, json!({"detail": "File not found."})),
            "{missing}"
        );
    }
    d.shutdown().await;
}
