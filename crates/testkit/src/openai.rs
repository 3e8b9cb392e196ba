//! A fake OpenAI (and, with [`start_xai`], a fake xAI, which speaks the same protocol at its own
//! base URL): models listing with Bearer auth, chat completions (SSE or one object, tools,
//! `response_format`), audio transcription and speech, image generation.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Multipart, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

use crate::server::{self, RequestLog, Running};
use crate::{Responder, ScriptedReply};

/// The bytes the fake "speaks": an MP3 frame header followed by the text, so tests can check
/// what was said.
pub fn speech_bytes(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFB, 0x90, 0x64];
    out.extend_from_slice(text.as_bytes());
    out
}

/// The bytes the fake "draws": a PNG signature followed by the prompt.
pub fn image_bytes(prompt: &str) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend_from_slice(prompt.as_bytes());
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Flavor {
    OpenAi,
    Xai,
}

struct Inner {
    flavor: Flavor,
    keys: BTreeSet<String>,
    models: BTreeSet<String>,
    responder: Option<Responder>,
    transcript: String,
    /// Holds the next streamed chat answer the predicate picks after its first piece of text.
    hold: Option<(crate::Gate, Pick)>,
}

type Shared = Arc<Mutex<Inner>>;

/// Picks a chat request by its body.
type Pick = Arc<dyn Fn(&Value) -> bool + Send + Sync>;

/// A running fake OpenAI-protocol server. Dropping it stops the server.
pub struct FakeOpenAi {
    running: Running,
    inner: Shared,
    log: RequestLog,
}

/// Starts a fake OpenAI accepting `keys` and serving `models`.
pub async fn start(keys: &[&str], models: &[&str]) -> FakeOpenAi {
    launch(Flavor::OpenAi, keys, models).await
}

/// Starts a fake xAI: the OpenAI protocol, with xAI's way of refusing a key (HTTP 400).
pub async fn start_xai(keys: &[&str], models: &[&str]) -> FakeOpenAi {
    launch(Flavor::Xai, keys, models).await
}

async fn launch(flavor: Flavor, keys: &[&str], models: &[&str]) -> FakeOpenAi {
    let inner = Arc::new(Mutex::new(Inner {
        flavor,
        keys: keys.iter().map(|k| k.to_string()).collect(),
        models: models.iter().map(|m| m.to_string()).collect(),
        responder: None,
        transcript: "hello from the fake ear".into(),
        hold: None,
    }));
    let log = RequestLog::default();
    let router = Router::new()
        .route("/v1/models", get(list))
        .route("/v1/models/{id}", get(one))
        .route("/v1/chat/completions", post(chat))
        .route("/v1/audio/transcriptions", post(transcribe))
        .route("/v1/audio/speech", post(speech))
        .route("/v1/images/generations", post(images))
        .with_state(inner.clone());
    let running = server::serve(router, log.clone()).await;
    FakeOpenAi {
        running,
        inner,
        log,
    }
}

impl FakeOpenAi {
    pub fn url(&self) -> String {
        self.running.url()
    }
    pub fn requests(&self) -> RequestLog {
        self.log.clone()
    }
    pub fn add_model(&self, id: &str) {
        self.inner.lock().unwrap().models.insert(id.into());
    }
    pub fn add_key(&self, key: &str) {
        self.inner.lock().unwrap().keys.insert(key.into());
    }
    pub fn set_responder(&self, responder: Responder) {
        self.inner.lock().unwrap().responder = Some(responder);
    }
    /// Holds the next streamed chat answer whose request `pick` accepts after its first piece
    /// of text, until the returned gate is released.
    pub fn hold_next_stream(
        &self,
        pick: impl Fn(&Value) -> bool + Send + Sync + 'static,
    ) -> crate::Gate {
        let gate = crate::Gate::default();
        self.inner.lock().unwrap().hold = Some((gate.clone(), Arc::new(pick)));
        gate
    }
    /// What `/v1/audio/transcriptions` hears in any audio.
    pub fn set_transcript(&self, text: &str) {
        self.inner.lock().unwrap().transcript = text.into();
    }
}

