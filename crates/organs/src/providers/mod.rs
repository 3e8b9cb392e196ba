//! Every provider her organs can use, one module each: where it lives by default, how it is
//! authenticated, the body it takes for a chat, how its answer is read, and how a model is
//! checked before it is saved. This file is the one table that sends each [`Provider`] to its
//! module, plus the serialisation pieces several bodies share.
//!
//! Adding a provider: its module here (defaults, `authorize`, `chat`, `chat_streamed`, `gather`,
//! `read`, `cut_off`, `usage`, `has_model`), one arm in each table below, its variant in
//! `persona::Provider`, and its fake in `testkit`.
//!
//! Ollama is the provider `None` (a local model); [`embedded`] serves a local model that is in
//! `ETERNEGO_HOME/models/` instead, in process.

pub(crate) mod anthropic;
pub(crate) mod embedded;
pub(crate) mod gemini;
pub(crate) mod ollama;
pub(crate) mod openai;
pub(crate) mod xai;

use std::borrow::Cow;

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD as B64;
use persona::Provider;
use reqwest::RequestBuilder;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::OrganError;
use crate::chat::{ChatRequest, Image, JsonSchema, Message};
use crate::reply::Usage;
use crate::wire::Call;

pub use embedded::Embedded;

/// Listing calls answer in well under a second on a healthy engine; this bounds a hung one.
pub(crate) const LIST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A provider's defaults: the environment variable that moves it and where it is otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Defaults {
    /// The user-facing name (`the local engine` for Ollama).
    pub name: &'static str,
    /// The variable the daemon reads the base URL from (tests point it at a loopback fake).
    pub env: &'static str,
    /// The base URL, without a trailing slash or API version.
    pub url: &'static str,
}

/// The one table of provider defaults.
pub fn defaults(provider: Option<Provider>) -> Defaults {
    match provider {
        None => ollama::DEFAULTS,
        Some(Provider::Anthropic) => anthropic::DEFAULTS,
        Some(Provider::Openai) => openai::DEFAULTS,
        Some(Provider::Xai) => xai::DEFAULTS,
        Some(Provider::Gemini) => gemini::DEFAULTS,
    }
}

/// Every provider, Ollama first: for listing their environment variables.
pub fn all() -> impl Iterator<Item = Option<Provider>> {
    std::iter::once(None).chain(Provider::ALL.into_iter().map(Some))
}

/// A request authenticated the provider's way.
pub(crate) fn authorize(
    provider: Option<Provider>,
    builder: RequestBuilder,
    key: &str,
) -> RequestBuilder {
    match provider {
        None => ollama::authorize(builder, key),
        Some(Provider::Anthropic) => anthropic::authorize(builder, key),
        Some(Provider::Openai) => openai::authorize(builder, key),
        Some(Provider::Xai) => xai::authorize(builder, key),
        Some(Provider::Gemini) => gemini::authorize(builder, key),
    }
}

/// The chat request for `model`: path and body.
pub(crate) fn chat(
    call: &Call<'_>,
    http: &reqwest::Client,
    model: &str,
    request: &ChatRequest,
) -> RequestBuilder {
    match call.provider {
        None => ollama::chat(call, http, model, request),
        Some(Provider::Anthropic) => anthropic::chat(call, http, model, request),
        Some(Provider::Openai) => openai::chat(call, http, model, request),
        Some(Provider::Xai) => xai::chat(call, http, model, request),
        Some(Provider::Gemini) => gemini::chat(call, http, model, request),
    }
}

/// The answer's text and, when the provider returned structure directly (a tool call), that
/// structure.
pub(crate) fn read(
    provider: Option<Provider>,
    answer: &Value,
) -> Result<(String, Option<Value>), String> {
    match provider {
        None => ollama::read(answer),
        Some(Provider::Anthropic) => anthropic::read(answer),
        Some(Provider::Openai) => openai::read(answer),
        Some(Provider::Xai) => xai::read(answer),
        Some(Provider::Gemini) => gemini::read(answer),
    }
}

/// The tokens the answer took, as the provider counted them.
pub(crate) fn usage(provider: Option<Provider>, answer: &Value) -> Usage {
    match provider {
        None => ollama::usage(answer),
        Some(Provider::Anthropic) => anthropic::usage(answer),
        Some(Provider::Openai) => openai::usage(answer),
        Some(Provider::Xai) => xai::usage(answer),
        Some(Provider::Gemini) => gemini::usage(answer),
    }
}

