//! Her chat gateways: how she is reached on Telegram and Discord while she runs.
//!
//! One gateway per platform, for the first channel of that kind in her record (pairing binds
//! the first channel of a kind, so a second bot of the same kind could never be paired).
//! Telegram is long-polled; Discord is heard over its Gateway websocket and answered over REST.
//!
//! Both platforms are routed alike: a gateway that is not yet paired answers every private chat
//! (a Telegram private chat, a Discord DM) with a pairing code and lets nothing from it reach her
//! mind. Once paired, only that chat reaches her; others are ignored. What she says goes out
//! through a queue per gateway, so her lines arrive in the order she said them and her cycle
//! never waits on a platform.

use std::sync::{Arc, Mutex};

use channels::PlatformUrls;
use channels::discord::Discord;
use channels::discord_gateway;
use channels::telegram::{self, Telegram};
use persona::{ChannelKind, Persona};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::inlet::Inlet;
use crate::memory::Via;
use crate::{pairing, perceive};

/// The largest file she takes from a chat (Discord's own limit for most accounts is lower, and
/// Telegram's Bot API serves at most 20 MB unless it is self-hosted).
const FILE_LIMIT: u64 = 50 << 20;

/// Messages read from a platform but not yet handled; the listener waits when this many queue up.
const INBOX: usize = 32;

#[derive(Clone)]
enum Client {
    Telegram(Telegram),
    Discord(Discord),
}

enum Out {
    Text { chat: String, text: String },
    Typing { chat: String },
}

struct Gateway {
    kind: ChannelKind,
    client: Client,
    /// The chat she is paired with, once verified. Shared with pairing so a code redeemed in
    /// her panel routes the next message at once.
    paired: Mutex<Option<String>>,
    outbox: mpsc::UnboundedSender<Out>,
}

impl Gateway {
    fn paired(&self) -> Option<String> {
        self.paired
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The channel she perceives `chat` on.
    fn via(&self, chat: &str) -> Via {
        Via {
            kind: self.kind.as_str().into(),
            name: chat.to_string(),
        }
    }

    fn send(&self, chat: &str, text: &str) {
        let _ = self.outbox.send(Out::Text {
            chat: chat.to_string(),
            text: text.to_string(),
        });
    }
}

/// Her open gateways.
pub struct Gateways {
    list: Vec<Arc<Gateway>>,
}

impl Gateways {
    /// Opens a gateway for the first Telegram and the first Discord channel with a token, and
    /// starts the task that sends each one's queue. Sending stops when `stop` fires.
    pub(crate) fn open(
        persona: &Persona,
        http: &reqwest::Client,
        urls: &PlatformUrls,
        stop: &CancellationToken,
    ) -> (Gateways, Vec<JoinHandle<()>>) {
        let mut list = Vec::new();
        let mut tasks = Vec::new();
        for kind in [ChannelKind::Telegram, ChannelKind::Discord] {
            let Some(channel) = persona.channels.iter().find(|c| c.kind == kind) else {
                continue;
            };
            let Some(token) = channel
                .credentials
                .as_ref()
                .map(|c| c.token.clone())
                .filter(|t| !t.is_empty())
            else {
                continue;
            };
            let client = match kind {
                ChannelKind::Telegram => Client::Telegram(Telegram::new(http.clone(), urls, token)),
                _ => Client::Discord(Discord::new(http.clone(), urls, token)),
            };
            let paired = channel
                .verified_at
                .as_ref()
                .filter(|_| !channel.name.is_empty())
                .map(|_| channel.name.clone());
            let (outbox, queue) = mpsc::unbounded_channel();
            tasks.push(tokio::spawn(deliver(
                client.clone(),
                queue,
                stop.clone(),
                persona.id,
            )));
            list.push(Arc::new(Gateway {
                kind,
                client,
                paired: Mutex::new(paired),
                outbox,
            }));
        }
        (Gateways { list }, tasks)
    }

