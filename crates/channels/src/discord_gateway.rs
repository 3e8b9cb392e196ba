//! Discord Gateway (API v10, JSON): how a Discord bot hears what people write to it.
//!
//! Discord only pushes messages down a websocket the bot keeps alive, so listening is a small
//! state machine: say hello, prove the token (Identify) or pick up the old session (Resume),
//! heartbeat on Discord's schedule, and come back when Discord or the network drops us.
//! Resuming after a drop makes Discord replay what was missed, so a hiccup loses nothing.
//!
//! The token travels only inside Identify and Resume payloads and the REST `Authorization`
//! header; every reason shown is scrubbed of it.

use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use crate::ChannelError;
use crate::backoff::Backoff;
use crate::discord::Discord;
use crate::transport::{describe, refusal, scrub};
use crate::validate::DISCORD_USER_AGENT;

/// GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT. Without the last (a privileged intent,
/// switched on in the developer portal) guild messages arrive with empty content.
pub const INTENTS: u64 = (1 << 9) | (1 << 12) | (1 << 15);
/// How long connecting, the REST lookup and waiting for Hello may take before we retry.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A message someone wrote where the bot can read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inbound {
    pub message_id: String,
    /// The Discord channel it was written in (a DM is a channel too); replies go there.
    pub channel_id: String,
    /// The author's display name, or username when they have none.
    pub sender: Option<String>,
    pub text: String,
    /// A direct message rather than a server channel.
    pub private: bool,
    /// Files sent with it, in order.
    pub attachments: Vec<Attachment>,
    /// Names of the stickers sent with it; none of her senses takes one in.
    pub stickers: Vec<String>,
    /// Its author changed its words; the other fields are the message as it now reads.
    pub edited: bool,
}

/// A file attached to a message, as Discord describes it; [`Discord::fetch`] downloads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: Option<String>,
    /// Bytes, as Discord states it.
    pub size: u64,
    /// A signed CDN address: it needs no token, so none is ever sent to it.
    pub url: String,
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What Discord gave us to come back to.
struct Session {
    id: String,
    resume_url: String,
}

/// What outlives one connection.
#[derive(Default)]
struct Link {
    session: Option<Session>,
    /// The last dispatch's sequence number: heartbeats and Resume carry it.
    seq: Option<u64>,
    /// Her own user id, so her own messages are not heard as someone else's.
    me: Option<String>,
    /// The wait after failed connections in a row; a READY or RESUMED resets it.
    backoff: Backoff,
    heard: Heard,
}

/// The words last heard in recent messages. Discord also sends MESSAGE_UPDATE when a link
/// preview loads or a message is pinned, even after an edit; only a change of the words is an
/// edit worth hearing.
#[derive(Default)]
struct Heard {
    /// Message id and a hash of its words, oldest first; a hash keeps this a few KB.
    recent: VecDeque<(String, u64)>,
    hasher: RandomState,
}

impl Heard {
    const KEPT: usize = 64;

    /// Notes `text` as what message `id` now says; false when that is what was last heard.
    fn changed(&mut self, id: &str, text: &str) -> bool {
        let hash = self.hasher.hash_one(text);
        let before = self
            .recent
            .iter()
            .position(|(m, _)| m == id)
            .and_then(|i| self.recent.remove(i));
        if self.recent.len() == Self::KEPT {
            self.recent.pop_front();
        }
        self.recent.push_back((id.to_string(), hash));
        before.is_none_or(|(_, was)| was != hash)
    }
}

impl Link {
    fn forget_session(&mut self) {
        self.session = None;
        self.seq = None;
    }
}

/// How one connection ended, and so what comes next.
enum Ended {
    /// `cancel` fired, or nobody takes messages any more.
    Stopped,
    /// Discord asked us to come back (op 7, or a resumable op 9): at once.
    Reconnect,
    /// Discord dropped the session (op 9): identify again after the pause Discord asks for.
    Invalidated,
    /// The network or Discord failed: back off, then resume when `resume` and a session exist.
    Failed { reason: String, resume: bool },
    /// The token or the intents were refused: no retry can fix it.
    Refused(String),
}

