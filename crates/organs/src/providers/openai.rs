//! OpenAI's chat completions (and the wire xAI shares): bearer key, `json_schema` response
//! format, the model list at `/v1/models`.

use std::borrow::Cow;
use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use super::{DataUri, Defaults, Function, JsonText, LIST_TIMEOUT, system_with_schema, tool_name};
use crate::OrganError;
use crate::chat::{ChatRequest, Message, Role, ToolCall};
use crate::reply::Usage;
use crate::wire::Call;

pub(crate) const DEFAULTS: Defaults = Defaults {
    name: "openai",
    env: "OPENAI_BASE_URL",
    url: "https://api.openai.com",
};

pub(crate) fn authorize(builder: RequestBuilder, key: &str) -> RequestBuilder {
    builder.bearer_auth(key)
}

pub(crate) fn chat(
    call: &Call<'_>,
    http: &reqwest::Client,
    model: &str,
    request: &ChatRequest,
) -> RequestBuilder {
    call.request(http, Method::POST, "/v1/chat/completions")
        .json(&body(model, request, false))
}

/// The same request streamed, with the usage chunk OpenAI only sends when asked for it.
pub(crate) fn chat_streamed(
    call: &Call<'_>,
    http: &reqwest::Client,
    model: &str,
    request: &ChatRequest,
    xai: bool,
) -> RequestBuilder {
    let mut body = body(model, request, xai);
    body.stream = true;
    body.stream_options = Some(StreamOptions {
        include_usage: true,
    });
    call.request(http, Method::POST, "/v1/chat/completions")
        .json(&body)
}

/// The streamed chunks as one `chat.completion`: the content, refusal and tool-call arguments
/// joined, the finish reason, and the usage of the last chunk.
pub(crate) async fn gather(
    call: &Call<'_>,
    response: reqwest::Response,
    idle: Duration,
    on_text: &mut (dyn FnMut(&str) + Send),
) -> Result<Value, String> {
    let (mut content, mut refusal, mut arguments) = (String::new(), String::new(), None);
    let (mut finish, mut usage) = (Value::Null, Value::Null);
    call.events(response, idle, |chunk| {
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            usage = u.clone();
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            return Ok(());
        };
        if let Some(piece) = choice.pointer("/delta/content").and_then(Value::as_str) {
            on_text(piece);
            content.push_str(piece);
        }
        if let Some(piece) = choice.pointer("/delta/refusal").and_then(Value::as_str) {
            refusal.push_str(piece);
        }
        if let Some(piece) = choice
            .pointer("/delta/tool_calls/0/function/arguments")
            .and_then(Value::as_str)
        {
            arguments.get_or_insert_with(String::new).push_str(piece);
        }
        if let Some(reason) = choice.get("finish_reason").filter(|r| !r.is_null()) {
            finish = reason.clone();
        }
        Ok(())
    })
    .await?;
    let mut message = json!({"role": "assistant", "content": null});
    if !content.is_empty() || (arguments.is_none() && refusal.is_empty()) {
        message["content"] = Value::String(content);
    }
    if !refusal.is_empty() {
        message["refusal"] = Value::String(refusal);
    }
    if let Some(arguments) = arguments {
        message["tool_calls"] = json!([{"type": "function", "function": {"arguments": arguments}}]);
    }
    Ok(json!({"choices": [{"message": message, "finish_reason": finish}], "usage": usage}))
}

pub(crate) fn read(answer: &Value) -> Result<(String, Option<Value>), String> {
    let message = answer.pointer("/choices/0/message").ok_or("no choices")?;
    let text = message
        .get("content")
        .and_then(Value::as_str)
        .or_else(|| message.get("refusal").and_then(Value::as_str));
    let structured = message
        .pointer("/tool_calls/0/function/arguments")
        .and_then(Value::as_str)
        .and_then(|a| serde_json::from_str(a).ok());
    if text.is_none() && structured.is_none() {
        return Err("the message has neither content nor a tool call".into());
    }
    Ok((text.unwrap_or("").to_string(), structured))
}

pub(crate) fn cut_off(answer: &Value) -> bool {
    answer
        .pointer("/choices/0/finish_reason")
        .and_then(Value::as_str)
        == Some("length")
}

/// `usage.prompt_tokens` (cached ones included) and `usage.completion_tokens` (reasoning
/// included).
pub(crate) fn usage(answer: &Value) -> Usage {
    Usage::read(
        answer,
        &["/usage/prompt_tokens"],
        &["/usage/completion_tokens"],
    )
}

