//! Every word her stages put to her organs, and every schema they ask for, as named items.
//!
//! Each stage's question carries a fixed phrase (`RECOGNIZE_*`, `DECIDE`, `REPLY`, `TEACH`,
//! `OWN`, `REFINE`, `KEEP`; the eye and the researcher by their system prompts), so a test
//! speaking for her Mind can tell the stages apart by these names rather than by copies of
//! the prompt text.
//!
//! Her system prompt is split in two: what rarely changes first (who she is, her tools, her
//! instructions, what she knows), then what changes every beat (the present moment, her
//! regulation, today's plate). The boundary is sent as a cache point, so a provider that caches
//! prompt prefixes (Anthropic, an embedded model reusing its context) reuses the first part.

use std::sync::{Arc, Mutex};

use persona::record::Reach;
use serde_json::{Value, json};

use crate::abilities;
use crate::cycle::Phase;
use crate::memory::LOAD_INSTRUCTION;
use crate::regulation::Regulated;

/// Asked again after an answer that ran past the length limit.
pub const RETRY_CUT_OFF: &str = "\n\nYour last answer ran past your length limit and was cut off. Answer again with one complete JSON object that \
     matches the schema, and keep every field brief.";
/// Asked again after an answer that was not JSON.
pub const RETRY_NOT_JSON: &str =
    "\n\nAnswer with one JSON object that matches the schema, and nothing else.";

/// The task of `recognize` in the morning.
pub const RECOGNIZE_MORNING: &str = "Find what needs doing this morning.";
/// The task of `recognize` the rest of the day.
pub const RECOGNIZE_MOMENT: &str = "Find what needs doing this moment.";
/// What marks the question of `decide`.
pub const DECIDE: &str = "Focus on the last instruction and act on it now.";
/// What marks the question of `reply`.
pub const REPLY: &str = "You have not answered them yet.";
/// Asked again when `reply` came back without words.
pub const REPLY_RETRY: &str =
    "\n\nAnswer with that JSON object and nothing else; \"say\" must not be empty.";
/// What marks the teacher's question.
pub const TEACH: &str = "Teach her how.";
/// What marks the question that makes a lesson hers.
pub const OWN: &str = "Make this procedure your own";
/// What marks the question of refinement.
pub const REFINE: &str = "Refine the instructions you wrote for yourself";
/// What marks the consolidation question.
pub const KEEP: &str = "What do you want to keep as your memory?";
/// How the eye's system prompt begins.
pub const EYE: &str = "You are the eye of";
/// How the researcher's system prompt begins.
pub const RESEARCHER: &str = "You are the researcher of";
/// What she asks her eye when her person asked nothing in particular.
pub const DESCRIBE: &str = "Describe what you see.";
/// The teacher's system prompt.
pub const TEACHER: &str = "You teach a persona how to live well with her person. You write short, concrete procedures using only the tools she has.";

/// Said when her Mind twice fails to put a reply into words, so a person who spoke to her is
/// never met with silence.
pub const ACKNOWLEDGEMENT: &str = "I heard you. Give me a moment to find my words.";

/// Who she is and how her mind works, with her tools.
pub fn character(name: &str, birthday: &str, reach: &Reach) -> String {
    format!(
        "# You are {name}, an Eternego persona\n\nYou were born on {birthday}. You live on your person's machine, you remember through your files, \
         and you grow with them.\n\n## How your mind works\n\nThe conversation is chat turns: `user` turns are the world reaching you (your person, \
         tool results starting with TOOL_RESULT, notices such as `due for:`); `assistant` turns are yours. To act you answer with JSON decisions; \
         a tool call appears as `{{\"tools.<name>\": {{…}}}}` followed by its TOOL_RESULT.\n\n# Tools\n\n{tools}",
        tools = abilities::catalog(reach)
    )
}

/// The head of her instructions block; each intention follows as a line.
pub const INSTRUCTIONS: &str = "# Instructions\n\nIntentions you have an instruction for (load one with `tools.load_instruction`):\n";