impl Discord {
    /// Listens until `cancel` fires or `inbound` is closed, handing each message from someone
    /// else on. Returns an error only when Discord refuses the token or the intents.
    pub async fn listen(
        &self,
        inbound: mpsc::Sender<Inbound>,
        cancel: CancellationToken,
    ) -> Result<(), ChannelError> {
        let mut link = Link::default();
        loop {
            let pause = match self.connect(&mut link, &inbound, &cancel).await {
                Ended::Stopped => return Ok(()),
                Ended::Refused(reason) => {
                    tracing::warn!(%reason, "Discord refused the bot; listening stopped");
                    return Err(ChannelError::Platform {
                        platform: "Discord",
                        reason,
                    });
                }
                Ended::Reconnect => Duration::ZERO,
                Ended::Invalidated => {
                    link.forget_session();
                    Duration::from_millis(1000 + random(4000))
                }
                Ended::Failed { reason, resume } => {
                    if !resume {
                        link.forget_session();
                    }
                    let wait = link.backoff.next_wait();
                    tracing::warn!(%reason, retry_in_s = wait.as_secs(), "Discord gateway connection failed");
                    wait
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// The websocket URL to identify at, from `GET /gateway/bot`.
    async fn gateway_url(&self) -> Result<String, Ended> {
        let failed = |reason: String| Ended::Failed {
            reason: format!("gateway/bot: {reason}"),
            resume: false,
        };
        let response = self
            .http
            .get(format!("{}/gateway/bot", self.base))
            .header("authorization", format!("Bot {}", self.token))
            .header("user-agent", DISCORD_USER_AGENT)
            .timeout(CONNECT_TIMEOUT)
            .send()
            .await
            .map_err(|e| failed(scrub(&describe(&e), &self.token)))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| failed(scrub(&describe(&e), &self.token)))?;
        if status == 401 {
            return Err(Ended::Refused(format!(
                "gateway/bot: {}",
                refusal(status, &body, &self.token)
            )));
        }
        if status != 200 {
            return Err(failed(refusal(status, &body, &self.token)));
        }
        serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("url").and_then(Value::as_str).map(str::to_string))
            .ok_or_else(|| failed("no url in the answer".into()))
    }

    async fn connect(
        &self,
        link: &mut Link,
        inbound: &mpsc::Sender<Inbound>,
        cancel: &CancellationToken,
    ) -> Ended {
        let url = match &link.session {
            Some(session) => session.resume_url.clone(),
            None => {
                let url = tokio::select! {
                    _ = cancel.cancelled() => return Ended::Stopped,
                    url = self.gateway_url() => url,
                };
                match url {
                    Ok(url) => url,
                    Err(ended) => return ended,
                }
            }
        };
        let address = format!("{}/?v=10&encoding=json", url.trim_end_matches('/'));
        let connected = tokio::select! {
            _ = cancel.cancelled() => return Ended::Stopped,
            c = tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(address)) => c,
        };
        let socket = match connected {
            Ok(Ok((socket, _))) => socket,
            Ok(Err(e)) => {
                return Ended::Failed {
                    reason: format!("connect: {}", scrub(&e.to_string(), &self.token)),
                    resume: true,
                };
            }
            Err(_) => {
                return Ended::Failed {
                    reason: "connect: timed out".into(),
                    resume: true,
                };
            }
        };
        self.converse(socket, link, inbound, cancel).await
    }

    /// One connection, from Hello until it ends.
    async fn converse(
        &self,
        socket: Socket,
        link: &mut Link,
        inbound: &mpsc::Sender<Inbound>,
        cancel: &CancellationToken,
    ) -> Ended {
        let (mut sink, mut stream) = socket.split();
        let hello = tokio::select! {
            _ = cancel.cancelled() => return Ended::Stopped,
            h = tokio::time::timeout(CONNECT_TIMEOUT, stream.next()) => h,
        };
        let interval = match hello {
            Ok(Some(Ok(Message::Text(text)))) => serde_json::from_str::<Value>(&text)
                .ok()
                .filter(|p| p["op"] == 10)
                .and_then(|p| p.pointer("/d/heartbeat_interval").and_then(Value::as_u64)),
            _ => None,
        };
        let Some(interval) = interval.filter(|ms| *ms > 0) else {
            return Ended::Failed {
                reason: "no Hello from the gateway".into(),
                resume: true,
            };
        };

        let every = Duration::from_millis(interval);
        // Discord asks for the first beat at a random point in the first interval, so that
        // many clients reconnecting at once do not beat in step.
        let mut beat = tokio::time::interval_at(
            Instant::now() + every.mul_f64(random(1000) as f64 / 1000.0),
            every,
        );
        beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut acked = true;

        let greeting = match &link.session {
            Some(session) => {
                json!({"op": 6, "d": {"token": self.token, "session_id": session.id, "seq": link.seq}})
            }
            None => {
                link.seq = None;
                json!({"op": 2, "d": {
                "token": self.token,
                "intents": INTENTS,
                "properties": {"os": std::env::consts::OS, "browser": "eternego", "device": "eternego"},
                }})
            }
        };
        if let Err(ended) = self.write(&mut sink, &greeting).await {
            return ended;
        }

        loop {
            let frame = tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    let bye = Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() }));
                    let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(bye)).await;
                    return Ended::Stopped;
                }
                _ = beat.tick() => {
                    // No ACK since the last beat: the connection is a zombie. Resuming on a
                    // fresh one is how Discord asks clients to recover.
                    if !acked {
                        return Ended::Failed { reason: "no heartbeat ACK".into(), resume: true };
                    }
                    acked = false;
                    if let Err(ended) = self.write(&mut sink, &json!({"op": 1, "d": link.seq})).await {
                        return ended;
                    }
                    continue;
                }
                frame = stream.next() => frame,
            };
            let text = match frame {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(frame))) => return self.closed(frame),
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    return Ended::Failed {
                        reason: scrub(&e.to_string(), &self.token),
                        resume: true,
                    };
                }
                None => {
                    return Ended::Failed {
                        reason: "the gateway closed the connection".into(),
                        resume: true,
                    };
                }
            };
            let Ok(payload) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            match payload["op"].as_u64() {
                Some(0) => {
                    if let Some(s) = payload["s"].as_u64() {
                        link.seq = Some(s);
                    }
                    let d = &payload["d"];
                    match payload["t"].as_str() {
                        Some("READY") => {
                            link.me = d
                                .pointer("/user/id")
                                .and_then(Value::as_str)
                                .map(str::to_string);
                            link.session = match (
                                d["session_id"].as_str(),
                                d["resume_gateway_url"].as_str(),
                            ) {
                                (Some(id), Some(url)) => Some(Session {
                                    id: id.into(),
                                    resume_url: url.into(),
                                }),
                                _ => None,
                            };
                            link.backoff.reset();
                        }
                        Some("RESUMED") => link.backoff.reset(),
                        Some(event @ ("MESSAGE_CREATE" | "MESSAGE_UPDATE")) => {
                            let Some(mut message) = message(d, link.me.as_deref()) else {
                                continue;
                            };
                            let changed = link.heard.changed(&message.message_id, &message.text);
                            if event == "MESSAGE_UPDATE" {
                                // A message never edited by its author has no edit time.
                                if !changed || d["edited_timestamp"].is_null() {
                                    continue;
                                }
                                message.edited = true;
                            }
                            tokio::select! {
                                _ = cancel.cancelled() => return Ended::Stopped,
                                sent = inbound.send(message) => if sent.is_err() { return Ended::Stopped },
                            }
                        }
                        _ => {}
                    }
                }
                Some(1) => {
                    if let Err(ended) = self
                        .write(&mut sink, &json!({"op": 1, "d": link.seq}))
                        .await
                    {
                        return ended;
                    }
                }
                Some(7) => return Ended::Reconnect,
                Some(9) if payload["d"] == true && link.session.is_some() => {
                    return Ended::Reconnect;
                }
                Some(9) => return Ended::Invalidated,
                Some(11) => acked = true,
                _ => {}
            }
        }
    }

    async fn write(
        &self,
        sink: &mut SplitSink<Socket, Message>,
        payload: &Value,
    ) -> Result<(), Ended> {
        sink.send(Message::text(payload.to_string()))
            .await
            .map_err(|e| Ended::Failed {
                reason: scrub(&e.to_string(), &self.token),
                resume: true,
            })
    }

    /// What Discord's close code says about coming back.
    fn closed(&self, frame: Option<CloseFrame>) -> Ended {
        let (code, said) = frame.map_or((0, String::new()), |f| {
            (u16::from(f.code), scrub(&f.reason, &self.token))
        });
        let reason = format!("closed with {code}: {said}");
        match code {
            // Authentication failed, invalid shard, sharding required, invalid API version,
            // invalid intents, disallowed intents.
            4004 | 4010..=4014 => Ended::Refused(reason),
            // Invalid sequence, session timed out: the session is gone.
            4007 | 4009 => Ended::Failed {
                reason,
                resume: false,
            },
            _ => Ended::Failed {
                reason,
                resume: true,
            },
        }
    }
}

