//! Her state while she runs, shared by her life task, her cycle and the handle the daemon
//! holds. Each part owns its own: her [`Journal`] (memory and conversation log), her
//! [`Regulation`] (identity instance and contract), her [`Outbox`] (what leaves her) and her
//! [`Vitals`] (phase, beats, faults, sickness). `Life` keeps what they share and the few acts
//! that touch more than one part, such as speaking.

use std::sync::{Arc, Mutex};

use persona::{Persona, Store};
use serde_json::json;

use crate::clock::{self, Clock};
use crate::home::Home;
use crate::journal::{Journal, lock};
use crate::memory::Message;
use crate::outbox::{Outbox, Spoken};
use crate::pairing::Pairings;
use crate::prompts;
use crate::regulation::{Event, Regulation};
use crate::signal;
use crate::vitals::Vitals;
use crate::voice::Voice;
use crate::{ritual, vitals};

pub struct Life {
    pub persona: Persona,
    pub store: Store,
    pub home: Home,
    pub voice: Voice,
    pub http: reqwest::Client,
    pub clock: Arc<dyn Clock>,
    pub journal: Arc<Journal>,
    pub regulation: Regulation,
    pub outbox: Outbox,
    pub vitals: Vitals,
    pairings: Mutex<Pairings>,
    pub(crate) schemas: Arc<prompts::Schemas>,
}

impl Life {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        persona: Persona,
        store: Store,
        home: Home,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
        journal: Journal,
        regulation: Regulation,
        outbox: Outbox,
    ) -> Life {
        let now = clock.now();
        Life {
            pairings: Mutex::new(Pairings::load(&home.pairing(), now)),
            schemas: prompts::Schemas::shared(&persona.reach),
            vitals: Vitals::new(now),
            voice: Voice::new(http.clone()),
            journal: Arc::new(journal),
            persona,
            store,
            home,
            http,
            clock,
            regulation,
            outbox,
        }
    }

    /// She says something: it reaches her person first (the wait she feels), then joins her
    /// conversation log and memory before anything else in her can run. Her keeper fsyncs the
    /// log (and her heartbeat saves `memory.json`), so a beat never waits on the disk to end
    /// and a message arriving as she speaks is not held up behind her fsync.
    pub fn speak(&self, text: &str, kind: Spoken) {
        let channel = self.outbox.send(text, kind);
        let message = Message::assistant(text, channel.clone());
        self.journal.log_said(&json!({"role": "assistant", "content": text, "channel": channel, "time": clock::iso(self.clock.now()), "id": message.id}));
        self.outbox.signal(
            signal::Kind::Message,
            "Said",
            json!({"channel": channel, "content": text, "kind": kind}),
        );
        self.journal.remember_logged(message);
        if kind == Spoken::Say {
            self.outbox.count_said();
        }
        self.regulation.observe(Event::Answered);
    }

    /// Flushes what happened to her to her identity instance and reads her contract.
    pub async fn regulate(&self) {
        self.regulation
            .regulate(&self.persona, &self.outbox, self.clock.now())
            .await;
    }

    /// Reads her contract before she decides.
    pub async fn read_contract(&self) {
        self.regulation
            .read_contract(&self.persona, &self.outbox)
            .await;
    }

    /// Her status as the daemon shows it.
    pub fn status(&self) -> vitals::LiveStatus {
        self.vitals.status(self.regulation.regulated())
    }

    /// Her last activity is now.
    pub(crate) fn touch(&self) {
        self.vitals.touch(self.clock.now());
    }

    /// A pairing code for `chat`, issued by a gateway that heard from an unpaired chat.
    pub(crate) fn issue_pairing(&self, kind: persona::ChannelKind, chat: &str) -> String {
        let mut pairings = lock(&self.pairings);
        let code = pairings.issue(kind, chat, self.clock.now());
        self.keep_pairings(&pairings);
        code
    }

    /// Binds the channel `code` was issued for and saves her record (read fresh from disk, so
    /// nothing saved meanwhile is lost). Her gateway routes that chat to her from the next
    /// message on.
    pub(crate) fn pair(
        &self,
        code: &str,
    ) -> Result<(Persona, persona::Channel), crate::error::MindError> {
        let mut record = self.store.load(self.persona.id)?;
        let mut pairings = lock(&self.pairings);
        let channel = pairings.redeem(code, &mut record.channels, self.clock.now())?;
        self.store.save(&record)?;
        self.keep_pairings(&pairings);
        drop(pairings);
        self.outbox.gateways.bind(channel.kind, &channel.name);
        Ok((record, channel))
    }

    /// Saves the codes still waiting. A code that could not be saved still works until she
    /// restarts, so a failure is only logged.
    fn keep_pairings(&self, pairings: &Pairings) {
        if let Err(e) = pairings.save(&self.home.pairing()) {
            tracing::warn!(persona = %self.persona.id, error = %e, "could not keep the pairing codes");
        }
    }

    /// Today's conversation as `[time] role: text` lines, for `recall_history`.
    pub fn conversation_today(&self) -> String {
        let today = clock::date(self.clock.now());
        ritual::transcript(&self.home, Some(&today))
    }
}
