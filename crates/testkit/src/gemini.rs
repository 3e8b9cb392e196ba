//! A fake Gemini (Generative Language API v1beta): models listing (paged, key by
//! `x-goog-api-key` header or `key=` query), `:generateContent` and `:streamGenerateContent`
//! (`alt=sse`).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::server::{self, RequestLog, Running};
use crate::{Responder, ScriptedReply};

struct Inner {
    keys: Vec<String>,
    models: Vec<String>,
    responder: Option<Responder>,
}

type Shared = Arc<Mutex<Inner>>;

/// A running fake Gemini. Dropping it stops the server.
pub struct FakeGemini {
    running: Running,
    inner: Shared,
    log: RequestLog,
}

/// Starts a fake Gemini accepting `keys` and serving `models` (bare ids, e.g. `gemini-2.5-flash`).
pub async fn start(keys: &[&str], models: &[&str]) -> FakeGemini {
    let inner = Arc::new(Mutex::new(Inner {
        keys: keys.iter().map(|k| k.to_string()).collect(),
        models: models
            .iter()
            .map(|m| m.trim_start_matches("models/").to_string())
            .collect(),
        responder: None,
    }));
    let log = RequestLog::default();
    let router = Router::new()
        .route("/v1beta/models", get(list))
        .route("/v1beta/models/{call}", post(generate))
        .with_state(inner.clone());
    let running = server::serve(router, log.clone()).await;
    FakeGemini {
        running,
        inner,
        log,
    }
}

impl FakeGemini {
    pub fn url(&self) -> String {
        self.running.url()
    }
    pub fn requests(&self) -> RequestLog {
        self.log.clone()
    }
    pub fn add_key(&self, key: &str) {
        self.inner.lock().unwrap().keys.push(key.into());
    }
    pub fn add_model(&self, id: &str) {
        self.inner
            .lock()
            .unwrap()
            .models
            .push(id.trim_start_matches("models/").into());
    }
    pub fn set_responder(&self, responder: Responder) {
        self.inner.lock().unwrap().responder = Some(responder);
    }
}

fn error(code: u16, status: &str, message: &str) -> Response {
    server::json(
        code,
        json!({"error": {"code": code, "message": message, "status": status}}),
    )
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    key: Option<String>,
    page_size: Option<usize>,
    page_token: Option<String>,
}

/// Gemini refuses a wrong key with HTTP 400 `INVALID_ARGUMENT` and no key with 403.
fn authorize(inner: &Shared, headers: &HeaderMap, params: &Params) -> Result<(), Response> {
    let key = headers
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or(params.key.clone());
    match key {
        None => Err(error(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        )),
        Some(k) if inner.lock().unwrap().keys.contains(&k) => Ok(()),
        Some(_) => Err(server::json(
            400,
            json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
                             "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                                          "domain": "googleapis.com"}]}}),
        )),
    }
}

async fn list(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    if let Err(r) = authorize(&inner, &headers, &params) {
        return r;
    }
    let models = inner.lock().unwrap().models.clone();
    let start: usize = params
        .page_token
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let size = params.page_size.unwrap_or(50).clamp(1, 1000);
    let page: Vec<Value> = models
        .iter()
        .skip(start)
        .take(size)
        .map(|m| {
            json!({"name": format!("models/{m}"), "version": "001", "displayName": m,
                   "inputTokenLimit": 1_048_576, "outputTokenLimit": 8192,
                   "supportedGenerationMethods": ["generateContent", "countTokens"]})
        })
        .collect();
    let mut out = json!({"models": page});
    if start + size < models.len() {
        out["nextPageToken"] = json!((start + size).to_string());
    }
    server::json(200, out)
}

async fn generate(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<Params>,
    Path(call): Path<String>,
    raw: bytes::Bytes,
) -> Response {
    if let Err(r) = authorize(&inner, &headers, &params) {
        return r;
    }
    let (model, stream) = match (
        call.strip_suffix(":generateContent"),
        call.strip_suffix(":streamGenerateContent"),
    ) {
        (Some(model), _) => (model, false),
        (_, Some(model)) => (model, true),
        _ => return error(404, "NOT_FOUND", "Not Found"),
    };
    let Ok(body) = serde_json::from_slice::<Value>(&raw) else {
        return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
    };
    if body
        .get("contents")
        .and_then(Value::as_array)
        .is_none_or(|c| c.is_empty())
    {
        return error(
            400,
            "INVALID_ARGUMENT",
            "* GenerateContentRequest.contents: contents is not specified",
        );
    }
    let responder = {
        let i = inner.lock().unwrap();
        if !i.models.iter().any(|m| m == model) {
            return error(
                404,
                "NOT_FOUND",
                &format!(
                    "models/{model} is not found for API version v1beta, or is not supported for generateContent."
                ),
            );
        }
        i.responder.clone()
    };
    let structured = body
        .pointer("/generationConfig/responseMimeType")
        .and_then(Value::as_str)
        == Some("application/json");
    let (text, reason) = match responder
        .map(|r| r(&body))
        .unwrap_or_else(|| crate::default_reply(structured))
    {
        ScriptedReply::Text(t) => (t, "STOP"),
        ScriptedReply::Json(v) => (v.to_string(), "STOP"),
        ScriptedReply::CutOff(t) => (t, "MAX_TOKENS"),
        ScriptedReply::Error { status, message } => return error(status, "INTERNAL", &message),
    };
    let usage = json!({"promptTokenCount": 12, "candidatesTokenCount": 7, "totalTokenCount": 19});
    if !stream {
        return server::json(
            200,
            json!({"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": reason, "index": 0}],
                   "usageMetadata": usage, "modelVersion": model}),
        );
    }
    // `alt=sse`: partial responses with more of the text, the last with the finish reason.
    let pieces = crate::chunks(&text);
    let last = pieces.len() - 1;
    let events = pieces
        .into_iter()
        .enumerate()
        .map(|(n, piece)| {
            let mut candidate =
                json!({"content": {"parts": [{"text": piece}], "role": "model"}, "index": 0});
            if n == last {
                candidate["finishReason"] = json!(reason);
            }
            (
                None,
                json!({"candidates": [candidate], "usageMetadata": usage, "modelVersion": model})
                    .to_string(),
            )
        })
        .collect();
    server::sse(events)
}