/// A MESSAGE_CREATE or MESSAGE_UPDATE as an [`Inbound`], or `None` for a message from a bot, a
/// webhook or herself (or an update too partial to say who wrote it).
fn message(d: &Value, me: Option<&str>) -> Option<Inbound> {
    let author = d.get("author")?;
    let author_id = author.get("id").and_then(Value::as_str);
    let from_herself = me.is_some() && author_id == me;
    if author["bot"] == true || d.get("webhook_id").is_some_and(|w| !w.is_null()) || from_herself {
        return None;
    }
    Some(Inbound {
        message_id: d.get("id")?.as_str()?.to_string(),
        channel_id: d.get("channel_id")?.as_str()?.to_string(),
        sender: author
            .get("global_name")
            .and_then(Value::as_str)
            .or_else(|| author.get("username").and_then(Value::as_str))
            .map(str::to_string),
        text: d
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        private: d.get("guild_id").is_none_or(Value::is_null),
        attachments: d
            .get("attachments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| {
                Some(Attachment {
                    filename: a.get("filename")?.as_str()?.to_string(),
                    content_type: a
                        .get("content_type")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    size: a.get("size").and_then(Value::as_u64).unwrap_or(0),
                    url: a.get("url")?.as_str()?.to_string(),
                })
            })
            .collect(),
        stickers: d
            .get("sticker_items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("name").and_then(Value::as_str).map(str::to_string))
            .collect(),
        edited: false,
    })
}

