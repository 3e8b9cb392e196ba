//! A fake Discord: the REST API (v10) — `GET /users/@me`, `GET /gateway/bot`,
//! `POST /channels/{id}/messages` and `POST /channels/{id}/typing`, with
//! `Authorization: Bot <token>` — the Gateway websocket (JSON encoding) at `/`, and the CDN
//! that serves attached files (`/attachments/{id}/{filename}`, no token, as signed URLs are).
//!
//! The Gateway says Hello with a long heartbeat interval, so nothing in a test depends on
//! timing: the test drives it instead (ask for a heartbeat, push a message, edit it or load its
//! link preview, ask the bot to reconnect, or stop acknowledging heartbeats). Identify must carry a known token (else close 4004) and the message intents
//! (else close 4013); Resume must name a session it issued (else op 9).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use crate::server::{self, RequestLog, Running};

/// The bot's own user id, in `GET /users/@me` and READY.
pub const BOT_ID: &str = "1000000000000000001";
/// The author of a [`Post`] unless a test says otherwise.
pub const PERSON_ID: &str = "2000000000000000002";
/// GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT: what a bot must ask for to read messages.
const MESSAGE_INTENTS: u64 = (1 << 9) | (1 << 12) | (1 << 15);
/// Long enough that the bot's own heartbeat timer never fires in a test that does not ask.
const HEARTBEAT_INTERVAL_MS: u64 = 600_000;
/// How long a test waits for the bot before the fake gives up with a panic.
const PATIENCE: Duration = Duration::from_secs(20);

#[derive(Default)]
struct Inner {
    tokens: Vec<String>,
    sent: BTreeMap<String, Vec<String>>,
    next_id: u64,
    /// `ws://` address of the Gateway (this server).
    gateway: String,
    /// `http://` address of this server, for attachment URLs.
    base: String,
    /// Attached files by id, as the CDN serves them.
    files: BTreeMap<String, Vec<u8>>,
    /// Every message pushed, by id, as it now reads.
    messages: BTreeMap<String, Value>,
    /// Every payload the bot sent over the Gateway, in order.
    received: Vec<Value>,
    /// The connection with a live session (after READY or RESUMED), where pushes go.
    live: Option<mpsc::UnboundedSender<Message>>,
    sessions: Vec<String>,
    seq: u64,
    heartbeat_interval_ms: u64,
    /// Whether heartbeats are acknowledged (op 11), as a healthy connection does.
    acking: bool,
}

impl Inner {
    /// A dispatch (op 0) carrying the next sequence number.
    fn dispatch(&mut self, event: &str, d: Value) -> Message {
        self.seq += 1;
        Message::text(json!({"op": 0, "t": event, "s": self.seq, "d": d}).to_string())
    }
}

struct Shared {
    inner: Mutex<Inner>,
    /// Fired whenever the bot sends something (REST or Gateway) or a session goes live.
    changed: Notify,
}

/// A message someone writes where the bot can read it.
#[derive(Clone, Debug)]
pub struct Post {
    pub channel_id: String,
    pub content: String,
    /// `None` for a direct message.
    pub guild_id: Option<String>,
    pub author_id: String,
    pub author_is_bot: bool,
    /// Files sent with it: name, content type, bytes.
    pub attachments: Vec<(String, String, Vec<u8>)>,
    /// Names of the stickers sent with it.
    pub stickers: Vec<String>,
}

impl Post {
    /// A person's direct message in DM channel `channel_id`.
    pub fn dm(channel_id: &str, content: &str) -> Post {
        Post {
            channel_id: channel_id.into(),
            content: content.into(),
            guild_id: None,
            author_id: PERSON_ID.into(),
            author_is_bot: false,
            attachments: Vec::new(),
            stickers: Vec::new(),
        }
    }

    /// The same message with a sticker.
    pub fn with_sticker(mut self, name: &str) -> Post {
        self.stickers.push(name.into());
        self
    }

    /// The same message with a file attached.
    pub fn with_attachment(mut self, filename: &str, content_type: &str, bytes: &[u8]) -> Post {
        self.attachments
            .push((filename.into(), content_type.into(), bytes.to_vec()));
        self
    }

    /// A person's message in channel `channel_id` of a server.
    pub fn in_guild(channel_id: &str, content: &str) -> Post {
        Post {
            guild_id: Some("3000000000000000003".into()),
            ..Post::dm(channel_id, content)
        }
    }
}

