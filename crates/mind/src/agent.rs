//! One running persona. The daemon's registry owns one `Agent` per persona it serves.
//!
//! Her life runs in one task that takes commands in order (a perception, a heartbeat, sleep,
//! a feed), so only one of them touches her at a time. The cognitive cycle runs beside it as a
//! cancellable task: a new perception cancels it and starts it again, so she always thinks
//! about the latest state of the conversation. A heartbeat task, driven by the injected
//! [`Clock`], sends one beat per minute.

use std::io::Write;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use persona::{Persona, Store};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::clock::{self, Clock};
use crate::cycle::{self, Halt, Phase};
use crate::gateway::Gateways;
use crate::home::{Home, Routines};
use crate::memory::{Media, Memory, Message, Via};
use crate::regulation::{Event, Regulated};
use crate::signal::{self, Signal};
use crate::voice::Voice;
use crate::{destiny, health, ritual};

/// Failed beats in a row, with her Mind unreachable or refusing, after which she is marked
/// sick and stopped. One failure is retried at the next heartbeat; the third in a row (so at
/// least two minutes of a dead Mind) means something is wrong that she cannot fix herself.
pub const SICK_AFTER: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum MindError {
    #[error("Her recovery phrase is missing from the secret store.")]
    NoPhrase,
    #[error(transparent)]
    Store(#[from] persona::StoreError),
    #[error(transparent)]
    Diary(#[from] persona::diary::DiaryError),
    #[error("Sleep task failed: {0}")]
    Join(String),
    #[error("Persona is not active.")]
    Stopped,
    #[error("Could not keep her files: {0}")]
    Io(#[from] std::io::Error),
    #[error("Her identity instance is unavailable: {0}")]
    Identity(String),
    /// No organ of hers can perceive this kind of input.
    #[error("{0}")]
    Unperceivable(String),
    #[error("{0}")]
    Organ(#[from] organs::OrganError),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Pair(#[from] crate::pairing::PairError),
}

/// What the daemon hands her when she starts.
#[derive(Clone)]
pub struct Surroundings {
    pub http: reqwest::Client,
    pub identity: Arc<instances::Service>,
    pub clock: Arc<dyn Clock>,
    /// Where her Telegram and Discord gateways reach the platforms.
    pub platforms: channels::PlatformUrls,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Spoken {
    /// A reply in the conversation.
    Say,
    /// An alert about something due.
    Notify,
}

/// A line she sends to her person. The web channel (the daemon's websocket) renders it as
/// `{"type":"chat_message","persona_id":…,"content":…}`.
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

/// What her status view shows about her life right now.
#[derive(Clone, Debug, Serialize)]
pub struct LiveStatus {
    pub phase: Phase,
    pub thinking: bool,
    pub faults_in_a_row: u32,
    /// How many beats have come to rest since she started: each time her thinking on what
    /// reached her ends (after her reply, when she owed one). A beat cut short by a new
    /// perception, or ended by a fault, is not counted; watch `faults_in_a_row` for those.
    pub beats: u64,
    pub sickness: Option<String>,
    pub regulation: Regulated,
}

enum Command {
    Perceive(Message),
    Beat {
        since: OffsetDateTime,
        at: OffsetDateTime,
    },
    Sleep(oneshot::Sender<Result<(), MindError>>),
    Feed(Vec<String>, oneshot::Sender<Result<usize, MindError>>),
    Settled {
        generation: u64,
        outcome: Result<(), Halt>,
    },
}

/// Her state shared by her life task, her cycle and the handle the daemon holds.
pub struct Life {
    pub persona: Persona,
    pub store: Store,
    pub home: Home,
    pub voice: Voice,
    pub http: reqwest::Client,
    pub clock: Arc<dyn Clock>,
    identity: Arc<instances::Service>,
    instance: String,
    /// Her memory and how many changes it has had.
    memory: Mutex<(Memory, u64)>,
    /// Held while `memory.json` is written; the version last written.
    memory_written: Mutex<u64>,
    /// Wakes her keeper, which fsyncs what she said to `conversation.jsonl`.
    keeper: tokio::sync::Notify,
    /// Wakes her regulator, which hands what happened to her identity instance beside the
    /// message path.
    regulator: tokio::sync::Notify,
    /// Her words are in `conversation.jsonl` but not yet fsynced; her keeper syncs them.
    log_unsynced: std::sync::atomic::AtomicBool,
    phase: Mutex<Phase>,
    last_activity: Mutex<OffsetDateTime>,
    pending: Mutex<Vec<Event>>,
    regulated: Mutex<Regulated>,
    faults: Mutex<Vec<health::Fault>>,
    in_a_row: AtomicU32,
    /// How many replies she has said (notices not counted): a beat that owed her person an
    /// answer compares it before and after.
    said: AtomicU64,
    beats: AtomicU64,
    thinking: std::sync::atomic::AtomicBool,
    sickness: Mutex<Option<String>>,
    pairings: Mutex<crate::pairing::Pairings>,
    /// Where the message she is answering came from; her replies go back there.
    answering: Mutex<Option<Via>>,
    pub(crate) gateways: Gateways,
    pub(crate) schemas: Arc<cycle::Schemas>,
    outgoing: broadcast::Sender<Outgoing>,
    events: broadcast::Sender<LifeEvent>,
    signals: broadcast::Sender<Signal>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Life {
    pub fn memory(&self) -> Memory {
        lock(&self.memory).0.clone()
    }

    /// Reads her memory in place. A stage uses it to take only what it needs (a flag, the
    /// turns of a prompt), so the whole memory is not copied on the way to her Mind.
    pub fn recall<R>(&self, f: impl FnOnce(&Memory) -> R) -> R {
        f(&lock(&self.memory).0)
    }

    /// Changes her memory and saves it before anyone else can see the change.
    pub fn with_memory<R>(&self, f: impl FnOnce(&mut Memory) -> R) -> R {
        let r = self.change_memory(f);
        self.persist();
        r
    }

    /// Remembers a turn that is already a line of `conversation.jsonl` and leaves the save
    /// of `memory.json` to her next heartbeat: the log is the journal that replays it after a
    /// crash, so the message path never rewrites her whole memory.
    fn remember_logged(&self, m: Message) {
        self.change_memory(|memory| memory.remember_logged(m));
    }

    fn change_memory<R>(&self, f: impl FnOnce(&mut Memory) -> R) -> R {
        let mut held = lock(&self.memory);
        let r = f(&mut held.0);
        held.1 += 1;
        r
    }

    /// Makes what she said durable in `conversation.jsonl`, if anything is waiting.
    fn sync_log(&self) {
        if !self.log_unsynced.swap(false, Ordering::AcqRel) {
            return;
        }
        let synced = std::fs::OpenOptions::new()
            .append(true)
            .open(self.home.conversation())
            .and_then(|f| f.sync_data());
        // Sleep may have archived the log meanwhile; its archive was written durably.
        if let Err(e) = synced.or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Ok(())
            } else {
                Err(e)
            }
        }) {
            tracing::error!(persona = %self.persona.id, error = %e, "could not fsync conversation.jsonl");
        }
    }

    /// Writes her memory as it is now unless that version is already on disk. Holding
    /// `memory_written` across the write keeps saves in order, so an older mind never lands
    /// over a newer one.
    fn persist(&self) {
        let mut written = lock(&self.memory_written);
        let (memory, version) = {
            let held = lock(&self.memory);
            if held.1 <= *written {
                return;
            }
            (held.0.clone(), held.1)
        };
        match memory.save(&self.home.memory()) {
            Ok(()) => *written = version,
            Err(e) => {
                tracing::error!(persona = %self.persona.id, error = %e, "could not save memory.json")
            }
        }
    }

    pub fn phase(&self) -> Phase {
        *lock(&self.phase)
    }

    pub(crate) fn set_phase(&self, p: Phase) {
        *lock(&self.phase) = p;
    }

    pub fn last_activity(&self) -> OffsetDateTime {
        *lock(&self.last_activity)
    }

    fn touch(&self) {
        *lock(&self.last_activity) = self.clock.now();
    }

    pub fn regulated(&self) -> Regulated {
        lock(&self.regulated).clone()
    }

    /// Puts what happened on her live feed.
    pub(crate) fn signal(&self, kind: signal::Kind, title: &str, details: serde_json::Value) {
        self.feed(|| {
            Signal::new(
                kind,
                title,
                self.clock.now(),
                self.persona.id,
                &self.persona.name,
                details,
            )
        });
    }

    /// Tells the daemon about a change it acts on, and shows it on her live feed.
    pub(crate) fn announce(&self, event: LifeEvent) {
        self.feed(|| {
            Signal::of_event(
                &event,
                self.clock.now(),
                self.persona.id,
                &self.persona.name,
            )
        });
        let _ = self.events.send(event);
    }

    /// Builds a signal only when someone watches her feed.
    fn feed(&self, signal: impl FnOnce() -> Signal) {
        if self.signals.receiver_count() > 0 {
            let _ = self.signals.send(signal());
        }
    }

    pub fn observe(&self, e: Event) {
        lock(&self.pending).push(e);
    }

    /// Leaves the durable flush of what happened to her regulator, so a message that arrives
    /// as a beat ends does not wait for the identity journal's fsync.
    fn regulate_soon(&self) {
        self.regulator.notify_one();
    }

    /// Hands the events since the last flush to her identity instance (one durable batch) and
    /// reads her contract.
    pub async fn regulate(&self) {
        let events: Vec<Event> = std::mem::take(&mut *lock(&self.pending));
        let at = self.clock.now();
        if !events.is_empty() {
            let inputs: Vec<instances::ObservationInput> = events
                .iter()
                .filter_map(|e| {
                    let (mode, strength, confidence) = e.observation();
                    let observation =
                        identity::Observation::new(mode, strength, confidence).ok()?;
                    Some(instances::ObservationInput {
                        observation,
                        context: json!({"persona": self.persona.id, "event": format!("{e:?}")}),
                        timestamp: Some(at),
                    })
                })
                .collect();
            if let Err(e) = self.identity.observe_batch(&self.instance, inputs).await {
                tracing::warn!(persona = %self.persona.id, error = %e, "identity engine refused observations");
            }
        }
        self.read_contract().await;
    }

    /// Reads her current contract without writing anything: what she must know before she
    /// decides, kept off the path of a message by leaving the durable flush for after.
    pub async fn read_contract(&self) {
        match self.identity.contract(&self.instance).await {
            Ok(c) => *lock(&self.regulated) = Regulated::from_contract(&self.instance, &c),
            Err(e) => {
                tracing::warn!(persona = %self.persona.id, error = %e, "could not read her contract")
            }
        }
    }

    /// She says something: it reaches her person first (the wait she feels), then joins her
    /// conversation log and memory before anything else in her can run. Her keeper fsyncs the
    /// log (and her heartbeat saves `memory.json`), so a beat never waits on the disk to end
    /// and a message arriving as she speaks is not held up behind her fsync. A reply goes where
    /// the message she answers came from; a notice goes to every paired chat. The web sees
    /// every line.
    pub fn speak(&self, text: &str, kind: Spoken) {
        let via = lock(&self.answering).clone().unwrap_or_else(|| self.web());
        match kind {
            Spoken::Say => self.gateways.reply(&via, text),
            Spoken::Notify => self.gateways.notify(text),
        }
        let channel = if kind == Spoken::Say {
            Some(via.clone())
        } else {
            None
        };
        let _ = self.outgoing.send(Outgoing {
            persona_id: self.persona.id,
            content: text.to_string(),
            kind,
            channel: channel.clone(),
        });
        let message = Message::assistant(text, channel.clone());
        let line = json!({"role": "assistant", "content": text, "channel": channel, "time": clock::iso(self.clock.now()), "id": message.id});
        match persona::atomic::append_line_unsynced(&self.home.conversation(), &line.to_string()) {
            Ok(()) => {
                self.log_unsynced.store(true, Ordering::Release);
                self.keeper.notify_one();
            }
            Err(e) => {
                tracing::error!(persona = %self.persona.id, error = %e, "could not append to conversation.jsonl")
            }
        }
        self.signal(
            signal::Kind::Message,
            "Said",
            json!({"channel": channel, "content": text, "kind": kind}),
        );
        self.remember_logged(message);
        if kind == Spoken::Say {
            self.said.fetch_add(1, Ordering::Relaxed);
        }
        self.observe(Event::Answered);
    }

    /// How many replies she has said so far.
    pub(crate) fn said(&self) -> u64 {
        self.said.load(Ordering::Relaxed)
    }

    /// Her thinking on what reached her came to rest.
    pub(crate) fn rested(&self) {
        self.beats.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn mark_sick(&self, reason: &str) {
        *lock(&self.sickness) = Some(reason.to_string());
    }

    /// A pairing code for `chat`, issued by a gateway that heard from an unpaired chat.
    pub(crate) fn issue_pairing(&self, kind: persona::ChannelKind, chat: &str) -> String {
        let mut pairings = lock(&self.pairings);
        let code = pairings.issue(kind, chat, self.clock.now());
        self.keep_pairings(&pairings);
        code
    }

    /// Saves the codes still waiting. A code that could not be saved still works until she
    /// restarts, so a failure is only logged.
    fn keep_pairings(&self, pairings: &crate::pairing::Pairings) {
        if let Err(e) = pairings.save(&self.home.pairing()) {
            tracing::warn!(persona = %self.persona.id, error = %e, "could not keep the pairing codes");
        }
    }

    pub fn web(&self) -> Via {
        Via {
            kind: "web".into(),
            name: self.persona.id.to_string(),
        }
    }

    /// Today's conversation as `[time] role: text` lines, for `recall_history`.
    pub fn conversation_today(&self) -> String {
        let today = clock::date(self.clock.now());
        ritual::transcript(&self.home, Some(&today))
    }
}

/// How a perception enters her life: logged in `conversation.jsonl` first, then handed to
/// her life task. The web routes and her chat gateways share it.
#[derive(Clone)]
pub(crate) struct Inlet {
    pub(crate) life: Arc<Life>,
    commands: mpsc::UnboundedSender<Command>,
}

impl Inlet {
    pub(crate) async fn text(&self, text: &str, via: Via) -> Result<(), MindError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(MindError::Invalid("message must not be empty".into()));
        }
        self.deliver(text, None, Message::user(text, Some(via)))
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
            .send(Command::Perceive(message))
            .map_err(|_| MindError::Stopped)?;
        tokio::task::spawn_blocking(move || log.sync_data())
            .await
            .map_err(|e| MindError::Join(e.to_string()))??;
        Ok(())
    }
}

/// The handle the registry keeps.
pub struct Agent {
    persona: Persona,
    life: Arc<Life>,
    commands: mpsc::UnboundedSender<Command>,
    stop: CancellationToken,
    tasks: tokio::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl Agent {
    /// Opens her home, binds her identity instance (creating it on first start) and starts her
    /// life and heartbeat.
    pub async fn start(
        persona: Persona,
        store: Store,
        around: Surroundings,
    ) -> Result<Agent, MindError> {
        let home = Home::new(store.home(persona.id), store.workspace(persona.id));
        home.ensure()?;
        let instance = bind_identity(&home, &persona, &around.identity).await?;
        let contract = around
            .identity
            .contract(&instance)
            .await
            .map_err(|e| MindError::Identity(e.to_string()))?;
        let now = around.clock.now();
        let stop = CancellationToken::new();
        let (gateways, mut tasks) =
            Gateways::open(&persona, &around.http, &around.platforms, &stop);
        let life = Arc::new(Life {
            memory: Mutex::new((recollect(&home, &persona)?, 0)),
            memory_written: Mutex::new(0),
            keeper: tokio::sync::Notify::new(),
            regulator: tokio::sync::Notify::new(),
            log_unsynced: std::sync::atomic::AtomicBool::new(false),
            persona: persona.clone(),
            store,
            voice: Voice::new(around.http.clone()),
            http: around.http,
            clock: around.clock,
            regulated: Mutex::new(Regulated::from_contract(&instance, &contract)),
            identity: around.identity,
            instance,
            phase: Mutex::new(Phase::Morning),
            last_activity: Mutex::new(now),
            pending: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            in_a_row: AtomicU32::new(0),
            said: AtomicU64::new(0),
            beats: AtomicU64::new(0),
            thinking: std::sync::atomic::AtomicBool::new(false),
            sickness: Mutex::new(None),
            pairings: Mutex::new(crate::pairing::Pairings::load(&home.pairing(), now)),
            answering: Mutex::new(None),
            gateways,
            schemas: cycle::Schemas::shared(&persona.reach),
            outgoing: broadcast::channel(256).0,
            events: broadcast::channel(64).0,
            signals: broadcast::channel(32).0,
            home,
        });
        let (tx, rx) = mpsc::unbounded_channel();
        tasks.extend(life.gateways.listen(
            &Inlet {
                life: life.clone(),
                commands: tx.clone(),
            },
            &stop,
        ));
        let started = clock::next_minute(now) - time::Duration::minutes(1);
        let heart = tokio::spawn(heartbeat(
            life.clock.clone(),
            started,
            tx.clone(),
            stop.clone(),
        ));
        let living = tokio::spawn(live(life.clone(), rx, tx.clone(), stop.clone()));
        let keeper = tokio::spawn(keep_log(life.clone(), stop.clone()));
        let regulator = tokio::spawn(keep_regulated(life.clone(), stop.clone()));
        tasks.extend([living, heart, keeper, regulator]);
        Ok(Agent {
            persona,
            life,
            commands: tx,
            stop,
            tasks: tokio::sync::Mutex::new(tasks),
        })
    }

    pub fn persona(&self) -> &Persona {
        &self.persona
    }

    pub fn home(&self) -> &Home {
        &self.life.home
    }

    /// Stops her work and waits for it to unwind; nothing is left half-written because every
    /// write is atomic.
    pub async fn stop(&self) {
        self.stop.cancel();
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.tasks.lock().await);
        for t in tasks {
            let _ = t.await;
        }
    }

    /// Replies and notices she sends, for the web channel.
    pub fn subscribe(&self) -> broadcast::Receiver<Outgoing> {
        self.life.outgoing.subscribe()
    }

    /// Her live feed, for the daemon's sockets.
    pub fn signals(&self) -> broadcast::Receiver<Signal> {
        self.life.signals.subscribe()
    }

    /// Faults, sickness and sleep, for the registry.
    pub fn life_events(&self) -> broadcast::Receiver<LifeEvent> {
        self.life.events.subscribe()
    }

    /// Her working memory as it is now (`memory.json` may be up to a heartbeat behind).
    pub fn memory(&self) -> Memory {
        self.life.memory()
    }

    pub fn status(&self) -> LiveStatus {
        LiveStatus {
            phase: self.life.phase(),
            thinking: self.life.thinking.load(Ordering::Relaxed),
            faults_in_a_row: self.life.in_a_row.load(Ordering::Relaxed),
            beats: self.life.beats.load(Ordering::Relaxed),
            sickness: lock(&self.life.sickness).clone(),
            regulation: self.life.regulated(),
        }
    }

    fn send(&self, c: Command) -> Result<(), MindError> {
        self.commands.send(c).map_err(|_| MindError::Stopped)
    }

    fn inlet(&self) -> Inlet {
        Inlet {
            life: self.life.clone(),
            commands: self.commands.clone(),
        }
    }

    /// `POST .../read`: a text message from her person over the web channel.
    pub async fn read(&self, text: &str) -> Result<(), MindError> {
        self.inlet().text(text, self.life.web()).await
    }

    /// `POST .../hear`: a voice note, transcribed by her ear, then read like text.
    pub async fn hear(&self, audio: organs::Audio) -> Result<String, MindError> {
        self.inlet().hear(&audio, self.life.web()).await
    }

    /// `POST .../attach`: an image goes to her eye, a document to her researcher (see
    /// [`crate::perceive`]). Anything no organ of hers can perceive is refused before it is
    /// kept (415 at the route).
    pub async fn attach(
        &self,
        file_name: &str,
        mime: &str,
        bytes: &[u8],
        caption: &str,
    ) -> Result<(), MindError> {
        let kind = crate::perceive::classify(file_name, mime).ok_or_else(|| {
            MindError::Unperceivable(format!("No organ of hers can perceive {mime} files."))
        })?;
        crate::perceive::check_readable(&self.persona, kind, file_name, bytes)?;
        let path = crate::perceive::store_media(
            &self.life.home,
            "web",
            file_name,
            bytes,
            self.life.clock.now(),
        )?;
        self.inlet()
            .file(path.display().to_string(), caption, self.life.web())
            .await
    }

    /// A pairing code for `chat`, as her gateways issue to a chat they do not know.
    pub fn issue_pairing_code(&self, kind: persona::ChannelKind, chat: &str) -> String {
        self.life.issue_pairing(kind, chat)
    }

    /// `POST .../pair`: binds the channel a code was issued for and saves her record (read
    /// fresh from disk, so nothing saved meanwhile is lost). Her gateway routes that chat to
    /// her from the next message on.
    pub fn pair(&self, code: &str) -> Result<(Persona, persona::Channel), MindError> {
        let mut record = self.life.store.load(self.persona.id)?;
        let mut pairings = lock(&self.life.pairings);
        let channel = pairings.redeem(code, &mut record.channels, self.life.clock.now())?;
        self.life.store.save(&record)?;
        self.life.keep_pairings(&pairings);
        drop(pairings);
        self.life.gateways.bind(channel.kind, &channel.name);
        Ok((record, channel))
    }

    /// The nightly ritual; see [`crate::ritual`]. Runs in her life task, so it never overlaps
    /// a beat or another sleep.
    pub async fn sleep(&self) -> Result<(), MindError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Sleep(tx))?;
        rx.await.map_err(|_| MindError::Stopped)?
    }

    /// `POST .../feed`: consolidates each imported conversation into her files. Returns how
    /// many conversations were folded in.
    pub async fn feed(&self, export: &[u8], source: &str) -> Result<usize, MindError> {
        let conversations = crate::feed::parse(export, source).map_err(|_| {
            MindError::Invalid(
                "Could not parse the external data. Please check the file format.".into(),
            )
        })?;
        let (tx, rx) = oneshot::channel();
        self.send(Command::Feed(conversations, tx))?;
        rx.await.map_err(|_| MindError::Stopped)?
    }
}

