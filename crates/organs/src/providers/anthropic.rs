//! Anthropic's messages API: `x-api-key` and a version header, structure forced through a
//! tool, the stable head of the system prompt marked for prompt caching, a paged model list,
//! and its event stream read back into one message.

use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::{Base64, Defaults, LIST_TIMEOUT, MAX_TOKENS, text_or_placeholder, tool_name};
use crate::OrganError;
use crate::chat::{ChatRequest, Message, Role};
use crate::reply::Usage;
use crate::wire::Call;

pub(crate) const DEFAULTS: Defaults = Defaults {
    name: "anthropic",
    env: "ANTHROPIC_BASE_URL",
    url: "https://api.anthropic.com",
};

pub(crate) fn authorize(builder: RequestBuilder, key: &str) -> RequestBuilder {
    builder
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
}

pub(crate) fn chat(
    call: &Call<'_>,
    http: &reqwest::Client,
    model: &str,
    request: &ChatRequest,
) -> RequestBuilder {
    call.request(http, Method::POST, "/v1/messages")
        .json(&body(model, request))
}

/// The same request streamed: server-sent events of the message's blocks as they are written.
pub(crate) fn chat_streamed(
    call: &Call<'_>,
    http: &reqwest::Client,
    model: &str,
    request: &ChatRequest,
) -> RequestBuilder {
    let mut body = body(model, request);
    body.stream = true;
    call.request(http, Method::POST, "/v1/messages").json(&body)
}

/// The streamed events as one message: `message_start`'s message with each block's text (or
/// tool input, which streams as JSON text) joined, and `message_delta`'s stop reason and
/// counts laid over it. Thinking blocks are not passed on.
pub(crate) async fn gather(
    call: &Call<'_>,
    response: reqwest::Response,
    idle: Duration,
    on_text: &mut (dyn FnMut(&str) + Send),
) -> Result<Value, String> {
    let mut message = Map::new();
    let mut blocks: Vec<(Value, String)> = Vec::new();
    call.events(response, idle, |event| {
        match event.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                if let Some(start) = event.get("message").and_then(Value::as_object) {
                    message = start.clone();
                }
            }
            Some("content_block_start") => {
                blocks.push((event["content_block"].clone(), String::new()));
            }
            Some("content_block_delta") => {
                let delta = &event["delta"];
                let piece = delta
                    .get("text")
                    .or_else(|| delta.get("partial_json"))
                    .and_then(Value::as_str);
                if let (Some(piece), Some((_, written))) = (piece, blocks.last_mut()) {
                    on_text(piece);
                    written.push_str(piece);
                }
            }
            Some("message_delta") => {
                if let Some(reason) = event.pointer("/delta/stop_reason") {
                    message.insert("stop_reason".into(), reason.clone());
                }
                if let Some(counts) = event.get("usage").and_then(Value::as_object) {
                    let usage = message
                        .entry("usage")
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Some(usage) = usage.as_object_mut() {
                        usage.extend(counts.clone());
                    }
                }
            }
            _ => {}
        }
        Ok(())
    })
    .await?;
    let content: Vec<Value> = blocks
        .into_iter()
        .map(|(mut block, written)| {
            match block.get("type").and_then(Value::as_str) {
                Some("text") => block["text"] = Value::String(written),
                Some("tool_use") if !written.is_empty() => {
                    block["input"] = serde_json::from_str(&written).unwrap_or(Value::Null);
                }
                _ => {}
            }
            block
        })
        .collect();
    message.insert("content".into(), Value::Array(content));
    Ok(Value::Object(message))
}

pub(crate) fn read(answer: &Value) -> Result<(String, Option<Value>), String> {
    let blocks = answer
        .get("content")
        .and_then(Value::as_array)
        .ok_or("no content")?;
    let text: String = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let structured = blocks
        .iter()
        .find(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"))
        .and_then(|b| b.get("input").cloned());
    Ok((text, structured))
}

pub(crate) fn cut_off(answer: &Value) -> bool {
    answer.pointer("/stop_reason").and_then(Value::as_str) == Some("max_tokens")
}

/// Anthropic counts the cached prefix apart from `input_tokens` (written to the cache, or read
/// from it); all three are what the model read.
pub(crate) fn usage(answer: &Value) -> Usage {
    Usage::read(
        answer,
        &[
            "/usage/input_tokens",
            "/usage/cache_creation_input_tokens",
            "/usage/cache_read_input_tokens",
        ],
        &["/usage/output_tokens"],
    )
}

/// Anthropic's listing is paged; aliases (`claude-…-latest`) are not listed, so a model not
/// found there is looked up by name, which resolves aliases.
pub(crate) async fn has_model(
    call: &Call<'_>,
    http: &reqwest::Client,
    model: &str,
) -> Result<bool, OrganError> {
    let mut after: Option<String> = None;
    loop {
        let mut request = call
            .request(http, Method::GET, "/v1/models")
            .timeout(LIST_TIMEOUT)
            .query(&[("limit", "1000")]);
        if let Some(a) = &after {
            request = request.query(&[("after_id", a)]);
        }
        let body = call.json(call.send(request).await?).await?;
        let data = body
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| call.unreadable("the model list has no `data`".into()))?;
        if data
            .iter()
            .any(|m| m.get("id").and_then(Value::as_str) == Some(model))
        {
            return Ok(true);
        }
        let more = body
            .get("has_more")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        match body.get("last_id").and_then(Value::as_str) {
            Some(last) if more => after = Some(last.to_string()),
            _ => break,
        }
    }
    let one = call
        .request(http, Method::GET, &format!("/v1/models/{model}"))
        .timeout(LIST_TIMEOUT);
    let response = call.send(one).await?;
    match response.status().as_u16() {
        200 => Ok(true),
        404 => Ok(false),
        _ => Err(call.refused(response).await),
    }
}

