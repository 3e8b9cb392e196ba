//! One message in, what she says to it out: for callers that speak to her as a request and
//! wait for her answer (the daemon's OpenAI-compatible `/v1/chat/completions`).
//!
//! The message is perceived like any other (logged in `conversation.jsonl`, remembered, a new
//! beat), on a channel the caller names, so her replies to it are told apart from her replies
//! elsewhere. The exchange ends when that beat comes to rest (after her reply, when she owed
//! one), when the beat settles without resting (at night she only reflects), when it fails, or
//! when it is interrupted. Exchanges with one persona wait their turn: a second request never
//! cancels the beat answering the first. A message from her other channels still does, as it
//! always has; the new beat answers both, so the exchange waits on to that beat's rest.
//!
//! While her Mind writes, the words of her reply arrive as drafts ([`crate::draft`]); the
//! stream shows them at once and, when the reply is said, only what they did not show. The
//! stream ends with the tokens her models took from the message's arrival to that rest.

use organs::Usage;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::agent::Agent;
use crate::draft::Echo;
use crate::error::MindError;
use crate::memory::Via;
use crate::outbox::{Outgoing, Spoken};

/// What she said in one exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchanged {
    /// Her replies on the exchange's channel during the beat, in the order she said them.
    pub said: Vec<String>,
    /// The tokens her models took answering (see [`Piece::Rested`]).
    pub usage: Usage,
}

/// One piece of an exchange's stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Text to append to what the stream has shown of her words: the words of a reply as her
    /// Mind writes them (where it streams) or as she says it, a blank line between replies.
    /// Drafts she withdrew stay shown; what she then says follows them.
    Words(String),
    /// A reply she said, whole, after any `Words` that showed it.
    Said(String),
    /// The beat came to rest: the tokens her models (her Mind, and her eye or teacher when the
    /// beat used them) took from the message's arrival until then, as their providers counted.
    Rested(Usage),
}

impl Agent {
    /// Delivers `text` on `channel` and returns everything she says to it in that beat.
    /// Errors: `Invalid` for an empty message, `Stopped` when she stops (or falls sick)
    /// meanwhile, `Faulted` when the beat fails.
    pub async fn exchange(&self, channel: &str, text: &str) -> Result<Exchanged, MindError> {
        let mut pieces = self.exchange_stream(channel, text).await?;
        let mut said = Vec::new();
        let mut usage = Usage::default();
        while let Some(piece) = pieces.recv().await {
            match piece? {
                Piece::Said(words) => said.push(words),
                Piece::Rested(spent) => usage = spent,
                Piece::Words(_) => {}
            }
        }
        Ok(Exchanged { said, usage })
    }

    /// Like [`Agent::exchange`], but her words arrive as she writes and says them. The stream
    /// yields [`Piece`]s in order, ending with `Rested` when the beat comes to rest; a failed
    /// beat yields one `Err` last instead. Returns once the message is durable in her log (and
    /// after any exchange before it has ended); an empty message is refused here.
    pub async fn exchange_stream(
        &self,
        channel: &str,
        text: &str,
    ) -> Result<mpsc::UnboundedReceiver<Result<Piece, MindError>>, MindError> {
        let turn = self.exchanges.clone().lock_owned().await;
        let via = Via {
            kind: channel.to_string(),
            name: channel.to_string(),
        };
        let mut heard = self.subscribe();
        let (rested, mut done) = oneshot::channel();
        let before = self.life.voice.spent();
        self.inlet()
            .text_awaited(text, via.clone(), Some(rested))
            .await?;
        // Unbounded (an answer's words at most): a slow reader must not stop this task from
        // draining her lines, or her drafts would push her said replies out of the broadcast.
        let (tx, rx) = mpsc::unbounded_channel();
        let voice = self.life.voice.clone();
        tokio::spawn(async move {
            let _turn = turn;
            let mut echo = Echo::default();
            let end = loop {
                tokio::select! {
                    biased;
                    line = heard.recv() => match line {
                        Ok(line) => pass(&tx, &mut echo, line, &via),
                        // More than a buffer of lines at once: what was missed is gone.
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => break Err(MindError::Stopped),
                    },
                    end = &mut done => break end.unwrap_or(Err(MindError::Stopped)),
                }
            };
            // Her replies are broadcast before the beat can rest, so any still queued belong
            // to this exchange.
            while let Ok(line) = heard.try_recv() {
                pass(&tx, &mut echo, line, &via);
            }
            let last = match end {
                Ok(()) => Ok(Piece::Rested(voice.spent().since(before))),
                Err(e) => Err(e),
            };
            let _ = tx.send(last);
        });
        Ok(rx)
    }
}

/// Passes on `line` when it is a reply, or a draft of one, on the exchange's channel.
fn pass(
    tx: &mpsc::UnboundedSender<Result<Piece, MindError>>,
    echo: &mut Echo,
    line: Outgoing,
    via: &Via,
) {
    if line.channel.as_ref() != Some(via) {
        return;
    }
    let words = match line.kind {
        Spoken::Say => echo.said(&line.content),
        Spoken::Notify => return,
        draft => echo.draft(draft, &line.content),
    };
    if let Some(words) = words {
        let _ = tx.send(Ok(Piece::Words(words)));
    }
    if line.kind == Spoken::Say {
        let _ = tx.send(Ok(Piece::Said(line.content)));
    }
}