/// Her identity instance: the id kept in `identity.json`, or a new instance on first start.
async fn bind_identity(
    home: &Home,
    persona: &Persona,
    service: &instances::Service,
) -> Result<String, MindError> {
    #[derive(serde::Deserialize, Serialize)]
    struct Bound {
        instance: String,
    }
    if let Some(bound) = std::fs::read(home.identity())
        .ok()
        .and_then(|b| serde_json::from_slice::<Bound>(&b).ok())
    {
        if service.get(&bound.instance).await.is_ok() {
            return Ok(bound.instance);
        }
        tracing::warn!(persona = %persona.id, instance = %bound.instance, "identity instance missing; creating a new one");
    }
    let view = service
        .create(
            &format!("persona {}", persona.name),
            &format!("Identity of persona {}", persona.id),
            None,
        )
        .await
        .map_err(|e| MindError::Identity(e.to_string()))?;
    let bytes = serde_json::to_vec_pretty(&Bound {
        instance: view.id.clone(),
    })
    .map_err(std::io::Error::other)?;
    persona::atomic::write(&home.identity(), &bytes)?;
    Ok(view.id)
}

/// Sends one beat per minute of her clock, catching up on minutes the clock jumped over as
/// one beat covering them.
/// `since` is the minute she started in, read before the task runs so a clock that moves
/// meanwhile is beaten for.
async fn heartbeat(
    clock: Arc<dyn Clock>,
    mut since: OffsetDateTime,
    tx: mpsc::UnboundedSender<Command>,
    stop: CancellationToken,
) {
    loop {
        let next = clock::next_minute(since);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = clock.wait_until(next) => {}
        }
        let at = clock::next_minute(clock.now()) - time::Duration::minutes(1);
        if tx.send(Command::Beat { since, at }).is_err() {
            return;
        }
        since = at;
    }
}

