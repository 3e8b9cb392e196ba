//! The cognitive cycle: realize → recognize → learn → decide → (reply) → reflect → archive.
//!
//! Each stage reads her files fresh (so hand edits count on the next beat), asks her Mind for
//! structured JSON with a schema of its own, retries once when the answer is not the JSON it
//! asked for, and then falls back to speaking the prose. Tool calls and their `TOOL_RESULT`
//! turns are kept in her memory in standard chat shape; after any tool runs the cycle starts
//! again from `realize` so she perceives the result. When a pass runs no tool she comes to
//! rest; if her person spoke and she has not answered, `reply` makes sure she does.

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::act::{self, Call, apply};
use crate::draft::Drafter;
use crate::home::KNOWLEDGE;
use crate::life::Life;
use crate::meanings::{self, Meanings};
use crate::memory::{Memory, Message, Prompt};
use crate::outbox::Spoken;
use crate::regulation::Event;
use crate::voice::Ask;
use crate::{clock, destiny, perceive, prompts, reflect};

/// How many times one cycle may restart after running tools before she must rest; a model that
/// keeps calling tools cannot spin forever.
const MAX_PASSES: usize = 12;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Morning,
    Day,
    Night,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    Realize,
    Recognize,
    Learn,
    Decide,
    Reply,
    Reflect,
    Archive,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Realize => "realize",
            Stage::Recognize => "recognize",
            Stage::Learn => "learn",
            Stage::Decide => "decide",
            Stage::Reply => "reply",
            Stage::Reflect => "reflect",
            Stage::Archive => "archive",
        }
    }
}

impl Phase {
    /// The stages of one pass; passes repeat while a pass runs tools.
    fn thinking(self) -> &'static [Stage] {
        match self {
            Phase::Morning | Phase::Day => &[
                Stage::Realize,
                Stage::Recognize,
                Stage::Learn,
                Stage::Decide,
            ],
            Phase::Night => &[],
        }
    }

    /// The stages after she has come to rest. At night she does not think about what reaches
    /// her; she only reflects.
    fn resting(self) -> &'static [Stage] {
        match self {
            Phase::Morning => &[Stage::Reply],
            Phase::Day => &[Stage::Reply, Stage::Reflect],
            Phase::Night => &[Stage::Reflect, Stage::Archive],
        }
    }
}

/// Why a cycle stopped before it settled.
#[derive(Debug)]
pub enum Halt {
    /// A new perception or a stop cancelled it.
    Interrupted,
    /// Her Mind (or another organ she cannot think without) failed.
    Fault {
        stage: &'static str,
        error: organs::OrganError,
    },
}

pub(crate) type Step<T> = Result<T, Halt>;

/// Runs passes until one executes no tool, then the stages of rest.
pub async fn run(life: &Life, cancel: &CancellationToken) -> Step<()> {
    let phase = life.vitals.phase();
    let owed = Owed::at_start(life);
    think(life, cancel, phase).await?;
    for &stage in phase.resting() {
        if cancel.is_cancelled() {
            return Err(Halt::Interrupted);
        }
        match stage {
            Stage::Reply => {
                reply(life, cancel, owed.as_ref()).await?;
                life.vitals.rested();
            }
            Stage::Reflect => reflect::reflect(life, cancel, phase).await?,
            Stage::Archive => reflect::archive(life),
            thinking => unreachable!("{} is not a stage of rest", thinking.name()),
        }
    }
    Ok(())
}

async fn think(life: &Life, cancel: &CancellationToken, phase: Phase) -> Step<()> {
    for _ in 0..MAX_PASSES {
        let mut ran_tools = false;
        for &stage in phase.thinking() {
            if cancel.is_cancelled() {
                return Err(Halt::Interrupted);
            }
            let calls = match stage {
                Stage::Realize => {
                    perceive::realize(life, cancel).await?;
                    Vec::new()
                }
                Stage::Recognize => recognize(life, cancel, phase).await?,
                Stage::Learn => learn(life, cancel).await?,
                Stage::Decide => decide(life, cancel).await?,
                resting => unreachable!("{} is a stage of rest", resting.name()),
            };
            if !calls.is_empty() {
                ran_tools = act::execute(life, calls, cancel).await;
                break;
            }
        }
        if !ran_tools {
            return Ok(());
        }
    }
    tracing::warn!(persona = %life.persona.id, "cycle stopped after {MAX_PASSES} passes of tool calls");
    Ok(())
}

