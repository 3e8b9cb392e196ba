//! A fake Telegram Bot API: `getMe`, `getUpdates` long-poll (blocks until an update is pushed or
//! its `timeout` passes; honours `allowed_updates` as Telegram does), `sendMessage`, `sendChatAction`, `setMyCommands`, `getFile` and the
//! file download path. Parameters are read from the query string, a JSON body or a form, as the
//! real API does.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::{any, get};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::server::{self, RequestLog, Running};

#[derive(Default)]
struct Bot {
    updates: Vec<Value>,
    sent: Vec<Value>,
    /// The update kinds the bot last asked for; like Telegram, the choice lasts until changed,
    /// and updates of other kinds are dropped. `None`: every kind.
    allowed: Option<Vec<String>>,
    /// What people wrote to the bot, by update id, so a test can edit it.
    written: HashMap<i64, Value>,
}

#[derive(Default)]
struct Inner {
    bots: BTreeMap<String, Bot>,
    next_update: i64,
    next_message: i64,
    files: HashMap<String, (String, Vec<u8>)>,
}

struct Shared {
    inner: Mutex<Inner>,
    arrived: Notify,
}

/// A running fake Telegram. Dropping it stops the server.
pub struct FakeTelegram {
    running: Running,
    shared: Arc<Shared>,
    log: RequestLog,
}

/// Starts a fake Telegram where each of `tokens` is a valid bot.
pub async fn start(tokens: &[&str]) -> FakeTelegram {
    let mut inner = Inner {
        next_update: 1,
        next_message: 1,
        ..Inner::default()
    };
    for t in tokens {
        inner.bots.insert(t.to_string(), Bot::default());
    }
    let shared = Arc::new(Shared {
        inner: Mutex::new(inner),
        arrived: Notify::new(),
    });
    let log = RequestLog::default();
    let router = Router::new()
        .route("/file/{bot}/{*path}", get(download))
        .route("/{bot}/{method}", any(method))
        .with_state(shared.clone());
    let running = server::serve(router, log.clone()).await;
    FakeTelegram {
        running,
        shared,
        log,
    }
}

impl FakeTelegram {
    pub fn url(&self) -> String {
        self.running.url()
    }
    pub fn requests(&self) -> RequestLog {
        self.log.clone()
    }

    pub fn add_token(&self, token: &str) {
        self.shared
            .inner
            .lock()
            .unwrap()
            .bots
            .entry(token.to_string())
            .or_default();
    }

    /// A person writes `text` to the bot `token` from private chat `chat_id`. Returns the update id.
    pub fn push_text(&self, token: &str, chat_id: i64, text: &str) -> i64 {
        self.push(token, chat_id, json!({"text": text}))
    }

    /// A person sends a photo (with an optional caption). Returns the update id; the photo's
    /// `file_id` is `photo-<update id>`.
    pub fn push_photo(
        &self,
        token: &str,
        chat_id: i64,
        bytes: &[u8],
        caption: Option<&str>,
    ) -> i64 {
        let id = self.shared.inner.lock().unwrap().next_update;
        let file_id = format!("photo-{id}");
        self.shared.inner.lock().unwrap().files.insert(
            file_id.clone(),
            (format!("photos/file_{id}.jpg"), bytes.to_vec()),
        );
        let mut extra = json!({"photo": [
            {"file_id": format!("{file_id}-small"), "file_unique_id": "s", "width": 90, "height": 90, "file_size": 1},
            {"file_id": file_id, "file_unique_id": "l", "width": 800, "height": 800, "file_size": bytes.len()}
        ]});
        if let Some(c) = caption {
            extra["caption"] = json!(c);
        }
        self.push(token, chat_id, extra)
    }

    /// A person sends a voice note (OGG/Opus, as Telegram records them). Returns the update id.
    pub fn push_voice(&self, token: &str, chat_id: i64, bytes: &[u8]) -> i64 {
        let file_id = self.keep_file("voice", "voice/file.oga", bytes);
        self.push(token, chat_id, json!({"voice": {"file_id": file_id, "file_unique_id": "v", "duration": 2, "mime_type": "audio/ogg", "file_size": bytes.len()}}))
    }

    /// A person sends a file as a document, with an optional caption. Returns the update id.
    pub fn push_document(
        &self,
        token: &str,
        chat_id: i64,
        name: &str,
        mime: &str,
        bytes: &[u8],
        caption: Option<&str>,
    ) -> i64 {
        let file_id = self.keep_file("document", &format!("documents/{name}"), bytes);
        let mut extra = json!({"document": {"file_id": file_id, "file_unique_id": "d", "file_name": name, "mime_type": mime, "file_size": bytes.len()}});
        if let Some(c) = caption {
            extra["caption"] = json!(c);
        }
        self.push(token, chat_id, extra)
    }

