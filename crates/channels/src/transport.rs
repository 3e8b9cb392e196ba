//! Turning transport failures and platform refusals into reasons safe to show.

use std::error::Error as _;

use serde_json::Value;

/// Why a request failed, without the URL (which, for Telegram, contains the token).
pub(crate) fn describe(e: &reqwest::Error) -> String {
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
    innermost.unwrap_or_else(|| if e.is_connect() { "connection failed".into() } else { "request failed".into() })
}

/// "HTTP <status>: <what the platform said>" from a refusal body (Telegram's `description`,
/// Discord's `message`), with any copy of the token removed.
pub(crate) fn refusal(status: u16, body: &str, token: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let said = parsed
        .as_ref()
        .and_then(|v| v.get("description").or_else(|| v.get("message")).and_then(Value::as_str))
        .map(str::to_string)
        .unwrap_or_else(|| body.trim().chars().take(200).collect());
    let prefix = format!("{status}: ");
    let said = said.strip_prefix(&prefix).unwrap_or(&said).to_string();
    let text = if said.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {said}") };
    scrub(&text, token)
}

pub(crate) fn scrub(text: &str, token: &str) -> String {
    if token.is_empty() { text.to_string() } else { text.replace(token, "<token>") }
}

/// Bot tokens are printable ASCII without separators; anything else cannot be a token and
/// would otherwise corrupt a URL or header.
pub(crate) fn check_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("the token is empty".into());
    }
    if !token.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '/' | '?' | '#' | '%' | '&')) {
        return Err("the token has characters a bot token cannot have".into());
    }
    Ok(())
}