pub(crate) async fn has_model(
    call: &Call<'_>,
    http: &reqwest::Client,
    model: &str,
) -> Result<bool, OrganError> {
    let response = call
        .send(
            call.request(http, Method::GET, "/v1/models")
                .timeout(LIST_TIMEOUT),
        )
        .await?;
    let body = call.json(response).await?;
    let data = body
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| call.unreadable("the model list has no `data`".into()))?;
    Ok(data
        .iter()
        .any(|m| m.get("id").and_then(Value::as_str) == Some(model)))
}

#[derive(Serialize)]
pub(crate) struct OpenAi<'a> {
    model: &'a str,
    messages: Vec<OpenAiMessage<'a>>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<ResponseFormat<'a>>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Serialize)]
struct OpenAiMessage<'a> {
    role: &'static str,
    /// `null` only for an assistant turn that is nothing but tool calls.
    content: Option<OpenAiContent<'a>>,
    #[serde(skip_serializing_if = "OpenAiCalls::is_empty")]
    tool_calls: OpenAiCalls<'a>,
    /// Present on tool turns only, as `null` when the call's id is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<Option<&'a str>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum OpenAiContent<'a> {
    Text(Cow<'a, str>),
    /// A user turn with images: its text, then each image.
    Parts(OpenAiParts<'a>),
}

struct OpenAiParts<'a>(&'a Message);

impl Serialize for OpenAiParts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = std::iter::once(OpenAiPart::Text { text: &self.0.text });
        let images = self.0.images.iter().map(|i| OpenAiPart::ImageUrl {
            image_url: ImageUrl { url: DataUri(i) },
        });
        s.collect_seq(text.chain(images))
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum OpenAiPart<'a> {
    Text { text: &'a str },
    ImageUrl { image_url: ImageUrl<'a> },
}

#[derive(Serialize)]
struct ImageUrl<'a> {
    url: DataUri<'a>,
}

struct OpenAiCalls<'a>(&'a [ToolCall]);

impl OpenAiCalls<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for OpenAiCalls<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|c| OpenAiCall {
            id: &c.id,
            kind: "function",
            function: Function {
                name: &c.name,
                arguments: JsonText(&c.arguments),
            },
        }))
    }
}

#[derive(Serialize)]
struct OpenAiCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: Function<'a, JsonText<'a>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ResponseFormat<'a> {
    JsonObject,
    JsonSchema { json_schema: NamedSchema<'a> },
}

#[derive(Serialize)]
struct NamedSchema<'a> {
    name: String,
    schema: &'a Value,
    strict: bool,
}

/// OpenAI gets a strict-free `json_schema` response format; xAI gets `json_object` with the
/// schema spelled out, the mode the original relied on there.
pub(crate) fn body<'a>(model: &'a str, request: &'a ChatRequest, xai: bool) -> OpenAi<'a> {
    let system = system_with_schema(&request.system, request.schema.as_ref().filter(|_| xai));
    let system = (!system.is_empty()).then_some(OpenAiMessage {
        role: "system",
        content: Some(OpenAiContent::Text(system)),
        tool_calls: OpenAiCalls(&[]),
        tool_call_id: None,
    });
    let turns = request.messages.iter().map(|m| {
        let text = OpenAiContent::Text(Cow::Borrowed(&m.text));
        let (role, content) = match m.role {
            Role::User if !m.images.is_empty() => {
                ("user", Some(OpenAiContent::Parts(OpenAiParts(m))))
            }
            Role::User => ("user", Some(text)),
            Role::Assistant if !m.tool_calls.is_empty() && m.text.is_empty() => ("assistant", None),
            Role::Assistant => ("assistant", Some(text)),
            Role::Tool => ("tool", Some(text)),
        };
        OpenAiMessage {
            role,
            content,
            tool_calls: OpenAiCalls(if m.role == Role::Assistant {
                &m.tool_calls
            } else {
                &[]
            }),
            tool_call_id: (m.role == Role::Tool).then_some(m.tool_call_id.as_deref()),
        }
    });
    let response_format = request.schema.as_ref().map(|schema| {
        if xai {
            ResponseFormat::JsonObject
        } else {
            ResponseFormat::JsonSchema {
                json_schema: NamedSchema {
                    name: tool_name(schema),
                    schema: &schema.schema,
                    strict: false,
                },
            }
        }
    });
    OpenAi {
        model,
        messages: system.into_iter().chain(turns).collect(),
        stream: false,
        stream_options: None,
        response_format,
    }
}
