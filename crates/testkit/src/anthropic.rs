//! A fake Anthropic: models listing (paged, `x-api-key` and `anthropic-version` required) and
//! the Messages API (one object or SSE, with `tool_use`).

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

/// A running fake Anthropic. Dropping it stops the server.
pub struct FakeAnthropic {
    running: Running,
    inner: Shared,
    log: RequestLog,
}

/// Starts a fake Anthropic accepting `keys` and serving `models` (ids).
pub async fn start(keys: &[&str], models: &[&str]) -> FakeAnthropic {
    let inner = Arc::new(Mutex::new(Inner {
        keys: keys.iter().map(|k| k.to_string()).collect(),
        models: models.iter().map(|m| m.to_string()).collect(),
        responder: None,
    }));
    let log = RequestLog::default();
    let router = Router::new()
        .route("/v1/models", get(list))
        .route("/v1/models/{id}", get(one))
        .route("/v1/messages", post(messages))
        .with_state(inner.clone());
    let running = server::serve(router, log.clone()).await;
    FakeAnthropic {
        running,
        inner,
        log,
    }
}

impl FakeAnthropic {
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
        self.inner.lock().unwrap().models.push(id.into());
    }
    pub fn set_responder(&self, responder: Responder) {
        self.inner.lock().unwrap().responder = Some(responder);
    }
}

fn error(status: u16, kind: &str, message: &str) -> Response {
    server::json(
        status,
        json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}),
    )
}

fn authorize(inner: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    let Some(key) = key else {
        return Err(error(
            401,
            "authentication_error",
            "x-api-key header is required",
        ));
    };
    if !inner.lock().unwrap().keys.iter().any(|k| k == key) {
        return Err(error(401, "authentication_error", "invalid x-api-key"));
    }
    if headers.get("anthropic-version").is_none() {
        return Err(error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        ));
    }
    Ok(())
}

fn entry(id: &str) -> Value {
    json!({"type": "model", "id": id, "display_name": id, "created_at": "2025-01-01T00:00:00Z"})
}

#[derive(serde::Deserialize)]
struct Page {
    limit: Option<usize>,
    after_id: Option<String>,
}

async fn list(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Query(page): Query<Page>,
) -> Response {
    if let Err(r) = authorize(&inner, &headers) {
        return r;
    }
    let models = inner.lock().unwrap().models.clone();
    let start = match &page.after_id {
        Some(after) => models
            .iter()
            .position(|m| m == after)
            .map_or(models.len(), |p| p + 1),
        None => 0,
    };
    let limit = page.limit.unwrap_or(20).clamp(1, 1000);
    let slice: Vec<&String> = models.iter().skip(start).take(limit).collect();
    let has_more = start + slice.len() < models.len();
    server::json(
        200,
        json!({"data": slice.iter().map(|m| entry(m)).collect::<Vec<_>>(), "has_more": has_more,
               "first_id": slice.first(), "last_id": slice.last()}),
    )
}

async fn one(State(inner): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = authorize(&inner, &headers) {
        return r;
    }
    if inner.lock().unwrap().models.contains(&id) {
        server::json(200, entry(&id))
    } else {
        error(404, "not_found_error", &format!("model: {id}"))
    }
}

/// The tool a request forces: `tool_choice: {"type":"tool","name":…}`.
fn forced_tool(body: &Value) -> Option<String> {
    let choice = body.get("tool_choice")?;
    (choice.get("type")?.as_str()? == "tool")
        .then(|| choice.get("name")?.as_str().map(str::to_string))?
}

async fn messages(State(inner): State<Shared>, headers: HeaderMap, raw: bytes::Bytes) -> Response {
    if let Err(r) = authorize(&inner, &headers) {
        return r;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&raw) else {
        return error(400, "invalid_request_error", "invalid JSON body");
    };
    if body.get("max_tokens").and_then(Value::as_u64).is_none() {
        return error(400, "invalid_request_error", "max_tokens: Field required");
    }
    if body
        .get("messages")
        .and_then(Value::as_array)
        .is_none_or(|m| m.is_empty())
    {
        return error(
            400,
            "invalid_request_error",
            "messages: at least one message is required",
        );
    }
    if body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m.get("role").and_then(Value::as_str) == Some("system"))
    {
        return error(
            400,
            "invalid_request_error",
            "messages: Unexpected role \"system\". The Messages API accepts a top-level `system` parameter, not \"system\" as an input message role.",
        );
    }
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let responder = {
        let i = inner.lock().unwrap();
        if !i.models.contains(&model) {
            return error(404, "not_found_error", &format!("model: {model}"));
        }
        i.responder.clone()
    };
    let tool = forced_tool(&body);
    let reply = responder
        .map(|r| r(&body))
        .unwrap_or_else(|| crate::default_reply(tool.is_some()));
    let cut = matches!(reply, ScriptedReply::CutOff(_));
    let block = match reply {
        ScriptedReply::Error { status, message } => return error(status, "api_error", &message),
        ScriptedReply::Text(t) | ScriptedReply::CutOff(t) => json!({"type": "text", "text": t}),
        ScriptedReply::Json(v) => match &tool {
            Some(name) => {
                json!({"type": "tool_use", "id": "toolu_fake_1", "name": name, "input": v})
            }
            None => json!({"type": "text", "text": v.to_string()}),
        },
    };
    let stop = if cut {
        "max_tokens"
    } else if block["type"] == "tool_use" {
        "tool_use"
    } else {
        "end_turn"
    };
    let message = json!({"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                         "content": [block.clone()], "stop_reason": stop, "stop_sequence": null,
                         "usage": {"input_tokens": 12, "output_tokens": 7}});
    if body.get("stream") != Some(&Value::Bool(true)) {
        return server::json(200, message);
    }
    let mut start = message.clone();
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["usage"]["output_tokens"] = json!(1);
    let mut events = vec![(
        Some("message_start"),
        json!({"type": "message_start", "message": start}).to_string(),
    )];
    let (opening, pieces, delta_kind, field) = if block["type"] == "tool_use" {
        let mut open = block.clone();
        open["input"] = json!({});
        (
            open,
            crate::chunks(&block["input"].to_string()),
            "input_json_delta",
            "partial_json",
        )
    } else {
        (
            json!({"type": "text", "text": ""}),
            crate::chunks(block["text"].as_str().unwrap_or("")),
            "text_delta",
            "text",
        )
    };
    events.push((
        Some("content_block_start"),
        json!({"type": "content_block_start", "index": 0, "content_block": opening}).to_string(),
    ));
    events.push((Some("ping"), json!({"type": "ping"}).to_string()));
    for piece in pieces {
        events.push((
            Some("content_block_delta"),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": delta_kind, field: piece}}).to_string(),
        ));
    }
    events.push((
        Some("content_block_stop"),
        json!({"type": "content_block_stop", "index": 0}).to_string(),
    ));
    events.push((
        Some("message_delta"),
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
               "usage": {"output_tokens": 7}})
        .to_string(),
    ));
    events.push((
        Some("message_stop"),
        json!({"type": "message_stop"}).to_string(),
    ));
    server::sse(events)
}