/// Masks a key the way OpenAI echoes it back in its 401 message.
fn masked(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

fn error(status: u16, message: &str, kind: &str, code: Option<&str>) -> Response {
    server::json(
        status,
        json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
    )
}

/// Checks the Bearer key; the error response mirrors each provider's shape.
fn authorize(inner: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let i = inner.lock().unwrap();
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    match given {
        Some(key) if i.keys.contains(&key) => Ok(()),
        Some(key) if i.flavor == Flavor::Xai => Err(server::json(
            400,
            json!({"code": "Client specified an invalid argument",
                   "error": format!("Incorrect API key provided: {}. You can obtain an API key from https://console.x.ai.", masked(&key))}),
        )),
        Some(key) => Err(error(
            401,
            &format!(
                "Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.",
                masked(&key)
            ),
            "invalid_request_error",
            Some("invalid_api_key"),
        )),
        None => Err(error(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            "invalid_request_error",
            None,
        )),
    }
}

fn model_entry(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "system"})
}

async fn list(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&inner, &headers) {
        return r;
    }
    let data: Vec<Value> = inner
        .lock()
        .unwrap()
        .models
        .iter()
        .map(|m| model_entry(m))
        .collect();
    server::json(200, json!({"object": "list", "data": data}))
}

async fn one(State(inner): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = authorize(&inner, &headers) {
        return r;
    }
    if inner.lock().unwrap().models.contains(&id) {
        server::json(200, model_entry(&id))
    } else {
        missing_model(&id)
    }
}

fn missing_model(id: &str) -> Response {
    error(
        404,
        &format!("The model `{id}` does not exist or you do not have access to it."),
        "invalid_request_error",
        Some("model_not_found"),
    )
}

/// The function name a request forces, if any: `tool_choice: {"type":"function","function":{"name":…}}`,
/// or `"required"` with exactly one tool.
fn forced_tool(body: &Value) -> Option<String> {
    let choice = body.get("tool_choice")?;
    if let Some(name) = choice.pointer("/function/name").and_then(Value::as_str) {
        return Some(name.to_string());
    }
    if choice.as_str() == Some("required") {
        let tools = body.get("tools")?.as_array()?;
        if tools.len() == 1 {
            return tools[0]
                .pointer("/function/name")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
    }
    None
}

async fn chat(State(inner): State<Shared>, headers: HeaderMap, raw: bytes::Bytes) -> Response {
    if let Err(r) = authorize(&inner, &headers) {
        return r;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&raw) else {
        return error(
            400,
            "We could not parse the JSON body of your request.",
            "invalid_request_error",
            None,
        );
    };
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if body
        .get("messages")
        .and_then(Value::as_array)
        .is_none_or(|m| m.is_empty())
    {
        return error(
            400,
            "[] is too short - 'messages'",
            "invalid_request_error",
            None,
        );
    }
    let stream = body.get("stream") == Some(&Value::Bool(true));
    let (responder, hold) = {
        let mut i = inner.lock().unwrap();
        if !i.models.contains(&model) {
            return missing_model(&model);
        }
        let picked = stream && i.hold.as_ref().is_some_and(|(_, pick)| pick(&body));
        let hold = if picked {
            i.hold.take().map(|(gate, _)| gate)
        } else {
            None
        };
        (i.responder.clone(), hold)
    };
    let tool = forced_tool(&body);
    let structured = tool.is_some() || body.get("response_format").is_some();
    let reply = responder
        .map(|r| r(&body))
        .unwrap_or_else(|| crate::default_reply(structured));
    let cut = matches!(reply, ScriptedReply::CutOff(_));
    let (content, call) = match reply {
        ScriptedReply::Error { status, message } => {
            return error(status, &message, "server_error", None);
        }
        ScriptedReply::Text(t) | ScriptedReply::CutOff(t) => (Some(t), None),
        ScriptedReply::Json(v) => match &tool {
            Some(name) => (None, Some((name.clone(), v.to_string()))),
            None => (Some(v.to_string()), None),
        },
    };
    let finish = if cut {
        "length"
    } else if call.is_some() {
        "tool_calls"
    } else {
        "stop"
    };
    let usage = json!({"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19});
    if !stream {
        let mut message = json!({"role": "assistant", "content": content, "refusal": null});
        if let Some((name, args)) = &call {
            message["tool_calls"] = json!([{"id": "call_fake_1", "type": "function", "function": {"name": name, "arguments": args}}]);
        }
        return server::json(
            200,
            json!({"id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": model,
                   "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
                   "usage": usage}),
        );
    }
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
               "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
        .to_string()
    };
    let mut events = vec![(
        None,
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
    )];
    if let Some(text) = content {
        for piece in crate::chunks(&text) {
            events.push((None, chunk(json!({"content": piece}), Value::Null)));
        }
    }
    if let Some((name, args)) = call {
        events.push((
            None,
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_fake_1", "type": "function",
                                        "function": {"name": name, "arguments": ""}}]}),
                Value::Null,
            ),
        ));
        for piece in crate::chunks(&args) {
            events.push((
                None,
                chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                    Value::Null,
                ),
            ));
        }
    }
    events.push((None, chunk(json!({}), json!(finish))));
    if body.pointer("/stream_options/include_usage") == Some(&Value::Bool(true)) {
        events.push((
            None,
            json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000,
                   "model": model, "choices": [], "usage": usage})
            .to_string(),
        ));
    }
    events.push((None, "[DONE]".into()));
    match hold {
        // The role chunk and the first piece of text, then the gate.
        Some(gate) => {
            server::streamed_held(server::sse_pieces(events), "text/event-stream", 2, gate)
        }
        None => server::sse(events),
    }
}