/// Her memory as she left it: `memory.json`, plus whatever `conversation.jsonl` holds that
/// it lost, saved at once so the replay happens only once.
fn recollect(home: &Home, persona: &Persona) -> Result<Memory, MindError> {
    let mut memory = Memory::load(&home.memory());
    let back = memory.replay(&crate::home::read_jsonl(&home.conversation()));
    if back > 0 {
        tracing::info!(persona = %persona.id, turns = back, "replayed turns from conversation.jsonl that memory.json had not kept");
        memory.save(&home.memory())?;
    }
    Ok(memory)
}

/// Fsyncs what she said to `conversation.jsonl`, on a blocking thread so neither her next
/// message nor her Mind's request waits for the disk. Lines written while an fsync runs are
/// covered by the next one. Her life task syncs once more when she stops.
async fn keep_log(life: Arc<Life>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = life.keeper.notified() => {}
        }
        let writer = life.clone();
        let _ = tokio::task::spawn_blocking(move || writer.sync_log()).await;
    }
}

/// Flushes her observations to her identity instance whenever a beat ends or the heartbeat
/// finds her idle, and once more when she stops so nothing she lived through is lost.
async fn keep_regulated(life: Arc<Life>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = life.regulator.notified() => life.regulate().await,
        }
    }
    life.regulate().await;
}

