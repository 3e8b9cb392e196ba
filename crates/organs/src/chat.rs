//! Talking with an organ: one request shape for every provider, each provider's structured
//! mode for JSON, and a tolerant reading of what comes back.
//!
//! Requests are not streamed: every stage needs the whole answer before it can act, and a
//! single response is simpler to bound with a timeout and to read for errors. The generous
//! timeout ([`OrganClient::with_timeout`]) covers slow local models.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use persona::{Organ, OrganSlot, Provider};
use reqwest::Method;
use serde_json::{Value, json};

use crate::reply::{Reply, finish};
use crate::wire::Call;
use crate::OrganError;

/// How long a chat may take unless the caller says otherwise.
pub const DEFAULT_CHAT_TIMEOUT: Duration = Duration::from_secs(300);

/// The most a cloud model may write in one answer (Anthropic requires a bound).
const MAX_TOKENS: u32 = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    /// The result of a tool call she made, answering [`Message::tool_call_id`].
    Tool,
}

/// An image she is shown, as bytes with its MIME type (`image/png`, `image/jpeg`, …).
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    pub bytes: Vec<u8>,
    pub mime: String,
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Image({}, {} bytes)", self.mime, self.bytes.len())
    }
}

/// A tool call in the standard chat shape: an id, the function name, its arguments object.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub role: Role,
    pub text: String,
    pub images: Vec<Image>,
    /// Calls she made in this (assistant) turn.
    pub tool_calls: Vec<ToolCall>,
    /// For a `Tool` turn: which call this answers, and the tool's name.
    pub tool_call_id: Option<String>,
    pub tool_name: Option<String>,
}

impl Message {
    fn new(role: Role, text: impl Into<String>) -> Self {
        Message { role, text: text.into(), images: Vec::new(), tool_calls: Vec::new(), tool_call_id: None, tool_name: None }
    }
    pub fn user(text: impl Into<String>) -> Self {
        Message::new(Role::User, text)
    }
    pub fn assistant(text: impl Into<String>) -> Self {
        Message::new(Role::Assistant, text)
    }
    pub fn tool_result(call: &ToolCall, text: impl Into<String>) -> Self {
        Message { tool_call_id: Some(call.id.clone()), tool_name: Some(call.name.clone()), ..Message::new(Role::Tool, text) }
    }
    pub fn with_image(mut self, bytes: Vec<u8>, mime: impl Into<String>) -> Self {
        self.images.push(Image { bytes, mime: mime.into() });
        self
    }
    pub fn with_tool_call(mut self, call: ToolCall) -> Self {
        self.tool_calls.push(call);
        self
    }
}

/// The shape a structured answer must have: a name (used as the forced tool's name where the
/// provider needs one) and a JSON Schema whose root is an object.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonSchema {
    pub name: String,
    pub schema: Value,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatRequest {
    pub system: String,
    pub messages: Vec<Message>,
    pub schema: Option<JsonSchema>,
}

impl ChatRequest {
    pub fn new(system: impl Into<String>) -> Self {
        ChatRequest { system: system.into(), ..Default::default() }
    }
    pub fn message(mut self, message: Message) -> Self {
        self.messages.push(message);
        self
    }
    pub fn with_schema(mut self, name: impl Into<String>, schema: Value) -> Self {
        self.schema = Some(JsonSchema { name: name.into(), schema });
        self
    }
}

/// Uses one of her organs. The slot names the organ in every error.
#[derive(Clone, Debug)]
pub struct OrganClient {
    pub(crate) http: reqwest::Client,
    pub(crate) slot: OrganSlot,
    pub(crate) timeout: Duration,
}