/// A running fake Discord. Dropping it stops the server.
pub struct FakeDiscord {
    running: Running,
    shared: Arc<Shared>,
    log: RequestLog,
}

/// Starts a fake Discord where each of `tokens` is a valid bot token.
pub async fn start(tokens: &[&str]) -> FakeDiscord {
    let inner = Inner {
        tokens: tokens.iter().map(|t| t.to_string()).collect(),
        next_id: 1_100_000_000_000_000_000,
        heartbeat_interval_ms: HEARTBEAT_INTERVAL_MS,
        acking: true,
        ..Inner::default()
    };
    let shared = Arc::new(Shared {
        inner: Mutex::new(inner),
        changed: Notify::new(),
    });
    let log = RequestLog::default();
    let router = Router::new()
        .route("/", get(upgrade))
        .route("/users/@me", get(me))
        .route("/gateway/bot", get(gateway_bot))
        .route("/channels/{id}/messages", post(send))
        .route("/channels/{id}/typing", post(typing))
        .route("/attachments/{id}/{filename}", get(attachment))
        .with_state(shared.clone());
    let running = server::serve(router, log.clone()).await;
    let mut inner = shared.inner.lock().unwrap();
    inner.gateway = running.url().replacen("http://", "ws://", 1);
    inner.base = running.url();
    drop(inner);
    FakeDiscord {
        running,
        shared,
        log,
    }
}

