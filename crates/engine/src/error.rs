//! What can go wrong in the engine, worded for the person reading a log or an API error.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EngineError {
    #[error("llama.cpp could not start ({0})")]
    Backend(String),
    #[error("could not load the model {path} ({reason})")]
    Load { path: PathBuf, reason: String },
    #[error("the model is busy: too many requests are waiting for it")]
    Busy,
    #[error("the model's worker stopped before answering")]
    WorkerGone,
    #[error("the chat template could not be applied ({0})")]
    Template(String),
    #[error("the prompt is {tokens} tokens, more than the model's context of {context}")]
    PromptTooLong { tokens: usize, context: u32 },
    #[error("the JSON schema could not be turned into a grammar ({0})")]
    Schema(String),
    #[error("decoding failed ({0})")]
    Decode(String),
}
