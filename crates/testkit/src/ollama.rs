//! A fake Ollama: model listing, pull with streamed progress, create/delete/show, and chat
//! (NDJSON stream or a single object, with `format`).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, get, post};
use serde_json::{Value, json};

use crate::server::{self, RequestLog, Running};
use crate::{Responder, ScriptedReply};

/// Ollama treats `llama3` and `llama3:latest` as the same model.
pub fn normalize(name: &str) -> String {
    let tail = name.rsplit('/').next().unwrap_or(name);
    if tail.contains(':') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

#[derive(Default)]
struct Inner {
    installed: BTreeSet<String>,
    registry: BTreeSet<String>,
    pull_failure: Option<String>,
    responder: Option<Responder>,
    /// The context length `/api/show` reports for every model; `None`: it reports none.
    trained_context: Option<u64>,
}

type Shared = Arc<Mutex<Inner>>;

/// A running fake Ollama. Dropping it stops the server.
pub struct FakeOllama {
    running: Running,
    inner: Shared,
    log: RequestLog,
}

/// Starts a fake Ollama with `installed` models present locally.
pub async fn start(installed: &[&str]) -> FakeOllama {
    let inner: Shared = Arc::default();
    {
        let mut i = inner.lock().unwrap();
        i.installed = installed.iter().map(|m| normalize(m)).collect();
        i.trained_context = Some(8192);
    }
    let log = RequestLog::default();
    let router = Router::new()
        .route("/", get(|| async { "Ollama is running" }))
        .route(
            "/api/version",
            get(|| async { axum::Json(json!({"version": "0.12.0"})) }),
        )
        .route("/api/tags", get(tags))
        .route("/api/pull", post(pull))
        .route("/api/create", post(create))
        .route("/api/delete", delete(remove))
        .route("/api/show", post(show))
        .route("/api/chat", post(chat))
        .with_state(inner.clone());
    let running = server::serve(router, log.clone()).await;
    FakeOllama {
        running,
        inner,
        log,
    }
}

impl FakeOllama {
    pub fn url(&self) -> String {
        self.running.url()
    }
    pub fn requests(&self) -> RequestLog {
        self.log.clone()
    }
    /// Installed model names, normalised (`name:tag`).
    pub fn installed(&self) -> Vec<String> {
        self.inner
            .lock()
            .unwrap()
            .installed
            .iter()
            .cloned()
            .collect()
    }
    /// What `/api/show` says models were trained for; `None` leaves `context_length` out.
    pub fn set_trained_context(&self, tokens: Option<u64>) {
        self.inner.lock().unwrap().trained_context = tokens;
    }
    pub fn install(&self, name: &str) {
        self.inner.lock().unwrap().installed.insert(normalize(name));
    }
    /// Makes `name` available from the registry, so a pull of it succeeds.
    pub fn publish(&self, name: &str) {
        self.inner.lock().unwrap().registry.insert(normalize(name));
    }
    /// Every pull fails midway with this error line (as when the disk fills up).
    pub fn fail_pulls_with(&self, error: &str) {
        self.inner.lock().unwrap().pull_failure = Some(error.into());
    }
    pub fn set_responder(&self, responder: Responder) {
        self.inner.lock().unwrap().responder = Some(responder);
    }
}

fn model_of(body: &Value) -> String {
    body.get("model")
        .or_else(|| body.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn not_found(name: &str) -> Response {
    server::json(404, json!({"error": format!("model '{name}' not found")}))
}

fn parse(raw: &bytes::Bytes) -> Result<Value, Response> {
    serde_json::from_slice(raw)
        .map_err(|e| server::json(400, json!({"error": format!("invalid request body: {e}")})))
}

fn entry(name: &str) -> Value {
    json!({
        "name": name, "model": name,
        "modified_at": "2026-01-01T00:00:00Z", "size": 3_825_819_519u64,
        "digest": format!("{:064x}", name.len()),
        "details": {"format": "gguf", "family": "llama", "parameter_size": "8B", "quantization_level": "Q4_0"}
    })
}

async fn tags(State(inner): State<Shared>) -> Response {
    let models: Vec<Value> = inner
        .lock()
        .unwrap()
        .installed
        .iter()
        .map(|n| entry(n))
        .collect();
    server::json(200, json!({"models": models}))
}

async fn pull(State(inner): State<Shared>, raw: bytes::Bytes) -> Response {
    let body = match parse(&raw) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let name = normalize(&model_of(&body));
    let (known, failure) = {
        let i = inner.lock().unwrap();
        (
            i.registry.contains(&name) || i.installed.contains(&name),
            i.pull_failure.clone(),
        )
    };
    let mut lines = vec![json!({"status": "pulling manifest"})];
    if !known {
        lines.push(json!({"error": "pull model manifest: file does not exist"}));
        return stream_or_last(&body, lines);
    }
    let digest = format!("sha256:{:064x}", name.len());
    let total = 4_000_000u64;
    for completed in [0, total / 2, total] {
        lines.push(json!({"status": format!("pulling {}", &digest[7..19]), "digest": digest, "total": total, "completed": completed}));
        if completed == total / 2
            && let Some(error) = &failure
        {
            lines.push(json!({"error": error}));
            return stream_or_last(&body, lines);
        }
    }
    lines.push(json!({"status": "verifying sha256 digest"}));
    lines.push(json!({"status": "writing manifest"}));
    lines.push(json!({"status": "success"}));
    inner.lock().unwrap().installed.insert(name);
    stream_or_last(&body, lines)
}

/// Ollama streams status lines unless `stream: false`, when it sends only the outcome.
fn stream_or_last(body: &Value, lines: Vec<Value>) -> Response {
    if body.get("stream") == Some(&Value::Bool(false)) {
        let last = lines.last().cloned().unwrap_or(Value::Null);
        let status = if last.get("error").is_some() {
            500
        } else {
            200
        };
        server::json(status, last)
    } else {
        server::ndjson(lines)
    }
}

async fn create(State(inner): State<Shared>, raw: bytes::Bytes) -> Response {
    let body = match parse(&raw) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let name = model_of(&body);
    let from = body.get("from").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() || from.is_empty() {
        return server::json(
            400,
            json!({"error": "neither 'from' or 'files' was specified"}),
        );
    }
    let mut lines = vec![json!({"status": "reading model metadata"})];
    let exists = inner.lock().unwrap().installed.contains(&normalize(from));
    if !exists {
        lines.push(json!({"error": format!("model '{from}' not found")}));
        return stream_or_last(&body, lines);
    }
    lines.push(json!({"status": format!("using existing layer sha256:{:064x}", from.len())}));
    lines.push(json!({"status": "writing manifest"}));
    lines.push(json!({"status": "success"}));
    inner.lock().unwrap().installed.insert(normalize(&name));
    stream_or_last(&body, lines)
}

async fn remove(State(inner): State<Shared>, raw: bytes::Bytes) -> Response {
    let body = match parse(&raw) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let name = model_of(&body);
    if inner.lock().unwrap().installed.remove(&normalize(&name)) {
        Response::new(axum::body::Body::empty())
    } else {
        not_found(&name)
    }
}

async fn show(State(inner): State<Shared>, raw: bytes::Bytes) -> Response {
    let body = match parse(&raw) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let name = model_of(&body);
    let (installed, trained) = {
        let i = inner.lock().unwrap();
        (i.installed.contains(&normalize(&name)), i.trained_context)
    };
    if !installed {
        return not_found(&name);
    }
    let mut model_info = json!({"general.architecture": "llama"});
    if let Some(tokens) = trained {
        model_info["llama.context_length"] = json!(tokens);
    }
    server::json(
        200,
        json!({
            "modelfile": format!("FROM {name}\n"),
            "parameters": "stop \"<|eot_id|>\"",
            "template": "{{ .Prompt }}",
            "details": entry(&name)["details"],
            "model_info": model_info,
            "capabilities": ["completion", "tools"],
        }),
    )
}

async fn chat(State(inner): State<Shared>, raw: bytes::Bytes) -> Response {
    let body = match parse(&raw) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let name = model_of(&body);
    let responder = {
        let i = inner.lock().unwrap();
        if !i.installed.contains(&normalize(&name)) {
            return server::json(
                404,
                json!({"error": format!("model \"{name}\" not found, try pulling it first")}),
            );
        }
        i.responder.clone()
    };
    let structured = body.get("format").is_some_and(|f| !f.is_null());
    let reply = responder
        .map(|r| r(&body))
        .unwrap_or_else(|| crate::default_reply(structured));
    let (text, reason) = match reply {
        ScriptedReply::Text(t) => (t, "stop"),
        ScriptedReply::Json(v) => (v.to_string(), "stop"),
        ScriptedReply::CutOff(t) => (t, "length"),
        ScriptedReply::Error { status, message } => {
            return server::json(status, json!({"error": message}));
        }
    };
    let done = json!({
        "model": name, "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": ""},
        "done": true, "done_reason": reason,
        "total_duration": 1_000_000, "load_duration": 1000, "prompt_eval_count": 12,
        "prompt_eval_duration": 1000, "eval_count": 7, "eval_duration": 1000
    });
    if body.get("stream") == Some(&Value::Bool(false)) {
        let mut whole = done;
        whole["message"]["content"] = Value::String(text);
        return server::json(200, whole);
    }
    let mut lines: Vec<Value> = crate::chunks(&text)
        .into_iter()
        .map(|piece| {
            json!({"model": name, "created_at": "2026-01-01T00:00:00Z",
                   "message": {"role": "assistant", "content": piece}, "done": false})
        })
        .collect();
    lines.push(done);
    server::ndjson(lines)
}
