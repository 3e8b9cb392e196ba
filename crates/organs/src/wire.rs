//! The HTTP conversation every organ call shares: headers per provider, turning transport
//! failures and refusals into [`OrganError`]s without leaking the key, and reading Ollama's
//! NDJSON streams and OpenAI's server-sent events.

use std::error::Error as _;
use std::time::Duration;

use futures::StreamExt;
use persona::Provider;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

use crate::OrganError;

/// How long to wait for a TCP connection to any engine or provider.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The client the daemon should hand to [`crate::Preparer`] and [`crate::OrganClient`]: a
/// bounded connect time and no overall timeout (each call sets its own).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("eternego/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// The user-facing name of a provider.
pub(crate) fn provider_name(provider: Option<Provider>) -> &'static str {
    crate::providers::defaults(provider).name
}

/// One organ's call to one engine: enough to build the request and to word any failure.
pub(crate) struct Call<'a> {
    pub organ: &'static str,
    pub provider: Option<Provider>,
    pub url: &'a str,
    pub key: Option<&'a str>,
}

impl Call<'_> {
    pub fn name(&self) -> &'static str {
        provider_name(self.provider)
    }

    /// A request to `path` under the organ's base URL, authenticated the provider's way.
    pub fn request(&self, http: &reqwest::Client, method: Method, path: &str) -> RequestBuilder {
        let builder = http.request(method, format!("{}{path}", self.url));
        let Some(key) = self.key else { return builder };
        crate::providers::authorize(self.provider, builder, key)
    }

    /// Sends, mapping transport failures to [`OrganError::Unreachable`].
    pub async fn send(&self, builder: RequestBuilder) -> Result<Response, OrganError> {
        builder.send().await.map_err(|e| self.unreachable(&e))
    }

    pub fn unreachable(&self, e: &reqwest::Error) -> OrganError {
        OrganError::Unreachable {
            organ: self.organ,
            place: self.name(),
            url: self.url.to_string(),
            reason: self.scrub(&describe(e)),
        }
    }

    /// The body of a successful answer as JSON; a refusal becomes the matching error.
    pub async fn json(&self, response: Response) -> Result<Value, OrganError> {
        if !response.status().is_success() {
            return Err(self.refused(response).await);
        }
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        serde_json::from_slice(&bytes).map_err(|e| self.unreadable(format!("not JSON: {e}")))
    }

    pub fn unreadable(&self, reason: String) -> OrganError {
        OrganError::Unreadable {
            organ: self.organ,
            provider: self.name(),
            reason: self.scrub(&reason),
        }
    }

    /// Words a non-success answer. Refused keys are reported by status alone: OpenAI and xAI
    /// echo part of the key in their message, so that message is never passed on.
    pub async fn refused(&self, response: Response) -> OrganError {
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        let message = self.error_text(&body);
        let key_problem = matches!(status, 401 | 403)
            || (status == 400
                && (body.contains("API key")
                    || body.contains("API_KEY_INVALID")
                    || body.contains("api key")));
        if key_problem && self.provider.is_some() {
            return OrganError::KeyRejected {
                organ: self.organ,
                provider: self.name(),
                status,
            };
        }
        OrganError::Refused {
            organ: self.organ,
            provider: self.name(),
            status,
            message,
        }
    }

    /// A provider's error body as error text: the key scrubbed from the whole message first,
    /// then cut to 300 characters — cutting first would leave the head of a key that straddles
    /// the cut unmatched by the scrub, and so in the text.
    pub(crate) fn error_text(&self, body: &str) -> String {
        let mut short: String = self.scrub(&error_message(body)).chars().take(300).collect();
        if short.is_empty() {
            short = "no details".into();
        }
        short
    }

    /// Removes the key from text that came from elsewhere, in case a provider echoes it.
    pub fn scrub(&self, text: &str) -> String {
        match self.key {
            Some(key) if !key.is_empty() => text.replace(key, "<redacted>"),
            _ => text.to_string(),
        }
    }

    /// Reads an NDJSON stream line by line, giving up when no line arrives within `idle`.
    /// `each` may stop the stream with a reason (Ollama reports failures as `{"error": …}` lines).
    pub async fn lines(
        &self,
        response: Response,
        idle: Duration,
        mut each: impl FnMut(Value) -> Result<(), String>,
    ) -> Result<(), String> {
        self.raw_lines(response, idle, |line| feed(line, &mut each))
            .await
    }

    /// Reads server-sent events (OpenAI's stream): each `data:` payload as JSON, an
    /// `{"error": …}` payload stopping the stream; `[DONE]`, comments and other fields are
    /// skipped.
    pub async fn events(
        &self,
        response: Response,
        idle: Duration,
        mut each: impl FnMut(Value) -> Result<(), String>,
    ) -> Result<(), String> {
        self.raw_lines(response, idle, |line| {
            let text = String::from_utf8_lossy(line);
            match text.trim().strip_prefix("data:").map(str::trim) {
                Some(data) if data != "[DONE]" => feed(data.as_bytes(), &mut each),
                _ => Ok(()),
            }
        })
        .await
    }

    /// Hands `each` the stream's lines as they complete (and the unterminated rest at the end).
    async fn raw_lines(
        &self,
        response: Response,
        idle: Duration,
        mut each: impl FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut stream = response.bytes_stream();
        let mut pending: Vec<u8> = Vec::new();
        loop {
            let chunk = match tokio::time::timeout(idle, stream.next()).await {
                Err(_) => return Err(format!("no progress for {} s", idle.as_secs())),
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    return Err(format!("connection lost: {}", self.scrub(&describe(&e))));
                }
                Ok(Some(Ok(bytes))) => bytes,
            };
            pending.extend_from_slice(&chunk);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                each(&line)?;
            }
        }
        each(&pending)
    }
}

