//! A fake Hugging Face Hub: a repository's file list (`GET /api/models/OWNER/REPO`, with the
//! `lfs` sizes and SHA-256s `?blobs=true` adds) and file downloads
//! (`GET`/`HEAD /OWNER/REPO/resolve/main/FILE`) with `Range`, `ETag`, `X-Linked-Etag` and
//! `X-Linked-Size`, the headers Hugging Face sends for large (LFS) files. Every file here is
//! served as a large file.
//!
//! Faults a test can script: the next download cut after a number of bytes (the connection
//! drops mid-body), and a file advertised with a wrong SHA-256.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::server::{self, RequestLog, Running};

struct File {
    bytes: Bytes,
    sha256: String,
    /// What the file list and headers claim, when a test makes the fake lie.
    advertised: Option<String>,
}

#[derive(Default)]
struct Inner {
    /// `OWNER/REPO` → file name → file.
    repos: BTreeMap<String, BTreeMap<String, File>>,
    /// The next GET of a file sends this many bytes, then drops the connection.
    cut_after: Option<usize>,
}

type Shared = Arc<Mutex<Inner>>;

/// A running fake Hugging Face. Dropping it stops the server.
pub struct FakeHuggingFace {
    running: Running,
    inner: Shared,
    log: RequestLog,
}

/// Starts a fake Hugging Face with no repositories.
pub async fn start() -> FakeHuggingFace {
    let inner: Shared = Arc::default();
    let log = RequestLog::default();
    let router = Router::new()
        .route("/api/models/{owner}/{repo}", get(info))
        .route("/{owner}/{repo}/resolve/{revision}/{*file}", get(resolve))
        .with_state(inner.clone());
    let running = server::serve(router, log.clone()).await;
    FakeHuggingFace {
        running,
        inner,
        log,
    }
}

impl FakeHuggingFace {
    /// The endpoint, as `HF_ENDPOINT` takes it.
    pub fn url(&self) -> String {
        self.running.url()
    }

    pub fn requests(&self) -> RequestLog {
        self.log.clone()
    }

    /// Puts `file` with `bytes` into the repository `repo` (`OWNER/REPO`), creating it.
    pub fn publish(&self, repo: &str, file: &str, bytes: impl Into<Bytes>) {
        let bytes = bytes.into();
        let sha256 = hex(&Sha256::digest(&bytes));
        self.inner
            .lock()
            .unwrap()
            .repos
            .entry(repo.to_string())
            .or_default()
            .insert(
                file.to_string(),
                File {
                    bytes,
                    sha256,
                    advertised: None,
                },
            );
    }

    /// Makes the fake claim `sha256` for the file, in its list and its headers.
    pub fn advertise_sha256(&self, repo: &str, file: &str, sha256: &str) {
        if let Some(f) = self
            .inner
            .lock()
            .unwrap()
            .repos
            .get_mut(repo)
            .and_then(|r| r.get_mut(file))
        {
            f.advertised = Some(sha256.to_string());
        }
    }

    /// The next download sends `bytes` bytes of its body and then drops the connection.
    pub fn cut_next_download_after(&self, bytes: usize) {
        self.inner.lock().unwrap().cut_after = Some(bytes);
    }
}

async fn info(
    State(inner): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    let id = format!("{owner}/{repo}");
    let inner = inner.lock().unwrap();
    let Some(files) = inner.repos.get(&id) else {
        return not_found("RepoNotFound", "Repository not found");
    };
    let siblings: Vec<_> = files
        .iter()
        .map(|(name, f)| {
            let sha = f.advertised.clone().unwrap_or_else(|| f.sha256.clone());
            json!({
                "rfilename": name,
                "size": f.bytes.len(),
                "blobId": &sha[..40],
                "lfs": {"sha256": sha, "size": f.bytes.len(), "pointerSize": 134},
            })
        })
        .chain(std::iter::once(
            json!({"rfilename": "README.md", "size": 12}),
        ))
        .collect();
    server::json(
        200,
        json!({"_id": "0", "id": id, "modelId": id, "private": false, "siblings": siblings}),
    )
}

async fn resolve(
    State(inner): State<Shared>,
    method: Method,
    headers: HeaderMap,
    Path((owner, repo, _revision, file)): Path<(String, String, String, String)>,
) -> Response {
    let id = format!("{owner}/{repo}");
    let mut guard = inner.lock().unwrap();
    let Some(repo_files) = guard.repos.get(&id) else {
        return not_found("RepoNotFound", "Repository not found");
    };
    let Some(f) = repo_files.get(&file) else {
        return not_found("EntryNotFound", "Entry not found");
    };
    let bytes = f.bytes.clone();
    let sha = f.advertised.clone().unwrap_or_else(|| f.sha256.clone());
    let cut = if method == Method::GET {
        guard.cut_after.take()
    } else {
        None
    };
    drop(guard);

    let len = bytes.len();
    let start = headers
        .get("range")
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split('-').next())
        .and_then(|s| s.parse::<usize>().ok());
    let builder = Response::builder()
        .header("etag", format!("\"{sha}\""))
        .header("x-linked-etag", format!("\"{sha}\""))
        .header("x-linked-size", len.to_string())
        .header("x-repo-commit", "0000000000000000000000000000000000000000")
        .header("accept-ranges", "bytes")
        .header("content-type", "application/octet-stream");
    let (builder, body) = match start {
        Some(s) if s >= len => {
            return builder
                .status(416)
                .header("content-range", format!("bytes */{len}"))
                .body(Body::empty())
                .unwrap();
        }
        Some(s) => (
            builder
                .status(206)
                .header("content-range", format!("bytes {s}-{}/{len}", len - 1)),
            bytes.slice(s..),
        ),
        None => (builder.status(200), bytes),
    };
    let builder = builder.header("content-length", body.len().to_string());
    // Sent in pieces, as a real download arrives. A cut ends the body with an error, which
    // drops the connection before the promised length; the body first yields once, so the
    // server flushes what was sent before it closes, as when a real link drops mid-file.
    let limit = cut.unwrap_or(usize::MAX).min(body.len());
    let mut pieces: Vec<Result<Bytes, std::io::Error>> = Vec::new();
    let mut at = 0;
    while at < limit {
        let end = (at + 64 * 1024).min(limit);
        pieces.push(Ok(body.slice(at..end)));
        at = end;
    }
    let data = futures::stream::iter(pieces);
    let ending = futures::stream::iter(cut).then(|_| async {
        tokio::task::yield_now().await;
        Err(std::io::Error::other("connection cut by the test"))
    });
    builder.body(Body::from_stream(data.chain(ending))).unwrap()
}

fn not_found(code: &str, message: &str) -> Response {
    let mut response = server::json(404, json!({"error": message}));
    response
        .headers_mut()
        .insert("x-error-code", code.parse().unwrap());
    response
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
