//! The body each provider takes for a chat, as typed structs that borrow from the
//! [`ChatRequest`]. Her turns go from her memory to the socket in one serialisation: no turn is
//! copied, and no JSON tree of the whole conversation is built first, so the cost of a request
//! stays close to the cost of writing its bytes however long she has been talking.

use std::borrow::Cow;

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::chat::{ChatRequest, Image, JsonSchema, Message, Role, ToolCall};

/// The most a cloud model may write in one answer (Anthropic requires a bound).
const MAX_TOKENS: u32 = 4096;

/// Told to the model when its structured mode only promises "some JSON object".
fn schema_instruction(schema: &JsonSchema) -> String {
    format!(
        "Answer with a single JSON object, and nothing else, matching this JSON Schema:\n{}",
        schema.schema
    )
}

/// The system prompt with the schema spelled out after it, for providers whose structured
/// mode does not carry the schema itself (or whose docs advise stating it too).
fn system_with_schema<'a>(system: &'a str, schema: Option<&JsonSchema>) -> Cow<'a, str> {
    match schema {
        Some(schema) => Cow::Owned(
            format!("{system}\n\n{}", schema_instruction(schema))
                .trim()
                .to_string(),
        ),
        None => Cow::Borrowed(system),
    }
}

/// Tool names must match `^[a-zA-Z0-9_-]{1,64}$` at every provider.
fn tool_name(schema: &JsonSchema) -> String {
    let cleaned: String = schema
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if cleaned.is_empty() {
        "answer".into()
    } else {
        cleaned
    }
}

/// Bytes written as standard base64 while serialising, without an encoded copy first.
struct Base64<'a>(&'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&Base64Display::new(self.0, &B64))
    }
}

/// An image as a `data:` URI.
struct DataUri<'a>(&'a Image);

impl Serialize for DataUri<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!(
            "data:{};base64,{}",
            self.0.mime,
            Base64Display::new(&self.0.bytes, &B64)
        ))
    }
}

/// A JSON value sent as a string holding its compact text (OpenAI's tool-call arguments).
struct JsonText<'a>(&'a Value);

impl Serialize for JsonText<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

/// A turn's images as a list of bare base64 strings (Ollama's shape).
struct Base64Images<'a>(&'a [Image]);

impl Base64Images<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Base64Images<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|i| Base64(&i.bytes)))
    }
}

#[derive(Serialize)]
pub(crate) struct Ollama<'a> {
    model: &'a str,
    messages: Vec<OllamaMessage<'a>>,
    stream: bool,
    /// Ollama constrains output to this schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'a Value>,
}

#[derive(Serialize)]
struct OllamaMessage<'a> {
    role: &'static str,
    content: Cow<'a, str>,
    /// Present on tool turns only, as `null` when the call's name is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_name: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Base64Images::is_empty")]
    images: Base64Images<'a>,
    #[serde(skip_serializing_if = "OllamaCalls::is_empty")]
    tool_calls: OllamaCalls<'a>,
}

struct OllamaCalls<'a>(&'a [ToolCall]);

impl OllamaCalls<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for OllamaCalls<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|c| OllamaCall {
            function: Function {
                name: &c.name,
                arguments: &c.arguments,
            },
        }))
    }
}

#[derive(Serialize)]
struct OllamaCall<'a> {
    function: Function<'a, &'a Value>,
}

#[derive(Serialize)]
struct Function<'a, A> {
    name: &'a str,
    arguments: A,
}

/// Ollama's docs advise stating the schema in the prompt as well as in `format`.
pub(crate) fn ollama<'a>(model: &'a str, request: &'a ChatRequest) -> Ollama<'a> {
    let system = system_with_schema(&request.system, request.schema.as_ref());
    let system = (!system.is_empty()).then_some(OllamaMessage {
        role: "system",
        content: system,
        tool_name: None,
        images: Base64Images(&[]),
        tool_calls: OllamaCalls(&[]),
    });
    let turns = request.messages.iter().map(|m| OllamaMessage {
        role: match m.role {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        },
        content: Cow::Borrowed(&m.text),
        tool_name: (m.role == Role::Tool).then_some(m.tool_name.as_deref()),
        images: Base64Images(&m.images),
        tool_calls: OllamaCalls(&m.tool_calls),
    });
    Ollama {
        model,
        messages: system.into_iter().chain(turns).collect(),
        stream: false,
        format: request.schema.as_ref().map(|s| &s.schema),
    }
}

