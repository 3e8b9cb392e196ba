//! Telegram Bot API: long-polling for what people send her, and sending her replies.
//!
//! Polling survives transient failures (network, 5xx, a competing poller) with capped
//! back-off, and stops for good only when the token is refused or the caller cancels.

use std::fmt;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::transport::{self, describe, refusal, scrub, split};
use crate::{ChannelError, PlatformUrls};

/// How long each `getUpdates` waits on Telegram's side for something to arrive.
pub const POLL_SECONDS: u64 = 30;
/// Telegram's limit for one message's text.
const MAX_TEXT: usize = 4096;
/// Ordinary calls (send, getFile) answer quickly; this bounds a hung one.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A message someone sent the bot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inbound {
    pub update_id: i64,
    pub chat_id: i64,
    /// `private`, `group`, `supergroup` or `channel`.
    pub chat_type: String,
    pub message_id: i64,
    /// The sender's username, or first name when they have none.
    pub sender: Option<String>,
    /// The text, or a photo's caption.
    pub text: String,
    /// The command name when the text starts with `/` (`/start@bot x` → `start`).
    pub command: Option<String>,
    /// The `file_id` of the largest size of an attached photo.
    pub photo: Option<String>,
    /// A voice note, or an audio file sent as music.
    pub voice: Option<TelegramFile>,
    /// A file sent as a document.
    pub document: Option<TelegramFile>,
    /// What was sent that none of her senses takes in (stickers, videos, ...), as she names it.
    pub unperceived: Option<&'static str>,
    /// The person edited an earlier message; the other fields are the message as it now reads.
    pub edited: bool,
}

/// Message fields she has no sense for, and how she names each when she says so. The first
/// present wins: a venue also carries its `location`, a GIF its `document`.
const UNPERCEIVED: [(&str, &str); 8] = [
    ("sticker", "stickers"),
    ("animation", "GIFs"),
    ("video", "videos"),
    ("video_note", "video messages"),
    ("venue", "places"),
    ("location", "locations"),
    ("contact", "contacts"),
    ("poll", "polls"),
];

/// A file someone sent, as Telegram describes it; [`Telegram::download`] fetches its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelegramFile {
    pub file_id: String,
    /// Documents and music files carry their name; voice notes do not.
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
    pub file_size: Option<u64>,
}

impl TelegramFile {
    fn of(value: Option<&Value>) -> Option<TelegramFile> {
        let v = value?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(TelegramFile {
            file_id: text("file_id")?,
            file_name: text("file_name"),
            mime_type: text("mime_type"),
            file_size: v.get("file_size").and_then(Value::as_u64),
        })
    }
}

/// One bot, talking to Telegram.
#[derive(Clone)]
pub struct Telegram {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl fmt::Debug for Telegram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telegram")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// A failed call: the status when Telegram answered, and a reason safe to show.
struct Failure {
    status: Option<u16>,
    reason: String,
}

impl From<Failure> for ChannelError {
    fn from(f: Failure) -> Self {
        ChannelError::Platform {
            platform: "Telegram",
            reason: f.reason,
        }
    }
}

impl Telegram {
    pub fn new(http: reqwest::Client, urls: &PlatformUrls, token: impl Into<String>) -> Self {
        Telegram {
            http,
            base: urls.telegram.trim_end_matches('/').to_string(),
            token: token.into(),
        }
    }