    /// Starts listening on every gateway, handing what arrives to `inlet`. Listening stops
    /// when `stop` fires.
    pub(crate) fn listen(&self, inlet: &Inlet, stop: &CancellationToken) -> Vec<JoinHandle<()>> {
        let mut tasks = Vec::new();
        let id = inlet.life.persona.id;
        for gateway in &self.list {
            match &gateway.client {
                Client::Telegram(bot) => {
                    let (tx, rx) = mpsc::channel(INBOX);
                    let (poller, cancel) = (bot.clone(), stop.clone());
                    tasks.push(tokio::spawn(async move {
                        if let Err(e) = poller.poll(tx, cancel).await {
                            tracing::warn!(persona = %id, error = %e, "Telegram gateway closed");
                        }
                    }));
                    let (gateway, bot, inlet) = (gateway.clone(), bot.clone(), inlet.clone());
                    tasks.push(tokio::spawn(receive(rx, stop.clone(), move |m| {
                        let (gateway, bot, inlet) = (gateway.clone(), bot.clone(), inlet.clone());
                        async move { handle_telegram(&gateway, &bot, &inlet, m).await }
                    })));
                }
                Client::Discord(bot) => {
                    let (tx, rx) = mpsc::channel(INBOX);
                    let (listener, cancel) = (bot.clone(), stop.clone());
                    tasks.push(tokio::spawn(async move {
                        if let Err(e) = listener.listen(tx, cancel).await {
                            tracing::warn!(persona = %id, error = %e, "Discord gateway closed");
                        }
                    }));
                    let (gateway, bot, inlet) = (gateway.clone(), bot.clone(), inlet.clone());
                    tasks.push(tokio::spawn(receive(rx, stop.clone(), move |m| {
                        let (gateway, bot, inlet) = (gateway.clone(), bot.clone(), inlet.clone());
                        async move { handle_discord(&gateway, &bot, &inlet, m).await }
                    })));
                }
            }
        }
        tasks
    }

    /// Routes the pairing just made: `chat` is now the one chat of her `kind` gateway.
    pub(crate) fn bind(&self, kind: ChannelKind, chat: &str) {
        if let Some(g) = self.list.iter().find(|g| g.kind == kind) {
            *g.paired.lock().unwrap_or_else(|e| e.into_inner()) = Some(chat.to_string());
        }
    }

    /// A reply goes back where the message came from; a web reply needs nothing from here.
    pub(crate) fn reply(&self, via: &Via, text: &str) {
        if let Some(g) = self.paired_to(via) {
            g.send(&via.name, text);
        }
    }

    /// Shows she is thinking in the chat a message came from.
    pub(crate) fn typing(&self, via: &Via) {
        if let Some(g) = self.paired_to(via) {
            let _ = g.outbox.send(Out::Typing {
                chat: via.name.clone(),
            });
        }
    }

    /// A notice goes to every paired chat (the web sees every line anyway).
    pub(crate) fn notify(&self, text: &str) {
        for g in &self.list {
            if let Some(chat) = g.paired() {
                g.send(&chat, text);
            }
        }
    }

    fn paired_to(&self, via: &Via) -> Option<&Arc<Gateway>> {
        self.list.iter().find(|g| {
            g.kind.as_str() == via.kind && g.paired().as_deref() == Some(via.name.as_str())
        })
    }
}

/// Sends a gateway's queue in order. A failed send is logged (without the token, which the
/// channels crate never shows) and the next line is still tried.
async fn deliver(
    client: Client,
    mut queue: mpsc::UnboundedReceiver<Out>,
    stop: CancellationToken,
    id: uuid::Uuid,
) {
    loop {
        let out = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            out = queue.recv() => match out { Some(o) => o, None => return },
        };
        let sent = tokio::select! {
            _ = stop.cancelled() => return,
            sent = send(&client, out) => sent,
        };
        if let Err(e) = sent {
            tracing::warn!(persona = %id, error = %e, "could not send on her channel");
        }
    }
}