#[derive(Serialize)]
pub(crate) struct Anthropic<'a> {
    model: &'a str,
    max_tokens: u32,
    messages: Vec<AnthropicMessage<'a>>,
    stream: bool,
    #[serde(skip_serializing_if = "AnthropicSystem::is_empty")]
    system: AnthropicSystem<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<[AnthropicTool<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<ToolChoice>,
}

/// The system prompt: a plain string, or, with a cache point, its stable head as a block
/// marked for caching followed by the rest.
struct AnthropicSystem<'a> {
    text: &'a str,
    cache_point: Option<usize>,
}

impl AnthropicSystem<'_> {
    fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

impl Serialize for AnthropicSystem<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some((head, tail)) = self
            .cache_point
            .and_then(|at| self.text.split_at_checked(at))
        else {
            return s.serialize_str(self.text);
        };
        let ephemeral = serde_json::json!({"type": "ephemeral"});
        let mut blocks =
            vec![serde_json::json!({"type": "text", "text": head, "cache_control": ephemeral})];
        if !tail.trim().is_empty() {
            blocks.push(serde_json::json!({"type": "text", "text": tail}));
        }
        s.collect_seq(blocks)
    }
}

#[derive(Serialize)]
struct AnthropicMessage<'a> {
    role: &'static str,
    content: AnthropicBlocks<'a>,
}

/// A turn's content blocks: a tool result alone, or its images, text and tool calls, with a
/// placeholder text when it has none (Anthropic refuses empty content).
struct AnthropicBlocks<'a>(&'a Message);

impl Serialize for AnthropicBlocks<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        if m.role == Role::Tool {
            return s.collect_seq([Block::ToolResult {
                tool_use_id: m.tool_call_id.as_deref(),
                content: &m.text,
            }]);
        }
        let documents = m.documents.iter().map(|d| Block::Document {
            source: Base64Source {
                kind: "base64",
                media_type: &d.mime,
                data: Base64(&d.bytes),
            },
            title: &d.name,
        });
        let images = m.images.iter().map(|i| Block::Image {
            source: Base64Source {
                kind: "base64",
                media_type: &i.mime,
                data: Base64(&i.bytes),
            },
        });
        let calls = m.tool_calls.iter().map(|c| Block::ToolUse {
            id: &c.id,
            name: &c.name,
            input: &c.arguments,
        });
        s.collect_seq(
            documents
                .chain(images)
                .chain(text_or_placeholder(m).map(|text| Block::Text { text }))
                .chain(calls),
        )
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Image {
        source: Base64Source<'a>,
    },
    Document {
        source: Base64Source<'a>,
        title: &'a str,
    },
    Text {
        text: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: &'a Value,
    },
    ToolResult {
        tool_use_id: Option<&'a str>,
        content: &'a str,
    },
}

#[derive(Serialize)]
/// An image's or a document's bytes, carried inline.
struct Base64Source<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    media_type: &'a str,
    data: Base64<'a>,
}

#[derive(Serialize)]
struct AnthropicTool<'a> {
    name: String,
    description: &'static str,
    input_schema: &'a Value,
}

#[derive(Serialize)]
struct ToolChoice {
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
}

/// Anthropic has no JSON mode: the answer is forced through a tool whose input schema is the
/// wanted shape.
pub(crate) fn body<'a>(model: &'a str, request: &'a ChatRequest) -> Anthropic<'a> {
    let messages = request
        .messages
        .iter()
        .map(|m| AnthropicMessage {
            role: if m.role == Role::Assistant {
                "assistant"
            } else {
                "user"
            },
            content: AnthropicBlocks(m),
        })
        .collect();
    let (tools, tool_choice) = match &request.schema {
        Some(schema) => {
            let name = tool_name(schema);
            let tool = AnthropicTool {
                name: name.clone(),
                description: "Give your answer through this tool.",
                input_schema: &schema.schema,
            };
            (Some([tool]), Some(ToolChoice { kind: "tool", name }))
        }
        None => (None, None),
    };
    Anthropic {
        model,
        max_tokens: MAX_TOKENS,
        messages,
        stream: false,
        system: AnthropicSystem {
            text: &request.system,
            cache_point: request.cache_point,
        },
        tools,
        tool_choice,
    }
}