    /// Keeps `bytes` for `getFile` and the download path; returns the new `file_id`.
    fn keep_file(&self, kind: &str, path: &str, bytes: &[u8]) -> String {
        let mut inner = self.shared.inner.lock().unwrap();
        let file_id = format!("{kind}-{}", inner.next_update);
        inner
            .files
            .insert(file_id.clone(), (path.to_string(), bytes.to_vec()));
        file_id
    }

    /// A person sends a message carrying `extra` (a `sticker`, a `video`, ...; the caller
    /// writes it as the Bot API does). Returns the update id.
    pub fn push(&self, token: &str, chat_id: i64, extra: Value) -> i64 {
        self.enqueue(token, |inner, id| {
            let message_id = inner.next_message;
            inner.next_message += 1;
            let mut message = json!({
                "message_id": message_id,
                "from": {"id": chat_id, "is_bot": false, "first_name": "Person", "username": "person"},
                "chat": {"id": chat_id, "type": "private", "first_name": "Person", "username": "person"},
                "date": 1_700_000_000,
            });
            for (k, v) in extra.as_object().unwrap() {
                message[k] = v.clone();
            }
            bot(inner, token).written.insert(id, message.clone());
            ("message", message)
        })
    }

    /// The person edits what they sent in update `original` to read `text` (its caption, if it
    /// had one). Arrives as an `edited_message` update; returns its id.
    pub fn edit(&self, token: &str, original: i64, text: &str) -> i64 {
        self.enqueue(token, |inner, _| {
            let mut message = bot(inner, token)
                .written
                .get(&original)
                .expect("an update the person sent")
                .clone();
            let field = if message.get("caption").is_some() {
                "caption"
            } else {
                "text"
            };
            message[field] = json!(text);
            message["edit_date"] = json!(1_700_000_060);
            ("edited_message", message)
        })
    }

    /// Queues for bot `token`, under the next update id, the update `make` builds (its kind and
    /// message), and wakes a parked poll. Returns the update id.
    fn enqueue(
        &self,
        token: &str,
        make: impl FnOnce(&mut Inner, i64) -> (&'static str, Value),
    ) -> i64 {
        let id = {
            let mut inner = self.shared.inner.lock().unwrap();
            let id = inner.next_update;
            inner.next_update += 1;
            let (kind, message) = make(&mut inner, id);
            let mut update = json!({"update_id": id});
            update[kind] = message;
            bot(&mut inner, token).updates.push(update);
            id
        };
        self.shared.arrived.notify_waiters();
        id
    }

    /// The `sendMessage` parameters the bot `token` sent, in order.
    pub fn sent(&self, token: &str) -> Vec<Value> {
        self.shared
            .inner
            .lock()
            .unwrap()
            .bots
            .get(token)
            .map(|b| b.sent.clone())
            .unwrap_or_default()
    }

    /// Updates not yet confirmed by an `offset` past them.
    pub fn pending(&self, token: &str) -> usize {
        self.shared
            .inner
            .lock()
            .unwrap()
            .bots
            .get(token)
            .map_or(0, |b| b.updates.len())
    }
}

fn ok(result: Value) -> Response {
    server::json(200, json!({"ok": true, "result": result}))
}

fn fail(code: u16, description: &str) -> Response {
    server::json(
        code,
        json!({"ok": false, "error_code": code, "description": description}),
    )
}

/// Query, JSON body and form fields merged into one object.
fn params(uri: &Uri, headers: &HeaderMap, raw: &[u8]) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    let mut add_pairs = |text: &str| {
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            out.insert(decode(k), Value::String(decode(v)));
        }
    };
    if let Some(q) = uri.query() {
        add_pairs(q);
    }
    let kind = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if kind.starts_with("application/x-www-form-urlencoded") {
        add_pairs(&String::from_utf8_lossy(raw));
    } else if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(raw) {
        out.extend(map);
    }
    out
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn bot<'a>(inner: &'a mut Inner, token: &str) -> &'a mut Bot {
    inner
        .bots
        .get_mut(token)
        .expect("updates can only be pushed to a bot the fake knows")
}