fn feed(line: &[u8], each: &mut impl FnMut(Value) -> Result<(), String>) -> Result<(), String> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if text.is_empty() {
        return Ok(());
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("unreadable progress line: {e}"))?;
    if let Some(error) = value.get("error") {
        return Err(error
            .as_str()
            .map_or_else(|| error.to_string(), str::to_string));
    }
    each(value)
}

/// The human part of a provider's error body, whichever shape it uses: OpenAI, Anthropic and
/// Gemini nest `error.message`; Ollama and xAI put a string in `error`. Whole: callers go
/// through [`Call::error_text`], which scrubs before it shortens.
pub(crate) fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let found = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("error").filter(|e| e.is_string()))
            .or_else(|| v.get("message"))
            .or_else(|| v.get("detail"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    found.unwrap_or_else(|| body.trim().to_string())
}

/// Why a request failed in transport terms, without the URL (`reqwest::Error`'s own text
/// includes it, and some platforms carry secrets in URLs). Shared with the chat-platform
/// clients, whose Telegram URLs carry the bot token.
pub fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut source = e.source();
    let mut innermost = None;
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => "connection reset".into(),
                std::io::ErrorKind::TimedOut => "timed out".into(),
                _ => io.to_string(),
            };
        }
        innermost = Some(s.to_string());
        source = s.source();
    }
    innermost.unwrap_or_else(|| {
        if e.is_connect() {
            "connection failed".into()
        } else if e.is_body() || e.is_decode() {
            "the answer was cut off".into()
        } else {
            "request failed".into()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_straddling_the_cut_is_scrubbed_before_it() {
        let key = "sk-proj-0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEF";
        let call = Call {
            organ: "thinking",
            provider: Some(Provider::Openai),
            url: "http://127.0.0.1:1",
            key: Some(key),
        };
        // The key starts 20 characters before the 300-character cut.
        let message = format!("{}{key} was not accepted", "x".repeat(280));
        let body = serde_json::json!({"error": {"message": message}}).to_string();
        let text = call.error_text(&body);
        assert!(text.chars().count() <= 300);
        assert!(!text.contains(&key[..20]), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
        assert_eq!(call.error_text(""), "no details");
    }
}