impl OrganClient {
    /// `http` should come from [`crate::http_client`].
    pub fn new(http: reqwest::Client, slot: OrganSlot) -> Self {
        OrganClient { http, slot, timeout: DEFAULT_CHAT_TIMEOUT }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub(crate) fn call<'a>(&self, organ: &'a Organ) -> Call<'a> {
        Call {
            organ: self.slot.as_str(),
            provider: organ.provider,
            url: organ.url.trim_end_matches('/'),
            key: organ.api_key.as_deref().filter(|k| !k.is_empty()),
        }
    }

    /// Asks the organ. With a schema the provider's structured mode is used and
    /// [`Reply::json`] holds the object (or `None` when she answered in prose anyway).
    pub async fn chat(&self, organ: &Organ, request: &ChatRequest) -> Result<Reply, OrganError> {
        let call = self.call(organ);
        let (path, body) = match organ.provider {
            None => ("/api/chat".to_string(), ollama_body(&organ.name, request)),
            Some(Provider::Openai) => ("/v1/chat/completions".into(), openai_body(&organ.name, request, false)),
            Some(Provider::Xai) => ("/v1/chat/completions".into(), openai_body(&organ.name, request, true)),
            Some(Provider::Anthropic) => ("/v1/messages".into(), anthropic_body(&organ.name, request)),
            Some(Provider::Gemini) => (format!("/v1beta/models/{}:generateContent", organ.name), gemini_body(request)),
        };
        let builder = call.request(&self.http, Method::POST, &path).timeout(self.timeout).json(&body);
        let answer = call.json(call.send(builder).await?).await?;
        let (text, structured) = match organ.provider {
            None => ollama_reply(&answer),
            Some(Provider::Openai | Provider::Xai) => openai_reply(&answer),
            Some(Provider::Anthropic) => anthropic_reply(&answer),
            Some(Provider::Gemini) => gemini_reply(&answer),
        }
        .map_err(|reason| call.unreadable(reason))?;
        Ok(finish(&text, structured, request.schema.is_some()))
    }
}

/// Told to the model when its structured mode only promises "some JSON object".
fn schema_instruction(schema: &JsonSchema) -> String {
    format!("Answer with a single JSON object, and nothing else, matching this JSON Schema:\n{}", schema.schema)
}

/// Tool names must match `^[a-zA-Z0-9_-]{1,64}$` at every provider.
fn tool_name(schema: &JsonSchema) -> String {
    let cleaned: String = schema
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
        .take(64)
        .collect();
    if cleaned.is_empty() { "answer".into() } else { cleaned }
}

fn data_uri(image: &Image) -> String {
    format!("data:{};base64,{}", image.mime, B64.encode(&image.bytes))
}

fn ollama_body(model: &str, request: &ChatRequest) -> Value {
    let mut system = request.system.clone();
    if let Some(schema) = &request.schema {
        // Ollama constrains output to `format`, and its docs advise stating the schema too.
        system = [system, schema_instruction(schema)].join("\n\n").trim().to_string();
    }
    let mut messages = Vec::new();
    if !system.is_empty() {
        messages.push(json!({"role": "system", "content": system}));
    }
    for m in &request.messages {
        let mut out = match m.role {
            Role::User => json!({"role": "user", "content": m.text}),
            Role::Assistant => json!({"role": "assistant", "content": m.text}),
            Role::Tool => json!({"role": "tool", "content": m.text, "tool_name": m.tool_name}),
        };
        if !m.images.is_empty() {
            out["images"] = m.images.iter().map(|i| Value::String(B64.encode(&i.bytes))).collect();
        }
        if !m.tool_calls.is_empty() {
            out["tool_calls"] = m
                .tool_calls
                .iter()
                .map(|c| json!({"function": {"name": c.name, "arguments": c.arguments}}))
                .collect();
        }
        messages.push(out);
    }
    let mut body = json!({"model": model, "messages": messages, "stream": false});
    if let Some(schema) = &request.schema {
        body["format"] = schema.schema.clone();
    }
    body
}

fn ollama_reply(answer: &Value) -> Result<(String, Option<Value>), String> {
    let content = answer.pointer("/message/content").and_then(Value::as_str).ok_or("no message content")?;
    Ok((content.to_string(), None))
}

