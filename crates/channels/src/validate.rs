//! Checking a bot token before a channel is saved: Telegram `getMe`, Discord `GET /users/@me`.

use std::time::Duration;

use persona::{Channel, ChannelKind, Credentials};

use crate::ChannelError;
use crate::transport::{check_token, describe, refusal, scrub};

/// Both platforms answer these identity calls at once; this bounds a hung one.
const VALIDATE_TIMEOUT: Duration = Duration::from_secs(20);

/// The user agent required by Discord's rules for bots: `DiscordBot (<url>, <version>)`.
pub(crate) const DISCORD_USER_AGENT: &str = "DiscordBot (eternego, 0.1)";

/// Base URLs of the chat platforms. The daemon reads `TELEGRAM_BASE_URL` and
/// `DISCORD_BASE_URL` so tests can point them at loopback fakes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformUrls {
    pub telegram: String,
    pub discord: String,
}

impl Default for PlatformUrls {
    fn default() -> Self {
        PlatformUrls {
            telegram: "https://api.telegram.org".into(),
            discord: "https://discord.com/api/v10".into(),
        }
    }
}

/// Checks `token` with the platform and returns the unpaired channel to save. The web channel
/// has no token and needs no call.
pub async fn validate(
    client: &reqwest::Client,
    urls: &PlatformUrls,
    kind: ChannelKind,
    token: &str,
) -> Result<Channel, ChannelError> {
    let token = token.trim();
    match kind {
        ChannelKind::Web => {
            return Ok(Channel {
                kind,
                name: String::new(),
                credentials: None,
                verified_at: None,
            });
        }
        ChannelKind::Telegram => telegram(client, &urls.telegram, token)
            .await
            .map_err(ChannelError::Telegram)?,
        ChannelKind::Discord => discord(client, &urls.discord, token)
            .await
            .map_err(ChannelError::Discord)?,
    }
    // Named after its kind until a chat is paired (then after the chat), so a person can
    // remove it by the name her record shows before and after pairing.
    Ok(Channel {
        kind,
        name: kind.as_str().to_string(),
        credentials: Some(Credentials {
            token: token.to_string(),
        }),
        verified_at: None,
    })
}

async fn telegram(client: &reqwest::Client, base: &str, token: &str) -> Result<(), String> {
    check_token(token)?;
    let url = format!("{}/bot{token}/getMe", base.trim_end_matches('/'));
    let response = client
        .post(url)
        .timeout(VALIDATE_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("could not reach Telegram ({})", scrub(&describe(&e), token)))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|e| scrub(&describe(&e), token))?;
    if status != 200 {
        return Err(refusal(status, &body, token));
    }
    let parsed: serde_json::Value = serde_json::from_str(&body)
        .map_err(|_| "Telegram sent an unreadable answer".to_string())?;
    if parsed.get("ok").and_then(serde_json::Value::as_bool) != Some(true) {
        return Err(refusal(status, &body, token));
    }
    Ok(())
}

async fn discord(client: &reqwest::Client, base: &str, token: &str) -> Result<(), String> {
    check_token(token)?;
    let response = client
        .get(format!("{}/users/@me", base.trim_end_matches('/')))
        .header("authorization", format!("Bot {token}"))
        .header("user-agent", DISCORD_USER_AGENT)
        .timeout(VALIDATE_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("could not reach Discord ({})", scrub(&describe(&e), token)))?;
    let status = response.status().as_u16();
    if status != 200 {
        let body = response.text().await.unwrap_or_default();
        return Err(refusal(status, &body, token));
    }
    Ok(())
}
