//! One running persona. The daemon's registry owns one `Agent` per persona it serves.
//!
//! Her life runs in one task that takes commands in order (a perception, a heartbeat, sleep,
//! a feed), so only one of them touches her at a time. The cognitive cycle runs beside it as a
//! cancellable task: a new perception cancels it and starts it again, so she always thinks
//! about the latest state of the conversation. A heartbeat task, driven by the injected
//! [`Clock`], sends one beat per minute.

use std::sync::Arc;

use persona::{Persona, Store};
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::{self, Clock};
use crate::cycle::{self, Halt, Phase};
use crate::error::MindError;
use crate::gateway::Gateways;
use crate::home::{Home, Routines};
use crate::inlet::Inlet;
use crate::journal::{Journal, keep_log};
use crate::life::Life;
use crate::memory::{Memory, Message};
use crate::outbox::{LifeEvent, Outbox, Outgoing};
use crate::regulation::{Event, Identity, Regulation, keep_regulated};
use crate::signal::{self, Signal};
use crate::vitals::{LiveStatus, SICK_AFTER};
use crate::{destiny, health, ritual};

/// What the daemon hands her when she starts.
#[derive(Clone)]
pub struct Surroundings {
    pub http: reqwest::Client,
    /// Her identity engine (the daemon's hosted instances).
    pub identity: Arc<dyn Identity>,
    pub clock: Arc<dyn Clock>,
    /// Where her Telegram and Discord gateways reach the platforms.
    pub platforms: channels::PlatformUrls,
    /// The daemon's embedded engine: her local models in its library think in process.
    pub embedded: Option<organs::Embedded>,
}