fn int(params: &serde_json::Map<String, Value>, name: &str) -> Option<i64> {
    match params.get(name)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn text(params: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    match params.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

async fn method(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    raw: bytes::Bytes,
) -> Response {
    let Some(token) = bot.strip_prefix("bot") else {
        return fail(404, "Not Found");
    };
    if !shared.inner.lock().unwrap().bots.contains_key(token) {
        return fail(401, "Unauthorized");
    }
    let p = params(&uri, &headers, &raw);
    match method.as_str() {
        "getMe" => ok(json!({
            "id": 7_000_000_001i64, "is_bot": true, "first_name": "Fake Bot", "username": "fake_eternego_bot",
            "can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false
        })),
        "getUpdates" => updates(&shared, token, &p).await,
        "sendMessage" => {
            let Some(chat_id) = text(&p, "chat_id") else {
                return fail(400, "Bad Request: chat_id is empty");
            };
            let body = text(&p, "text").unwrap_or_default();
            if body.trim().is_empty() {
                return fail(400, "Bad Request: message text is empty");
            }
            if body.chars().count() > 4096 {
                return fail(400, "Bad Request: message is too long");
            }
            let mut inner = shared.inner.lock().unwrap();
            let message_id = inner.next_message;
            inner.next_message += 1;
            inner
                .bots
                .get_mut(token)
                .unwrap()
                .sent
                .push(Value::Object(p.clone()));
            ok(
                json!({"message_id": message_id, "from": {"id": 7_000_000_001i64, "is_bot": true, "first_name": "Fake Bot"},
                      "chat": {"id": chat_id.parse::<i64>().unwrap_or(0), "type": "private"},
                      "date": 1_700_000_000, "text": body}),
            )
        }
        "sendChatAction" | "setMyCommands" | "deleteWebhook" => ok(json!(true)),
        "getFile" => {
            let file_id = text(&p, "file_id").unwrap_or_default();
            match shared.inner.lock().unwrap().files.get(&file_id) {
                Some((path, bytes)) => ok(
                    json!({"file_id": file_id, "file_unique_id": "u", "file_size": bytes.len(), "file_path": path}),
                ),
                None => fail(400, "Bad Request: invalid file_id"),
            }
        }
        _ => fail(404, "Not Found"),
    }
}

async fn updates(shared: &Shared, token: &str, p: &serde_json::Map<String, Value>) -> Response {
    let offset = int(p, "offset");
    let limit = int(p, "limit").unwrap_or(100).clamp(1, 100) as usize;
    let timeout = Duration::from_secs(int(p, "timeout").unwrap_or(0).max(0) as u64);
    let deadline = tokio::time::Instant::now() + timeout;
    // A list, as JSON or (in a query string or form) as its JSON text.
    let allowed: Option<Vec<String>> = match p.get("allowed_updates") {
        Some(Value::String(s)) => serde_json::from_str(s).ok(),
        Some(list) => serde_json::from_value(list.clone()).ok(),
        None => None,
    };
    loop {
        let arrived = shared.arrived.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        {
            let mut inner = shared.inner.lock().unwrap();
            let bot = inner.bots.get_mut(token).unwrap();
            if let Some(allowed) = &allowed {
                // An empty list asks for the default again: every kind here.
                bot.allowed = Some(allowed.clone()).filter(|kinds| !kinds.is_empty());
            }
            if let Some(offset) = offset {
                bot.updates
                    .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            }
            if let Some(allowed) = &bot.allowed {
                bot.updates
                    .retain(|u| allowed.iter().any(|kind| u.get(kind).is_some()));
            }
            if !bot.updates.is_empty() {
                return ok(Value::Array(
                    bot.updates.iter().take(limit).cloned().collect(),
                ));
            }
        }
        if tokio::time::timeout_at(deadline, arrived).await.is_err() {
            return ok(json!([]));
        }
    }
}

async fn download(
    State(shared): State<Arc<Shared>>,
    Path((bot, path)): Path<(String, String)>,
) -> Response {
    let known = bot
        .strip_prefix("bot")
        .is_some_and(|t| shared.inner.lock().unwrap().bots.contains_key(t));
    if !known {
        return fail(401, "Unauthorized");
    }
    let found = shared
        .inner
        .lock()
        .unwrap()
        .files
        .values()
        .find(|(p, _)| *p == path)
        .map(|(_, b)| b.clone());
    match found {
        Some(bytes) => Response::builder()
            .header("content-type", "application/octet-stream")
            .body(axum::body::Body::from(bytes))
            .unwrap(),
        None => fail(404, "Not Found"),
    }
}
