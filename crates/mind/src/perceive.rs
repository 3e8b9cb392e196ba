//! What kind of file reached her, and where it is kept. Images go to her eye (or her Mind,
//! which looks when she has no eye). Documents go to her researcher, who reports what matters
//! so a long file does not flood her memory; without one, a plain-text document is read into
//! the conversation as it is and a PDF is read by her Mind if it can read PDFs. Anything else
//! no organ of hers can perceive.

use std::path::PathBuf;

use serde_json::json;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::cycle::{Halt, Stage, Step, guarded};
use crate::error::MindError;
use crate::home::Home;
use crate::life::Life;
use crate::memory::{Message, Prompt};
use crate::prompts;
use crate::voice::Ask;

/// Longest document text put into her conversation.
const DOCUMENT_LIMIT: usize = 20_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Image,
    Text,
    Pdf,
}

pub fn classify(file_name: &str, mime: &str) -> Option<Kind> {
    let mime = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    // What the sender declared, else what the name says (the one table, `persona::media_type`).
    [mime.as_str(), persona::media_type::of_name(file_name)]
        .into_iter()
        .find_map(kind_of)
}

fn kind_of(mime: &str) -> Option<Kind> {
    match mime {
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" => Some(Kind::Image),
        "application/pdf" => Some(Kind::Pdf),
        "application/json" => Some(Kind::Text),
        m if m.starts_with("text/") => Some(Kind::Text),
        _ => None,
    }
}

/// Who reads her documents: her researcher, or her Mind when she has none.
pub fn reader(persona: &persona::Persona) -> &persona::Organ {
    persona.researcher.as_ref().unwrap_or(&persona.thinking)
}

/// Refuses, before anything is kept, a document no organ of hers can read.
pub fn check_readable(
    persona: &persona::Persona,
    kind: Kind,
    file_name: &str,
    bytes: &[u8],
) -> Result<(), MindError> {
    match kind {
        Kind::Image => Ok(()),
        Kind::Text => document_text(file_name, bytes).map(drop),
        Kind::Pdf if organs::reads_documents(reader(persona).provider) => Ok(()),
        Kind::Pdf => Err(MindError::Unperceivable(format!(
            "She cannot read PDF files: her {} must be an Anthropic or Gemini model.",
            if persona.researcher.is_some() {
                "researcher"
            } else {
                "Mind (she has no researcher)"
            }
        ))),
    }
}

/// Saves a file she was sent as `media/<origin>-<stamp>-<name>` (`web`, `discord`; flat, and
/// the name reduced to safe characters).
pub fn store_media(
    home: &Home,
    origin: &str,
    file_name: &str,
    bytes: &[u8],
    now: OffsetDateTime,
) -> Result<PathBuf, MindError> {
    let f = time::macros::format_description!("[year][month][day]-[hour][minute][second]");
    let safe: String = std::path::Path::new(file_name)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("file")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = home.media().join(format!(
        "{origin}-{}-{safe}",
        now.format(&f).unwrap_or_default()
    ));
    persona::atomic::write(&path, bytes)?;
    Ok(path)
}

pub fn document_text(file_name: &str, bytes: &[u8]) -> Result<String, MindError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| MindError::Unperceivable(format!("{file_name} is not UTF-8 text.")))?;
    let mut cut = text.len().min(DOCUMENT_LIMIT);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Ok(if cut < text.len() {
        format!("{}\n[truncated]", &text[..cut])
    } else {
        text.to_string()
    })
}

/// Turns files she has not perceived yet into turns of her memory: what her eye saw in an
/// image, what her researcher found in a document (as a tool call and its result, so she knows
/// where it came from), or a plain-text document's own text when she has no researcher.
pub(crate) async fn realize(life: &Life, cancel: &CancellationToken) -> Step<()> {
    let unseen: Vec<Message> = life.journal.recall(|m| {
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
        let kind = classify(&file, "").unwrap_or(Kind::Image);
        let perceived = match std::fs::read(&media.source) {
            Err(e) => Perceived::Report {
                status: "error",
                answer: format!("could not open {}: {e}", media.source),
                question: String::new(),
            },
            Ok(bytes) if kind == Kind::Image => look(life, cancel, &media, bytes).await?,
            Ok(bytes) => read(life, cancel, &message.content, &file, kind, bytes).await?,
        };
        let (label, tool) = if kind == Kind::Image {
            ("image", "look_at")
        } else {
            ("document", "read_document")
        };
        let said = if message.content.is_empty() {
            format!("[{label} {file}]")
        } else {
            format!("{} [{label} {file}]", message.content)
        };
        life.journal.with_memory(|m| {
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
    Ok(())
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
        prompts::DESCRIBE.to_string()
    } else {
        media.question.clone()
    };
    let eye = life
        .persona
        .eye
        .clone()
        .unwrap_or_else(|| life.persona.thinking.clone());
    let ask = Ask {
        system: vec![prompts::eye(&life.persona.name)],
        stable: 1,
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
    kind: Kind,
    bytes: Vec<u8>,
) -> Step<Perceived> {
    let text = match kind {
        Kind::Pdf => None,
        _ => match document_text(file, &bytes) {
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
    let question = prompts::research(caption);
    let ask = Ask {
        system: vec![prompts::researcher(&life.persona.name)],
        stable: 1,
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
    let reader = reader(&life.persona).clone();
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

/// The media type of an image she keeps, by its name; JPEG when the name does not say.
pub fn mime_of(path: &str) -> &'static str {
    match persona::media_type::of_name(path) {
        image if image.starts_with("image/") => image,
        _ => "image/jpeg",
    }
}