pub(crate) enum Command {
    /// A message reached her; `waiter`, when given, is answered once the beat it starts comes
    /// to rest (see [`crate::exchange`]).
    Perceive {
        message: Message,
        waiter: Option<oneshot::Sender<Result<(), MindError>>>,
    },
    /// Cancels her current beat; answers whether one was in flight.
    Interrupt(oneshot::Sender<bool>),
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

/// The handle the registry keeps.
pub struct Agent {
    persona: Persona,
    pub(crate) life: Arc<Life>,
    pub(crate) commands: mpsc::UnboundedSender<Command>,
    /// Held through one exchange, so exchanges wait their turn instead of cutting each other off.
    pub(crate) exchanges: Arc<tokio::sync::Mutex<()>>,
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
        let regulation = Regulation::bind(&persona, home.identity(), around.identity).await?;
        let now = around.clock.now();
        let stop = CancellationToken::new();
        let (gateways, mut tasks) =
            Gateways::open(&persona, &around.http, &around.platforms, &stop);
        let journal = Journal::recollect(persona.id, &home)?;
        let outbox = Outbox::new(&persona, around.clock.clone(), gateways);
        let mut life = Life::new(
            persona.clone(),
            store,
            home,
            around.http,
            around.clock,
            journal,
            regulation,
            outbox,
        );
        life.voice = life
            .voice
            .with_embedded(around.embedded, persona.id.to_string());
        let life = Arc::new(life);
        let (tx, rx) = mpsc::unbounded_channel();
        tasks.extend(life.outbox.gateways.listen(
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
        let keeper = tokio::spawn(keep_log(life.journal.clone(), stop.clone()));
        let regulator = tokio::spawn(keep_regulated(life.clone(), stop.clone()));
        tasks.extend([living, heart, keeper, regulator]);
        Ok(Agent {
            persona,
            life,
            commands: tx,
            exchanges: Arc::new(tokio::sync::Mutex::new(())),
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
        self.life.outbox.subscribe()
    }

    /// Her live feed, for the daemon's sockets.
    pub fn signals(&self) -> broadcast::Receiver<Signal> {
        self.life.outbox.signals()
    }

    /// `POST .../interrupt` (the dashboard's STOP): cancels the beat she is in. Returns whether
    /// one was in flight. What she heard stays in her memory unanswered; the next message she
    /// receives starts a new beat over all of it.
    pub async fn interrupt(&self) -> Result<bool, MindError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Interrupt(tx))?;
        rx.await.map_err(|_| MindError::Stopped)
    }

    /// Faults, sickness and sleep, for the registry.
    pub fn life_events(&self) -> broadcast::Receiver<LifeEvent> {
        self.life.outbox.events()
    }

    /// Her working memory as it is now (`memory.json` may be up to a heartbeat behind).
    pub fn memory(&self) -> Memory {
        self.life.journal.memory()
    }

    pub fn status(&self) -> LiveStatus {
        self.life.status()
    }

    fn send(&self, c: Command) -> Result<(), MindError> {
        self.commands.send(c).map_err(|_| MindError::Stopped)
    }

    pub(crate) fn inlet(&self) -> Inlet {
        Inlet {
            life: self.life.clone(),
            commands: self.commands.clone(),
        }
    }

    /// `POST .../read`: a text message from her person over the web channel.
    pub async fn read(&self, text: &str) -> Result<(), MindError> {
        self.inlet().text(text, self.life.outbox.web()).await
    }

    /// `POST .../hear`: a voice note, transcribed by her ear, then read like text.
    pub async fn hear(&self, audio: organs::Audio) -> Result<String, MindError> {
        self.inlet().hear(&audio, self.life.outbox.web()).await
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
        let kind = perceivable(file_name, mime)?;
        crate::perceive::check_readable(&self.persona, kind, file_name, bytes)?;
        let path = crate::perceive::store_media(
            &self.life.home,
            "web",
            file_name,
            bytes,
            self.life.clock.now(),
        )?;
        self.perceive_file(path, caption).await
    }

    /// [`Agent::attach`] for a file already on disk on her home's file system (an upload
    /// spooled by the daemon): it is checked without being read whole and moved into her
    /// media, never copied. On a refusal it is left where it was.
    pub async fn attach_file(
        &self,
        file_name: &str,
        mime: &str,
        spooled: &std::path::Path,
        caption: &str,
    ) -> Result<(), MindError> {
        let kind = perceivable(file_name, mime)?;
        crate::perceive::check_readable_file(&self.persona, kind, file_name, spooled)?;
        let path = crate::perceive::store_media_file(
            &self.life.home,
            "web",
            file_name,
            spooled,
            self.life.clock.now(),
        )?;
        self.perceive_file(path, caption).await
    }

    async fn perceive_file(
        &self,
        path: std::path::PathBuf,
        caption: &str,
    ) -> Result<(), MindError> {
        self.inlet()
            .file(path.display().to_string(), caption, self.life.outbox.web())
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
        self.life.pair(code)
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
        self.feed_from(export, source).await
    }

    /// [`Agent::feed`] reading the export from `export` (a spooled upload), so its raw bytes
    /// are never held beside the parsed conversations.
    pub async fn feed_from(
        &self,
        export: impl std::io::Read,
        source: &str,
    ) -> Result<usize, MindError> {
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

/// The kind of a file she was sent, or the 415 when no organ of hers can perceive it.
fn perceivable(file_name: &str, mime: &str) -> Result<crate::perceive::Kind, MindError> {
    crate::perceive::classify(file_name, mime).ok_or_else(|| {
        MindError::Unperceivable(format!("No organ of hers can perceive {mime} files."))
    })
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

/// An exchange waiting for her to rest.
struct Waiter {
    /// Beats at rest when its message was perceived.
    base: u64,
    reply: oneshot::Sender<Result<(), MindError>>,
}

/// Answers (and drops) every waiter `ready` picks.
fn answer(
    waiting: &mut Vec<Waiter>,
    ready: impl Fn(&Waiter) -> bool,
    outcome: impl Fn() -> Result<(), MindError>,
) {
    let (done, rest): (Vec<Waiter>, Vec<Waiter>) = waiting.drain(..).partition(|w| ready(w));
    *waiting = rest;
    for w in done {
        let _ = w.reply.send(outcome());
    }
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
    // Every line logged during the beat (her organs' calls, her tools, the identity engine)
    // names her, even where the call site does not know whose beat it is.
    let span = tracing::info_span!("beat", persona = %life.persona.id);
    let task = tokio::spawn(tracing::Instrument::instrument(
        async move {
            life.vitals.set_thinking(true);
            life.read_contract().await;
            let outcome = cycle::run(&life, &token).await;
            if !matches!(outcome, Err(Halt::Interrupted)) {
                life.regulation.regulate_soon();
            }
            life.vitals.set_thinking(false);
            let _ = tx.send(Command::Settled {
                generation: g,
                outcome,
            });
        },
        span,
    ));
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
    let mut waiting: Vec<Waiter> = Vec::new();
    let mut rests = life.vitals.watch_beats();
    // The nightly routine came due while she was answering her person; she sleeps once the
    // answer is out, at a later beat.
    let mut sleep_owed = false;
    loop {
        let command = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            Ok(()) = rests.changed(), if !waiting.is_empty() => {
                let rested = *rests.borrow_and_update();
                answer(&mut waiting, |w| w.base < rested, || Ok(()));
                continue;
            }
            c = rx.recv() => match c { Some(c) => c, None => break },
        };
        match command {
            Command::Interrupt(reply) => {
                let had = running.is_some();
                interrupt(&mut running).await;
                answer(&mut waiting, |_| true, || Ok(()));
                let _ = reply.send(had);
            }
            Command::Perceive { message, waiter } => {
                interrupt(&mut running).await;
                if let Some(reply) = waiter {
                    // Read after the old beat is gone, so only a rest of a beat that began
                    // with this message in her memory answers it.
                    waiting.push(Waiter {
                        base: life.vitals.beats(),
                        reply,
                    });
                }
                if let Some(via) = &message.channel {
                    life.outbox.answer_on(via.clone());
                }
                // What she heard is already in conversation.jsonl; memory.json catches up at
                // the next heartbeat so the Mind's request does not wait for it.
                life.outbox.signal(
                    signal::Kind::Message,
                    "Heard",
                    json!({"channel": message.channel, "content": &*message.content}),
                );
                life.journal.remember_logged(message);
                life.regulation.observe(Event::Heard);
                life.touch();
                if life.vitals.phase() != Phase::Night {
                    life.vitals.set_phase(Phase::Day);
                }
                running = Some(begin(&life, &tx, &mut generation));
            }
            Command::Settled {
                generation: g,
                outcome,
            } => {
                let current = running.as_ref().is_some_and(|r| r.generation == g);
                if current {
                    running = None;
                }
                match outcome {
                    Ok(()) => {
                        life.vitals.healthy();
                        if current {
                            answer(&mut waiting, |_| true, || Ok(()));
                        }
                    }
                    Err(Halt::Interrupted) => {}
                    Err(Halt::Fault { stage, error }) => {
                        if current {
                            answer(
                                &mut waiting,
                                |_| true,
                                || {
                                    Err(MindError::Faulted {
                                        stage: stage.into(),
                                        error: error.to_string(),
                                    })
                                },
                            );
                        }
                        life.regulation.observe(Event::MindFault);
                        tracing::warn!(persona = %life.persona.id, stage, error = %error, "beat failed");
                        let n = life.vitals.faulted(health::Fault::new(
                            stage,
                            &life.persona.thinking,
                            &error,
                            life.clock.now(),
                        ));
                        life.outbox.announce(LifeEvent::Faulted {
                            stage: stage.into(),
                            error: error.to_string(),
                            in_a_row: n,
                        });
                    }
                }
            }
            Command::Beat { since, at } => {
                life.outbox
                    .signal(signal::Kind::Tick, "Tick", json!({"at": clock::iso(at)}));
                if running.is_none() {
                    life.regulation.regulate_soon();
                }
                let writer = life.clone();
                tokio::task::spawn_blocking(move || writer.journal.persist());
                let faults = life.vitals.take_faults();
                health::record(&life.home, at, &faults);
                let n = life.vitals.in_a_row();
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
                    life.journal.with_memory(|m| {
                        m.remember(Message::user(
                            format!("due for:\n{}", due.join("\n---\n")),
                            None,
                        ))
                    });
                    life.touch();
                    life.vitals.set_phase(Phase::Day);
                    running = Some(begin(&life, &tx, &mut generation));
                } else if n > 0 && running.is_none() {
                    running = Some(begin(&life, &tx, &mut generation));
                }
                sleep_owed |= ritual::sleep_due(&Routines::load(&life.home.routines()), since, at);
                // Sleep archives the conversation, so cutting off a beat that owes an answer would
                // leave her person unanswered for good. A beat that is only waiting to reflect is
                // cut off: sleep reflects anyway.
                let answering =
                    running.is_some() && life.journal.recall(|m| !m.unanswered().is_empty());
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
                // Sleep archives the conversation; an exchange waiting on the cut beat ends.
                answer(&mut waiting, |_| true, || Ok(()));
                let _ = reply.send(ritual::sleep(&life, &stop).await);
            }
            Command::Feed(conversations, reply) => {
                interrupt(&mut running).await;
                answer(&mut waiting, |_| true, || Ok(()));
                let _ = reply.send(crate::feed::digest(&life, conversations, &stop).await);
            }
        }
    }
    interrupt(&mut running).await;
    life.journal.sync_log();
    life.journal.persist();
}
