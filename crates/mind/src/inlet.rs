//! How a perception enters her life: logged in `conversation.jsonl` first, then handed to her
//! life task. The web routes, her chat gateways and exchanges share it.

use std::io::Write;
use std::sync::Arc;

use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use crate::agent::Command;
use crate::clock;
use crate::error::MindError;
use crate::life::Life;
use crate::memory::{Media, Message, Via};

/// How a perception enters her life: logged in `conversation.jsonl` first, then handed to
/// her life task. The web routes and her chat gateways share it.
#[derive(Clone)]
pub(crate) struct Inlet {
    pub(crate) life: Arc<Life>,
    pub(crate) commands: mpsc::UnboundedSender<Command>,
}

impl Inlet {
    pub(crate) async fn text(&self, text: &str, via: Via) -> Result<(), MindError> {
        self.text_awaited(text, via, None).await
    }

    /// A text message whose sender waits for the beat it starts to come to rest.
    pub(crate) async fn text_awaited(
        &self,
        text: &str,
        via: Via,
        waiter: Option<oneshot::Sender<Result<(), MindError>>>,
    ) -> Result<(), MindError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(MindError::Invalid("message must not be empty".into()));
        }
        self.deliver(text, None, Message::user(text, Some(via)), waiter)
            .await
    }

    /// A voice note: her ear transcribes it, then she reads it like text. Returns what she heard.
    pub(crate) async fn hear(&self, audio: &organs::Audio, via: Via) -> Result<String, MindError> {
        let ear = self.life.persona.ear.as_ref().ok_or_else(|| {
            MindError::Unperceivable("She has no ear organ to hear audio with.".into())
        })?;
        let text = self.life.voice.transcribe(ear, audio).await?;
        self.text(&text, via).await?;
        Ok(text)
    }

    /// A file kept at `source` (an image, or a document for her researcher), perceived when
    /// her cycle next realizes.
    pub(crate) async fn file(
        &self,
        source: String,
        caption: &str,
        via: Via,
    ) -> Result<(), MindError> {
        let media = json!({"source": source, "caption": caption});
        self.deliver(
            caption,
            Some(media),
            Message::unseen(
                caption,
                Media {
                    source,
                    caption: caption.into(),
                    question: String::new(),
                },
                Some(via),
            ),
            None,
        )
        .await
    }

    /// Logs the line, hands the message to her life, then fsyncs the log before returning: the
    /// sender is answered only once what she heard is durable, while her Mind's request does
    /// not wait on the disk. The fsync runs on a blocking thread so her cycle keeps every
    /// worker. The line is written before she can answer it, so her reply is always logged
    /// after it.
    async fn deliver(
        &self,
        logged: &str,
        media: Option<serde_json::Value>,
        message: Message,
        waiter: Option<oneshot::Sender<Result<(), MindError>>>,
    ) -> Result<(), MindError> {
        let mut line = json!({"role": "person", "content": logged, "channel": message.channel, "time": clock::iso(self.life.clock.now()), "id": message.id});
        if let Some(m) = media {
            line["media"] = m;
        }
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.life.home.conversation())?;
        log.write_all(format!("{line}\n").as_bytes())?;
        self.commands
            .send(Command::Perceive { message, waiter })
            .map_err(|_| MindError::Stopped)?;
        tokio::task::spawn_blocking(move || log.sync_data())
            .await
            .map_err(|e| MindError::Join(e.to_string()))??;
        Ok(())
    }
}