struct Running {
    generation: u64,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

async fn interrupt(running: &mut Option<Running>) {
    if let Some(r) = running.take() {
        r.cancel.cancel();
        let _ = r.task.await;
    }
}

fn begin(life: &Arc<Life>, tx: &mpsc::UnboundedSender<Command>, generation: &mut u64) -> Running {
    *generation += 1;
    let cancel = CancellationToken::new();
    let (life, tx, token, g) = (life.clone(), tx.clone(), cancel.clone(), *generation);
    let task = tokio::spawn(async move {
        life.thinking.store(true, Ordering::Relaxed);
        life.read_contract().await;
        let outcome = cycle::run(&life, &token).await;
        if !matches!(outcome, Err(Halt::Interrupted)) {
            life.regulate_soon();
        }
        life.thinking.store(false, Ordering::Relaxed);
        let _ = tx.send(Command::Settled {
            generation: g,
            outcome,
        });
    });
    Running {
        generation: *generation,
        cancel,
        task,
    }
}

async fn live(
    life: Arc<Life>,
    mut rx: mpsc::UnboundedReceiver<Command>,
    tx: mpsc::UnboundedSender<Command>,
    stop: CancellationToken,
) {
    let mut running: Option<Running> = None;
    let mut generation = 0u64;
    // The nightly routine came due while she was answering her person; she sleeps once the
    // answer is out, at a later beat.
    let mut sleep_owed = false;
    loop {
        let command = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            c = rx.recv() => match c { Some(c) => c, None => break },
        };
        match command {
            Command::Perceive(message) => {
                interrupt(&mut running).await;
                if message.channel.is_some() {
                    *lock(&life.answering) = message.channel.clone();
                }
                // What she heard is already in conversation.jsonl; memory.json catches up at
                // the next heartbeat so the Mind's request does not wait for it.
                life.signal(
                    signal::Kind::Message,
                    "Heard",
                    json!({"channel": message.channel, "content": &*message.content}),
                );
                life.remember_logged(message);
                life.observe(Event::Heard);
                life.touch();
                if life.phase() != Phase::Night {
                    life.set_phase(Phase::Day);
                }
                running = Some(begin(&life, &tx, &mut generation));
            }
            Command::Settled {
                generation: g,
                outcome,
            } => {
                if running.as_ref().is_some_and(|r| r.generation == g) {
                    running = None;
                }
                match outcome {
                    Ok(()) => {
                        life.in_a_row.store(0, Ordering::Relaxed);
                    }
                    Err(Halt::Interrupted) => {}
                    Err(Halt::Fault { stage, error }) => {
                        let n = life.in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
                        life.observe(Event::MindFault);
                        tracing::warn!(persona = %life.persona.id, stage, error = %error, "beat failed");
                        lock(&life.faults).push(health::Fault::new(
                            stage,
                            &life.persona.thinking,
                            &error,
                            life.clock.now(),
                        ));
                        life.announce(LifeEvent::Faulted {
                            stage: stage.into(),
                            error: error.to_string(),
                            in_a_row: n,
                        });
                    }
                }
            }
            Command::Beat { since, at } => {
                life.signal(signal::Kind::Tick, "Tick", json!({"at": clock::iso(at)}));
                if running.is_none() {
                    life.regulate_soon();
                }
                let writer = life.clone();
                tokio::task::spawn_blocking(move || writer.persist());
                let faults = std::mem::take(&mut *lock(&life.faults));
                health::record(&life.home, at, &faults);
                let n = life.in_a_row.load(Ordering::Relaxed);
                if n >= SICK_AFTER {
                    interrupt(&mut running).await;
                    health::fall_sick(&life, faults.last());
                    break;
                }
                let due = destiny::fire_due(&life.home.destiny(), &life.home.history(), at).unwrap_or_else(|e| {
                    tracing::warn!(persona = %life.persona.id, error = %e, "could not fire due destiny");
                    Vec::new()
                });
                if !due.is_empty() {
                    interrupt(&mut running).await;
                    life.with_memory(|m| {
                        m.remember(Message::user(
                            format!("due for:\n{}", due.join("\n---\n")),
                            None,
                        ))
                    });
                    life.touch();
                    life.set_phase(Phase::Day);
                    running = Some(begin(&life, &tx, &mut generation));
                } else if n > 0 && running.is_none() {
                    running = Some(begin(&life, &tx, &mut generation));
                }
                sleep_owed |= ritual::sleep_due(&Routines::load(&life.home.routines()), since, at);
                // Sleep archives the conversation, so cutting off a beat that owes an answer would
                // leave her person unanswered for good. A beat that is only waiting to reflect is
                // cut off: sleep reflects anyway.
                let answering = running.is_some() && life.recall(|m| !m.unanswered().is_empty());
                if sleep_owed && !answering {
                    sleep_owed = false;
                    interrupt(&mut running).await;
                    if let Err(e) = ritual::sleep(&life, &stop).await {
                        tracing::error!(persona = %life.persona.id, error = %e, "nightly sleep failed");
                    }
                }
            }
            Command::Sleep(reply) => {
                interrupt(&mut running).await;
                let _ = reply.send(ritual::sleep(&life, &stop).await);
            }
            Command::Feed(conversations, reply) => {
                interrupt(&mut running).await;
                let _ = reply.send(crate::feed::digest(&life, conversations, &stop).await);
            }
        }
    }
    interrupt(&mut running).await;
    life.sync_log();
    life.persist();
}
