//! A fake Discord REST API (v10): `GET /users/@me`, `POST /channels/{id}/messages` and
//! `POST /channels/{id}/typing`, with `Authorization: Bot <token>`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::server::{self, RequestLog, Running};

#[derive(Default)]
struct Inner {
    tokens: Vec<String>,
    sent: BTreeMap<String, Vec<String>>,
    next_id: u64,
}

type Shared = Arc<Mutex<Inner>>;

/// A running fake Discord. Dropping it stops the server.
pub struct FakeDiscord {
    running: Running,
    inner: Shared,
    log: RequestLog,
}

/// Starts a fake Discord where each of `tokens` is a valid bot token.
pub async fn start(tokens: &[&str]) -> FakeDiscord {
    let inner: Shared = Arc::new(Mutex::new(Inner {
        tokens: tokens.iter().map(|t| t.to_string()).collect(),
        next_id: 1_100_000_000_000_000_000,
        ..Inner::default()
    }));
    let log = RequestLog::default();
    let router = Router::new()
        .route("/users/@me", get(me))
        .route("/channels/{id}/messages", post(send))
        .route("/channels/{id}/typing", post(typing))
        .with_state(inner.clone());
    let running = server::serve(router, log.clone()).await;
    FakeDiscord { running, inner, log }
}

impl FakeDiscord {
    pub fn url(&self) -> String {
        self.running.url()
    }
    pub fn requests(&self) -> RequestLog {
        self.log.clone()
    }
    pub fn add_token(&self, token: &str) {
        self.inner.lock().unwrap().tokens.push(token.into());
    }
    /// The message contents posted to `channel_id`, in order.
    pub fn sent(&self, channel_id: &str) -> Vec<String> {
        self.inner.lock().unwrap().sent.get(channel_id).cloned().unwrap_or_default()
    }
}

fn authorize(inner: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bot "));
    match token {
        Some(t) if inner.lock().unwrap().tokens.iter().any(|k| k == t) => Ok(()),
        _ => Err(server::json(401, json!({"message": "401: Unauthorized", "code": 0}))),
    }
}

async fn me(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&inner, &headers) {
        return r;
    }
    server::json(
        200,
        json!({"id": "1000000000000000001", "username": "fake-eternego", "discriminator": "0",
               "global_name": null, "avatar": null, "bot": true, "flags": 0, "verified": true}),
    )
}

async fn send(State(inner): State<Shared>, headers: HeaderMap, Path(id): Path<String>, raw: bytes::Bytes) -> Response {
    if let Err(r) = authorize(&inner, &headers) {
        return r;
    }
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let content = body.get("content").and_then(Value::as_str).unwrap_or("").to_string();
    if content.is_empty() {
        return server::json(400, json!({"message": "Cannot send an empty message", "code": 50006}));
    }
    if content.chars().count() > 2000 {
        return server::json(
            400,
            json!({"message": "Invalid Form Body", "code": 50035,
                   "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}}}),
        );
    }
    let mut i = inner.lock().unwrap();
    i.next_id += 1;
    let message_id = i.next_id.to_string();
    i.sent.entry(id.clone()).or_default().push(content.clone());
    server::json(
        200,
        json!({"id": message_id, "channel_id": id, "content": content, "type": 0,
               "author": {"id": "1000000000000000001", "username": "fake-eternego", "bot": true},
               "timestamp": "2026-01-01T00:00:00.000000+00:00"}),
    )
}

async fn typing(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&inner, &headers) {
        return r;
    }
    Response::builder().status(204).body(axum::body::Body::empty()).unwrap()
}
