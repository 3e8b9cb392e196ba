//! Talking with an organ: one request shape for every provider, each provider's structured
//! mode for JSON, and a tolerant reading of what comes back.
//!
//! [`OrganClient::chat`] asks for the whole answer: every stage needs all of it before it can
//! act, and a single response is simpler to read for errors. [`OrganClient::chat_streaming`]
//! asks for the same answer streamed, so words can be shown as they come; the stream is
//! gathered back into the provider's whole answer and read the same way. The generous timeout ([`OrganClient::with_timeout`]) bounds the whole
//! answer, streamed or not, and covers slow local models. What each provider sends and reads
//! is in its module under `providers/`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use persona::{Organ, OrganSlot, Provider};
use serde_json::Value;

use crate::OrganError;
use crate::providers::{self, Embedded, embedded::Found};
use crate::reply::{Reply, finish};
use crate::wire::Call;

/// How long a chat may take unless the caller says otherwise.
pub const DEFAULT_CHAT_TIMEOUT: Duration = Duration::from_secs(300);

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

/// A document she is given to read whole (a PDF): only Anthropic and Gemini take one as it is.
#[derive(Clone, PartialEq, Eq)]
pub struct Document {
    pub bytes: Vec<u8>,
    pub mime: String,
    /// The file's name, shown to the model as the document's title.
    pub name: String,
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Document({}, {}, {} bytes)",
            self.name,
            self.mime,
            self.bytes.len()
        )
    }
}

/// Whether a provider reads a [`Document`] itself; the others would need its text extracted
/// first, which is not ours to guess at.
pub fn reads_documents(provider: Option<Provider>) -> bool {
    matches!(provider, Some(Provider::Anthropic | Provider::Gemini))
}

/// A tool call in the standard chat shape: an id, the function name, its arguments object.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

/// One turn of a request. The text is shared so a caller holding her conversation can hand it
/// over without copying every turn.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub role: Role,
    pub text: Arc<str>,
    pub images: Vec<Image>,
    pub documents: Vec<Document>,
    /// Calls she made in this (assistant) turn.
    pub tool_calls: Vec<ToolCall>,
    /// For a `Tool` turn: which call this answers, and the tool's name.
    pub tool_call_id: Option<String>,
    pub tool_name: Option<String>,
}

