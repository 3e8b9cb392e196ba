//! Her model organs: one interface over the local engine (Ollama) and the cloud providers
//! (Anthropic, OpenAI, xAI, Gemini).
//!
//! Two jobs live here: *preparing* an organ before it is saved (is the engine reachable, is the
//! key good, does the model exist — without spending tokens), and *using* it (chat, structured
//! JSON, hearing, speaking, drawing) once she is alive.
//!
//! Secrets: an API key is only ever placed in a request header. It never appears in an
//! [`OrganError`], a log line or a `Debug` rendering of anything defined here.

mod body;
mod chat;
mod endpoints;
mod error;
mod media;
mod prepare;
mod reply;
mod wire;

pub use chat::{
    ChatRequest, DEFAULT_CHAT_TIMEOUT, Document, Image, JsonSchema, Message, OrganClient, Role,
    ToolCall, reads_documents,
};
pub use endpoints::{Endpoints, OrganRequest};
pub use error::OrganError;
pub use media::{Audio, Picture};
pub use prepare::{MIND_CONTEXT, Preparer};
pub use reply::{Reply, extract_json, strip_think};
pub use wire::{CONNECT_TIMEOUT, describe as describe_transport_failure, http_client};