async fn send(client: &Client, out: Out) -> Result<(), channels::ChannelError> {
    match (client, out) {
        (Client::Telegram(bot), Out::Text { chat, text }) => {
            bot.send(telegram_chat(&chat)?, &text).await
        }
        (Client::Telegram(bot), Out::Typing { chat }) => bot.typing(telegram_chat(&chat)?).await,
        (Client::Discord(bot), Out::Text { chat, text }) => bot.send(&chat, &text).await,
        (Client::Discord(bot), Out::Typing { chat }) => bot.typing(&chat).await,
    }
}

fn telegram_chat(chat: &str) -> Result<i64, channels::ChannelError> {
    chat.parse().map_err(|_| channels::ChannelError::Platform {
        platform: "Telegram",
        reason: format!("{chat} is not a chat id"),
    })
}

/// Handles what a listener hands on, one message at a time, until it ends or she stops.
async fn receive<M, F, Fut>(mut inbox: mpsc::Receiver<M>, stop: CancellationToken, mut handle: F)
where
    F: FnMut(M) -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        let message = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            m = inbox.recv() => match m { Some(m) => m, None => return },
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            () = handle(message) => {}
        }
    }
}

/// Who may reach her through this gateway: an unpaired gateway answers a private chat with a
/// pairing code, a paired one lets only its chat through. The channel she perceives it on, or
/// `None` when the message stops here.
fn admit(gateway: &Gateway, inlet: &Inlet, chat: &str, private: bool) -> Option<Via> {
    let id = inlet.life.persona.id;
    let platform = gateway.kind.as_str();
    match gateway.paired() {
        None if private => {
            let code = inlet.life.issue_pairing(gateway.kind, chat);
            gateway.send(chat, &pairing::message(&inlet.life.persona.name, &code));
            None
        }
        None => {
            tracing::debug!(persona = %id, platform, "ignoring a group message on an unpaired channel");
            None
        }
        Some(paired) if paired != chat => {
            tracing::debug!(persona = %id, platform, "ignoring a chat she is not paired with");
            None
        }
        Some(_) => Some(gateway.via(chat)),
    }
}

/// How an edited message begins when she reads it.
const EDITED: &str = "(edited) ";

/// An edit reaches her as the message's new words, marked so she knows they replace what was
/// said before; any file it carries was taken in when it was first sent. Only the paired chat's
/// edits reach her, and an edit is no reason to send a chat another pairing code.
async fn edited(gateway: &Gateway, inlet: &Inlet, chat: &str, text: &str) {
    let text = text.trim();
    if text.is_empty() || gateway.paired().as_deref() != Some(chat) {
        return;
    }
    let via = gateway.via(chat);
    match inlet.text(&format!("{EDITED}{text}"), via.clone()).await {
        Ok(()) => inlet.life.outbox.gateways.typing(&via),
        Err(e) => {
            tracing::warn!(persona = %inlet.life.persona.id, error = %e, "an edited message did not reach her")
        }
    }
}

async fn handle_telegram(
    gateway: &Gateway,
    bot: &Telegram,
    inlet: &Inlet,
    message: telegram::Inbound,
) {
    let id = inlet.life.persona.id;
    let chat = message.chat_id.to_string();
    if message.edited {
        return edited(gateway, inlet, &chat, &message.text).await;
    }
    let Some(via) = admit(gateway, inlet, &chat, message.chat_type == "private") else {
        return;
    };
    if let Some(voice) = &message.voice {
        return hear_telegram(gateway, bot, inlet, voice, &chat, via).await;
    }
    if let Some(document) = &message.document {
        let delivered = match telegram_document(bot, inlet, document).await {
            Ok(path) => {
                inlet
                    .file(path.display().to_string(), message.text.trim(), via.clone())
                    .await
            }
            Err(why) => {
                gateway.send(&chat, &why);
                return;
            }
        };
        match delivered {
            Ok(()) => inlet.life.outbox.gateways.typing(&via),
            Err(e) => {
                tracing::warn!(persona = %id, error = %e, "a Telegram document did not reach her")
            }
        }
        return;
    }
    if let Some(what) = message.unperceived {
        gateway.send(&chat, &cannot_perceive(what));
    }
    let perceived = match (&message.photo, message.command.as_deref()) {
        (Some(file_id), _) => match photo(bot, inlet, file_id).await {
            Ok(path) => {
                inlet
                    .file(path.display().to_string(), message.text.trim(), via.clone())
                    .await
            }
            Err(reason) => {
                tracing::warn!(persona = %id, error = %reason, "could not download a Telegram photo");
                gateway.send(
                    &chat,
                    "I could not open that photo. Could you send it again?",
                );
                return;
            }
        },
        (None, Some("start")) => {
            gateway.send(
                &chat,
                &format!(
                    "This chat is already paired with {}.",
                    inlet.life.persona.name
                ),
            );
            return;
        }
        (None, _) if message.text.trim().is_empty() => return,
        (None, _) => inlet.text(&message.text, via.clone()).await,
    };
    match perceived {
        Ok(()) => inlet.life.outbox.gateways.typing(&via),
        Err(e) => tracing::warn!(persona = %id, error = %e, "a Telegram message did not reach her"),
    }
}

