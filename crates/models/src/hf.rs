//! Pulls a GGUF model from Hugging Face into her library: `hf.co/OWNER/REPO[:QUANT]`.
//!
//! The repository's file list (`GET /api/models/OWNER/REPO?blobs=true`) picks the file; a `HEAD`
//! of its resolve URL, redirects not followed, gives the ETag and the SHA-256 (`X-Linked-Etag`)
//! the way Hugging Face's own client reads them; the download goes to
//! `models/.partial-NAME.gguf` and resumes with `Range` when the same file (same ETag) was
//! started before. The result is checked (SHA-256, GGUF header) before it becomes a model.
//!
//! A cut download keeps its hidden partial file so the next pull resumes it; a failed write
//! (a full disk), a checksum mismatch or a file that is not a GGUF deletes it. A partial file is
//! never a model: only the manifest names models.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};

use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, ETAG, RANGE};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::gguf;
use crate::library::{self, Library, LibraryError, ModelEntry};

mod names;
mod partial;
mod reference;

use names::{Head, Listed, encode_path, has_quant, is_sha256, unquote};
use partial::{PartialMeta, blocking, discard, prepare_partial, write_chunks};
pub use reference::Reference;

/// Where models come from when `HF_ENDPOINT` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
/// The quantisation chosen when the reference names none and the repository has several.
pub const DEFAULT_QUANT: &str = "Q4_K_M";

/// Why a pull failed. Texts name the repository and file, never a token.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(
        "'{0}' is not a Hugging Face model reference (expected hf.co/OWNER/REPO or hf.co/OWNER/REPO:QUANT)"
    )]
    Reference(String),
    #[error(transparent)]
    Library(#[from] LibraryError),
    #[error("Hugging Face has no repository '{0}' (or it is private or gated)")]
    RepoNotFound(String),
    #[error("the repository '{0}' has no GGUF file")]
    NoGguf(String),
    #[error(
        "the repository '{repo}' has no GGUF file for quantisation '{quant}' (it has: {available})"
    )]
    QuantNotFound {
        repo: String,
        quant: String,
        available: String,
    },
    #[error(
        "the repository '{repo}' has several GGUF files for '{quant}' ({files}); split models are not supported"
    )]
    Ambiguous {
        repo: String,
        quant: String,
        files: String,
    },
    #[error("Hugging Face answered {status} for {what}")]
    Status { what: String, status: u16 },
    #[error("could not reach Hugging Face for {what}: {reason}")]
    Network { what: String, reason: String },
    #[error(
        "the download of '{file}' was cut at {completed} of {total} bytes; pull again to resume"
    )]
    Cut {
        file: String,
        completed: u64,
        total: String,
    },
    #[error("'{0}' is already being pulled")]
    Busy(String),
    #[error("could not write the download (is the disk full?): {0}")]
    Write(io::Error),
    #[error(
        "the download of '{file}' is corrupt: its SHA-256 is {actual}, Hugging Face says {expected}"
    )]
    Checksum {
        file: String,
        expected: String,
        actual: String,
    },
    #[error("the downloaded '{file}' is not a usable GGUF model: {source}")]
    Gguf {
        file: String,
        #[source]
        source: gguf::GgufError,
    },
}

/// Where a pull is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Downloading,
    Verifying,
    Done,
    Failed,
}

/// A pull's progress, reported as bytes arrive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub status: Status,
    /// Bytes of the file on disk so far (including what a resumed download already had).
    pub completed: u64,
    /// The file's size, when Hugging Face said it.
    pub total: Option<u64>,
}

/// Wraps the download's file before anything is written to it; tests inject a writer that
/// fails (a full disk) through it.
pub type WriterHook = Arc<dyn Fn(File) -> Box<dyn Write + Send> + Send + Sync>;

/// Pulls from one Hugging Face endpoint.
#[derive(Clone)]
pub struct Puller {
    endpoint: String,
    token: Option<String>,
    http: reqwest::Client,
    head: reqwest::Client,
    writer: Option<WriterHook>,
}