/// OpenAI gets a strict-free `json_schema` response format; xAI gets `json_object` with the
/// schema spelled out, the mode the original relied on there.
fn openai_body(model: &str, request: &ChatRequest, xai: bool) -> Value {
    let mut system = request.system.clone();
    if let (true, Some(schema)) = (xai, &request.schema) {
        system = [system, schema_instruction(schema)].join("\n\n").trim().to_string();
    }
    let mut messages = Vec::new();
    if !system.is_empty() {
        messages.push(json!({"role": "system", "content": system}));
    }
    for m in &request.messages {
        messages.push(match m.role {
            Role::User if !m.images.is_empty() => {
                let mut parts = vec![json!({"type": "text", "text": m.text})];
                parts.extend(m.images.iter().map(|i| json!({"type": "image_url", "image_url": {"url": data_uri(i)}})));
                json!({"role": "user", "content": parts})
            }
            Role::User => json!({"role": "user", "content": m.text}),
            Role::Assistant if !m.tool_calls.is_empty() => json!({
                "role": "assistant",
                "content": if m.text.is_empty() { Value::Null } else { json!(m.text) },
                "tool_calls": m.tool_calls.iter().map(|c| json!({
                    "id": c.id, "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments.to_string()}
                })).collect::<Vec<_>>(),
            }),
            Role::Assistant => json!({"role": "assistant", "content": m.text}),
            Role::Tool => json!({"role": "tool", "tool_call_id": m.tool_call_id, "content": m.text}),
        });
    }
    let mut body = json!({"model": model, "messages": messages, "stream": false});
    if let Some(schema) = &request.schema {
        body["response_format"] = if xai {
            json!({"type": "json_object"})
        } else {
            json!({"type": "json_schema", "json_schema": {"name": tool_name(schema), "schema": schema.schema, "strict": false}})
        };
    }
    body
}

fn openai_reply(answer: &Value) -> Result<(String, Option<Value>), String> {
    let message = answer.pointer("/choices/0/message").ok_or("no choices")?;
    let text = message.get("content").and_then(Value::as_str).or_else(|| message.get("refusal").and_then(Value::as_str));
    let structured = message
        .pointer("/tool_calls/0/function/arguments")
        .and_then(Value::as_str)
        .and_then(|a| serde_json::from_str(a).ok());
    if text.is_none() && structured.is_none() {
        return Err("the message has neither content nor a tool call".into());
    }
    Ok((text.unwrap_or("").to_string(), structured))
}

/// Anthropic has no JSON mode: the answer is forced through a tool whose input schema is the
/// wanted shape.
fn anthropic_body(model: &str, request: &ChatRequest) -> Value {
    let mut messages = Vec::new();
    for m in &request.messages {
        let mut blocks = Vec::new();
        if m.role == Role::Tool {
            blocks.push(json!({"type": "tool_result", "tool_use_id": m.tool_call_id, "content": m.text}));
            messages.push(json!({"role": "user", "content": blocks}));
            continue;
        }
        for image in &m.images {
            blocks.push(json!({"type": "image", "source": {"type": "base64", "media_type": image.mime, "data": B64.encode(&image.bytes)}}));
        }
        if !m.text.is_empty() {
            blocks.push(json!({"type": "text", "text": m.text}));
        }
        for c in &m.tool_calls {
            blocks.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}));
        }
        if blocks.is_empty() {
            blocks.push(json!({"type": "text", "text": "…"}));
        }
        let role = if m.role == Role::Assistant { "assistant" } else { "user" };
        messages.push(json!({"role": role, "content": blocks}));
    }
    let mut body = json!({"model": model, "max_tokens": MAX_TOKENS, "messages": messages, "stream": false});
    if !request.system.is_empty() {
        body["system"] = json!(request.system);
    }
    if let Some(schema) = &request.schema {
        let name = tool_name(schema);
        body["tools"] = json!([{"name": name, "description": "Give your answer through this tool.", "input_schema": schema.schema}]);
        body["tool_choice"] = json!({"type": "tool", "name": name});
    }
    body
}