/// What she says in the chat when something was sent that none of her senses takes in; the
/// text that came with it still reaches her.
fn cannot_perceive(what: &str) -> String {
    format!("I can't take in {what}: none of my senses can perceive them.")
}

/// A Discord message reaches her as its files (the text as the first one's caption), or as
/// text when nothing is attached. A file she cannot take in is explained in the chat, and the
/// text still reaches her. Every file is fetched and every refusal said before any file reaches
/// her, so the explanations come before her answer, never interleaved with it.
async fn handle_discord(
    gateway: &Gateway,
    bot: &Discord,
    inlet: &Inlet,
    message: discord_gateway::Inbound,
) {
    if message.edited {
        return edited(gateway, inlet, &message.channel_id, &message.text).await;
    }
    let Some(via) = admit(gateway, inlet, &message.channel_id, message.private) else {
        return;
    };
    if !message.stickers.is_empty() {
        gateway.send(&message.channel_id, &cannot_perceive("stickers"));
    }
    let mut kept = Vec::with_capacity(message.attachments.len());
    for file in &message.attachments {
        match discord_file(bot, inlet, file).await {
            Ok(path) => kept.push(path),
            Err(why) => gateway.send(&message.channel_id, &why),
        }
    }
    let mut caption = message.text.trim();
    let mut reached = false;
    for path in kept {
        match inlet
            .file(path.display().to_string(), caption, via.clone())
            .await
        {
            Ok(()) => (caption, reached) = ("", true),
            Err(e) => {
                tracing::warn!(persona = %inlet.life.persona.id, error = %e, "a Discord file did not reach her")
            }
        }
    }
    if !caption.is_empty() {
        match inlet.text(caption, via.clone()).await {
            Ok(()) => reached = true,
            Err(e) => {
                tracing::warn!(persona = %inlet.life.persona.id, error = %e, "a Discord message did not reach her")
            }
        }
    }
    if reached {
        inlet.life.outbox.gateways.typing(&via);
    }
}

/// Downloads a file sent on Discord into her media folder, or says in a sentence for the chat
/// why she cannot take it in (the same rules as `attach`, and a size bound).
async fn discord_file(
    bot: &Discord,
    inlet: &Inlet,
    file: &discord_gateway::Attachment,
) -> Result<std::path::PathBuf, String> {
    let name = &file.filename;
    let kind = kind_of(name, file.content_type.as_deref())?;
    let bytes = bot.fetch(file, FILE_LIMIT).await.map_err(|e| {
        tracing::warn!(persona = %inlet.life.persona.id, error = %e, "could not download a Discord attachment");
        if file.size > FILE_LIMIT {
            format!("{name} is too large for me (the limit is {} MB).", FILE_LIMIT >> 20)
        } else {
            format!("I could not download {name}. Could you send it again?")
        }
    })?;
    keep_sent(inlet, "discord", name, kind, &bytes)
}

