//! Her outbox: everything that leaves her. Her words to her person (the web channel and her
//! chat gateways), the changes the daemon acts on, and the signals of her live feed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use persona::Persona;
use serde::Serialize;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::clock::Clock;
use crate::gateway::Gateways;
use crate::journal::lock;
use crate::memory::Via;
use crate::signal::{self, Signal};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Spoken {
    /// A reply in the conversation.
    Say,
    /// An alert about something due.
    Notify,
    /// The first words of a reply her Mind is still writing (see `crate::draft`); seen only
    /// by those following her lines, never sent to a chat or logged.
    DraftStart,
    /// More words of the reply drafted last.
    Draft,
    /// The drafts since her last reply will not be said as drafted (the answer they came from
    /// was not acted on); `content` is empty.
    DraftWithdrawn,
}

impl Spoken {
    /// Whether the line is a draft of a reply rather than something she said.
    pub fn is_draft(self) -> bool {
        matches!(
            self,
            Spoken::DraftStart | Spoken::Draft | Spoken::DraftWithdrawn
        )
    }
}

/// A line she sends to her person. The web channel (the daemon's websocket) renders a reply or
/// notice as `{"type":"chat_message","persona_id":…,"content":…}`, and a draft as
/// `{"type":"chat_draft","persona_id":…,"kind":…,"content":…}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outgoing {
    pub persona_id: Uuid,
    pub content: String,
    pub kind: Spoken,
    /// The channel a reply answers (web, or the paired Telegram chat); `None` for a notice.
    pub channel: Option<Via>,
}

/// Changes in her life the daemon must act on.
#[derive(Clone, Debug, PartialEq)]
pub enum LifeEvent {
    /// A beat failed because an organ she cannot think without failed.
    Faulted {
        stage: String,
        error: String,
        in_a_row: u32,
    },
    /// She is sick (saved as `status: sick` with `sickness`) and has stopped herself; the
    /// registry should drop her.
    Sick { reason: String },
    /// She folded a stretch of conversation into her files and archived it.
    Consolidated,
    /// Her sleep ritual finished.
    Slept,
}

pub struct Outbox {
    persona: Uuid,
    name: String,
    clock: Arc<dyn Clock>,
    pub(crate) gateways: Gateways,
    /// Where the message she is answering came from; her replies go back there.
    answering: Mutex<Option<Via>>,
    /// How many replies she has said (notices not counted): a beat that owed her person an
    /// answer compares it before and after.
    said: AtomicU64,
    outgoing: broadcast::Sender<Outgoing>,
    events: broadcast::Sender<LifeEvent>,
    signals: broadcast::Sender<Signal>,
}

impl Outbox {
    pub(crate) fn new(persona: &Persona, clock: Arc<dyn Clock>, gateways: Gateways) -> Outbox {
        Outbox {
            persona: persona.id,
            name: persona.name.clone(),
            clock,
            gateways,
            answering: Mutex::new(None),
            said: AtomicU64::new(0),
            // Room for a long reply's drafts (one line per streamed piece) ahead of a reader.
            outgoing: broadcast::channel(1024).0,
            events: broadcast::channel(64).0,
            signals: broadcast::channel(32).0,
        }
    }

    pub fn web(&self) -> Via {
        Via {
            kind: "web".into(),
            name: self.persona.to_string(),
        }
    }

    /// Her replies go back to `via` from now on.
    pub(crate) fn answer_on(&self, via: Via) {
        *lock(&self.answering) = Some(via);
    }

    /// Sends her words where they belong and returns the channel a reply went to: a reply goes
    /// where the message she answers came from, a notice to every paired chat. The web sees
    /// every line.
    pub(crate) fn send(&self, text: &str, kind: Spoken) -> Option<Via> {
        let via = self.replying_on();
        if kind == Spoken::Notify {
            self.gateways.notify(text);
        } else {
            self.gateways.reply(&via, text);
        }
        let channel = (kind == Spoken::Say).then_some(via);
        let _ = self.outgoing.send(Outgoing {
            persona_id: self.persona,
            content: text.to_string(),
            kind,
            channel: channel.clone(),
        });
        channel
    }

    fn replying_on(&self) -> Via {
        lock(&self.answering).clone().unwrap_or_else(|| self.web())
    }

    /// Shows a draft (`DraftStart`, `Draft` or `DraftWithdrawn`) of a reply to those following
    /// her lines, on the channel her reply will go to.
    pub(crate) fn draft(&self, kind: Spoken, words: &str) {
        if self.outgoing.receiver_count() == 0 {
            return;
        }
        let _ = self.outgoing.send(Outgoing {
            persona_id: self.persona,
            content: words.to_string(),
            kind,
            channel: Some(self.replying_on()),
        });
    }

    /// Counts a reply she said.
    pub(crate) fn count_said(&self) {
        self.said.fetch_add(1, Ordering::Relaxed);
    }

    /// How many replies she has said so far.
    pub(crate) fn said(&self) -> u64 {
        self.said.load(Ordering::Relaxed)
    }

    /// Puts what happened on her live feed.
    pub(crate) fn signal(&self, kind: signal::Kind, title: &str, details: serde_json::Value) {
        self.feed(|| {
            Signal::new(
                kind,
                title,
                self.clock.now(),
                self.persona,
                &self.name,
                details,
            )
        });
    }

    /// Tells the daemon about a change it acts on, and shows it on her live feed.
    pub(crate) fn announce(&self, event: LifeEvent) {
        self.feed(|| Signal::of_event(&event, self.clock.now(), self.persona, &self.name));
        let _ = self.events.send(event);
    }

    /// Builds a signal only when someone watches her feed.
    fn feed(&self, signal: impl FnOnce() -> Signal) {
        if self.signals.receiver_count() > 0 {
            let _ = self.signals.send(signal());
        }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Outgoing> {
        self.outgoing.subscribe()
    }

    pub(crate) fn signals(&self) -> broadcast::Receiver<Signal> {
        self.signals.subscribe()
    }

    pub(crate) fn events(&self) -> broadcast::Receiver<LifeEvent> {
        self.events.subscribe()
    }
}