fn anthropic_reply(answer: &Value) -> Result<(String, Option<Value>), String> {
    let blocks = answer.get("content").and_then(Value::as_array).ok_or("no content")?;
    let text: String = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let structured = blocks.iter().find(|b| b.get("type").and_then(Value::as_str) == Some("tool_use")).and_then(|b| b.get("input").cloned());
    Ok((text, structured))
}

fn gemini_body(request: &ChatRequest) -> Value {
    let contents: Vec<Value> = request
        .messages
        .iter()
        .map(|m| {
            let mut parts = Vec::new();
            if m.role == Role::Tool {
                parts.push(json!({"functionResponse": {"name": m.tool_name.clone().unwrap_or_default(), "response": {"content": m.text}}}));
            } else {
                if !m.text.is_empty() {
                    parts.push(json!({"text": m.text}));
                }
                for image in &m.images {
                    parts.push(json!({"inlineData": {"mimeType": image.mime, "data": B64.encode(&image.bytes)}}));
                }
                for c in &m.tool_calls {
                    parts.push(json!({"functionCall": {"name": c.name, "args": c.arguments}}));
                }
            }
            if parts.is_empty() {
                parts.push(json!({"text": "…"}));
            }
            let role = if m.role == Role::Assistant { "model" } else { "user" };
            json!({"role": role, "parts": parts})
        })
        .collect();
    let mut body = json!({"contents": contents});
    if !request.system.is_empty() {
        body["systemInstruction"] = json!({"parts": [{"text": request.system}]});
    }
    if let Some(schema) = &request.schema {
        body["generationConfig"] = json!({"responseMimeType": "application/json", "responseSchema": gemini_schema(&schema.schema)});
    }
    body
}

/// Gemini's `responseSchema` is an OpenAPI subset: no `$`-keywords or `additionalProperties`,
/// and a nullable type is `nullable: true` rather than a type list.
fn gemini_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                if k.starts_with('$') || k == "additionalProperties" {
                    continue;
                }
                if k == "type"
                    && let Value::Array(types) = v
                {
                    let real: Vec<&Value> = types.iter().filter(|t| t.as_str() != Some("null")).collect();
                    if real.len() < types.len() {
                        out.insert("nullable".into(), Value::Bool(true));
                    }
                    out.insert("type".into(), real.first().map_or(json!("string"), |t| (*t).clone()));
                    continue;
                }
                out.insert(k.clone(), if k == "properties" { properties(v) } else { gemini_schema(v) });
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(gemini_schema).collect()),
        other => other.clone(),
    }
}

/// Property names are data, not keywords: keep them all and clean their schemas.
fn properties(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(map.iter().map(|(k, s)| (k.clone(), gemini_schema(s))).collect()),
        other => other.clone(),
    }
}

fn gemini_reply(answer: &Value) -> Result<(String, Option<Value>), String> {
    let Some(candidate) = answer.pointer("/candidates/0") else {
        let reason = answer.pointer("/promptFeedback/blockReason").and_then(Value::as_str).unwrap_or("no candidates");
        return Err(format!("no answer ({reason})"));
    };
    let parts = candidate.pointer("/content/parts").and_then(Value::as_array).cloned().unwrap_or_default();
    let text: String = parts
        .iter()
        .filter(|p| p.get("thought").and_then(Value::as_bool) != Some(true))
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect();
    Ok((text, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemini_schema_drops_what_it_cannot_take() {
        let schema = json!({"$schema": "x", "type": "object", "additionalProperties": false,
                            "properties": {"type": {"type": ["string", "null"]}}});
        assert_eq!(
            gemini_schema(&schema),
            json!({"type": "object", "properties": {"type": {"type": "string", "nullable": true}}})
        );
    }

    #[test]
    fn tool_names_are_made_acceptable() {
        let s = JsonSchema { name: "decide stage!".into(), schema: json!({}) };
        assert_eq!(tool_name(&s), "decide_stage_");
    }
}
