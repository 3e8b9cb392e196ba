//! Discord REST: sending her replies to a channel and fetching files sent to her. Receiving is
//! the Gateway's job (`discord_gateway`), which shares this client's token and base URL.

use std::fmt;
use std::time::Duration;

use serde_json::json;

use crate::transport::{self, describe, refusal, scrub, split};
use crate::validate::DISCORD_USER_AGENT;
use crate::{ChannelError, PlatformUrls};

/// Discord's limit for one message's content.
const MAX_CONTENT: usize = 2000;
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// One bot, talking to Discord's REST API.
#[derive(Clone)]
pub struct Discord {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) token: String,
}

impl fmt::Debug for Discord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Discord")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl Discord {
    pub fn new(http: reqwest::Client, urls: &PlatformUrls, token: impl Into<String>) -> Self {
        Discord {
            http,
            base: urls.discord.trim_end_matches('/').to_string(),
            token: token.into(),
        }
    }

    async fn post(&self, path: &str, body: Option<serde_json::Value>) -> Result<(), ChannelError> {
        let failed = |reason: String| ChannelError::Platform {
            platform: "Discord",
            reason,
        };
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("authorization", format!("Bot {}", self.token))
            .header("user-agent", DISCORD_USER_AGENT)
            .timeout(CALL_TIMEOUT);
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request
            .send()
            .await
            .map_err(|e| failed(scrub(&describe(&e), &self.token)))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(failed(refusal(
                status,
                &response.text().await.unwrap_or_default(),
                &self.token,
            )));
        }
        Ok(())
    }

    /// Posts `text` to a channel, split into as many messages as Discord's limit needs.
    pub async fn send(&self, channel_id: &str, text: &str) -> Result<(), ChannelError> {
        for piece in split(text, MAX_CONTENT) {
            self.post(
                &format!("/channels/{channel_id}/messages"),
                Some(json!({"content": piece})),
            )
            .await?;
        }
        Ok(())
    }

    /// Downloads a file someone attached, refusing one over `limit` bytes before or while it
    /// arrives. The bot's token is not sent: attachment addresses are signed by Discord.
    pub async fn fetch(
        &self,
        file: &crate::discord_gateway::Attachment,
        limit: u64,
    ) -> Result<Vec<u8>, ChannelError> {
        let failed = |reason: String| ChannelError::Platform {
            platform: "Discord",
            reason: format!("{}: {reason}", file.filename),
        };
        if file.size > limit {
            return Err(failed(format!("larger than {limit} bytes")));
        }
        let request = self
            .http
            .get(&file.url)
            .header("user-agent", DISCORD_USER_AGENT)
            .timeout(CALL_TIMEOUT);
        transport::download(request, limit, &self.token, failed).await
    }

    /// Shows "typing…" in a channel while she thinks.
    pub async fn typing(&self, channel_id: &str) -> Result<(), ChannelError> {
        self.post(&format!("/channels/{channel_id}/typing"), None)
            .await
    }
}