#[derive(Serialize)]
pub(crate) struct OpenAi<'a> {
    model: &'a str,
    messages: Vec<OpenAiMessage<'a>>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<ResponseFormat<'a>>,
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
pub(crate) fn openai<'a>(model: &'a str, request: &'a ChatRequest, xai: bool) -> OpenAi<'a> {
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
        response_format,
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

/// The turn's text when it has some; a placeholder when the turn would otherwise be empty.
fn text_or_placeholder(m: &Message) -> Option<&str> {
    if !m.text.is_empty() {
        Some(&m.text)
    } else if m.images.is_empty() && m.documents.is_empty() && m.tool_calls.is_empty() {
        Some("…")
    } else {
        None
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
pub(crate) fn anthropic<'a>(model: &'a str, request: &'a ChatRequest) -> Anthropic<'a> {
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Gemini<'a> {
    contents: Vec<GeminiContent<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<GeminiSystem<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation_config: Option<GenerationConfig>,
}

#[derive(Serialize)]
struct GeminiContent<'a> {
    role: &'static str,
    parts: GeminiParts<'a>,
}

/// A turn's parts: a function response alone, or its text, images and function calls, with a
/// placeholder text when it has none (Gemini refuses empty parts).
struct GeminiParts<'a>(&'a Message);

impl Serialize for GeminiParts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        if m.role == Role::Tool {
            let name = m.tool_name.as_deref().unwrap_or_default();
            return s.collect_seq([Part::FunctionResponse {
                name,
                response: FunctionResponse { content: &m.text },
            }]);
        }
        let inline = m
            .images
            .iter()
            .map(|i| (&i.mime, &i.bytes))
            .chain(m.documents.iter().map(|d| (&d.mime, &d.bytes)));
        let inline = inline.map(|(mime, bytes)| Part::InlineData {
            mime_type: mime,
            data: Base64(bytes),
        });
        let calls = m.tool_calls.iter().map(|c| Part::FunctionCall {
            name: &c.name,
            args: &c.arguments,
        });
        s.collect_seq(
            text_or_placeholder(m)
                .map(Part::Text)
                .into_iter()
                .chain(inline)
                .chain(calls),
        )
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum Part<'a> {
    Text(&'a str),
    InlineData {
        #[serde(rename = "mimeType")]
        mime_type: &'a str,
        data: Base64<'a>,
    },
    FunctionCall {
        name: &'a str,
        args: &'a Value,
    },
    FunctionResponse {
        name: &'a str,
        response: FunctionResponse<'a>,
    },
}

#[derive(Serialize)]
struct FunctionResponse<'a> {
    content: &'a str,
}

#[derive(Serialize)]
struct GeminiSystem<'a> {
    parts: [Part<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    response_mime_type: &'static str,
    response_schema: Value,
}

pub(crate) fn gemini(request: &ChatRequest) -> Gemini<'_> {
    let contents = request
        .messages
        .iter()
        .map(|m| GeminiContent {
            role: if m.role == Role::Assistant {
                "model"
            } else {
                "user"
            },
            parts: GeminiParts(m),
        })
        .collect();
    Gemini {
        contents,
        system_instruction: (!request.system.is_empty()).then(|| GeminiSystem {
            parts: [Part::Text(&request.system)],
        }),
        generation_config: request.schema.as_ref().map(|schema| GenerationConfig {
            response_mime_type: "application/json",
            response_schema: gemini_schema(&schema.schema),
        }),
    }
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
                    let real: Vec<&Value> = types
                        .iter()
                        .filter(|t| t.as_str() != Some("null"))
                        .collect();
                    if real.len() < types.len() {
                        out.insert("nullable".into(), Value::Bool(true));
                    }
                    out.insert(
                        "type".into(),
                        real.first().map_or(Value::from("string"), |t| (*t).clone()),
                    );
                    continue;
                }
                out.insert(
                    k.clone(),
                    if k == "properties" {
                        properties(v)
                    } else {
                        gemini_schema(v)
                    },
                );
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
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, s)| (k.clone(), gemini_schema(s)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

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
        let s = JsonSchema {
            name: "decide stage!".into(),
            schema: json!({}),
        };
        assert_eq!(tool_name(&s), "decide_stage_");
    }
}
