//! What kind of file reached her, and where it is kept. Images go to her eye (or her Mind,
//! which looks when she has no eye). Documents go to her researcher, who reports what matters
//! so a long file does not flood her memory; without one, a plain-text document is read into
//! the conversation as it is and a PDF is read by her Mind if it can read PDFs. Anything else
//! no organ of hers can perceive.

use std::path::PathBuf;

use time::OffsetDateTime;

use crate::agent::MindError;
use crate::home::Home;

/// Longest document text put into her conversation.
const DOCUMENT_LIMIT: usize = 20_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Image,
    Text,
    Pdf,
}

fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

pub fn classify(file_name: &str, mime: &str) -> Option<Kind> {
    let mime = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ext = extension(file_name);
    if matches!(
        mime.as_str(),
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    ) || matches!(ext.as_str(), "png" | "jpg" | "jpeg" | "gif" | "webp")
    {
        return Some(Kind::Image);
    }
    if mime == "application/pdf" || ext == "pdf" {
        return Some(Kind::Pdf);
    }
    if mime.starts_with("text/")
        || mime == "application/json"
        || matches!(ext.as_str(), "txt" | "md" | "csv" | "json")
    {
        return Some(Kind::Text);
    }
    None
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