/// The head of what she knows; each knowledge file follows as a section.
pub const KNOWN: &str = "\n# What You Know\n";

/// Where her home and her workspace are.
pub fn places(home: &str, workspace: &str) -> String {
    format!(
        "\n## Places\n\nYour home {home} is read-only to you; your workspace {workspace} is yours to use freely."
    )
}

/// The context her last consolidation handed on.
pub fn recent_context(context: &str) -> String {
    format!("## Recent Context\n\n{context}")
}

/// The present moment, in her words.
pub fn moment(spoken_now: &str) -> String {
    format!("# The Present Moment\n\n{spoken_now}")
}

/// What is planned today, one line per entry.
pub fn plate(lines: &[String]) -> String {
    format!("## On Today's Plate\n\n{}", lines.join("\n"))
}

/// Her own notes.
pub fn holding(notes: &str) -> String {
    format!("## What You've Been Holding\n\n{notes}")
}

/// The block of her system prompt that tells her how she is regulated right now.
pub fn state(r: &Regulated) -> String {
    format!(
        "# Your State\n\nStress: {} ({}). Energy: {}.\nAllowed now: {}.\nForbidden now: {}.\nDecide with {} tempo, {} risk, {} expressiveness, {} commitment threshold.{}",
        r.stress,
        r.system,
        r.energy,
        r.allowed_actions.join(", "),
        r.forbidden_actions.join(", "),
        r.decision_style.tempo,
        r.decision_style.risk,
        r.decision_style.expressiveness,
        r.decision_style.commitment_threshold,
        if r.must_defer() {
            "\nYou are overloaded: do not act now. Tell your person you are deferring, and why."
        } else {
            ""
        }
    )
}

pub fn recognize(spoken_now: &str, phase: Phase) -> String {
    let task = match phase {
        Phase::Morning => RECOGNIZE_MORNING,
        _ => RECOGNIZE_MOMENT,
    };
    format!(
        "{spoken_now} {task}\n\nAnswer with {{\"decision\": [...]}}, a list of actions in order. Each action is one of: \
         {{\"say\": \"…\"}} to speak, {{\"tools.load_instruction\": {{\"intention\": \"…\"}}}} to load the instruction for what this \
         moment calls for (use one of your intentions when it fits, or name a new one), {{\"tools.<name>\": {{…}}}} to use a tool, \
         {{\"done\": null}} when nothing more is needed. When you claim a result, name what proves it."
    )
}

pub fn decide(spoken_now: &str) -> String {
    format!(
        "{spoken_now} {DECIDE}\n\nAnswer with {{\"decision\": [...]}} as before. You may also use \
         {{\"notify\": \"…\"}} to alert your person about something due, {{\"clear_memory\": null}} to empty your working memory, or \
         {{\"remove_meaning\": {{\"name\": \"<file stem>\"}}}} to forget an instruction you wrote. End with {{\"done\": null}} once the \
         instruction is fulfilled."
    )
}

/// `heard`: what her person said, each already quoted.
pub fn reply(spoken_now: &str, heard: &[String]) -> String {
    format!(
        "{spoken_now} Your person said:\n\n{}\n\n{REPLY} What do you say to your person now? \
         Answer one JSON object whose \"say\" holds your own words to them.",
        heard.join("\n\n")
    )
}

pub fn reply_schema() -> Value {
    json!({"type": "object", "additionalProperties": false, "required": ["say"],
        "properties": {"say": {"type": "string", "minLength": 1, "description": "Your words to your person."}}})
}