impl std::fmt::Debug for Puller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Puller")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Puller {
    /// A puller for `endpoint` (`https://huggingface.co`, or a mirror / a test server), with no
    /// token.
    pub fn new(endpoint: &str) -> Puller {
        let agent = concat!("eternego/", env!("CARGO_PKG_VERSION"));
        Puller {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token: None,
            http: reqwest::Client::builder()
                .user_agent(agent)
                .build()
                .expect("a plain HTTP client always builds"),
            head: reqwest::Client::builder()
                .user_agent(agent)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a plain HTTP client always builds"),
            writer: None,
        }
    }

    /// The endpoint from `HF_ENDPOINT` (default [`DEFAULT_ENDPOINT`]) and the token from
    /// `HF_TOKEN`, for gated repositories.
    pub fn from_env() -> Puller {
        let endpoint = std::env::var("HF_ENDPOINT")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        Puller {
            token: std::env::var("HF_TOKEN").ok().filter(|s| !s.is_empty()),
            ..Puller::new(&endpoint)
        }
    }

    /// Routes every write of the download through `hook`'s writer.
    pub fn with_writer(mut self, hook: WriterHook) -> Puller {
        self.writer = Some(hook);
        self
    }

    /// Downloads `reference` into the library under `home` as `name` (default: the repository's
    /// name), calling `progress` as bytes arrive and once more when it is checked. The returned
    /// entry is in the manifest. A model already pulled from the same reference under that name
    /// is returned as it is, without a download. A failure is reported through `progress` as [`Status::Failed`]
    /// too.
    pub async fn pull(
        &self,
        home: &Path,
        reference: &str,
        name: Option<&str>,
        mut progress: impl FnMut(&Progress) + Send,
    ) -> Result<ModelEntry, PullError> {
        let mut last = Progress {
            status: Status::Downloading,
            completed: 0,
            total: None,
        };
        let result = self
            .run(home, reference, name, &mut progress, &mut last)
            .await;
        match &result {
            Ok(entry) => progress(&Progress {
                status: Status::Done,
                completed: entry.size,
                total: Some(entry.size),
            }),
            Err(_) => progress(&Progress {
                status: Status::Failed,
                ..last
            }),
        }
        result
    }

    async fn run(
        &self,
        home: &Path,
        reference: &str,
        name: Option<&str>,
        progress: &mut (impl FnMut(&Progress) + Send),
        last: &mut Progress,
    ) -> Result<ModelEntry, PullError> {
        let reference = Reference::parse(reference)?;
        let name = name
            .map(str::to_string)
            .unwrap_or_else(|| reference.default_name());
        library::validate_name(&name)?;
        let mut lib = blocking({
            let home = home.to_path_buf();
            move || Library::open(&home)
        })
        .await?;
        if let Some(existing) = lib.reload()?.iter().find(|m| m.name == name) {
            // Pulling what she already has from the same place is done, not an error.
            if existing.origin.as_deref() == Some(reference.canonical().as_str()) {
                return Ok(existing.clone());
            }
            return Err(LibraryError::Exists(name).into());
        }
        let repo = reference.repo_id();
        let (file, listed) = self.choose(&reference).await?;
        let url = format!(
            "{}/{repo}/resolve/main/{}",
            self.endpoint,
            encode_path(&file)
        );
        let head = self.head(&url, &file).await?;
        let expected = listed
            .sha256
            .or(head.linked_sha256)
            .map(|s| s.to_ascii_lowercase());
        let total = head.size.or(listed.size);
        last.total = total;

        let dir = lib.dir().to_path_buf();
        let partial = dir.join(format!(".partial-{name}.gguf"));
        let meta_path = dir.join(format!(".partial-{name}.json"));
        let meta = PartialMeta {
            url: url.clone(),
            etag: head.etag.clone(),
        };
        // Held until this pull ends, so a second pull of the same name (the daemon's and the
        // command line's) cannot write into, resume from or delete this one's partial file.
        let (offset, hasher, _claim) = blocking({
            let (dir, partial, meta_path) = (dir.clone(), partial.clone(), meta_path.clone());
            let meta = serde_json::to_vec(&meta).expect("plain struct serialises");
            move || prepare_partial(&dir, &partial, &meta_path, &meta)
        })
        .await
        .map_err(|e| {
            if e.kind() == io::ErrorKind::WouldBlock {
                PullError::Busy(name.clone())
            } else {
                PullError::Write(e)
            }
        })?;

        let outcome = self
            .download(&url, &file, &partial, offset, hasher, total, progress, last)
            .await;
        let (size, actual) = match outcome {
            Ok(done) => done,
            Err(e) => {
                if !matches!(e, PullError::Cut { .. } | PullError::Network { .. }) {
                    discard(&partial, &meta_path).await;
                }
                return Err(e);
            }
        };
        *last = Progress {
            status: Status::Verifying,
            completed: size,
            total,
        };
        progress(last);
        match expected.filter(|e| is_sha256(e)) {
            Some(expected) if expected != actual => {
                discard(&partial, &meta_path).await;
                return Err(PullError::Checksum {
                    file,
                    expected,
                    actual,
                });
            }
            Some(_) => {}
            None => tracing::warn!(
                repo,
                file,
                "Hugging Face gave no SHA-256 for this file; it is not checked"
            ),
        }
        let checked = blocking({
            let partial = partial.clone();
            move || {
                let header = gguf::read_header(&partial)?;
                File::open(&partial)?.sync_all()?;
                Ok::<_, gguf::GgufError>(header)
            }
        })
        .await;
        let header = match checked {
            Ok(h) => h,
            Err(source) => {
                discard(&partial, &meta_path).await;
                return Err(PullError::Gguf { file, source });
            }
        };
        let entry = ModelEntry {
            name: name.clone(),
            file: library::file_name(&name),
            path: PathBuf::new(),
            size,
            sha256: actual,
            context_length: header.context_length,
            chat_template: header.chat_template,
            origin: Some(reference.canonical()),
        };
        let committed = blocking({
            let partial = partial.clone();
            move || match tempfile::TempPath::try_from_path(partial) {
                Ok(file) => lib.commit(file, entry),
                Err(e) => Err(LibraryError::Io {
                    what: "could not take the download".into(),
                    source: e,
                }),
            }
        })
        .await;
        let _ = fs::remove_file(&meta_path);
        if committed.is_err() {
            discard(&partial, &meta_path).await;
        }
        Ok(committed?)
    }

    /// Picks the GGUF file: the one matching the quantisation asked for; else `Q4_K_M`; else
    /// the only one; else the smallest.
    async fn choose(&self, reference: &Reference) -> Result<(String, Listed), PullError> {
        let repo = reference.repo_id();
        let what = format!("the file list of '{repo}'");
        let response = self
            .authorised(
                self.http
                    .get(format!("{}/api/models/{repo}", self.endpoint))
                    .query(&[("blobs", "true")]),
            )
            .send()
            .await
            .map_err(|e| network(&what, e))?;
        match response.status() {
            s if s.is_success() => {}
            StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(PullError::RepoNotFound(repo));
            }
            s => {
                return Err(PullError::Status {
                    what,
                    status: s.as_u16(),
                });
            }
        }
        let body: Value = response.json().await.map_err(|e| network(&what, e))?;
        let files: Vec<(String, Listed)> = body
            .get("siblings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let name = s.get("rfilename")?.as_str()?.to_string();
                let lower = name.to_ascii_lowercase();
                if !lower.ends_with(".gguf") || lower.contains("mmproj") {
                    return None;
                }
                let lfs = s.get("lfs");
                Some((
                    name,
                    Listed {
                        size: lfs
                            .and_then(|l| l.get("size"))
                            .or_else(|| s.get("size"))
                            .and_then(Value::as_u64),
                        sha256: lfs
                            .and_then(|l| l.get("sha256"))
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    },
                ))
            })
            .collect();
        if files.is_empty() {
            return Err(PullError::NoGguf(repo));
        }
        let matching = |quant: &str| -> Vec<(String, Listed)> {
            files
                .iter()
                .filter(|(f, _)| has_quant(f, quant))
                .cloned()
                .collect()
        };
        let one = |mut found: Vec<(String, Listed)>, quant: &str| {
            if found.len() > 1 {
                return Err(PullError::Ambiguous {
                    repo: repo.clone(),
                    quant: quant.to_string(),
                    files: found
                        .iter()
                        .map(|(f, _)| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            Ok(found.pop())
        };
        if let Some(quant) = &reference.quant {
            return one(matching(quant), quant)?.ok_or_else(|| PullError::QuantNotFound {
                repo: repo.clone(),
                quant: quant.clone(),
                available: files
                    .iter()
                    .map(|(f, _)| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        if let Some(found) = one(matching(DEFAULT_QUANT), DEFAULT_QUANT)? {
            return Ok(found);
        }
        Ok(files
            .into_iter()
            .min_by_key(|(f, l)| (l.size.unwrap_or(u64::MAX), f.clone()))
            .expect("files is not empty"))
    }

    /// The resolve URL's headers, redirects not followed: that first answer carries
    /// `X-Linked-Etag` (the SHA-256) and `X-Linked-Size` for large files.
    async fn head(&self, url: &str, file: &str) -> Result<Head, PullError> {
        let what = format!("'{file}'");
        let response = self
            .authorised(self.head.head(url))
            .send()
            .await
            .map_err(|e| network(&what, e))?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Err(PullError::Status { what, status: 404 });
        }
        if !(status.is_success() || status.is_redirection()) {
            return Err(PullError::Status {
                what,
                status: status.as_u16(),
            });
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let linked = header("x-linked-etag").map(|e| unquote(&e));
        let etag = linked
            .clone()
            .or_else(|| header(ETAG.as_str()).map(|e| unquote(&e)));
        let size = header("x-linked-size")
            .or_else(|| {
                status
                    .is_success()
                    .then(|| header(CONTENT_LENGTH.as_str()))
                    .flatten()
            })
            .and_then(|s| s.parse().ok());
        Ok(Head {
            etag,
            linked_sha256: linked.filter(|e| is_sha256(e)),
            size,
        })
    }

    /// Streams the file from `offset` into `partial`, hashing as it writes on a blocking thread.
    #[allow(clippy::too_many_arguments)]
    async fn download(
        &self,
        url: &str,
        file: &str,
        partial: &Path,
        offset: u64,
        hasher: Sha256,
        total: Option<u64>,
        progress: &mut (impl FnMut(&Progress) + Send),
        last: &mut Progress,
    ) -> Result<(u64, String), PullError> {
        let what = format!("'{file}'");
        let mut request = self.authorised(self.http.get(url));
        if offset > 0 {
            request = request.header(RANGE, format!("bytes={offset}-"));
        }
        let response = request.send().await.map_err(|e| network(&what, e))?;
        let status = response.status();
        let (offset, hasher) = match status {
            StatusCode::PARTIAL_CONTENT if offset > 0 => (offset, hasher),
            StatusCode::RANGE_NOT_SATISFIABLE if Some(offset) == total => {
                return Ok((offset, library::hex(&hasher.finalize())));
            }
            s if s.is_success() => (0, Sha256::new()),
            StatusCode::NOT_FOUND => return Err(PullError::Status { what, status: 404 }),
            s => {
                return Err(PullError::Status {
                    what,
                    status: s.as_u16(),
                });
            }
        };
        let (tx, rx) = mpsc::sync_channel::<bytes::Bytes>(16);
        let writer = tokio::task::spawn_blocking({
            let partial = partial.to_path_buf();
            let hook = self.writer.clone();
            move || write_chunks(&partial, offset, hasher, hook, rx)
        });
        let mut completed = offset;
        *last = Progress {
            status: Status::Downloading,
            completed,
            total,
        };
        progress(last);
        let mut body = response.bytes_stream();
        let mut cut = false;
        while let Some(chunk) = body.next().await {
            let Ok(chunk) = chunk else {
                cut = true;
                break;
            };
            let n = chunk.len() as u64;
            if tx.send(chunk).is_err() {
                break; // the writer failed; its error is collected below
            }
            completed += n;
            last.completed = completed;
            progress(last);
        }
        drop(tx);
        let (written, hasher) = writer
            .await
            .map_err(|e| PullError::Write(io::Error::other(e.to_string())))?
            .map_err(PullError::Write)?;
        let short = total.is_some_and(|t| written < t);
        if cut || short {
            return Err(PullError::Cut {
                file: file.to_string(),
                completed: written,
                total: total.map_or("an unknown number of".into(), |t| t.to_string()),
            });
        }
        Ok((written, library::hex(&hasher.finalize())))
    }

    fn authorised(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }
}

fn network(what: &str, e: reqwest::Error) -> PullError {
    PullError::Network {
        what: what.to_string(),
        reason: e.without_url().to_string(),
    }
}
