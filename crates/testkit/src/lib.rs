//! Fake provider and chat-platform servers for tests. Each one is a real HTTP server on
//! `127.0.0.1:0` that speaks the platform's wire protocol, so the production clients are what
//! the tests exercise.
//!
//! Every fake records what it received ([`Recorded`]) so a test can assert on the wire, and the
//! model fakes answer chat through a [`Responder`] the test scripts, so a cognitive cycle can be
//! driven stage by stage by matching on the request body.

// Handlers bail out early with a ready response; boxing it would only add noise to test servers.
#![allow(clippy::result_large_err)]

pub mod anthropic;
pub mod discord;
pub mod gemini;
pub mod huggingface;
pub mod ollama;
pub mod openai;
mod server;
pub mod telegram;

use std::sync::Arc;

pub use server::{Recorded, RequestLog};

/// What a scripted model says in answer to one chat request.
#[derive(Clone, Debug, PartialEq)]
pub enum ScriptedReply {
    /// Plain assistant text, exactly as given: prose, malformed JSON, `<think>` blocks and all.
    Text(String),
    /// A structured answer. When the request forces a tool (OpenAI `tool_choice`, Anthropic
    /// `tool_choice: {type: tool}`) it comes back as that tool's arguments; otherwise as the
    /// message text, serialised.
    Json(serde_json::Value),
    /// Text the model was still writing when it reached its length limit, reported with the
    /// provider's own stop reason for that.
    CutOff(String),
    /// The provider fails the request with this HTTP status and message, in its own error shape.
    Error { status: u16, message: String },
}

impl ScriptedReply {
    pub fn text(text: impl Into<String>) -> Self {
        ScriptedReply::Text(text.into())
    }
}

/// Answers one chat request, given its JSON body as the client sent it.
pub type Responder = Arc<dyn Fn(&serde_json::Value) -> ScriptedReply + Send + Sync>;

/// Turns a closure into a [`Responder`].
pub fn responder<F>(f: F) -> Responder
where
    F: Fn(&serde_json::Value) -> ScriptedReply + Send + Sync + 'static,
{
    Arc::new(f)
}

/// The text a fake model says when no responder was set and no structure was asked for.
pub const DEFAULT_REPLY: &str = "Hello from the fake model.";

/// The answer when no responder is set: an empty object when structure was asked for, so
/// structured callers still get valid JSON, and a fixed sentence otherwise.
pub(crate) fn default_reply(structured: bool) -> ScriptedReply {
    if structured {
        ScriptedReply::Json(serde_json::json!({}))
    } else {
        ScriptedReply::Text(DEFAULT_REPLY.into())
    }
}

/// Holds a streamed answer after its first piece of text until the test releases it, so a
/// test can see what a client receives while the model is still writing, without sleeping.
#[derive(Clone, Default)]
pub struct Gate(Arc<tokio::sync::Notify>);

impl Gate {
    /// Lets the held answer finish (at once if it is not held yet).
    pub fn release(&self) {
        self.0.notify_one();
    }

    pub(crate) async fn wait(&self) {
        self.0.notified().await;
    }
}

/// Splits text into a few chunks the way a streaming model emits tokens, so clients that
/// stream must reassemble it.
pub(crate) fn chunks(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    let size = chars.len().div_ceil(3).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}