impl Message {
    fn new(role: Role, text: impl Into<Arc<str>>) -> Self {
        Message {
            role,
            text: text.into(),
            images: Vec::new(),
            documents: Vec::new(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            tool_name: None,
        }
    }
    pub fn user(text: impl Into<Arc<str>>) -> Self {
        Message::new(Role::User, text)
    }
    pub fn assistant(text: impl Into<Arc<str>>) -> Self {
        Message::new(Role::Assistant, text)
    }
    pub fn tool_result(call: &ToolCall, text: impl Into<Arc<str>>) -> Self {
        Message {
            tool_call_id: Some(call.id.clone()),
            tool_name: Some(call.name.clone()),
            ..Message::new(Role::Tool, text)
        }
    }
    pub fn with_image(mut self, bytes: Vec<u8>, mime: impl Into<String>) -> Self {
        self.images.push(Image {
            bytes,
            mime: mime.into(),
        });
        self
    }
    pub fn with_document(
        mut self,
        bytes: Vec<u8>,
        mime: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        self.documents.push(Document {
            bytes,
            mime: mime.into(),
            name: name.into(),
        });
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
    /// Where the stable head of `system` ends (a byte offset): what comes before it is the same
    /// from one request to the next, so a provider that caches prompt prefixes is told to cache
    /// it (Anthropic's `cache_control`). Others get the same text whole; their own prefix
    /// caching profits from the order alone.
    pub cache_point: Option<usize>,
    pub messages: Vec<Message>,
    pub schema: Option<JsonSchema>,
}

impl ChatRequest {
    pub fn new(system: impl Into<String>) -> Self {
        ChatRequest {
            system: system.into(),
            ..Default::default()
        }
    }
    pub fn message(mut self, message: Message) -> Self {
        self.messages.push(message);
        self
    }
    /// Marks the first `at` bytes of the system prompt as its stable head.
    pub fn with_cache_point(mut self, at: usize) -> Self {
        self.cache_point = Some(at).filter(|&at| at > 0 && self.system.is_char_boundary(at));
        self
    }
    pub fn with_schema(mut self, name: impl Into<String>, schema: Value) -> Self {
        self.schema = Some(JsonSchema {
            name: name.into(),
            schema,
        });
        self
    }
}

/// Uses one of her organs. The slot names the organ in every error.
#[derive(Clone, Debug)]
pub struct OrganClient {
    pub(crate) http: reqwest::Client,
    pub(crate) slot: OrganSlot,
    pub(crate) timeout: Duration,
    /// Her models folder and engine, and her sequence in it: set when local models may run
    /// embedded.
    pub(crate) embedded: Option<(Embedded, String)>,
}

impl OrganClient {
    /// `http` should come from [`crate::http_client`].
    pub fn new(http: reqwest::Client, slot: OrganSlot) -> Self {
        OrganClient {
            http,
            slot,
            timeout: DEFAULT_CHAT_TIMEOUT,
            embedded: None,
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Lets a local model in her library run on the embedded engine, in the KV sequence named
    /// `sequence` (her persona id: her prompts share a cached prefix from one call to the next).
    pub fn with_embedded(
        mut self,
        embedded: Option<Embedded>,
        sequence: impl Into<String>,
    ) -> Self {
        let sequence = sequence.into();
        self.embedded = embedded.map(|e| (e, sequence));
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

    /// The embedded engine and the model file, when `organ` is a local model in her library.
    pub(crate) async fn embedded(&self, organ: &Organ) -> Option<(&Embedded, &str, Found)> {
        let (embedded, sequence) = self.embedded.as_ref()?;
        if organ.provider.is_some() {
            return None;
        }
        let found = embedded.find(&organ.name).await?;
        Some((embedded, sequence, found))
    }

    /// Asks the organ. With a schema the provider's structured mode is used and
    /// [`Reply::json`] holds the object (or `None` when she answered in prose anyway).
    pub async fn chat(&self, organ: &Organ, request: &ChatRequest) -> Result<Reply, OrganError> {
        self.answer(organ, request, None).await
    }

    /// Like [`OrganClient::chat`], handing `on_text` each piece of the answer's raw text as the
    /// model writes it (reasoning and JSON syntax included: the caller picks out what it wants).
    /// Every provider streams (local models embedded or through Ollama, and each cloud); the
    /// reply is the same as [`OrganClient::chat`]'s.
    pub async fn chat_streaming(
        &self,
        organ: &Organ,
        request: &ChatRequest,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Reply, OrganError> {
        self.answer(organ, request, Some(on_text)).await
    }

    async fn answer(
        &self,
        organ: &Organ,
        request: &ChatRequest,
        on_text: Option<&mut (dyn FnMut(&str) + Send)>,
    ) -> Result<Reply, OrganError> {
        let call = self.call(organ);
        let documents = request.messages.iter().any(|m| !m.documents.is_empty());
        if let Some((embedded, sequence, found)) = self.embedded(organ).await {
            if documents {
                return Err(OrganError::Unsupported {
                    organ: call.organ,
                    provider: providers::embedded::NAME,
                    what: "read PDF documents (use an Anthropic or Gemini model)",
                });
            }
            return embedded
                .chat(
                    self.slot,
                    &organ.name,
                    found,
                    sequence,
                    request,
                    self.timeout,
                    on_text.unwrap_or(&mut |_| {}),
                )
                .await;
        }
        if !reads_documents(organ.provider) && documents {
            return Err(OrganError::Unsupported {
                organ: call.organ,
                provider: call.name(),
                what: "read PDF documents (use an Anthropic or Gemini model)",
            });
        }
        let answer = match on_text {
            Some(on_text) => {
                let builder = providers::chat_streamed(&call, &self.http, &organ.name, request);
                let response = call.send(builder.timeout(self.timeout)).await?;
                if !response.status().is_success() {
                    return Err(call.refused(response).await);
                }
                providers::gather(&call, response, self.timeout, on_text)
                    .await
                    .map_err(|reason| call.unreadable(reason))?
            }
            None => {
                let builder =
                    providers::chat(&call, &self.http, &organ.name, request).timeout(self.timeout);
                call.json(call.send(builder).await?).await?
            }
        };
        let (text, structured) =
            providers::read(organ.provider, &answer).map_err(|reason| call.unreadable(reason))?;
        Ok(finish(
            &text,
            structured,
            request.schema.is_some(),
            providers::cut_off(organ.provider, &answer),
            providers::usage(organ.provider, &answer),
        ))
    }
}
