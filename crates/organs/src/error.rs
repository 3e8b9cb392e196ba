//! What can go wrong with an organ, worded for the person: every message names the organ and
//! says why. None of them carries an API key.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum OrganError {
    #[error("{organ}: {message}")]
    UnknownProvider {
        organ: &'static str,
        message: String,
    },
    #[error("{organ}: a model name is required for a remote provider")]
    ModelRequired { organ: &'static str },
    #[error("{organ}: an API key is required for {provider}")]
    KeyRequired {
        organ: &'static str,
        provider: &'static str,
    },
    #[error("{organ}: could not reach {place} at {url} ({reason})")]
    Unreachable {
        organ: &'static str,
        place: &'static str,
        url: String,
        reason: String,
    },
    #[error("{organ}: {provider} rejected the API key (HTTP {status})")]
    KeyRejected {
        organ: &'static str,
        provider: &'static str,
        status: u16,
    },
    #[error("{organ}: model '{model}' is not available from {provider}")]
    UnknownModel {
        organ: &'static str,
        model: String,
        provider: &'static str,
    },
    #[error("{organ}: the local engine has no model installed; give a model name to pull one")]
    NoLocalModel { organ: &'static str },
    #[error("{organ}: could not pull '{model}' into the local engine ({reason})")]
    PullFailed {
        organ: &'static str,
        model: String,
        reason: String,
    },
    #[error("{organ}: could not register '{model}' with the local engine ({reason})")]
    RegisterFailed {
        organ: &'static str,
        model: String,
        reason: String,
    },
    #[error("{organ}: could not remove '{model}' from the local engine ({reason})")]
    UnregisterFailed {
        organ: &'static str,
        model: String,
        reason: String,
    },
    #[error("{organ}: {provider} answered HTTP {status} ({message})")]
    Refused {
        organ: &'static str,
        provider: &'static str,
        status: u16,
        message: String,
    },
    #[error("{organ}: {provider} sent an answer that could not be read ({reason})")]
    Unreadable {
        organ: &'static str,
        provider: &'static str,
        reason: String,
    },
    #[error("{organ}: the embedded engine could not run '{model}' ({reason})")]
    Engine {
        organ: &'static str,
        model: String,
        reason: String,
    },
    /// A local model that is neither in her models folder nor to be had from Ollama.
    #[error(
        "{organ}: model '{model}' was found neither in the local models at {models} nor in the local engine at {url} ({reason})"
    )]
    NotFound {
        organ: &'static str,
        model: String,
        models: String,
        url: String,
        reason: String,
    },
    #[error("{organ}: {provider} cannot {what}")]
    Unsupported {
        organ: &'static str,
        provider: &'static str,
        what: &'static str,
    },
}

impl OrganError {
    /// True when the engine or provider could not be reached at all: what health checks count
    /// as a dead Mind, as opposed to a refused or malformed answer.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, OrganError::Unreachable { .. })
    }
}