/// A number below `below`, different from run to run; jitter needs no stronger randomness.
fn random(below: u64) -> u64 {
    RandomState::new().hash_one(std::time::SystemTime::now()) % below.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_from_bots_webhooks_and_herself_are_not_heard() {
        let person = json!({"id": "1", "channel_id": "9", "content": "hi", "author": {"id": "5", "username": "ann"},
                            "attachments": [{"id": "4", "filename": "cat.png", "content_type": "image/png", "size": 3, "url": "https://cdn/x/cat.png"}]});
        let heard = message(&person, Some("7")).unwrap();
        assert_eq!(
            (
                heard.channel_id.as_str(),
                heard.text.as_str(),
                heard.private
            ),
            ("9", "hi", true)
        );
        let cat = Attachment {
            filename: "cat.png".into(),
            content_type: Some("image/png".into()),
            size: 3,
            url: "https://cdn/x/cat.png".into(),
        };
        assert_eq!(heard.attachments, [cat]);
        assert_eq!(heard.sender.as_deref(), Some("ann"));
        let mut guild = person.clone();
        guild["guild_id"] = json!("3");
        assert!(!message(&guild, Some("7")).unwrap().private);
        let mut own = person.clone();
        own["author"]["id"] = json!("7");
        assert_eq!(message(&own, Some("7")), None);
        let mut bot = person.clone();
        bot["author"]["bot"] = json!(true);
        assert_eq!(message(&bot, Some("7")), None);
        let mut hook = person;
        hook["webhook_id"] = json!("8");
        assert_eq!(message(&hook, None), None);
    }
}