/// What kind of file a chat sent by its name and type, or why none of her senses can take it.
fn kind_of(name: &str, mime: Option<&str>) -> Result<perceive::Kind, String> {
    perceive::classify(name, mime.unwrap_or("")).ok_or_else(|| {
        format!("I can't take in {name}: none of my senses can perceive that kind of file.")
    })
}

/// Keeps a file a chat sent in her media folder by `attach`'s rules, or says in a sentence for
/// the chat why she cannot take it in.
fn keep_sent(
    inlet: &Inlet,
    origin: &str,
    name: &str,
    kind: perceive::Kind,
    bytes: &[u8],
) -> Result<std::path::PathBuf, String> {
    perceive::check_readable(&inlet.life.persona, kind, name, bytes)
        .map_err(|e| format!("I can't take in {name}: {e}"))?;
    perceive::store_media(&inlet.life.home, origin, name, bytes, inlet.life.clock.now()).map_err(|e| {
        tracing::warn!(persona = %inlet.life.persona.id, origin, error = %e, "could not keep a file sent on a chat");
        format!("I could not keep {name}. Could you send it again?")
    })
}

/// A voice note from the paired chat: her ear transcribes it and she reads it. Without an ear,
/// or when it cannot be made out, the chat is told so.
async fn hear_telegram(
    gateway: &Gateway,
    bot: &Telegram,
    inlet: &Inlet,
    voice: &telegram::TelegramFile,
    chat: &str,
    via: Via,
) {
    if inlet.life.persona.ear.is_none() {
        gateway.send(
            chat,
            "I can't listen to voice notes: I have no ear. Could you write it to me instead?",
        );
        return;
    }
    let id = inlet.life.persona.id;
    let bytes = match bot.download(&voice.file_id, FILE_LIMIT).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(persona = %id, error = %e, "could not download a Telegram voice note");
            gateway.send(
                chat,
                "I could not open that voice note. Could you send it again?",
            );
            return;
        }
    };
    let mime = voice
        .mime_type
        .clone()
        .unwrap_or_else(|| "audio/ogg".into());
    let file_name = voice
        .file_name
        .clone()
        .unwrap_or_else(|| "voice.ogg".into());
    match inlet
        .hear(
            &organs::Audio {
                bytes,
                mime,
                file_name,
            },
            via.clone(),
        )
        .await
    {
        Ok(_) => inlet.life.outbox.gateways.typing(&via),
        Err(e) => {
            tracing::warn!(persona = %id, error = %e, "a Telegram voice note did not reach her");
            gateway.send(
                chat,
                "I could not make out that voice note. Could you send it again, or write it?",
            );
        }
    }
}

/// Downloads a document sent on Telegram into her media folder, or says in a sentence for the
/// chat why she cannot take it in (the same rules as `attach`; Telegram itself lets a bot
/// download at most 20 MB).
async fn telegram_document(
    bot: &Telegram,
    inlet: &Inlet,
    file: &telegram::TelegramFile,
) -> Result<std::path::PathBuf, String> {
    let name = file.file_name.clone().unwrap_or_else(|| "document".into());
    let kind = kind_of(&name, file.mime_type.as_deref())?;
    let bytes = bot.download(&file.file_id, FILE_LIMIT).await.map_err(|e| {
        tracing::warn!(persona = %inlet.life.persona.id, error = %e, "could not download a Telegram document");
        format!("I could not download {name}. Could you send it again?")
    })?;
    keep_sent(inlet, "telegram", &name, kind, &bytes)
}

/// Downloads a photo into her media folder as `telegram-<stamp>-<file id>.jpg` (Telegram
/// re-encodes every photo as JPEG).
async fn photo(bot: &Telegram, inlet: &Inlet, file_id: &str) -> Result<std::path::PathBuf, String> {
    let bytes = bot
        .download(file_id, FILE_LIMIT)
        .await
        .map_err(|e| e.to_string())?;
    perceive::store_media(
        &inlet.life.home,
        "telegram",
        &format!("{file_id}.jpg"),
        &bytes,
        inlet.life.clock.now(),
    )
    .map_err(|e| e.to_string())
}
