//! What kind of file reached her, and where it is kept. Images go to her eye (or her Mind,
//! which looks when she has no eye). Documents go to her researcher, who reports what matters
//! so a long file does not flood her memory; without one, a plain-text document is read into
//! the conversation as it is and a PDF is read by her Mind if it can read PDFs. Anything else
//! no organ of hers can perceive.

use std::io::Read;
use std::path::{Path, PathBuf};

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
        Kind::Text => document_text(file_name, bytes).map(drop),
        _ => check_reader(persona, kind),
    }
}

/// [`check_readable`] for a file already on disk (a spooled upload): a text document is checked
/// to be UTF-8 a buffer at a time, never read whole.
pub fn check_readable_file(
    persona: &persona::Persona,
    kind: Kind,
    file_name: &str,
    path: &Path,
) -> Result<(), MindError> {
    match kind {
        Kind::Text => {
            if utf8_file(path)? {
                Ok(())
            } else {
                Err(not_utf8(file_name))
            }
        }
        _ => check_reader(persona, kind),
    }
}

fn check_reader(persona: &persona::Persona, kind: Kind) -> Result<(), MindError> {
    match kind {
        Kind::Image | Kind::Text => Ok(()),
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

fn not_utf8(file_name: &str) -> MindError {
    MindError::Unperceivable(format!("{file_name} is not UTF-8 text."))
}

/// Whether the whole file is UTF-8, read 64 KiB at a time (a character cut by a buffer's end
/// is carried into the next).
fn utf8_file(path: &Path) -> Result<bool, MindError> {
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut carried = 0;
    loop {
        let n = file.read(&mut buf[carried..])?;
        let end = carried + n;
        if n == 0 {
            return Ok(carried == 0);
        }
        match std::str::from_utf8(&buf[..end]) {
            Ok(_) => carried = 0,
            Err(e) if e.error_len().is_none() => {
                let valid = e.valid_up_to();
                buf.copy_within(valid..end, 0);
                carried = end - valid;
            }
            Err(_) => return Ok(false),
        }
    }
}

/// Where a file she was sent is kept: `media/<origin>-<stamp>-<name>` (`web`, `discord`; flat,
/// and the name reduced to safe characters).
fn media_path(home: &Home, origin: &str, file_name: &str, now: OffsetDateTime) -> PathBuf {
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
    home.media().join(format!(
        "{origin}-{}-{safe}",
        now.format(&f).unwrap_or_default()
    ))
}

/// Saves a file she was sent under [`media_path`].
pub fn store_media(
    home: &Home,
    origin: &str,
    file_name: &str,
    bytes: &[u8],
    now: OffsetDateTime,
) -> Result<PathBuf, MindError> {
    let path = media_path(home, origin, file_name, now);
    persona::atomic::write(&path, bytes)?;
    Ok(path)
}

/// Keeps a file already on disk (a spooled upload, on the same file system as her home) under
/// [`media_path`] by renaming it there after an fsync, so it is never copied or read.
pub fn store_media_file(
    home: &Home,
    origin: &str,
    file_name: &str,
    spooled: &Path,
    now: OffsetDateTime,
) -> Result<PathBuf, MindError> {
    let path = media_path(home, origin, file_name, now);
    let dir = home.media();
    std::fs::create_dir_all(&dir)?;
    std::fs::File::open(spooled)?.sync_all()?;
    std::fs::rename(spooled, &path)?;
    persona::atomic::sync_dir(&dir)?;
    Ok(path)
}

pub fn document_text(file_name: &str, bytes: &[u8]) -> Result<String, MindError> {
    let text = std::str::from_utf8(bytes).map_err(|_| not_utf8(file_name))?;
    Ok(cut_document(text, text.len()))
}

/// At most [`DOCUMENT_LIMIT`] bytes of `text` (cut at a character), marked when the document
/// (`len` bytes in all) was longer.
fn cut_document(text: &str, len: usize) -> String {
    let mut cut = text.len().min(DOCUMENT_LIMIT);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    if cut < len {
        format!("{}\n[truncated]", &text[..cut])
    } else {
        text.to_string()
    }
}

/// The text of a kept document as [`document_text`] gives it, reading only the bytes it keeps
/// (a character cut at the end of what was read is dropped; one invalid before it is an error).
/// The error is what her memory is told.
fn read_document(path: &Path, file_name: &str) -> Result<String, String> {
    let unopened = |e: std::io::Error| format!("could not open {}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(unopened)?;
    let len = file.metadata().map_err(unopened)?.len();
    let mut head = Vec::new();
    file.take(DOCUMENT_LIMIT as u64 + 4)
        .read_to_end(&mut head)
        .map_err(unopened)?;
    let text = match std::str::from_utf8(&head) {
        Ok(text) => text,
        Err(e) if e.error_len().is_none() && (head.len() as u64) < len => {
            std::str::from_utf8(&head[..e.valid_up_to()]).expect("valid up to here")
        }
        Err(_) => return Err(not_utf8(file_name).to_string()),
    };
    Ok(cut_document(
        text,
        usize::try_from(len).unwrap_or(usize::MAX),
    ))
}

/// Most bytes of an image or PDF read back from her media to be sent to an organ. Providers
/// refuse larger files in a request (20 to 32 MB), and reading one whole would make her memory
/// follow whatever size someone sent her.
pub const MEDIA_READ_LIMIT: u64 = 32 * 1024 * 1024;

/// A kept image or PDF, whole, or what her memory is told when it cannot be opened or is larger
/// than [`MEDIA_READ_LIMIT`].
fn read_media(path: &Path) -> Result<Vec<u8>, String> {
    let unopened = |e: std::io::Error| format!("could not open {}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(unopened)?;
    let len = file.metadata().map_err(unopened)?.len();
    if len > MEDIA_READ_LIMIT {
        return Err(format!(
            "{} holds {len} bytes, more than the {MEDIA_READ_LIMIT} her senses are sent",
            path.display()
        ));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MEDIA_READ_LIMIT)
        .read_to_end(&mut bytes)
        .map_err(unopened)?;
    Ok(bytes)
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
        let source = Path::new(&media.source);
        let content = match kind {
            Kind::Text => read_document(source, &file).map(Content::Text),
            _ => read_media(source).map(Content::Bytes),
        };
        let perceived = match content {
            Err(answer) => Perceived::Report {
                status: "error",
                answer,
                question: String::new(),
            },
            Ok(Content::Bytes(bytes)) if kind == Kind::Image => {
                look(life, cancel, &media, bytes).await?
            }
            Ok(content) => read(life, cancel, &message.content, &file, content).await?,
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

/// What is read back of a kept file: a document's text, or an image's or a PDF's bytes.
enum Content {
    Text(String),
    Bytes(Vec<u8>),
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
    content: Content,
) -> Step<Perceived> {
    let (text, bytes) = match content {
        Content::Text(text) => (Some(text), Vec::new()),
        Content::Bytes(bytes) => (None, bytes),
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