    async fn call(
        &self,
        method: &str,
        params: &Value,
        timeout: Duration,
    ) -> Result<Value, Failure> {
        let response = self
            .http
            .post(format!("{}/bot{}/{method}", self.base, self.token))
            .json(params)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| Failure {
                status: None,
                reason: format!("{method}: {}", scrub(&describe(&e), &self.token)),
            })?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| Failure {
            status: None,
            reason: format!("{method}: {}", scrub(&describe(&e), &self.token)),
        })?;
        let parsed: Option<Value> = serde_json::from_str(&body).ok();
        match parsed {
            Some(v) if status == 200 && v.get("ok").and_then(Value::as_bool) == Some(true) => {
                Ok(v.get("result").cloned().unwrap_or(Value::Null))
            }
            _ => Err(Failure {
                status: Some(status),
                reason: format!("{method}: {}", refusal(status, &body, &self.token)),
            }),
        }
    }

    /// Sends `text` to a chat, split into as many messages as Telegram's limit needs.
    pub async fn send(&self, chat_id: i64, text: &str) -> Result<(), ChannelError> {
        for piece in split(text, MAX_TEXT) {
            self.call(
                "sendMessage",
                &json!({"chat_id": chat_id, "text": piece}),
                CALL_TIMEOUT,
            )
            .await?;
        }
        Ok(())
    }

    /// Shows "typing…" in a chat while she thinks.
    pub async fn typing(&self, chat_id: i64) -> Result<(), ChannelError> {
        self.call(
            "sendChatAction",
            &json!({"chat_id": chat_id, "action": "typing"}),
            CALL_TIMEOUT,
        )
        .await?;
        Ok(())
    }

    /// The bytes of a file someone sent (`getFile`, then the file download path), refusing one
    /// over `limit` bytes before or while it arrives. Telegram's own Bot API serves at most
    /// 20 MB, but a self-hosted Bot API server lifts that to 2 GB.
    pub async fn download(&self, file_id: &str, limit: u64) -> Result<Vec<u8>, ChannelError> {
        let file = self
            .call("getFile", &json!({"file_id": file_id}), CALL_TIMEOUT)
            .await?;
        let path = file
            .get("file_path")
            .and_then(Value::as_str)
            .ok_or_else(|| ChannelError::Platform {
                platform: "Telegram",
                reason: "getFile: no file_path".into(),
            })?;
        let failed = |reason: String| ChannelError::Platform {
            platform: "Telegram",
            reason: format!("download: {reason}"),
        };
        if file
            .get("file_size")
            .and_then(Value::as_u64)
            .is_some_and(|n| n > limit)
        {
            return Err(failed(format!("larger than {limit} bytes")));
        }
        let request = self
            .http
            .get(format!("{}/file/bot{}/{path}", self.base, self.token))
            .timeout(CALL_TIMEOUT);
        transport::download(request, limit, &self.token, failed).await
    }

    /// One long-poll: the messages and edits after `offset`, and the offset that confirms them.
    /// Anything else Telegram sends is skipped but still confirmed.
    pub async fn updates(
        &self,
        offset: Option<i64>,
        wait_seconds: u64,
    ) -> Result<(Vec<Inbound>, Option<i64>), ChannelError> {
        self.poll_once(offset, wait_seconds)
            .await
            .map_err(ChannelError::from)
    }

    async fn poll_once(
        &self,
        offset: Option<i64>,
        wait_seconds: u64,
    ) -> Result<(Vec<Inbound>, Option<i64>), Failure> {
        let mut params =
            json!({"timeout": wait_seconds, "allowed_updates": ["message", "edited_message"]});
        if let Some(o) = offset {
            params["offset"] = json!(o);
        }
        let result = self
            .call(
                "getUpdates",
                &params,
                Duration::from_secs(wait_seconds) + CALL_TIMEOUT,
            )
            .await?;
        let updates = result.as_array().cloned().unwrap_or_default();
        let next = updates
            .iter()
            .filter_map(|u| u.get("update_id").and_then(Value::as_i64))
            .max()
            .map(|id| id + 1);
        Ok((updates.iter().filter_map(inbound).collect(), next))
    }

    /// Polls until `cancel` fires or `inbound` is closed, handing each message on. Returns an
    /// error only when Telegram refuses the token, which no retry can fix.
    pub async fn poll(
        &self,
        inbound: mpsc::Sender<Inbound>,
        cancel: CancellationToken,
    ) -> Result<(), ChannelError> {
        let mut offset = None;
        let mut backoff = Backoff::new();
        loop {
            let batch = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                batch = self.poll_once(offset, POLL_SECONDS) => batch,
            };
            match batch {
                Ok((messages, next)) => {
                    backoff.reset();
                    offset = next.or(offset);
                    for message in messages {
                        if inbound.send(message).await.is_err() {
                            return Ok(());
                        }
                    }
                }
                Err(Failure {
                    status: Some(401 | 404),
                    reason,
                }) => {
                    tracing::warn!(%reason, "Telegram refused the bot token; polling stopped");
                    return Err(ChannelError::Platform {
                        platform: "Telegram",
                        reason,
                    });
                }
                Err(failure) => {
                    let wait = backoff.next_wait();
                    tracing::warn!(reason = %failure.reason, retry_in_s = wait.as_secs(), "Telegram polling failed");
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }
}

fn inbound(update: &Value) -> Option<Inbound> {
    let (message, edited) = match update.get("message") {
        Some(message) => (message, false),
        None => (update.get("edited_message")?, true),
    };
    let text = message
        .get("text")
        .or_else(|| message.get("caption"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let command = text
        .strip_prefix('/')
        .and_then(|rest| rest.split_whitespace().next())
        .map(|c| c.split('@').next().unwrap_or(c).to_string())
        .filter(|c| !c.is_empty());
    let photo = message
        .get("photo")
        .and_then(Value::as_array)
        .and_then(|sizes| {
            sizes
                .iter()
                .max_by_key(|s| s.get("file_size").and_then(Value::as_i64).unwrap_or(0))
        })
        .and_then(|s| s.get("file_id").and_then(Value::as_str))
        .map(str::to_string);
    let from = message.get("from");
    let unperceived = UNPERCEIVED
        .iter()
        .find(|(field, _)| message.get(field).is_some())
        .map(|(_, what)| *what);
    // A GIF also arrives as a `document`, for clients that predate animations; it is the GIF.
    let document = if message.get("animation").is_some() {
        None
    } else {
        TelegramFile::of(message.get("document"))
    };
    Some(Inbound {
        update_id: update.get("update_id")?.as_i64()?,
        chat_id: message.pointer("/chat/id")?.as_i64()?,
        chat_type: message
            .pointer("/chat/type")
            .and_then(Value::as_str)
            .unwrap_or("private")
            .to_string(),
        message_id: message
            .get("message_id")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        sender: from
            .and_then(|f| f.get("username").or_else(|| f.get("first_name")))
            .and_then(Value::as_str)
            .map(str::to_string),
        text,
        command,
        photo,
        voice: TelegramFile::of(message.get("voice").or_else(|| message.get("audio"))),
        document,
        unperceived,
        edited,
    })
}