/// Awaits an organ call unless the cycle is cancelled first.
pub(crate) async fn guarded<T>(
    cancel: &CancellationToken,
    stage: Stage,
    call: impl std::future::Future<Output = Result<T, organs::OrganError>>,
) -> Step<T> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(Halt::Interrupted),
        r = call => r.map_err(|error| Halt::Fault { stage: stage.name(), error }),
    }
}

/// Asks her Mind, showing the `say` words of its answer as drafts while it streams; when the
/// answer is not the JSON asked for (or never completes), its drafts are withdrawn.
async fn drafting(
    life: &Life,
    cancel: &CancellationToken,
    stage: Stage,
    organ: &persona::Organ,
    ask: &Ask,
) -> Step<organs::Reply> {
    let mut drafter = Drafter::new(&life.outbox);
    let answer = guarded(
        cancel,
        stage,
        life.voice
            .ask_streaming(organ, ask, &mut |text| drafter.feed(text)),
    )
    .await;
    if !matches!(&answer, Ok(reply) if reply.json.is_some()) {
        drafter.withdraw();
    }
    answer
}

/// What a structured question came back as.
pub(crate) enum Answer {
    Json(Value),
    /// Two answers in a row were not the JSON asked for; this is the last whole one's prose
    /// (empty when both were cut off: a cut answer is half a JSON object, not words for her person).
    Prose(String),
}

/// Asks her Mind for JSON matching `schema`, once more if the first answer was not JSON.
pub(crate) async fn ask_json(
    life: &Life,
    cancel: &CancellationToken,
    stage: Stage,
    mut ask: Ask,
) -> Step<Answer> {
    let organ = life.persona.thinking.clone();
    let first = drafting(life, cancel, stage, &organ, &ask).await?;
    if let Some(v) = first.json {
        return Ok(Answer::Json(v));
    }
    ask.question.push_str(if first.cut_off {
        prompts::RETRY_CUT_OFF
    } else {
        prompts::RETRY_NOT_JSON
    });
    let second = drafting(life, cancel, stage, &organ, &ask).await?;
    if let Some(v) = second.json {
        return Ok(Answer::Json(v));
    }
    tracing::warn!(persona = %life.persona.id, stage = stage.name(), cut_off = second.cut_off, "her Mind did not answer the JSON asked for, twice");
    let whole = [second, first]
        .into_iter()
        .find(|r| !r.cut_off && !r.text.trim().is_empty());
    Ok(Answer::Prose(whole.map(|r| r.text).unwrap_or_default()))
}

/// Everything she reads before a stage, stable parts first: who she is and her tools, her
/// instructions, what she knows, the context her last consolidation handed on. Then, past the
/// returned cache point (how many blocks come before it), what changes every beat: the present
/// moment, her regulation, today's plate.
fn identity(life: &Life, context: Option<&str>) -> (Vec<String>, usize) {
    let p = &life.persona;
    let home = &life.home;
    let now = life.clock.now();
    let character = prompts::character(&p.name, &p.birthday, &p.reach);
    let catalog = Meanings::open(&home.meanings());
    let mut known = String::from(prompts::INSTRUCTIONS);
    for (intention, source) in catalog.intentions() {
        let tag = if source == meanings::Source::Builtin {
            "innate"
        } else {
            "yours"
        };
        known.push_str(&format!("- {intention} ({tag})\n"));
    }
    known.push_str(prompts::KNOWN);
    for (key, file) in KNOWLEDGE {
        let text = home.read(file);
        if !text.trim().is_empty() {
            known.push_str(&format!("\n## {key}\n\n{}\n", text.trim()));
        }
    }
    known.push_str(&prompts::places(
        &home.root().display().to_string(),
        &home.workspace().display().to_string(),
    ));
    let mut blocks = vec![character, known];
    if let Some(context) = context.filter(|c| !c.trim().is_empty()) {
        blocks.push(prompts::recent_context(context));
    }
    let stable = blocks.len();
    blocks.push(prompts::moment(&clock::spoken(now)));
    blocks.push(prompts::state(&life.regulation.regulated()));
    let today = clock::date(now);
    let plate: Vec<String> = destiny::planned(&home.destiny())
        .into_iter()
        .filter(|e| e.time.starts_with(&today))
        .map(|e| format!("- {} [{}] {}", e.time, e.kind, e.body))
        .collect();
    let notes = home.read("notes.md");
    let mut day = Vec::new();
    if !plate.is_empty() {
        day.push(prompts::plate(&plate));
    }
    if !notes.trim().is_empty() {
        day.push(prompts::holding(notes.trim()));
    }
    if !day.is_empty() {
        blocks.push(day.join("\n\n"));
    }
    (blocks, stable)
}

