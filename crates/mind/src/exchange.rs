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
//! Token usage is not reported: her organs do not return it yet.

use tokio::sync::{broadcast, mpsc, oneshot};

use crate::agent::Agent;
use crate::error::MindError;
use crate::memory::Via;
use crate::outbox::{Outgoing, Spoken};

/// Pieces that may wait in a stream before its reader takes them; she waits for none of them.
const PIECES: usize = 64;

/// What she said in one exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchanged {
    /// Her replies on the exchange's channel during the beat, in the order she said them.
    pub said: Vec<String>,
}

impl Agent {
    /// Delivers `text` on `channel` and returns everything she says to it in that beat.
    /// Errors: `Invalid` for an empty message, `Stopped` when she stops (or falls sick)
    /// meanwhile, `Faulted` when the beat fails.
    pub async fn exchange(&self, channel: &str, text: &str) -> Result<Exchanged, MindError> {
        let mut pieces = self.exchange_stream(channel, text).await?;
        let mut said = Vec::new();
        while let Some(piece) = pieces.recv().await {
            said.push(piece?);
        }
        Ok(Exchanged { said })
    }

    /// Like [`Agent::exchange`], but each reply arrives as she says it. The stream yields her
    /// replies in order, then ends when the beat comes to rest; a failed beat yields one `Err`
    /// last. Returns once the message is durable in her log (and after any exchange before it
    /// has ended); an empty message is refused here.
    pub async fn exchange_stream(
        &self,
        channel: &str,
        text: &str,
    ) -> Result<mpsc::Receiver<Result<String, MindError>>, MindError> {
        let turn = self.exchanges.clone().lock_owned().await;
        let via = Via {
            kind: channel.to_string(),
            name: channel.to_string(),
        };
        let mut heard = self.subscribe();
        let (rested, mut done) = oneshot::channel();
        self.inlet()
            .text_awaited(text, via.clone(), Some(rested))
            .await?;
        let (tx, rx) = mpsc::channel(PIECES);
        tokio::spawn(async move {
            let _turn = turn;
            let end = loop {
                tokio::select! {
                    biased;
                    line = heard.recv() => match line {
                        Ok(line) => {
                            if let Some(words) = ours(line, &via) {
                                let _ = tx.send(Ok(words)).await;
                            }
                        }
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
                if let Some(words) = ours(line, &via) {
                    let _ = tx.send(Ok(words)).await;
                }
            }
            if let Err(e) = end {
                let _ = tx.send(Err(e)).await;
            }
        });
        Ok(rx)
    }
}

/// Her words when `line` is a reply on the exchange's channel.
fn ours(line: Outgoing, via: &Via) -> Option<String> {
    (line.kind == Spoken::Say && line.channel.as_ref() == Some(via)).then_some(line.content)
}
