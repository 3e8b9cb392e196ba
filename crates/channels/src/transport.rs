//! Turning transport failures and platform refusals into reasons safe to show.

use serde_json::Value;

use crate::ChannelError;

pub(crate) use organs::describe_transport_failure as describe;

/// The body of a file someone sent, refused as soon as it passes `limit` bytes while it
/// arrives (whatever size was stated), so an oversized file never sits whole in memory. `failed` words each error for its platform and file; the
/// token is scrubbed from every one.
pub(crate) async fn download(
    request: reqwest::RequestBuilder,
    limit: u64,
    token: &str,
    failed: impl Fn(String) -> ChannelError,
) -> Result<Vec<u8>, ChannelError> {
    let too_large = || failed(format!("larger than {limit} bytes"));
    let mut response = request
        .send()
        .await
        .map_err(|e| failed(scrub(&describe(&e), token)))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(failed(refusal(
            status,
            &response.text().await.unwrap_or_default(),
            token,
        )));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| failed(scrub(&describe(&e), token)))?
    {
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// "HTTP <status>: <what the platform said>" from a refusal body (Telegram's `description`,
/// Discord's `message`), with any copy of the token removed.
pub(crate) fn refusal(status: u16, body: &str, token: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let said = parsed
        .as_ref()
        .and_then(|v| {
            v.get("description")
                .or_else(|| v.get("message"))
                .and_then(Value::as_str)
        })
        .map(str::to_string)
        .unwrap_or_else(|| body.trim().chars().take(200).collect());
    let prefix = format!("{status}: ");
    let said = said.strip_prefix(&prefix).unwrap_or(&said).to_string();
    let text = if said.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {said}")
    };
    scrub(&text, token)
}

pub(crate) fn scrub(text: &str, token: &str) -> String {
    if token.is_empty() {
        text.to_string()
    } else {
        text.replace(token, "<token>")
    }
}

/// Bot tokens are printable ASCII without separators; anything else cannot be a token and
/// would otherwise corrupt a URL or header.
pub(crate) fn check_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("the token is empty".into());
    }
    if !token
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, '/' | '?' | '#' | '%' | '&'))
    {
        return Err("the token has characters a bot token cannot have".into());
    }
    Ok(())
}

/// Splits a long reply into pieces a platform accepts (`max` characters each), breaking at
/// the last newline or space in the second half of a piece when there is one.
pub(crate) fn split(text: &str, max: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut pieces = Vec::new();
    let mut start = 0;
    while chars.len() - start > max {
        let window = &chars[start..start + max];
        let cut = window
            .iter()
            .rposition(|c| *c == '\n')
            .or_else(|| window.iter().rposition(|c| *c == ' '))
            .filter(|p| *p >= max / 2)
            .map_or(max, |p| p + 1);
        pieces.push(chars[start..start + cut].iter().collect::<String>());
        start += cut;
    }
    pieces.push(chars[start..].iter().collect());
    pieces
        .into_iter()
        .map(|p| p.trim_end().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn long_text_is_split_within_the_limit() {
        let text = format!("{}\n{}", "a".repeat(7), "b".repeat(5));
        assert_eq!(
            split(&text, 10),
            vec!["aaaaaaa".to_string(), "bbbbb".to_string()]
        );
        assert_eq!(
            split(&"x".repeat(25), 10)
                .iter()
                .map(|p| p.len())
                .collect::<Vec<_>>(),
            vec![10, 10, 5]
        );
        assert_eq!(split("short", 10), vec!["short".to_string()]);
    }
}