/// The chat request asking for the answer as a stream.
pub(crate) fn chat_streamed(
    call: &Call<'_>,
    http: &reqwest::Client,
    model: &str,
    request: &ChatRequest,
) -> RequestBuilder {
    match call.provider {
        None => ollama::chat_streamed(call, http, model, request),
        Some(Provider::Openai) => openai::chat_streamed(call, http, model, request, false),
        Some(Provider::Xai) => openai::chat_streamed(call, http, model, request, true),
        Some(Provider::Anthropic) => anthropic::chat_streamed(call, http, model, request),
        Some(Provider::Gemini) => gemini::chat_streamed(call, http, model, request),
    }
}

/// Reads a streamed answer, handing `on_text` each piece of its text as it arrives, into the
/// shape of the provider's whole answer, so [`read`], [`cut_off`] and [`usage`] read it as
/// they read that. `idle` bounds the silence between two pieces.
pub(crate) async fn gather(
    call: &Call<'_>,
    response: reqwest::Response,
    idle: std::time::Duration,
    on_text: &mut (dyn FnMut(&str) + Send),
) -> Result<Value, String> {
    match call.provider {
        None => ollama::gather(call, response, idle, on_text).await,
        Some(Provider::Anthropic) => anthropic::gather(call, response, idle, on_text).await,
        Some(Provider::Gemini) => gemini::gather(call, response, idle, on_text).await,
        Some(Provider::Openai | Provider::Xai) => {
            openai::gather(call, response, idle, on_text).await
        }
    }
}

/// Whether the provider says it stopped at the length limit, each in its own words.
pub(crate) fn cut_off(provider: Option<Provider>, answer: &Value) -> bool {
    match provider {
        None => ollama::cut_off(answer),
        Some(Provider::Anthropic) => anthropic::cut_off(answer),
        Some(Provider::Openai) => openai::cut_off(answer),
        Some(Provider::Xai) => xai::cut_off(answer),
        Some(Provider::Gemini) => gemini::cut_off(answer),
    }
}

/// Whether a remote provider lists `model` for this key (listing calls only: no tokens spent).
pub(crate) async fn has_model(
    provider: Provider,
    call: &Call<'_>,
    http: &reqwest::Client,
    model: &str,
) -> Result<bool, OrganError> {
    match provider {
        Provider::Anthropic => anthropic::has_model(call, http, model).await,
        Provider::Openai => openai::has_model(call, http, model).await,
        Provider::Xai => xai::has_model(call, http, model).await,
        Provider::Gemini => gemini::has_model(call, http, model).await,
    }
}

/// The name a remote provider's model is saved under.
pub(crate) fn model_name(provider: Provider, model: &str) -> &str {
    match provider {
        Provider::Gemini => gemini::model_name(model),
        _ => model,
    }
}

/// The most a cloud model may write in one answer (Anthropic requires a bound).
pub(crate) const MAX_TOKENS: u32 = 4096;

/// Told to the model when its structured mode only promises "some JSON object".
pub(crate) fn schema_instruction(schema: &JsonSchema) -> String {
    format!(
        "Answer with a single JSON object, and nothing else, matching this JSON Schema:\n{}",
        schema.schema
    )
}

/// The system prompt with the schema spelled out after it, for providers whose structured
/// mode does not carry the schema itself (or whose docs advise stating it too).
pub(crate) fn system_with_schema<'a>(system: &'a str, schema: Option<&JsonSchema>) -> Cow<'a, str> {
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
pub(crate) fn tool_name(schema: &JsonSchema) -> String {
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
pub(crate) struct Base64<'a>(pub(crate) &'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&Base64Display::new(self.0, &B64))
    }
}

/// An image as a `data:` URI.
pub(crate) struct DataUri<'a>(pub(crate) &'a Image);

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
pub(crate) struct JsonText<'a>(pub(crate) &'a Value);

impl Serialize for JsonText<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

#[derive(Serialize)]
pub(crate) struct Function<'a, A> {
    pub(crate) name: &'a str,
    pub(crate) arguments: A,
}

/// The turn's text when it has some; a placeholder when the turn would otherwise be empty.
pub(crate) fn text_or_placeholder(m: &Message) -> Option<&str> {
    if !m.text.is_empty() {
        Some(&m.text)
    } else if m.images.is_empty() && m.documents.is_empty() && m.tool_calls.is_empty() {
        Some("…")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tool_names_are_made_acceptable() {
        let s = JsonSchema {
            name: "decide stage!".into(),
            schema: json!({}),
        };
        assert_eq!(tool_name(&s), "decide_stage_");
    }
}
