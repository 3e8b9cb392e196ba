//! Pairing a chat channel to her person: a gateway (Telegram, Discord) that hears a private
//! message from a chat it is not paired with issues a short code; the person enters it in the
//! panel; the channel is then bound to that chat and verified. Codes live ten minutes on her
//! clock and only in memory: after a restart the person simply messages her again for a new one.

use std::collections::HashMap;

use persona::{Channel, ChannelKind};
use time::{Duration, OffsetDateTime};

pub const CODE_LIFETIME: Duration = Duration::minutes(10);
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PairError {
    #[error("Pairing code is invalid or has expired.")]
    Invalid,
    #[error("The channel associated with this pairing code could not be found.")]
    NoChannel,
    #[error("This channel is already verified.")]
    AlreadyVerified,
}

struct Pending {
    kind: ChannelKind,
    /// The chat (Telegram chat id, Discord channel id) that asked.
    chat: String,
    issued: OffsetDateTime,
}

#[derive(Default)]
pub struct Pairings {
    pending: HashMap<String, Pending>,
}

impl Pairings {
    /// A new 6-character code for `chat` on a channel of `kind`.
    pub fn issue(&mut self, kind: ChannelKind, chat: &str, now: OffsetDateTime) -> String {
        self.pending.retain(|_, p| now - p.issued < CODE_LIFETIME);
        let seed = uuid::Uuid::new_v4().into_bytes();
        let code: String = seed.iter().take(6).map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect();
        self.pending.insert(code.clone(), Pending { kind, chat: chat.to_string(), issued: now });
        code
    }

    /// Binds the channel the code was issued for in `channels`, returning it.
    pub fn redeem(&mut self, code: &str, channels: &mut [Channel], now: OffsetDateTime) -> Result<Channel, PairError> {
        let code = code.trim().to_ascii_uppercase();
        let pending = self.pending.remove(&code).ok_or(PairError::Invalid)?;
        if now - pending.issued >= CODE_LIFETIME {
            return Err(PairError::Invalid);
        }
        let channel = channels.iter_mut().find(|c| c.kind == pending.kind).ok_or(PairError::NoChannel)?;
        if channel.verified_at.is_some() {
            return Err(PairError::AlreadyVerified);
        }
        channel.name = pending.chat;
        channel.verified_at = Some(crate::clock::iso(now));
        Ok(channel.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn codes_bind_once_case_insensitively_and_expire() {
        let now = datetime!(2026-05-18 08:00 UTC);
        let mut channels = vec![Channel { kind: ChannelKind::Telegram, name: String::new(), credentials: None, verified_at: None }];
        let mut p = Pairings::default();
        let code = p.issue(ChannelKind::Telegram, "4242", now);
        assert_eq!(code.len(), 6);
        let stale = p.issue(ChannelKind::Telegram, "1", now);
        assert_eq!(p.redeem(&stale, &mut channels, now + CODE_LIFETIME), Err(PairError::Invalid));
        let bound = p.redeem(&code.to_lowercase(), &mut channels, now + Duration::minutes(3)).unwrap();
        assert_eq!(bound.name, "4242");
        assert!(channels[0].verified_at.is_some());
        assert_eq!(p.redeem(&code, &mut channels, now), Err(PairError::Invalid));
        let again = p.issue(ChannelKind::Telegram, "9", now);
        assert_eq!(p.redeem(&again, &mut channels, now), Err(PairError::AlreadyVerified));
        let discord = p.issue(ChannelKind::Discord, "9", now);
        assert_eq!(p.redeem(&discord, &mut channels, now), Err(PairError::NoChannel));
    }
}
