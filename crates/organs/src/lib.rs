//! Her model organs: one interface over local models (run in process on the embedded engine
//! when their GGUF is in her models folder, else by Ollama) and the cloud providers
//! (Anthropic, OpenAI, xAI, Gemini). Each provider is one module under [`providers`].
//!
//! Two jobs live here: *preparing* an organ before it is saved (is the engine reachable, is the
//! key good, does the model exist — without spending tokens), and *using* it (chat, structured
//! JSON, hearing, speaking, drawing) once she is alive.
//!
//! Secrets: an API key is only ever placed in a request header. It never appears in an
//! [`OrganError`], a log line or a `Debug` rendering of anything defined here.

mod chat;
mod endpoints;
mod error;
mod media;
mod prepare;
pub mod providers;
mod reply;
mod wire;

pub use chat::{
    ChatRequest, DEFAULT_CHAT_TIMEOUT, Document, Image, JsonSchema, Message, OrganClient, Role,
    ToolCall, reads_documents,
};
pub use endpoints::{Endpoints, OrganRequest};
pub use engine::EngineConfig;
pub use error::OrganError;
pub use media::{Audio, Picture};
pub use prepare::Preparer;
pub use providers::Embedded;
pub use providers::ollama::MIND_CONTEXT;
pub use reply::{Reply, Usage, extract_json, strip_think};
pub use wire::{CONNECT_TIMEOUT, describe as describe_transport_failure, http_client};
