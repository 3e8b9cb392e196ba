//! OpenAI's API in front of her: each persona is a model (`id` = her id), so any client written
//! for OpenAI can talk with her. Errors here take OpenAI's shape
//! (`{"error": {"message", "type", "param", "code"}}`), which those clients parse.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use mind::{MindError, Piece};
use persona::Persona;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::body::parse_id;

mod request;

use request::parse_chat;

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
        (self.status, Json(self.json())).into_response()
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
pub fn persona_for(state: &AppState, model_id: &str) -> Result<Arc<Persona>, OpenAiError> {
    parse_id(model_id)
        .and_then(|id| state.manager.record(id))
        .ok_or_else(|| OpenAiError::model_not_found(model_id))
}

/// Every persona on this machine, as OpenAI models.
#[utoipa::path(get, path = "/v1/models", tag = "openai", operation_id = "list_models",
    responses((status = 200, body = ModelList)))]
pub async fn list_models(State(state): State<AppState>) -> Result<Json<ModelList>, OpenAiError> {
    let records = state.manager.records().await.map_err(|e| OpenAiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        kind: "server_error",
        code: "internal",
        param: None,
        message: e.to_string(),
    })?;
    Ok(Json(ModelList {
        object: "list",
        data: records.iter().map(|i| model(&i.record)).collect(),
    }))
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
    let persona = persona_for(&state, &model_id)?;
    Ok(Json(model(&persona)))
}

/// The channel her exchanges with OpenAI clients are on, in her conversation and signals.
pub const CHANNEL: &str = "openai";

impl OpenAiError {
    fn not_running() -> OpenAiError {
        OpenAiError {
            status: StatusCode::CONFLICT,
            kind: "invalid_request_error",
            code: "persona_not_running",
            param: Some("model"),
            message: "Persona is not active: start her first.".into(),
        }
    }

    fn timeout(after: Duration) -> OpenAiError {
        OpenAiError {
            status: StatusCode::GATEWAY_TIMEOUT,
            kind: "timeout_error",
            code: "timeout",
            param: None,
            message: format!(
                "She did not answer within {} s (ETERNEGO_CHAT_TIMEOUT_S).",
                after.as_secs()
            ),
        }
    }

    fn json(&self) -> Value {
        json!({"error": {"message": self.message, "type": self.kind,
                         "param": self.param, "code": self.code}})
    }
}

impl From<MindError> for OpenAiError {
    fn from(e: MindError) -> OpenAiError {
        let (status, kind, code) = match &e {
            MindError::Stopped => return OpenAiError::not_running(),
            MindError::Invalid(_) => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_request",
            ),
            MindError::Unperceivable(_) => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "unsupported_content",
            ),
            MindError::Faulted { .. } | MindError::Organ(_) => {
                (StatusCode::BAD_GATEWAY, "server_error", "mind_failed")
            }
            _ => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal",
            ),
        };
        OpenAiError {
            status,
            kind,
            code,
            param: None,
            message: e.to_string(),
        }
    }
}

/// `{"prompt_tokens", "completion_tokens", "total_tokens"}`: the tokens her models took in the
/// beat that answered, as their providers counted them (zero where a provider does not say).
#[derive(Serialize, ToSchema, Default, Clone, Copy)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

