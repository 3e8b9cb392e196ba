//! An Ollama-protocol front for a llama.cpp server, so eternego's local-Mind path (pull,
//! register, chat with a JSON schema) can be exercised against a real model on a machine where
//! no Ollama binary can be installed. It is test and demo support, never shipped.
//!
//! `models` is the model table (pull from a registry folder, create, delete), `translate` maps
//! bodies between the two protocols, `routes` is the HTTP surface, `backend` finds and runs the
//! pip-installed llama.cpp server of `bench/real-backends/`.

pub mod backend;
pub mod models;
mod routes;
pub mod translate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What the shim fronts and where it keeps its models.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Base URL of an OpenAI-compatible server (`/v1/chat/completions`), no trailing slash.
    pub upstream: String,
    /// The model name the upstream answers to; every local model is served by it.
    pub upstream_model: String,
    /// Sent as a bearer token when the upstream requires a key.
    pub upstream_key: Option<String>,
    /// Where pulled blobs and the model table live.
    pub store: PathBuf,
    /// Where `pull` finds models: `<registry>/<name>/<tag>.gguf`.
    pub registry: PathBuf,
}

/// The shim's router over `settings`, reading any models its store already holds.
pub fn router(settings: Settings) -> std::io::Result<axum::Router> {
    let models = models::Models::open(&settings.store, &settings.registry)?;
    let shared = routes::Shared {
        models,
        upstream: settings.upstream.trim_end_matches('/').to_string(),
        upstream_model: settings.upstream_model,
        upstream_key: settings.upstream_key,
        http: reqwest::Client::new(),
    };
    Ok(routes::router(Arc::new(shared)))
}

/// A shim serving on a loopback port; stops when dropped.
pub struct Running {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves on `127.0.0.1` at an ephemeral port, in the current runtime.
pub async fn start(settings: Settings) -> std::io::Result<Running> {
    let app = router(settings)?;
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Running { addr, task })
}
