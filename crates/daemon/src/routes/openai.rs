//! OpenAI's API in front of her: each persona is a model (`id` = her id), so any client written
//! for OpenAI can talk with her. Errors here take OpenAI's shape
//! (`{"error": {"message", "type", "param", "code"}}`), which those clients parse.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use persona::Persona;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::body::parse_id;

/// An error as OpenAI's API answers it.
#[derive(Debug)]
pub struct OpenAiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: &'static str,
    pub param: Option<&'static str>,
    pub message: String,
}

impl OpenAiError {
    pub fn model_not_found(model: &str) -> OpenAiError {
        OpenAiError {
            status: StatusCode::NOT_FOUND,
            kind: "invalid_request_error",
            code: "model_not_found",
            param: Some("model"),
            message: format!("The model `{model}` does not exist: no persona has that id."),
        }
    }

    /// A request OpenAI would refuse as malformed, pointing at the parameter.
    pub fn invalid(param: &'static str, message: impl Into<String>) -> OpenAiError {
        OpenAiError {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            code: "invalid_request",
            param: Some(param),
            message: message.into(),
        }
    }
}

/// The body of every error on these routes.
#[derive(Serialize, ToSchema)]
pub struct OpenAiErrorBody {
    pub error: OpenAiErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct OpenAiErrorDetail {
    pub message: String,
    /// `invalid_request_error`, `conflict_error`, `timeout_error` or `server_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The request parameter at fault (`model`, `messages`, …), or null.
    pub param: Option<String>,
    /// `model_not_found`, `persona_not_running`, `timeout`, …
    pub code: String,
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "chat request failed");
        }
        let body = json!({"error": {"message": self.message, "type": self.kind,
                                    "param": self.param, "code": self.code}});
        (self.status, Json(body)).into_response()
    }
}

/// One persona as an OpenAI model.
#[derive(Serialize, ToSchema)]
pub struct Model {
    /// Her id: what `model` names in a chat completion.
    pub id: String,
    /// Always `model`.
    pub object: &'static str,
    /// Her birthday, as Unix seconds (midnight UTC).
    pub created: i64,
    /// Always `eternego`.
    pub owned_by: &'static str,
    /// Her name (not part of OpenAI's object; its clients keep unknown fields).
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct ModelList {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<Model>,
}

fn model(persona: &Persona) -> Model {
    let created = time::Date::parse(
        &persona.birthday,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map(|d| d.midnight().assume_utc().unix_timestamp())
    .unwrap_or(0);
    Model {
        id: persona.id.to_string(),
        object: "model",
        created,
        owned_by: "eternego",
        name: persona.name.clone(),
    }
}

/// The persona a `model` names, or OpenAI's 404.
pub fn persona_for(state: &AppState, model_id: &str) -> Result<Persona, OpenAiError> {
    parse_id(model_id)
        .and_then(|id| state.manager.store().load(id).ok())
        .ok_or_else(|| OpenAiError::model_not_found(model_id))
}

/// Every persona on this machine, as OpenAI models.
#[utoipa::path(get, path = "/v1/models", tag = "openai", operation_id = "list_models",
    responses((status = 200, body = ModelList)))]
pub async fn list_models(State(state): State<AppState>) -> Json<ModelList> {
    Json(ModelList {
        object: "list",
        data: state.manager.store().list().iter().map(model).collect(),
    })
}

/// One persona as an OpenAI model.
#[utoipa::path(get, path = "/v1/models/{model}", tag = "openai", operation_id = "retrieve_model",
    params(("model" = String, Path, description = "Her id")),
    responses((status = 200, body = Model),
        (status = 404, description = "No persona has that id", body = OpenAiErrorBody)))]
pub async fn retrieve_model(
    State(state): State<AppState>,
    Path(model_id): Path<String>,
) -> Result<Json<Model>, OpenAiError> {
    Ok(Json(model(&persona_for(&state, &model_id)?)))
}

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
    let body: Value = serde_json::from_slice(bytes).map_err(|e| {
        OpenAiError::invalid("body", format!("The body is not valid JSON: {e}"))
    })?;
    let model = body["model"]
        .as_str()
        .ok_or_else(|| OpenAiError::invalid("model", "`model` (her id) is required."))?
        .to_string();
    let messages = body["messages"]
        .as_array()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            OpenAiError::invalid("messages", "`messages` must be a non-empty array.")
        })?;
    let stream = match &body["stream"] {
        Value::Null => false,
        Value::Bool(b) => *b,
        _ => return Err(OpenAiError::invalid("stream", "`stream` must be a boolean.")),
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
        assert_eq!(param(br#"{"messages": [{"role": "user", "content": "x"}]}"#), Some("model"));
        assert_eq!(param(br#"{"model": "m", "messages": []}"#), Some("messages"));
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