async fn transcribe(
    State(inner): State<Shared>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    if let Err(r) = authorize(&inner, &headers) {
        return r;
    }
    let mut model = None;
    let mut audio = 0usize;
    while let Ok(Some(field)) = form.next_field().await {
        match field.name() {
            Some("model") => model = field.text().await.ok(),
            Some("file") => audio = field.bytes().await.map(|b| b.len()).unwrap_or(0),
            _ => {}
        }
    }
    let Some(model) = model else {
        return error(
            400,
            "you must provide a model parameter",
            "invalid_request_error",
            None,
        );
    };
    if audio == 0 {
        return error(
            400,
            "Audio file is empty or missing.",
            "invalid_request_error",
            None,
        );
    }
    if !inner.lock().unwrap().models.contains(&model) {
        return missing_model(&model);
    }
    let text = inner.lock().unwrap().transcript.clone();
    server::json(200, json!({"text": text}))
}

async fn speech(State(inner): State<Shared>, headers: HeaderMap, raw: bytes::Bytes) -> Response {
    if let Err(r) = authorize(&inner, &headers) {
        return r;
    }
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let model = body.get("model").and_then(Value::as_str).unwrap_or("");
    if !inner.lock().unwrap().models.contains(model) {
        return missing_model(model);
    }
    let Some(input) = body.get("input").and_then(Value::as_str) else {
        return error(
            400,
            "Missing required parameter: 'input'.",
            "invalid_request_error",
            None,
        );
    };
    if body.get("voice").and_then(Value::as_str).is_none() {
        return error(
            400,
            "Missing required parameter: 'voice'.",
            "invalid_request_error",
            None,
        );
    }
    Response::builder()
        .header("content-type", "audio/mpeg")
        .body(axum::body::Body::from(speech_bytes(input)))
        .unwrap()
}

async fn images(State(inner): State<Shared>, headers: HeaderMap, raw: bytes::Bytes) -> Response {
    if let Err(r) = authorize(&inner, &headers) {
        return r;
    }
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let model = body.get("model").and_then(Value::as_str).unwrap_or("");
    if !inner.lock().unwrap().models.contains(model) {
        return missing_model(model);
    }
    let Some(prompt) = body.get("prompt").and_then(Value::as_str) else {
        return error(
            400,
            "Missing required parameter: 'prompt'.",
            "invalid_request_error",
            None,
        );
    };
    let data = base64::engine::general_purpose::STANDARD.encode(image_bytes(prompt));
    server::json(
        200,
        json!({"created": 1_700_000_000, "data": [{"b64_json": data, "revised_prompt": prompt}]}),
    )
}
