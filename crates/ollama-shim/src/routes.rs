//! The Ollama HTTP API: model management answered from [`Models`], chat and generate
//! forwarded to the upstream's `/v1/chat/completions` and answered in Ollama's shapes
//! (one JSON object, or NDJSON lines ending with a `done: true` object).

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use futures::StreamExt;
use futures::channel::mpsc::{UnboundedSender, unbounded};
use serde_json::{Value, json};

use crate::models::{Models, PullError, now};
use crate::translate::{self, Done, ToolCalls};

pub struct Shared {
    pub models: Models,
    pub upstream: String,
    pub upstream_model: String,
    pub upstream_key: Option<String>,
    pub http: reqwest::Client,
}

impl Shared {
    /// A request to the upstream's `path`, carrying its key when it has one.
    fn upstream_request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self
            .http
            .request(method, format!("{}{path}", self.upstream));
        match &self.upstream_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }
}

type AppState = State<Arc<Shared>>;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(|| async { "Ollama is running" }))
        .route(
            "/api/version",
            get(|| async { Json(json!({"version": env!("CARGO_PKG_VERSION")})) }),
        )
        .route("/api/tags", get(tags))
        .route("/api/show", post(show))
        .route("/api/pull", post(pull))
        .route("/api/create", post(create))
        .route("/api/delete", delete(remove))
        .route("/api/chat", post(chat))
        .route("/api/generate", post(generate))
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found") })
        .with_state(shared)
}

fn error(status: StatusCode, text: impl Into<String>) -> Response {
    (status, Json(json!({"error": text.into()}))).into_response()
}

fn not_found(name: &str) -> Response {
    error(StatusCode::NOT_FOUND, format!("model '{name}' not found"))
}

/// A request the shim will not take, answered as a 400 `{"error": …}`.
struct BadRequest(String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        error(StatusCode::BAD_REQUEST, self.0)
    }
}

fn parse(bytes: &Bytes) -> Result<Value, BadRequest> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(BadRequest("the body must be a JSON object".into())),
        Err(e) => Err(BadRequest(format!("invalid JSON: {e}"))),
    }
}

/// `model`, or the older `name` some clients still send.
fn model_of(v: &Value) -> Result<String, BadRequest> {
    v.get("model")
        .or_else(|| v.get("name"))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
        .ok_or_else(|| BadRequest("model is required".into()))
}

/// Ollama streams unless told `"stream": false`.
fn streaming(v: &Value) -> bool {
    v.get("stream").and_then(Value::as_bool).unwrap_or(true)
}