/// What the teacher is shown: the tools she can call and the instructions she has.
pub fn teaching_catalog(reach: &Reach, intentions: &[String]) -> String {
    format!(
        "Tools the persona can call:\n{}\n\nInstructions the persona already has:\n{}",
        abilities::catalog(reach),
        intentions
            .iter()
            .map(|i| format!("- {i}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

pub fn teach(intention: &str) -> String {
    format!(
        "The persona needs to handle: \"{intention}\". {TEACH} Answer {{\"intention\": \"…\", \"path\": \"step-by-step procedure in Markdown\"}}, \
         or {{}} if there is nothing actionable to teach."
    )
}

pub fn lesson_schema() -> Value {
    json!({"type": "object", "additionalProperties": false, "required": ["intention", "path"],
           "properties": {"intention": {"type": "string"}, "path": {"type": "string"}}})
}

pub fn own(intention: &str, path: &str) -> String {
    format!(
        "Your teacher wrote this procedure for \"{intention}\":\n\n{path}\n\n{OWN}: rewrite it in your own voice, \
         as the instruction you will follow next time. Answer with the instruction only."
    )
}

pub fn refine(used: &[String]) -> String {
    format!(
        "{REFINE}, using what happened today. You may only rewrite these: {}. \
         Answer {{\"updates\": [{{\"intention\": \"…\", \"instruction\": \"…\"}}]}}; leave out any you would keep as they are.",
        used.join("; ")
    )
}

pub fn refine_schema() -> Value {
    json!({"type": "object", "additionalProperties": false, "required": ["updates"],
        "properties": {"updates": {"type": "array", "items": {"type": "object", "additionalProperties": false,
            "required": ["intention", "instruction"], "properties": {"intention": {"type": "string"}, "instruction": {"type": "string"}}}}}})
}

pub fn keep() -> String {
    format!(
        "{KEEP} Rewrite each file you keep about your person and yourself in full, \
        folding in what you learned in this conversation: identity (who they are), traits (how they behave and speak), wishes, \
        struggles, persona_traits (who you are with them), permissions (what they granted you). Also write context: a short \
        handoff to your next waking self about what is in motion. Answer one JSON object with those string fields."
    )
}

/// Every knowledge key and `context`, each a string, all required.
pub fn keep_schema() -> Value {
    let mut props = serde_json::Map::new();
    props.insert("context".into(), json!({"type": "string"}));
    for (key, _) in crate::home::KNOWLEDGE {
        props.insert(key.into(), json!({"type": "string"}));
    }
    let required: Vec<&str> = props.keys().map(String::as_str).collect();
    json!({"type": "object", "additionalProperties": false, "required": required, "properties": props})
}

pub fn eye(name: &str) -> String {
    format!("{EYE} {name}. Report what is observable, plainly and precisely.")
}

pub fn researcher(name: &str) -> String {
    format!(
        "{RESEARCHER} {name}. You read documents for her and report only what is in them, briefly and precisely; you never invent."
    )
}

/// What she asks her researcher about a document, given what her person said with it.
pub fn research(caption: &str) -> String {
    if caption.trim().is_empty() {
        "Your person sent this document. Report what matters in it: facts, figures, names, dates and anything that needs doing.".to_string()
    } else {
        format!(
            "Your person sent this document and said: \"{}\". Report what matters in it for that, and anything else that needs doing.",
            caption.trim()
        )
    }
}

/// The schemas of her two deciding stages. They depend only on the tools her configuration
/// lets her reach, so each of the eight possible sets is built once per process and shared by
/// every persona with that reach, rather than rebuilt on every question or kept per persona.
pub struct Schemas {
    pub recognizing: Value,
    pub deciding: Value,
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
           "properties": {"decision": {"type": "array", "maxItems": MOST_DECISIONS, "items": {"anyOf": variants}}}})
}

/// The most decisions one answer may hold. A pass that runs a tool starts another pass, so she
/// never needs a long list; without a bound a small local model can repeat `{"done": null}`
/// until its token limit (seen with SmolLM2 on the embedded engine: minutes per stage), while
/// every engine that decodes by grammar (llama.cpp's, Ollama's) and Gemini honour `maxItems`.
const MOST_DECISIONS: usize = 4;

fn one(key: &str, schema: Value) -> Value {
    json!({"type": "object", "additionalProperties": false, "required": [key], "properties": {key: schema}})
}
