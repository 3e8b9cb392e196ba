//! The cognitive cycle: realize → recognize → learn → decide → (reply) → reflect → archive.
//!
//! Each stage reads her files fresh (so hand edits count on the next beat), asks her Mind for
//! structured JSON with a schema of its own, retries once when the answer is not the JSON it
//! asked for, and then falls back to speaking the prose. Tool calls and their `TOOL_RESULT`
//! turns are kept in her memory in standard chat shape; after any tool runs the cycle starts
//! again from `realize` so she perceives the result. When a pass runs no tool she comes to
//! rest; if her person spoke and she has not answered, `reply` makes sure she does.

use std::sync::{Arc, Mutex};

use persona::record::Reach;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::abilities::{self, Status};
use crate::agent::{Life, Spoken};
use crate::home::{KNOWLEDGE, read_jsonl};
use crate::meanings::{self, Meanings};
use crate::memory::{LOAD_INSTRUCTION, Memory, Message, Prompt};
use crate::regulation::Event;
use crate::voice::Ask;
use crate::{clock, destiny, perceive};

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
enum Stage {
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

type Step<T> = Result<T, Halt>;

/// A tool call she decided on.
struct Call {
    selector: String,
    args: Value,
}

/// Runs passes until one executes no tool, then the stages of rest.
pub async fn run(life: &Life, cancel: &CancellationToken) -> Step<()> {
    let phase = life.phase();
    let owed = Owed::at_start(life);
    think(life, cancel, phase).await?;
    for &stage in phase.resting() {
        if cancel.is_cancelled() {
            return Err(Halt::Interrupted);
        }
        match stage {
            Stage::Reply => {
                reply(life, cancel, owed.as_ref()).await?;
                life.rested();
            }
            Stage::Reflect => reflect(life, cancel, phase).await?,
            Stage::Archive => archive(life),
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
                Stage::Realize => realize(life, cancel).await?,
                Stage::Recognize => recognize(life, cancel, phase).await?,
                Stage::Learn => learn(life, cancel).await?,
                Stage::Decide => decide(life, cancel).await?,
                resting => unreachable!("{} is a stage of rest", resting.name()),
            };
            if !calls.is_empty() {
                ran_tools = execute(life, calls, cancel).await;
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
async fn guarded<T>(
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

/// What a structured question came back as.
enum Answer {
    Json(Value),
    /// Two answers in a row were not the JSON asked for; this is the last whole one's prose
    /// (empty when both were cut off: a cut answer is half a JSON object, not words for her person).
    Prose(String),
}

/// Asks her Mind for JSON matching `schema`, once more if the first answer was not JSON.
async fn ask_json(
    life: &Life,
    cancel: &CancellationToken,
    stage: Stage,
    mut ask: Ask,
) -> Step<Answer> {
    let organ = life.persona.thinking.clone();
    let first = guarded(cancel, stage, life.voice.ask(&organ, &ask)).await?;
    if let Some(v) = first.json {
        return Ok(Answer::Json(v));
    }
    ask.question.push_str(if first.cut_off {
        "\n\nYour last answer ran past your length limit and was cut off. Answer again with one complete JSON object that \
         matches the schema, and keep every field brief."
    } else {
        "\n\nAnswer with one JSON object that matches the schema, and nothing else."
    });
    let second = guarded(cancel, stage, life.voice.ask(&organ, &ask)).await?;
    if let Some(v) = second.json {
        return Ok(Answer::Json(v));
    }
    tracing::warn!(persona = %life.persona.id, stage = stage.name(), cut_off = second.cut_off, "her Mind did not answer the JSON asked for, twice");
    let whole = [second, first]
        .into_iter()
        .find(|r| !r.cut_off && !r.text.trim().is_empty());
    Ok(Answer::Prose(whole.map(|r| r.text).unwrap_or_default()))
}

/// Everything she reads before a stage: who she is, the present moment, what she knows, and
/// the context her last consolidation handed on.
fn identity(life: &Life, context: Option<&str>) -> Vec<String> {
    let p = &life.persona;
    let home = &life.home;
    let now = life.clock.now();
    let character = format!(
        "# You are {name}, an Eternego persona\n\nYou were born on {birthday}. You live on your person's machine, you remember through your files, \
         and you grow with them.\n\n## How your mind works\n\nThe conversation is chat turns: `user` turns are the world reaching you (your person, \
         tool results starting with TOOL_RESULT, notices such as `due for:`); `assistant` turns are yours. To act you answer with JSON decisions; \
         a tool call appears as `{{\"tools.<name>\": {{…}}}}` followed by its TOOL_RESULT.\n\n# Tools\n\n{tools}",
        name = p.name,
        birthday = p.birthday,
        tools = abilities::catalog(&p.reach)
    );
    let today = clock::date(now);
    let plate: Vec<String> = destiny::planned(&home.destiny())
        .into_iter()
        .filter(|e| e.time.starts_with(&today))
        .map(|e| format!("- {} [{}] {}", e.time, e.kind, e.body))
        .collect();
    let notes = home.read("notes.md");
    let mut moment = format!("# The Present Moment\n\n{}", clock::spoken(now));
    if !plate.is_empty() {
        moment.push_str(&format!("\n\n## On Today's Plate\n\n{}", plate.join("\n")));
    }
    if !notes.trim().is_empty() {
        moment.push_str(&format!(
            "\n\n## What You've Been Holding\n\n{}",
            notes.trim()
        ));
    }
    let catalog = Meanings::open(&home.meanings());
    let mut known = String::from(
        "# Instructions\n\nIntentions you have an instruction for (load one with `tools.load_instruction`):\n",
    );
    for (intention, source) in catalog.intentions() {
        let tag = if source == meanings::Source::Builtin {
            "innate"
        } else {
            "yours"
        };
        known.push_str(&format!("- {intention} ({tag})\n"));
    }
    known.push_str("\n# What You Know\n");
    for (key, file) in KNOWLEDGE {
        let text = home.read(file);
        if !text.trim().is_empty() {
            known.push_str(&format!("\n## {key}\n\n{}\n", text.trim()));
        }
    }
    known.push_str(&format!(
        "\n## Places\n\nYour home {} is read-only to you; your workspace {} is yours to use freely.",
        home.root().display(),
        home.workspace().display()
    ));
    let mut blocks = vec![character, moment, known, life.regulated().prompt()];
    if let Some(context) = context.filter(|c| !c.trim().is_empty()) {
        blocks.push(format!("## Recent Context\n\n{context}"));
    }
    blocks
}

/// A question over her live memory, taking only its turns and context.
fn ask(life: &Life, question: String, schema: Option<(&'static str, Value)>) -> Ask {
    let (turns, context) = life.recall(|m| (m.prompts(), m.context.clone()));
    Ask {
        system: identity(life, context.as_deref()),
        turns,
        question,
        schema,
        image: None,
        document: None,
    }
}

fn ask_over(
    life: &Life,
    memory: &Memory,
    question: String,
    schema: Option<(&'static str, Value)>,
) -> Ask {
    Ask {
        system: identity(life, memory.context.as_deref()),
        turns: memory.prompts(),
        question,
        schema,
        image: None,
        document: None,
    }
}

/// The schemas of her two deciding stages. They depend only on the tools her configuration
/// lets her reach, so each of the eight possible sets is built once per process and shared by
/// every persona with that reach, rather than rebuilt on every question or kept per persona.
pub struct Schemas {
    recognizing: Value,
    deciding: Value,
}

impl Schemas {
    pub fn shared(reach: &Reach) -> Arc<Schemas> {
        static BUILT: Mutex<Vec<(Reach, Arc<Schemas>)>> = Mutex::new(Vec::new());
        let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, schemas)) = built.iter().find(|(r, _)| r == reach) {
            return schemas.clone();
        }
        let deciding = [
            ("notify", json!({"type": "string"})),
            ("clear_memory", json!({"type": "null"})),
            (
                "remove_meaning",
                json!({"type": "object", "additionalProperties": false, "required": ["name"], "properties": {"name": {"type": "string"}}}),
            ),
        ];
        let schemas = Arc::new(Schemas {
            recognizing: decision_schema(reach, &[]),
            deciding: decision_schema(reach, &deciding),
        });
        built.push((reach.clone(), schemas.clone()));
        schemas
    }
}

/// One single-key object per kind of action: `say`, `done`, an intention, or a tool.
fn decision_schema(reach: &Reach, extras: &[(&str, Value)]) -> Value {
    let mut variants = vec![
        one(
            "say",
            json!({"type": "string", "description": "Speak to your person."}),
        ),
        one(
            "done",
            json!({"type": "null", "description": "Rest; nothing more to do this beat."}),
        ),
        one(
            LOAD_INSTRUCTION,
            json!({"type": "object", "additionalProperties": false, "required": ["intention"],
                   "properties": {"intention": {"type": "string"}}, "description": "Ask for the instruction for what this moment calls for."}),
        ),
    ];
    variants.extend(extras.iter().map(|(k, v)| one(k, v.clone())));
    variants.extend(abilities::schema_variants(reach));
    json!({"type": "object", "additionalProperties": false, "required": ["decision"],
           "properties": {"decision": {"type": "array", "items": {"anyOf": variants}}}})
}

fn one(key: &str, schema: Value) -> Value {
    json!({"type": "object", "additionalProperties": false, "required": [key], "properties": {key: schema}})
}

/// The items of `{"decision": [...]}`, tolerating a bare list or a single action object.
fn decisions(v: &Value) -> Vec<(String, Value)> {
    let list = match v.get("decision") {
        Some(Value::Array(a)) => a.clone(),
        Some(other @ Value::Object(_)) => vec![other.clone()],
        _ if v.as_object().is_some_and(|o| o.len() == 1) => vec![v.clone()],
        _ => Vec::new(),
    };
    list.iter()
        .filter_map(|item| {
            item.as_object()?
                .iter()
                .next()
                .map(|(k, v)| (k.clone(), v.clone()))
        })
        .collect()
}

/// Applies her decisions: speech and intentions now, tools returned for execution.
fn apply(life: &Life, answer: Answer) -> Vec<Call> {
    let items = match answer {
        Answer::Json(v) => decisions(&v),
        Answer::Prose(text) => {
            let text = text.trim().to_string();
            if !text.is_empty() {
                life.speak(&text, Spoken::Say);
            }
            return Vec::new();
        }
    };
    let mut calls = Vec::new();
    for (key, value) in items {
        match key.as_str() {
            "say" | "notify" => {
                if let Some(text) = value.as_str().map(str::trim).filter(|t| !t.is_empty()) {
                    life.speak(
                        text,
                        if key == "say" {
                            Spoken::Say
                        } else {
                            Spoken::Notify
                        },
                    );
                }
            }
            "done" => break,
            LOAD_INSTRUCTION => {
                if let Some(intention) = value.get("intention").and_then(Value::as_str) {
                    life.with_memory(|m| m.intention(intention));
                }
            }
            "clear_memory" => {
                life.with_memory(|m| {
                    m.forget();
                    m.add_tool_result("clear_memory", "ok", "memory cleared");
                });
            }
            "remove_meaning" => {
                let stem = value.get("name").and_then(Value::as_str).unwrap_or("");
                let mut catalog = Meanings::open(&life.home.meanings());
                let (status, result) = match catalog.remove(stem) {
                    Ok(true) => ("ok", format!("removed {stem}")),
                    Ok(false) => (
                        "error",
                        format!("{stem} is not one of your own instructions"),
                    ),
                    Err(e) => ("error", e.to_string()),
                };
                life.with_memory(|m| m.add_tool_result("remove_meaning", status, &result));
            }
            k if k.starts_with("tools.") => calls.push(Call {
                selector: key,
                args: value,
            }),
            other => {
                tracing::debug!(persona = %life.persona.id, action = other, "ignoring unknown action")
            }
        }
    }
    calls
}

/// Runs her tool calls in order, stopping at the first that does not succeed or when a new
/// perception is waiting. Under `OVER` stress nothing runs: she says she is deferring.
async fn execute(life: &Life, calls: Vec<Call>, cancel: &CancellationToken) -> bool {
    let regulated = life.regulated();
    if regulated.must_defer() {
        let names: Vec<&str> = calls
            .iter()
            .map(|c| c.selector.trim_start_matches("tools."))
            .collect();
        life.speak(
            &format!(
                "I'm overloaded right now (stress {}), so I'm deferring {} instead of acting. Let's come back to it once I've steadied.",
                regulated.stress,
                names.join(", ")
            ),
            Spoken::Say,
        );
        return false;
    }
    let mut ran = false;
    for call in calls {
        if cancel.is_cancelled() {
            break;
        }
        let today = life.conversation_today();
        let outcome = {
            let cx = abilities::Context {
                home: &life.home,
                reach: &life.persona.reach,
                now: life.clock.now(),
                http: &life.http,
                today: &today,
            };
            abilities::call(&call.selector, &call.args, &cx).await
        };
        ran = true;
        life.signal(
            crate::signal::Kind::CapabilityRun,
            call.selector.trim_start_matches("tools."),
            json!({"status": outcome.status.as_str()}),
        );
        life.observe(if outcome.status == Status::Ok {
            Event::ToolSucceeded
        } else {
            Event::ToolFailed
        });
        life.with_memory(|m| {
            m.add_call(&call.selector, &call.args);
            m.add_tool_result(&call.selector, outcome.status.as_str(), &outcome.result);
            if let Some(media) = outcome.media {
                m.remember(Message::unseen(String::new(), media, None));
            }
        });
        if outcome.status != Status::Ok {
            break;
        }
    }
    ran
}

/// Turns files she has not perceived yet into turns of her memory: what her eye saw in an
/// image, what her researcher found in a document (as a tool call and its result, so she knows
/// where it came from), or a plain-text document's own text when she has no researcher.
async fn realize(life: &Life, cancel: &CancellationToken) -> Step<Vec<Call>> {
    let unseen: Vec<Message> = life.recall(|m| {
        m.messages
            .iter()
            .filter(|m| m.prompt.is_none() && m.media.is_some())
            .cloned()
            .collect()
    });
    for message in unseen {
        let media = message
            .media
            .clone()
            .unwrap_or_else(|| unreachable!("filtered on media"));
        let file = std::path::Path::new(&media.source)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let kind = perceive::classify(&file, "").unwrap_or(perceive::Kind::Image);
        let perceived = match std::fs::read(&media.source) {
            Err(e) => Perceived::Report {
                status: "error",
                answer: format!("could not open {}: {e}", media.source),
                question: String::new(),
            },
            Ok(bytes) if kind == perceive::Kind::Image => look(life, cancel, &media, bytes).await?,
            Ok(bytes) => read(life, cancel, &message.content, &file, kind, bytes).await?,
        };
        let (label, tool) = if kind == perceive::Kind::Image {
            ("image", "look_at")
        } else {
            ("document", "read_document")
        };
        let said = if message.content.is_empty() {
            format!("[{label} {file}]")
        } else {
            format!("{} [{label} {file}]", message.content)
        };
        life.with_memory(|m| {
            let Some(at) = m.messages.iter().position(|x| x.id == message.id) else {
                return;
            };
            let (prompt, report) = match perceived {
                Perceived::Text(text) => (format!("{said}\n{text}"), None),
                Perceived::Report {
                    status,
                    answer,
                    question,
                } => (said, Some((status, answer, question))),
            };
            m.messages[at].prompt = Some(Prompt {
                role: crate::memory::Role::User,
                content: prompt.into(),
                cache_point: false,
            });
            if let Some((status, answer, question)) = report {
                let call = Message::assistant(
                    crate::memory::call_text(
                        &format!("tools.{tool}"),
                        &json!({"source": file, "question": question}),
                    ),
                    None,
                );
                m.messages.insert(
                    at + 1,
                    Message::user(crate::memory::result_text(tool, status, &answer), None),
                );
                m.messages.insert(at + 1, call);
            }
        });
    }
    Ok(Vec::new())
}

/// What one of her senses made of a file.
enum Perceived {
    /// The file's own text, put into the conversation as it is.
    Text(String),
    /// What the organ that looked or read reported, and the question it was asked.
    Report {
        status: &'static str,
        answer: String,
        question: String,
    },
}

/// Her eye (or her Mind, when she has no eye) describes an image.
async fn look(
    life: &Life,
    cancel: &CancellationToken,
    media: &crate::memory::Media,
    bytes: Vec<u8>,
) -> Step<Perceived> {
    let question = if media.question.trim().is_empty() {
        "Describe what you see.".to_string()
    } else {
        media.question.clone()
    };
    let eye = life
        .persona
        .eye
        .clone()
        .unwrap_or_else(|| life.persona.thinking.clone());
    let ask = Ask {
        system: vec![format!(
            "You are the eye of {}. Report what is observable, plainly and precisely.",
            life.persona.name
        )],
        turns: Vec::new(),
        question: question.clone(),
        schema: None,
        image: Some((bytes, mime_of(&media.source).to_string())),
        document: None,
    };
    let (status, answer) = match guarded(cancel, Stage::Realize, life.voice.ask(&eye, &ask)).await {
        Ok(reply) => ("ok", reply.text),
        Err(Halt::Fault { error, .. }) if life.persona.eye.is_some() => {
            ("error", error.to_string())
        }
        Err(halt) => return Err(halt),
    };
    Ok(Perceived::Report {
        status,
        answer,
        question,
    })
}

/// Her researcher reads a document and reports what matters in it. Without a researcher a
/// plain-text document goes into the conversation as it is, and her Mind reads a PDF (the
/// upload was refused if it could not).
async fn read(
    life: &Life,
    cancel: &CancellationToken,
    caption: &str,
    file: &str,
    kind: perceive::Kind,
    bytes: Vec<u8>,
) -> Step<Perceived> {
    let text = match kind {
        perceive::Kind::Pdf => None,
        _ => match perceive::document_text(file, &bytes) {
            Ok(text) => Some(text),
            Err(e) => {
                return Ok(Perceived::Report {
                    status: "error",
                    answer: e.to_string(),
                    question: String::new(),
                });
            }
        },
    };
    if let (Some(text), None) = (&text, &life.persona.researcher) {
        return Ok(Perceived::Text(text.clone()));
    }
    let question = if caption.trim().is_empty() {
        "Your person sent this document. Report what matters in it: facts, figures, names, dates and anything that needs doing.".to_string()
    } else {
        format!(
            "Your person sent this document and said: \"{}\". Report what matters in it for that, and anything else that needs doing.",
            caption.trim()
        )
    };
    let ask = Ask {
        system: vec![format!(
            "You are the researcher of {}. You read documents for her and report only what is in them, briefly and precisely; you never invent.",
            life.persona.name
        )],
        turns: Vec::new(),
        question: match &text {
            Some(text) => format!("{question}\n\n[document {file}]\n{text}"),
            None => question.clone(),
        },
        schema: None,
        image: None,
        document: text.is_none().then(|| organs::Document {
            bytes,
            mime: "application/pdf".into(),
            name: file.to_string(),
        }),
    };
    let reader = perceive::reader(&life.persona).clone();
    let (status, answer) = match guarded(
        cancel,
        Stage::Realize,
        life.voice
            .ask_as(persona::OrganSlot::Researcher, &reader, &ask),
    )
    .await
    {
        Ok(reply) => ("ok", reply.text),
        Err(Halt::Fault { error, .. }) if life.persona.researcher.is_some() => {
            ("error", error.to_string())
        }
        Err(halt) => return Err(halt),
    };
    Ok(Perceived::Report {
        status,
        answer,
        question,
    })
}

pub fn mime_of(path: &str) -> &'static str {
    match path
        .rsplit('.')
        .next()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        _ => "image/jpeg",
    }
}

async fn recognize(life: &Life, cancel: &CancellationToken, phase: Phase) -> Step<Vec<Call>> {
    if life.recall(|m| {
        m.perception().is_some() || m.comprehension().is_some() || m.messages.is_empty()
    }) {
        return Ok(Vec::new());
    }
    let task = match phase {
        Phase::Morning => "Find what needs doing this morning.",
        _ => "Find what needs doing this moment.",
    };
    let question = format!(
        "{} {task}\n\nAnswer with {{\"decision\": [...]}}, a list of actions in order. Each action is one of: \
         {{\"say\": \"…\"}} to speak, {{\"tools.load_instruction\": {{\"intention\": \"…\"}}}} to load the instruction for what this \
         moment calls for (use one of your intentions when it fits, or name a new one), {{\"tools.<name>\": {{…}}}} to use a tool, \
         {{\"done\": null}} when nothing more is needed. When you claim a result, name what proves it.",
        clock::spoken(life.clock.now())
    );
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
    let Some(intention) = life.recall(Memory::perception) else {
        return Ok(Vec::new());
    };
    let mut catalog = Meanings::open(&life.home.meanings());
    if let Some(found) = catalog.find(&intention) {
        life.with_memory(|m| m.impression(&found.body));
        return Ok(Vec::new());
    }
    let body = match teach(life, cancel, &intention).await? {
        Some(body) => {
            life.observe(Event::Learned);
            if let Err(e) = catalog.learn(&intention, &body) {
                tracing::warn!(persona = %life.persona.id, error = %e, "could not save a new meaning");
            }
            body
        }
        None => meanings::BUILTIN[0].1.to_string(),
    };
    life.with_memory(|m| m.impression(&body));
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
    let catalog = format!(
        "Tools the persona can call:\n{}\n\nInstructions the persona already has:\n{}",
        abilities::catalog(&life.persona.reach),
        Meanings::open(&life.home.meanings())
            .intentions()
            .into_iter()
            .map(|(i, _)| format!("- {i}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let lesson_ask = Ask {
        system: vec![
            "You teach a persona how to live well with her person. You write short, concrete procedures using only the tools she has.".into(),
        ],
        turns: vec![Prompt { role: crate::memory::Role::User, content: catalog.into(), cache_point: true }],
        question: format!(
            "The persona needs to handle: \"{intention}\". Teach her how. Answer {{\"intention\": \"…\", \"path\": \"step-by-step procedure in Markdown\"}}, \
             or {{}} if there is nothing actionable to teach."
        ),
        schema: Some((
            "lecturing",
            json!({"type": "object", "additionalProperties": false, "required": ["intention", "path"],
                   "properties": {"intention": {"type": "string"}, "path": {"type": "string"}}}),
        )),
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
    let own = Ask {
        system: identity(life, life.recall(|m| m.context.clone()).as_deref()),
        turns: Vec::new(),
        question: format!(
            "Your teacher wrote this procedure for \"{intention}\":\n\n{path}\n\nMake this procedure your own: rewrite it in your own voice, \
             as the instruction you will follow next time. Answer with the instruction only."
        ),
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
    if life.recall(Memory::comprehension).is_none() {
        return Ok(Vec::new());
    }
    let question = format!(
        "{} Focus on the last instruction and act on it now.\n\nAnswer with {{\"decision\": [...]}} as before. You may also use \
         {{\"notify\": \"…\"}} to alert your person about something due, {{\"clear_memory\": null}} to empty your working memory, or \
         {{\"remove_meaning\": {{\"name\": \"<file stem>\"}}}} to forget an instruction you wrote. End with {{\"done\": null}} once the \
         instruction is fulfilled.",
        clock::spoken(life.clock.now())
    );
    let schema = life.schemas.deciding.clone();
    let answer = ask_json(
        life,
        cancel,
        Stage::Decide,
        ask(life, question, Some(("deciding", schema))),
    )
    .await?;
    let calls = apply(life, answer);
    if calls.is_empty() && life.recall(Memory::comprehension).is_some() {
        life.with_memory(|m| {
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
        if life.phase() == Phase::Night {
            return None;
        }
        let heard = life.recall(Memory::unanswered);
        (!heard.is_empty()).then(|| Owed {
            heard,
            said: life.said(),
        })
    }
}

/// Said when her Mind twice fails to put a reply into words, so a person who spoke to her is
/// never met with silence.
pub const ACKNOWLEDGEMENT: &str = "I heard you. Give me a moment to find my words.";

/// Her person spoke and the beat came to rest without a reply to them (a small model often
/// decides `done`, or clears her memory, instead of speaking): her Mind is asked once more,
/// under a schema that requires a non-empty `say`, what she says to them. A reply said in the
/// beat, the deferral she speaks under `OVER` included, is the answer, and nothing more is
/// asked. Two answers without the words fall back to [`ACKNOWLEDGEMENT`].
async fn reply(life: &Life, cancel: &CancellationToken, owed: Option<&Owed>) -> Step<()> {
    let Some(owed) = owed.filter(|o| life.said() == o.said) else {
        return Ok(());
    };
    let heard: Vec<String> = owed
        .heard
        .iter()
        .map(|h| format!("> {}", h.replace('\n', "\n> ")))
        .collect();
    let question = format!(
        "{} Your person said:\n\n{}\n\nYou have not answered them yet. What do you say to your person now? \
         Answer one JSON object whose \"say\" holds your own words to them.",
        clock::spoken(life.clock.now()),
        heard.join("\n\n")
    );
    let schema = json!({"type": "object", "additionalProperties": false, "required": ["say"],
        "properties": {"say": {"type": "string", "minLength": 1, "description": "Your words to your person."}}});
    let mut ask = ask(life, question, Some(("replying", schema)));
    let organ = life.persona.thinking.clone();
    for attempt in 0..2 {
        if attempt > 0 {
            ask.question.push_str(
                "\n\nAnswer with that JSON object and nothing else; \"say\" must not be empty.",
            );
        }
        let answer = guarded(cancel, Stage::Reply, life.voice.ask(&organ, &ask)).await?;
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
    life.speak(ACKNOWLEDGEMENT, Spoken::Say);
    Ok(())
}

/// Refines her own meanings and consolidates what she learned into her files. During the day
/// this waits until she has been idle for her `idle_timeout`; at night it runs at once.
async fn reflect(life: &Life, cancel: &CancellationToken, phase: Phase) -> Step<()> {
    if life.recall(|m| m.messages.is_empty()) {
        return Ok(());
    }
    if phase == Phase::Day {
        let until =
            life.last_activity() + time::Duration::seconds(life.persona.idle_timeout as i64);
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Halt::Interrupted),
            _ = life.clock.wait_until(until) => {}
        }
    }
    refine(life, cancel).await?;
    consolidate(life, cancel).await
}

async fn refine(life: &Life, cancel: &CancellationToken) -> Step<()> {
    let mut catalog = Meanings::open(&life.home.meanings());
    let used: Vec<String> = catalog
        .intentions()
        .into_iter()
        .filter(|(i, _)| catalog.is_learned(i))
        .map(|(i, _)| i)
        .collect();
    if used.is_empty() {
        return Ok(());
    }
    let question = format!(
        "Refine the instructions you wrote for yourself, using what happened today. You may only rewrite these: {}. \
         Answer {{\"updates\": [{{\"intention\": \"…\", \"instruction\": \"…\"}}]}}; leave out any you would keep as they are.",
        used.join("; ")
    );
    let schema = json!({"type": "object", "additionalProperties": false, "required": ["updates"],
        "properties": {"updates": {"type": "array", "items": {"type": "object", "additionalProperties": false,
            "required": ["intention", "instruction"], "properties": {"intention": {"type": "string"}, "instruction": {"type": "string"}}}}}});
    if let Answer::Json(v) = ask_json(
        life,
        cancel,
        Stage::Reflect,
        ask(life, question, Some(("extracting", schema))),
    )
    .await?
    {
        for update in v
            .get("updates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(i), Some(body)) = (
                update.get("intention").and_then(Value::as_str),
                update.get("instruction").and_then(Value::as_str),
            ) else {
                continue;
            };
            if !body.trim().is_empty() {
                let _ = catalog.refine(i, body);
            }
        }
    }
    Ok(())
}

/// Reads a consolidation field, accepting a list of lines as a bulleted text.
fn field(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(|s| format!("- {s}"))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => None,
    }
}

/// Asks what she wants to keep from `memory` and rewrites her person files with it. Returns
/// her answer, or `None` when it was not the JSON asked for (then nothing changes).
pub(crate) async fn keep(
    life: &Life,
    cancel: &CancellationToken,
    memory: &Memory,
) -> Step<Option<Value>> {
    let question = "What do you want to keep as your memory? Rewrite each file you keep about your person and yourself in full, \
        folding in what you learned in this conversation: identity (who they are), traits (how they behave and speak), wishes, \
        struggles, persona_traits (who you are with them), permissions (what they granted you). Also write context: a short \
        handoff to your next waking self about what is in motion. Answer one JSON object with those string fields."
        .to_string();
    let mut props = serde_json::Map::new();
    props.insert("context".into(), json!({"type": "string"}));
    for (key, _) in KNOWLEDGE {
        props.insert(key.into(), json!({"type": "string"}));
    }
    let required: Vec<&str> = props.keys().map(String::as_str).collect();
    let schema = json!({"type": "object", "additionalProperties": false, "required": required, "properties": props});
    let Answer::Json(v) = ask_json(
        life,
        cancel,
        Stage::Reflect,
        ask_over(life, memory, question, Some(("consolidating", schema))),
    )
    .await?
    else {
        return Ok(None);
    };
    if v.as_object().is_none_or(|o| o.is_empty()) {
        return Ok(None);
    }
    for (key, file) in KNOWLEDGE {
        if let Some(text) = field(&v, key)
            && let Err(e) = life.home.write(file, &text)
        {
            tracing::warn!(persona = %life.persona.id, file, error = %e, "could not write a knowledge file");
        }
    }
    life.observe(Event::Consolidated);
    Ok(Some(v))
}

/// Consolidates her live memory: files rewritten, context handed on, the stretch archived.
async fn consolidate(life: &Life, cancel: &CancellationToken) -> Step<()> {
    let Some(v) = keep(life, cancel, &life.memory()).await? else {
        return Ok(());
    };
    life.with_memory(|m| {
        if let Some(context) = field(&v, "context").filter(|c| !c.trim().is_empty()) {
            m.context = Some(context);
        }
        m.consolidate();
    });
    life.announce(crate::agent::LifeEvent::Consolidated);
    Ok(())
}

pub(crate) fn context_of(v: &Value) -> Option<String> {
    field(v, "context").filter(|c| !c.trim().is_empty())
}

/// Keeps what her eye answered about images in `media/gallery.jsonl`.
fn archive(life: &Life) {
    let memory = life.memory();
    let now = clock::iso(life.clock.now());
    let seen: std::collections::BTreeSet<String> =
        read_jsonl(&life.home.media().join("gallery.jsonl"))
            .iter()
            .filter_map(|l| l.get("id")?.as_str().map(str::to_string))
            .collect();
    for batch in &memory.archive {
        for pair in batch.windows(2) {
            let Some((sel, args)) = pair[0].call() else {
                continue;
            };
            let Some((_, status, answer)) = pair[1].tool_result() else {
                continue;
            };
            if sel != "tools.look_at"
                || status != "ok"
                || answer.trim().is_empty()
                || seen.contains(&pair[1].id.to_string())
            {
                continue;
            }
            let line = json!({"id": pair[1].id, "kind": "image", "source": args.get("source"), "question": args.get("question"),
                              "answer": answer, "time": now});
            let _ = persona::atomic::append_line(
                &life.home.media().join("gallery.jsonl"),
                &line.to_string(),
            );
        }
    }
}