/// An NDJSON response fed by a channel; the producer stops when the client goes away.
fn ndjson() -> (UnboundedSender<Value>, Response) {
    let (tx, rx) = unbounded::<Value>();
    let body = Body::from_stream(
        rx.map(|line| Ok::<_, std::convert::Infallible>(Bytes::from(format!("{line}\n")))),
    );
    (
        tx,
        ([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response(),
    )
}

async fn tags(State(s): AppState) -> Json<Value> {
    let models: Vec<Value> = s
        .models
        .list()
        .iter()
        .map(|m| json!({"name": m.name, "model": m.name, "modified_at": m.modified_at, "size": m.size, "digest": m.digest.trim_start_matches("sha256:"), "details": m.details()}))
        .collect();
    Json(json!({"models": models}))
}

async fn show(State(s): AppState, bytes: Bytes) -> Response {
    let request = match parse(&bytes).and_then(|v| model_of(&v)) {
        Ok(name) => name,
        Err(r) => return r.into_response(),
    };
    let Some(m) = s.models.get(&request) else {
        return not_found(&request);
    };
    let from = m
        .parent
        .clone()
        .unwrap_or_else(|| s.models.blob(&m.digest).display().to_string());
    // Ollama's text form: one `name value` line per parameter.
    let parameters: Vec<String> = m
        .parameters
        .iter()
        .map(|(k, v)| format!("{k} {}", v.as_str().map_or(v.to_string(), str::to_string)))
        .collect();
    let mut model_info = json!({});
    if let Some(tokens) = trained_context(&s).await {
        // Ollama keys this by the GGUF's architecture, which the shim does not read: every
        // model it serves is reported as `llama` (true of SmolLM2, the one the tests use).
        model_info = json!({"general.architecture": "llama", "llama.context_length": tokens});
    }
    Json(json!({
        "modelfile": format!("FROM {from}\n"), "parameters": parameters.join("\n"), "template": "", "license": "",
        "details": m.details(), "model_info": model_info, "capabilities": ["completion"], "modified_at": m.modified_at
    }))
    .into_response()
}

/// The context length the upstream's model was trained for, as llama.cpp's server states it
/// in `/v1/models` (`meta.n_ctx_train`); `None` when it does not say.
async fn trained_context(s: &Shared) -> Option<u64> {
    let listed: Value = s
        .upstream_request(reqwest::Method::GET, "/v1/models")
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()?
        .json()
        .await
        .ok()?;
    let models = listed.get("data")?.as_array()?;
    let model = models
        .iter()
        .find(|m| m["id"] == s.upstream_model.as_str())
        .or(models.first())?;
    model.pointer("/meta/n_ctx_train")?.as_u64()
}

async fn pull(State(s): AppState, bytes: Bytes) -> Response {
    let request = match parse(&bytes) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let name = match model_of(&request) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    if !streaming(&request) {
        return match s.models.pull(&name, |_| {}).await {
            Ok(_) => Json(json!({"status": "success"})).into_response(),
            Err(e @ PullError::NotInRegistry) => error(StatusCode::NOT_FOUND, e.to_string()),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
    }
    let (tx, response) = ndjson();
    tokio::spawn(async move {
        if let Err(e) = s
            .models
            .pull(&name, |line| {
                let _ = tx.unbounded_send(line);
            })
            .await
        {
            let _ = tx.unbounded_send(json!({"error": e.to_string()}));
        }
    });
    response
}

async fn create(State(s): AppState, bytes: Bytes) -> Response {
    let request = match parse(&bytes) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let name = match model_of(&request) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let Some(from) = request.get("from").and_then(Value::as_str) else {
        return error(
            StatusCode::BAD_REQUEST,
            "this shim creates models only `from` a known model",
        );
    };
    let parameters = request
        .get("parameters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let model = match s.models.create(&name, from, parameters) {
        Ok(Some(m)) => m,
        Ok(None) => return not_found(from),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    if !streaming(&request) {
        return Json(json!({"status": "success"})).into_response();
    }
    let (tx, response) = ndjson();
    for line in [
        json!({"status": format!("using existing layer {}", model.digest)}),
        json!({"status": "writing manifest"}),
        json!({"status": "success"}),
    ] {
        let _ = tx.unbounded_send(line);
    }
    response
}

async fn remove(State(s): AppState, bytes: Bytes) -> Response {
    let name = match parse(&bytes).and_then(|v| model_of(&v)) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    match s.models.delete(&name) {
        Ok(true) => StatusCode::OK.into_response(),
        Ok(false) => not_found(&name),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Which Ollama answer a completion becomes.
#[derive(Clone, Copy)]
enum Shape {
    Chat,
    Generate,
}

impl Shape {
    /// The object for one piece of the answer (`openai` is a message or a stream delta).
    fn piece(self, model: &str, openai: &Value) -> Value {
        match self {
            Shape::Chat => {
                json!({"model": model, "created_at": now(), "message": translate::message(openai), "done": false})
            }
            Shape::Generate => {
                json!({"model": model, "created_at": now(), "response": openai.get("content").and_then(Value::as_str).unwrap_or(""), "done": false})
            }
        }
    }

    fn last(self, model: &str, done: &Done, started: Instant, calls: Option<Value>) -> Value {
        let mut tail = json!({});
        if let Some(calls) = calls {
            tail["tool_calls"] = calls;
        }
        let mut out = self.piece(model, &tail);
        if let Some(obj) = out.as_object_mut() {
            obj.extend(done.fields(started.elapsed().as_nanos() as u64));
        }
        out
    }
}

async fn chat(State(s): AppState, bytes: Bytes) -> Response {
    complete(s, bytes, Shape::Chat).await
}

async fn generate(State(s): AppState, bytes: Bytes) -> Response {
    complete(s, bytes, Shape::Generate).await
}

async fn complete(s: Arc<Shared>, bytes: Bytes, shape: Shape) -> Response {
    let started = Instant::now();
    let request = match parse(&bytes) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let name = match model_of(&request) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    if s.models.get(&name).is_none() {
        return not_found(&name);
    }
    let stream = streaming(&request);
    let body = match shape {
        Shape::Chat => translate::chat(&s.upstream_model, &request, stream),
        Shape::Generate => translate::generate(&s.upstream_model, &request, stream),
    };
    let body = match body {
        Ok(b) => b,
        Err(translate::Invalid(text)) => return error(StatusCode::BAD_REQUEST, text),
    };
    let answer = match s
        .upstream_request(reqwest::Method::POST, "/v1/chat/completions")
        .json(&body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the inference server is unreachable: {e}"),
            );
        }
    };
    if !answer.status().is_success() {
        let status = StatusCode::from_u16(answer.status().as_u16())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let text = answer.text().await.unwrap_or_default();
        return error(status, upstream_message(&text));
    }
    if !stream {
        let value: Value = match answer.json().await {
            Ok(v) => v,
            Err(e) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("unreadable answer from the inference server: {e}"),
                );
            }
        };
        let mut done = Done::default();
        done.absorb(&value);
        let mut out = shape.piece(
            &name,
            value.pointer("/choices/0/message").unwrap_or(&Value::Null),
        );
        if let Some(obj) = out.as_object_mut() {
            obj.extend(done.fields(started.elapsed().as_nanos() as u64));
        }
        return Json(out).into_response();
    }
    let (tx, response) = ndjson();
    tokio::spawn(relay(answer, tx, shape, name, started));
    response
}

/// Turns the upstream's server-sent events into Ollama's NDJSON lines.
async fn relay(
    answer: reqwest::Response,
    tx: UnboundedSender<Value>,
    shape: Shape,
    model: String,
    started: Instant,
) {
    let mut events = answer.bytes_stream();
    let mut pending: Vec<u8> = Vec::new();
    let mut done = Done::default();
    let mut calls = ToolCalls::default();
    while let Some(chunk) = events.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.unbounded_send(
                    json!({"error": format!("the inference server stopped answering: {e}")}),
                );
                return;
            }
        };
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let Some(data) = line.trim().strip_prefix("data:").map(str::trim) else {
                continue;
            };
            if data == "[DONE]" {
                continue;
            }
            let Ok(event) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            done.absorb(&event);
            if let Some(delta) = event.pointer("/choices/0/delta") {
                calls.absorb(delta);
                let text = delta.get("content").and_then(Value::as_str).unwrap_or("");
                if !text.is_empty()
                    && tx
                        .unbounded_send(shape.piece(&model, &json!({"content": text})))
                        .is_err()
                {
                    return;
                }
            }
        }
    }
    let _ = tx.unbounded_send(shape.last(&model, &done, started, calls.finish()));
}

/// The message of an OpenAI-shaped (or llama.cpp-shaped) error body.
fn upstream_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    parsed
        .as_ref()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("error"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.trim().chars().take(300).collect())
}
