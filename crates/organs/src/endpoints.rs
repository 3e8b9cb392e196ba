//! Where each provider lives, and what a person asks for when naming an organ.

use std::fmt;

use persona::Provider;

use crate::providers;

/// Base URLs of the engines, without a trailing slash or API version. The daemon fills these
/// from `OLLAMA_BASE_URL`, `ANTHROPIC_BASE_URL`, `OPENAI_BASE_URL`, `XAI_BASE_URL` and
/// `GEMINI_BASE_URL` so tests can point every provider at a loopback fake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub local: String,
    pub anthropic: String,
    pub openai: String,
    pub xai: String,
    pub gemini: String,
}

impl Default for Endpoints {
    /// Every provider where its module says it lives.
    fn default() -> Self {
        Endpoints::from_env(|_| None)
    }
}

impl Endpoints {
    /// Each provider's base URL from its variable (`var` returns a set, non-blank value) or
    /// its default, without a trailing slash: the one place the defaults are read.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Self {
        let url = |provider: Option<Provider>| {
            let defaults = providers::defaults(provider);
            var(defaults.env)
                .unwrap_or_else(|| defaults.url.to_string())
                .trim_end_matches('/')
                .to_string()
        };
        Endpoints {
            local: url(None),
            anthropic: url(Some(Provider::Anthropic)),
            openai: url(Some(Provider::Openai)),
            xai: url(Some(Provider::Xai)),
            gemini: url(Some(Provider::Gemini)),
        }
    }

    pub fn url_for(&self, provider: Option<Provider>) -> &str {
        match provider {
            None => &self.local,
            Some(Provider::Anthropic) => &self.anthropic,
            Some(Provider::Openai) => &self.openai,
            Some(Provider::Xai) => &self.xai,
            Some(Provider::Gemini) => &self.gemini,
        }
    }
}

/// An organ as a person describes it in a create or update request. Empty strings count as
/// absent.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OrganRequest {
    pub model: Option<String>,
    pub provider: Option<String>,
    pub url: Option<String>,
    pub api_key: Option<String>,
}

impl fmt::Debug for OrganRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrganRequest")
            .field("model", &self.model)
            .field("provider", &self.provider)
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The text of an optional field, trimmed, or `None` when absent or blank.
pub(crate) fn given(field: &Option<String>) -> Option<&str> {
    field.as_deref().map(str::trim).filter(|s| !s.is_empty())
}