/// A question over her live memory, taking only its turns and context.
pub(crate) fn ask(life: &Life, question: String, schema: Option<(&'static str, Value)>) -> Ask {
    let (turns, context) = life.journal.recall(|m| (m.prompts(), m.context.clone()));
    let (system, stable) = identity(life, context.as_deref());
    Ask {
        system,
        stable,
        turns,
        question,
        schema,
        image: None,
        document: None,
    }
}

pub(crate) fn ask_over(
    life: &Life,
    memory: &Memory,
    question: String,
    schema: Option<(&'static str, Value)>,
) -> Ask {
    let (system, stable) = identity(life, memory.context.as_deref());
    Ask {
        system,
        stable,
        turns: memory.prompts(),
        question,
        schema,
        image: None,
        document: None,
    }
}

async fn recognize(life: &Life, cancel: &CancellationToken, phase: Phase) -> Step<Vec<Call>> {
    if life.journal.recall(|m| {
        m.perception().is_some() || m.comprehension().is_some() || m.messages.is_empty()
    }) {
        return Ok(Vec::new());
    }
    let question = prompts::recognize(&clock::spoken(life.clock.now()), phase);
    let schema = life.schemas.recognizing.clone();
    let answer = ask_json(
        life,
        cancel,
        Stage::Recognize,
        ask(life, question, Some(("recognizing", schema))),
    )
    .await?;
    Ok(apply(life, answer))
}

async fn learn(life: &Life, cancel: &CancellationToken) -> Step<Vec<Call>> {
    let Some(intention) = life.journal.recall(Memory::perception) else {
        return Ok(Vec::new());
    };
    let mut catalog = Meanings::open(&life.home.meanings());
    if let Some(found) = catalog.find(&intention) {
        life.journal.with_memory(|m| m.impression(&found.body));
        return Ok(Vec::new());
    }
    let body = match teach(life, cancel, &intention).await? {
        Some(body) => {
            life.regulation.observe(Event::Learned);
            if let Err(e) = catalog.learn(&intention, &body) {
                tracing::warn!(persona = %life.persona.id, error = %e, "could not save a new meaning");
            }
            body
        }
        None => meanings::BUILTIN[0].1.to_string(),
    };
    life.journal.with_memory(|m| m.impression(&body));
    Ok(Vec::new())
}

/// Her teacher (or her Mind) writes a lesson for an intention; her Mind makes it her own.
/// `None` when the teacher found nothing actionable.
async fn teach(life: &Life, cancel: &CancellationToken, intention: &str) -> Step<Option<String>> {
    let teacher = life
        .persona
        .teacher
        .clone()
        .unwrap_or_else(|| life.persona.thinking.clone());
    let intentions: Vec<String> = Meanings::open(&life.home.meanings())
        .intentions()
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    let catalog = prompts::teaching_catalog(&life.persona.reach, &intentions);
    let lesson_ask = Ask {
        system: vec![prompts::TEACHER.into()],
        stable: 1,
        turns: vec![Prompt {
            role: crate::memory::Role::User,
            content: catalog.into(),
            cache_point: true,
        }],
        question: prompts::teach(intention),
        schema: Some(("lecturing", prompts::lesson_schema())),
        image: None,
        document: None,
    };
    let reply = match guarded(cancel, Stage::Learn, life.voice.ask(&teacher, &lesson_ask)).await {
        Ok(r) => r,
        Err(Halt::Fault { error, .. }) if life.persona.teacher.is_some() => {
            tracing::warn!(persona = %life.persona.id, error = %error, "teacher unavailable");
            return Ok(None);
        }
        Err(h) => return Err(h),
    };
    let Some(path) = reply
        .json
        .as_ref()
        .and_then(|v| v.get("path"))
        .and_then(Value::as_str)
        .filter(|p| !p.trim().is_empty())
    else {
        return Ok(None);
    };
    if let Err(e) = meanings::save_lesson(&life.home.lessons(), intention, path) {
        tracing::warn!(persona = %life.persona.id, error = %e, "could not save a lesson");
    }
    let (system, stable) = identity(life, life.journal.recall(|m| m.context.clone()).as_deref());
    let own = Ask {
        system,
        stable,
        turns: Vec::new(),
        question: prompts::own(intention, path),
        schema: None,
        image: None,
        document: None,
    };
    let mine = guarded(
        cancel,
        Stage::Learn,
        life.voice.ask(&life.persona.thinking, &own),
    )
    .await?;
    Ok(Some(if mine.cut_off || mine.text.trim().is_empty() {
        path.to_string()
    } else {
        mine.text
    }))
}

async fn decide(life: &Life, cancel: &CancellationToken) -> Step<Vec<Call>> {
    if life.journal.recall(Memory::comprehension).is_none() {
        return Ok(Vec::new());
    }
    let question = prompts::decide(&clock::spoken(life.clock.now()));
    let schema = life.schemas.deciding.clone();
    let answer = ask_json(
        life,
        cancel,
        Stage::Decide,
        ask(life, question, Some(("deciding", schema))),
    )
    .await?;
    let calls = apply(life, answer);
    if calls.is_empty() && life.journal.recall(Memory::comprehension).is_some() {
        life.journal.with_memory(|m| {
            m.remember(Message::assistant(json!({"done": null}).to_string(), None))
        });
    }
    Ok(calls)
}

/// What her person said that a cycle began owing an answer to, and how many replies she had
/// said by then.
struct Owed {
    heard: Vec<String>,
    said: u64,
}

impl Owed {
    /// `None` at night, and when her person has nothing unanswered.
    fn at_start(life: &Life) -> Option<Owed> {
        if life.vitals.phase() == Phase::Night {
            return None;
        }
        let heard = life.journal.recall(Memory::unanswered);
        (!heard.is_empty()).then(|| Owed {
            heard,
            said: life.outbox.said(),
        })
    }
}

/// Her person spoke and the beat came to rest without a reply to them (a small model often
/// decides `done`, or clears her memory, instead of speaking): her Mind is asked once more,
/// under a schema that requires a non-empty `say`, what she says to them. A reply said in the
/// beat, the deferral she speaks under `OVER` included, is the answer, and nothing more is
/// asked. Two answers without the words fall back to [`prompts::ACKNOWLEDGEMENT`].
async fn reply(life: &Life, cancel: &CancellationToken, owed: Option<&Owed>) -> Step<()> {
    let Some(owed) = owed.filter(|o| life.outbox.said() == o.said) else {
        return Ok(());
    };
    let heard: Vec<String> = owed
        .heard
        .iter()
        .map(|h| format!("> {}", h.replace('\n', "\n> ")))
        .collect();
    let question = prompts::reply(&clock::spoken(life.clock.now()), &heard);
    let schema = prompts::reply_schema();
    let mut ask = ask(life, question, Some(("replying", schema)));
    let organ = life.persona.thinking.clone();
    for attempt in 0..2 {
        if attempt > 0 {
            ask.question.push_str(prompts::REPLY_RETRY);
        }
        let answer = drafting(life, cancel, Stage::Reply, &organ, &ask).await?;
        if let Some(words) = answer
            .json
            .as_ref()
            .and_then(|v| v.get("say"))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|w| !w.is_empty())
        {
            life.speak(words, Spoken::Say);
            return Ok(());
        }
    }
    tracing::warn!(persona = %life.persona.id, "her Mind found no words twice; acknowledging instead");
    life.speak(prompts::ACKNOWLEDGEMENT, Spoken::Say);
    Ok(())
}