impl FakeDiscord {
    pub fn url(&self) -> String {
        self.running.url()
    }
    pub fn requests(&self) -> RequestLog {
        self.log.clone()
    }
    pub fn add_token(&self, token: &str) {
        self.shared.inner.lock().unwrap().tokens.push(token.into());
    }
    /// The message contents posted to `channel_id`, in order.
    pub fn sent(&self, channel_id: &str) -> Vec<String> {
        self.shared
            .inner
            .lock()
            .unwrap()
            .sent
            .get(channel_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Waits for the `n`th message (from 0) posted to `channel_id`.
    pub async fn nth_sent(&self, channel_id: &str, n: usize) -> String {
        self.wait(&format!("message {n} to channel {channel_id}"), |i| {
            i.sent.get(channel_id)?.get(n).cloned()
        })
        .await
    }

    /// Every payload the bot sent over the Gateway, in order.
    pub fn gateway_log(&self) -> Vec<Value> {
        self.shared.inner.lock().unwrap().received.clone()
    }

    /// Waits for the `n`th payload (from 0) with opcode `op` the bot sent over the Gateway.
    pub async fn nth_from_bot(&self, op: u64, n: usize) -> Value {
        self.wait(&format!("gateway payload {n} with op {op}"), |i| {
            i.received.iter().filter(|p| p["op"] == op).nth(n).cloned()
        })
        .await
    }

    /// Someone writes `post`: sent as MESSAGE_CREATE once the bot has a live session. Returns
    /// the message's id.
    pub async fn push(&self, post: Post) -> String {
        let live = self.live().await;
        let mut inner = self.shared.inner.lock().unwrap();
        inner.next_id += 1;
        let id = inner.next_id.to_string();
        let mut d = json!({
            "id": id, "edited_timestamp": null, "channel_id": post.channel_id, "content": post.content, "type": 0,
            "author": {"id": post.author_id, "username": "person", "global_name": "Person", "bot": post.author_is_bot},
            "timestamp": "2026-01-01T00:00:00.000000+00:00", "attachments": [], "mentions": [],
        });
        for (filename, content_type, bytes) in post.attachments {
            inner.next_id += 1;
            let id = inner.next_id.to_string();
            let url = format!("{}/attachments/{id}/{filename}", inner.base);
            d["attachments"].as_array_mut().expect("a list").push(json!({
                "id": id, "filename": filename, "content_type": content_type, "size": bytes.len(), "url": url, "proxy_url": url,
            }));
            inner.files.insert(id, bytes);
        }
        if !post.stickers.is_empty() {
            let items: Vec<Value> = post
                .stickers
                .iter()
                .enumerate()
                .map(|(i, name)| json!({"id": format!("77{i}"), "name": name, "format_type": 1}))
                .collect();
            d["sticker_items"] = json!(items);
        }
        if let Some(guild) = post.guild_id {
            d["guild_id"] = json!(guild);
        }
        inner.messages.insert(id.clone(), d.clone());
        let _ = live.send(inner.dispatch("MESSAGE_CREATE", d));
        id
    }

    /// Its author rewrites message `id` to say `content`: MESSAGE_UPDATE with the whole
    /// message and an edit time.
    pub async fn edit(&self, id: &str, content: &str) {
        self.update(id, |d| {
            d["content"] = json!(content);
            d["edited_timestamp"] = json!("2026-01-01T00:01:00.000000+00:00");
        })
        .await;
    }

    /// Discord loads a link preview into message `id`: MESSAGE_UPDATE with an embed, the words
    /// and the edit time unchanged.
    pub async fn unfurl(&self, id: &str) {
        self.update(
            id,
            |d| {
                d["embeds"] =
                    json!([{"type": "link", "url": "https://example.com/", "title": "Example"}])
            },
        )
        .await;
    }

    async fn update(&self, id: &str, change: impl FnOnce(&mut Value)) {
        let live = self.live().await;
        let mut inner = self.shared.inner.lock().unwrap();
        let mut d = inner
            .messages
            .get(id)
            .expect("a message that was pushed")
            .clone();
        change(&mut d);
        inner.messages.insert(id.to_string(), d.clone());
        let _ = live.send(inner.dispatch("MESSAGE_UPDATE", d));
    }

    /// Asks the bot for a heartbeat now (op 1), as Discord may at any time.
    pub async fn ask_heartbeat(&self) {
        let _ = self
            .live()
            .await
            .send(Message::text(json!({"op": 1, "d": null}).to_string()));
    }

    /// Tells the bot to reconnect and resume (op 7). Later pushes wait for the new session.
    pub async fn ask_reconnect(&self) {
        let live = self.live().await;
        self.shared.inner.lock().unwrap().live = None;
        let _ = live.send(Message::text(json!({"op": 7, "d": null}).to_string()));
    }

    /// Invalidates the bot's session (op 9, `resumable` as given). Later pushes wait for the
    /// new session.
    pub async fn invalidate_session(&self, resumable: bool) {
        let live = self.live().await;
        self.shared.inner.lock().unwrap().live = None;
        let _ = live.send(Message::text(json!({"op": 9, "d": resumable}).to_string()));
    }

    /// Makes the Gateway a zombie for connections that say hello from now on: a short
    /// heartbeat interval and heartbeats never acknowledged.
    pub fn stop_acking(&self, heartbeat_interval_ms: u64) {
        let mut inner = self.shared.inner.lock().unwrap();
        inner.heartbeat_interval_ms = heartbeat_interval_ms;
        inner.acking = false;
    }

    async fn live(&self) -> mpsc::UnboundedSender<Message> {
        self.wait("a live gateway session", |i| i.live.clone())
            .await
    }

    async fn wait<T>(&self, what: &str, mut check: impl FnMut(&Inner) -> Option<T>) -> T {
        let found = tokio::time::timeout(PATIENCE, async {
            loop {
                let changed = self.shared.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if let Some(v) = check(&self.shared.inner.lock().unwrap()) {
                    return v;
                }
                changed.await;
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("{what} never happened"))
    }
}

async fn upgrade(State(shared): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| gateway(shared, socket))
}

/// One Gateway connection: Hello, then whatever the bot and the test send, until either closes.
async fn gateway(shared: Arc<Shared>, socket: WebSocket) {
    let (out, mut outgoing) = mpsc::unbounded_channel();
    let (mut sink, mut stream) = socket.split();
    let interval = shared.inner.lock().unwrap().heartbeat_interval_ms;
    let _ = out.send(Message::text(
        json!({"op": 10, "d": {"heartbeat_interval": interval}}).to_string(),
    ));
    loop {
        tokio::select! {
            message = outgoing.recv() => {
                let Some(message) = message else { break };
                let closing = matches!(message, Message::Close(_));
                if sink.send(message).await.is_err() || closing {
                    break;
                }
            }
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let payload: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    answer(&shared, &out, &payload);
                    shared.inner.lock().unwrap().received.push(payload);
                    shared.changed.notify_waiters();
                }
                Some(Ok(_)) => {}
                _ => break,
            },
        }
    }
    let mut inner = shared.inner.lock().unwrap();
    if inner.live.as_ref().is_some_and(|l| l.same_channel(&out)) {
        inner.live = None;
    }
}

/// What Discord does with one payload from the bot.
fn answer(shared: &Shared, out: &mpsc::UnboundedSender<Message>, payload: &Value) {
    let mut inner = shared.inner.lock().unwrap();
    let d = &payload["d"];
    let known = d["token"]
        .as_str()
        .is_some_and(|t| inner.tokens.iter().any(|k| k == t));
    let close = |code: u16, reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    };
    let reply = match payload["op"].as_u64() {
        Some(1) if inner.acking => Message::text(json!({"op": 11}).to_string()),
        Some(2) if !known => close(4004, "Authentication failed."),
        Some(2) if d["intents"].as_u64().unwrap_or(0) & MESSAGE_INTENTS != MESSAGE_INTENTS => {
            close(4013, "Invalid intent(s).")
        }
        Some(2) => {
            let session = format!("fake-session-{}", inner.sessions.len() + 1);
            inner.sessions.push(session.clone());
            let ready = json!({
                "v": 10, "session_id": session, "resume_gateway_url": inner.gateway.clone(),
                "user": {"id": BOT_ID, "username": "fake-eternego", "discriminator": "0", "bot": true},
                "guilds": [], "application": {"id": BOT_ID, "flags": 0},
            });
            inner.live = Some(out.clone());
            inner.dispatch("READY", ready)
        }
        Some(6)
            if known
                && d["session_id"]
                    .as_str()
                    .is_some_and(|s| inner.sessions.iter().any(|k| k == s)) =>
        {
            inner.live = Some(out.clone());
            inner.dispatch("RESUMED", Value::Null)
        }
        Some(6) => Message::text(json!({"op": 9, "d": false}).to_string()),
        _ => return,
    };
    let _ = out.send(reply);
}

fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bot "));
    match token {
        Some(t) if shared.inner.lock().unwrap().tokens.iter().any(|k| k == t) => Ok(()),
        _ => Err(server::json(
            401,
            json!({"message": "401: Unauthorized", "code": 0}),
        )),
    }
}

async fn me(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return r;
    }
    server::json(
        200,
        json!({"id": BOT_ID, "username": "fake-eternego", "discriminator": "0",
               "global_name": null, "avatar": null, "bot": true, "flags": 0, "verified": true}),
    )
}

/// The CDN: an attached file's bytes. Like Discord's signed URLs it needs no token, and it
/// refuses any `Authorization` header so a client that leaks its token here fails its test.
async fn attachment(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((id, _name)): Path<(String, String)>,
) -> Response {
    if headers.contains_key("authorization") {
        return server::json(400, json!({"message": "no token belongs on the CDN"}));
    }
    match shared.inner.lock().unwrap().files.get(&id) {
        Some(bytes) => Response::builder()
            .status(200)
            .header("content-type", "application/octet-stream")
            .body(bytes.clone().into())
            .unwrap(),
        None => server::json(404, json!({"message": "404: Not Found"})),
    }
}

async fn send(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: bytes::Bytes,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return r;
    }
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let content = body
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if content.is_empty() {
        return server::json(
            400,
            json!({"message": "Cannot send an empty message", "code": 50006}),
        );
    }
    if content.chars().count() > 2000 {
        return server::json(
            400,
            json!({"message": "Invalid Form Body", "code": 50035,
                   "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}}}),
        );
    }
    let message_id = {
        let mut i = shared.inner.lock().unwrap();
        i.next_id += 1;
        i.sent.entry(id.clone()).or_default().push(content.clone());
        i.next_id.to_string()
    };
    shared.changed.notify_waiters();
    server::json(
        200,
        json!({"id": message_id, "channel_id": id, "content": content, "type": 0,
               "author": {"id": BOT_ID, "username": "fake-eternego", "bot": true},
               "timestamp": "2026-01-01T00:00:00.000000+00:00"}),
    )
}

async fn typing(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return r;
    }
    Response::builder()
        .status(204)
        .body(axum::body::Body::empty())
        .unwrap()
}

async fn gateway_bot(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return r;
    }
    let url = shared.inner.lock().unwrap().gateway.clone();
    server::json(
        200,
        json!({"url": url, "shards": 1,
               "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}}),
    )
}
