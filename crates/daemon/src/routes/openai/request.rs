//! A chat request as she reads it: only the newest message, which must be her person's, its
//! text parts and inline images. Everything else in OpenAI's request is the client's business.

use serde_json::Value;

use super::OpenAiError;

/// What the newest user message of a chat request brings her: its text parts joined by blank
/// lines, and its images.
#[derive(Debug, PartialEq)]
pub struct Turn {
    pub text: String,
    pub images: Vec<InlineImage>,
}

/// An image sent inline as a `data:` URL.
#[derive(Debug, PartialEq)]
pub struct InlineImage {
    pub mime: String,
    pub bytes: Vec<u8>,
}

/// The parts of a chat request she uses.
#[derive(Debug)]
pub struct ChatRequest {
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    pub turn: Turn,
}

/// Reads a chat request. A client re-sends the whole history each time, and she already lived
/// every earlier turn, so only the newest message is taken, and it must be the user's. System
/// and developer messages are the client's instructions to a stateless model; hers are her own,
/// so they are not fed to her.
pub fn parse_chat(bytes: &[u8]) -> Result<ChatRequest, OpenAiError> {
    let body: Value = serde_json::from_slice(bytes)
        .map_err(|e| OpenAiError::invalid("body", format!("The body is not valid JSON: {e}")))?;
    let model = body["model"]
        .as_str()
        .ok_or_else(|| OpenAiError::invalid("model", "`model` (her id) is required."))?
        .to_string();
    let messages = body["messages"]
        .as_array()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| OpenAiError::invalid("messages", "`messages` must be a non-empty array."))?;
    let stream = match &body["stream"] {
        Value::Null => false,
        Value::Bool(b) => *b,
        _ => {
            return Err(OpenAiError::invalid(
                "stream",
                "`stream` must be a boolean.",
            ));
        }
    };
    let include_usage = body["stream_options"]["include_usage"].as_bool() == Some(true);
    let newest = messages.last().expect("non-empty above");
    if newest["role"].as_str() != Some("user") {
        return Err(OpenAiError::invalid(
            "messages",
            "The last message must be the user's: she answers her person's newest message.",
        ));
    }
    let turn = turn_of(&newest["content"])?;
    if turn.text.trim().is_empty() && turn.images.is_empty() {
        return Err(OpenAiError::invalid(
            "messages",
            "The last user message has no text and no image.",
        ));
    }
    Ok(ChatRequest {
        model,
        stream,
        include_usage,
        turn,
    })
}

fn turn_of(content: &Value) -> Result<Turn, OpenAiError> {
    let parts = match content {
        Value::String(text) => {
            return Ok(Turn {
                text: text.clone(),
                images: Vec::new(),
            });
        }
        Value::Array(parts) => parts,
        _ => {
            return Err(OpenAiError::invalid(
                "messages",
                "A message's `content` must be a string or an array of content parts.",
            ));
        }
    };
    let mut texts = Vec::new();
    let mut images = Vec::new();
    for part in parts {
        match part["type"].as_str() {
            Some("text") => texts.push(part["text"].as_str().unwrap_or_default().to_string()),
            Some("image_url") => {
                let url = part["image_url"]["url"]
                    .as_str()
                    .or_else(|| part["image_url"].as_str())
                    .unwrap_or_default();
                images.push(data_url(url)?);
            }
            other => {
                return Err(OpenAiError::invalid(
                    "messages",
                    format!(
                        "Content part type {} is not supported: send `text` or `image_url`.",
                        other.unwrap_or("(none)")
                    ),
                ));
            }
        }
    }
    Ok(Turn {
        text: texts.join("\n\n"),
        images,
    })
}

/// Decodes `data:<mime>;base64,<bytes>`. Remote URLs are refused: fetching whatever a request
/// names would let any local client make the daemon reach into other hosts.
fn data_url(url: &str) -> Result<InlineImage, OpenAiError> {
    use base64::Engine;
    let refuse = || {
        OpenAiError::invalid(
            "messages",
            "An image must be sent inline as a `data:image/...;base64,` URL.",
        )
    };
    let rest = url.strip_prefix("data:").ok_or_else(refuse)?;
    let (meta, payload) = rest.split_once(',').ok_or_else(refuse)?;
    let mime = meta.strip_suffix(";base64").ok_or_else(refuse)?;
    if !mime.starts_with("image/") {
        return Err(refuse());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload.trim())
        .map_err(|_| refuse())?;
    Ok(InlineImage {
        mime: mime.to_string(),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_user_turn_is_taken() {
        let request = parse_chat(
            br#"{"model": "m", "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "reply"},
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGk="}}]}
            ], "stream": true, "stream_options": {"include_usage": true}}"#,
        )
        .unwrap();
        assert_eq!(request.turn.text, "a\n\nb");
        assert_eq!(
            request.turn.images,
            vec![InlineImage {
                mime: "image/png".into(),
                bytes: b"hi".to_vec()
            }]
        );
        assert!(request.stream && request.include_usage);
    }

    #[test]
    fn malformed_requests_point_at_the_parameter() {
        let param = |body: &[u8]| parse_chat(body).unwrap_err().param;
        assert_eq!(
            param(br#"{"messages": [{"role": "user", "content": "x"}]}"#),
            Some("model")
        );
        assert_eq!(
            param(br#"{"model": "m", "messages": []}"#),
            Some("messages")
        );
        assert_eq!(
            param(br#"{"model": "m", "messages": [{"role": "assistant", "content": "x"}]}"#),
            Some("messages")
        );
        assert_eq!(
            param(br#"{"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://example.com/a.png"}}]}]}"#),
            Some("messages")
        );
    }
}