impl From<organs::Usage> for Usage {
    fn from(usage: organs::Usage) -> Usage {
        Usage {
            prompt_tokens: usage.prompt,
            completion_tokens: usage.completion,
            total_tokens: usage.total(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AssistantMessage {
    /// Always `assistant`.
    pub role: &'static str,
    /// What she said in that beat, her messages joined by a blank line; empty when she said
    /// nothing.
    pub content: String,
}

#[derive(Serialize, ToSchema)]
pub struct Choice {
    pub index: u32,
    pub message: AssistantMessage,
    /// Always `stop`: she ends her own turn.
    pub finish_reason: &'static str,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<Value>,
}

/// OpenAI's `chat.completion` object.
#[derive(Serialize, ToSchema)]
pub struct ChatCompletion {
    /// `chatcmpl-<32 hex>`, shared by every chunk of a stream.
    pub id: String,
    /// `chat.completion`.
    pub object: &'static str,
    /// Unix seconds.
    pub created: i64,
    /// Her id, as requested.
    pub model: String,
    pub choices: Vec<Choice>,
    pub usage: Usage,
}

/// The request body, for the OpenAPI document: what she reads of OpenAI's request. Other
/// parameters (`temperature`, `max_tokens`, `tools`, …) are accepted and ignored: she thinks
/// with her own Mind and settings.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ChatCompletionRequest {
    /// Her id (see `GET /v1/models`).
    model: String,
    /// The conversation as the client keeps it. Only the last message is read, and it must be
    /// the user's: `content` a string, or parts `{"type":"text","text"}` and
    /// `{"type":"image_url","image_url":{"url":"data:image/...;base64,..."}}` (inline images
    /// only). Earlier messages are hers already.
    #[schema(value_type = Vec<Object>, min_items = 1)]
    messages: Vec<Value>,
    /// Server-sent `chat.completion.chunk` events ending in `data: [DONE]`.
    stream: Option<bool>,
    /// `{"include_usage": true}` adds a last chunk with `usage` and no choices.
    #[schema(value_type = Option<Object>)]
    stream_options: Option<Value>,
}

/// Talk with her as with an OpenAI model. The newest user message reaches her as a message on
/// her `openai` channel; she thinks with her memory and regulation, and what she says in that
/// beat is the completion. Requests to one persona wait their turn.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", operation_id = "create_chat_completion",
    request_body = ChatCompletionRequest,
    responses((status = 200, body = ChatCompletion,
            description = "The completion; with `stream: true`, `text/event-stream` of `chat.completion.chunk` objects ending in `data: [DONE]`"),
        (status = 400, description = "A malformed request", body = OpenAiErrorBody),
        (status = 404, description = "No persona has that id", body = OpenAiErrorBody),
        (status = 409, description = "She is not running", body = OpenAiErrorBody),
        (status = 413, description = "The body is larger than ETERNEGO_UPLOAD_LIMIT_MB", body = OpenAiErrorBody),
        (status = 502, description = "Her Mind failed in that beat", body = OpenAiErrorBody),
        (status = 504, description = "No answer within ETERNEGO_CHAT_TIMEOUT_S", body = OpenAiErrorBody)))]
pub async fn chat_completions(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OpenAiError> {
    let bytes = body.map_err(|e| OpenAiError {
        status: e.status(),
        kind: "invalid_request_error",
        code: "invalid_request",
        param: None,
        message: e.body_text(),
    })?;
    let request = parse_chat(&bytes)?;
    // A running persona is found in memory; only a miss reads her record, to tell 404 from 409.
    let running = match parse_id(&request.model) {
        Some(id) => state.manager.agent(id).await,
        None => None,
    };
    let agent = match running {
        Some(agent) => agent,
        None => {
            persona_for(&state, &request.model)?;
            return Err(OpenAiError::not_running());
        }
    };
    let limit = state.config.chat_timeout;
    let deadline = Instant::now() + limit;
    for (n, image) in request.turn.images.iter().enumerate() {
        let extension = image.mime.rsplit('/').next().unwrap_or("png");
        agent
            .attach(
                &format!("openai-{}.{extension}", n + 1),
                &image.mime,
                &image.bytes,
                "",
            )
            .await?;
    }
    let pieces = timeout_at(deadline, agent.exchange_stream(CHANNEL, &request.turn.text))
        .await
        .map_err(|_| OpenAiError::timeout(limit))??;
    let reply = Reply {
        id: format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
        created: time::OffsetDateTime::now_utc().unix_timestamp(),
        model: request.model,
    };
    let answer = Answer {
        pieces,
        deadline,
        limit,
    };
    if request.stream {
        stream(reply, answer, request.include_usage).await
    } else {
        whole(reply, answer).await
    }
}

/// What every object of one completion shares.
struct Reply {
    id: String,
    created: i64,
    model: String,
}

/// Her words as she writes and says them, until the beat rests or the deadline passes.
struct Answer {
    pieces: mpsc::UnboundedReceiver<Result<Piece, MindError>>,
    deadline: Instant,
    limit: Duration,
}

/// What a streamed completion shows next.
enum Next {
    /// More of her words, to append.
    Words(String),
    /// The beat rested, having taken these tokens.
    End(Usage),
}

impl Answer {
    /// The next piece of the exchange; `None` once it has ended.
    async fn next(&mut self) -> Result<Option<Piece>, OpenAiError> {
        match timeout_at(self.deadline, self.pieces.recv()).await {
            Err(_) => Err(OpenAiError::timeout(self.limit)),
            Ok(None) => Ok(None),
            Ok(Some(piece)) => piece.map(Some).map_err(OpenAiError::from),
        }
    }

    /// Her next words for a stream, or the end of the beat.
    async fn words(&mut self) -> Result<Next, OpenAiError> {
        loop {
            match self.next().await? {
                Some(Piece::Words(words)) => return Ok(Next::Words(words)),
                Some(Piece::Said(_)) => {}
                Some(Piece::Rested(usage)) => return Ok(Next::End(usage.into())),
                None => return Ok(Next::End(Usage::default())),
            }
        }
    }
}

/// A non-streamed completion: every message she says in the beat, joined by a blank line.
async fn whole(reply: Reply, mut answer: Answer) -> Result<Response, OpenAiError> {
    let mut said = Vec::new();
    let mut usage = Usage::default();
    while let Some(piece) = answer.next().await? {
        match piece {
            Piece::Said(words) => said.push(words),
            Piece::Rested(spent) => usage = spent.into(),
            Piece::Words(_) => {}
        }
    }
    Ok(Json(ChatCompletion {
        id: reply.id,
        object: "chat.completion",
        created: reply.created,
        model: reply.model,
        choices: vec![Choice {
            index: 0,
            message: AssistantMessage {
                role: "assistant",
                content: said.join("\n\n"),
            },
            finish_reason: "stop",
            logprobs: None,
        }],
        usage,
    })
    .into_response())
}

/// A streamed completion: her words as her Mind writes them, where it streams (see
/// `mind::Piece::Words`). The status is held back until her first words (or the beat's end) so
/// that a timeout or a failed beat before she says anything is still a proper error status;
/// after that, an error is sent as an `{"error": …}` event before `[DONE]`, as OpenAI does.
async fn stream(
    reply: Reply,
    mut answer: Answer,
    include_usage: bool,
) -> Result<Response, OpenAiError> {
    let first = answer.words().await?;
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let chunk = |delta: Value, finish: Option<&str>| {
            event(&json!({"id": reply.id, "object": "chat.completion.chunk",
                "created": reply.created, "model": reply.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}]}))
        };
        let mut next = first;
        let mut opening = json!({"role": "assistant", "content": ""});
        let ended = loop {
            let words = match next {
                Next::Words(words) => words,
                Next::End(usage) => break Ok(usage),
            };
            opening["content"] = Value::from(words);
            if tx.send(chunk(opening.clone(), None)).await.is_err() {
                return; // the client left
            }
            opening = json!({});
            match answer.words().await {
                Ok(more) => next = more,
                Err(e) => break Err(e),
            }
        };
        if opening.get("role").is_some() {
            // She said nothing: the role still opens the message.
            let _ = tx.send(chunk(opening, None)).await;
        }
        match ended {
            Err(e) => {
                let _ = tx.send(event(&e.json())).await;
            }
            Ok(usage) => {
                let _ = tx.send(chunk(json!({}), Some("stop"))).await;
                if include_usage {
                    let _ = tx
                        .send(event(
                            &json!({"id": reply.id, "object": "chat.completion.chunk",
                            "created": reply.created, "model": reply.model, "choices": [],
                            "usage": usage}),
                        ))
                        .await;
                }
            }
        }
        let _ = tx.send(Bytes::from_static(b"data: [DONE]\n\n")).await;
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|bytes| (Ok::<_, std::convert::Infallible>(bytes), rx))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// One server-sent event carrying `value`.
fn event(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}
