//! Pairing a chat channel to her person: a gateway (Telegram, Discord) that hears a private
//! message from a chat it is not paired with issues a short code; the person enters it in the
//! panel; the channel is then bound to that chat and verified. Codes live ten minutes on her
//! clock. They are kept in `pairing.json` too, so a code already sent still works after her
//! restart (a settings change restarts her) or the daemon's: pairing that does not persist is
//! among the commonest complaints about other companions.
//!
//! Codes cannot be brute-forced: a chat holds at most [`CODES_PER_CHAT`] live codes (more
//! messages get its newest code again, not a new one, so the pool of codes one could hit by
//! luck stays small), and after [`MOST_WRONG`] wrong codes within [`WRONG_WINDOW`] every
//! attempt is refused, the right code included, until the window has passed. With 32^6 codes
//! and at most 16 alive, that is about 10^7 years of guessing on average.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use persona::{Channel, ChannelKind};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

pub const CODE_LIFETIME: Duration = Duration::minutes(10);
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Codes waiting at once; past this the oldest is dropped, so strangers writing to her bot
/// cannot grow the file.
const MOST_PENDING: usize = 16;
/// Live codes one chat may hold at once.
pub const CODES_PER_CHAT: usize = 3;
/// Wrong codes tolerated per [`WRONG_WINDOW`] across her whole panel (one persona).
pub const MOST_WRONG: usize = 5;
/// Shorter than [`CODE_LIFETIME`], so the person who mistyped can still use the code she got.
pub const WRONG_WINDOW: Duration = Duration::minutes(5);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PairError {
    #[error("Pairing code is invalid or has expired.")]
    Invalid,
    #[error("The channel associated with this pairing code could not be found.")]
    NoChannel,
    #[error("This channel is already verified.")]
    AlreadyVerified,
    #[error("Too many wrong pairing codes; try again in a few minutes.")]
    TooManyAttempts,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Pending {
    kind: ChannelKind,
    /// The chat (Telegram chat id, Discord channel id) that asked.
    chat: String,
    #[serde(with = "time::serde::rfc3339")]
    issued: OffsetDateTime,
}

/// The codes issued and not yet used; `pairing.json` holds `{"codes": {CODE: {kind, chat, issued}}}`.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pairings {
    codes: BTreeMap<String, Pending>,
    /// When the recent wrong codes were entered. Kept in memory only: restarting her takes the
    /// same access as entering codes, and a restart costs far more than the window.
    #[serde(skip)]
    wrong: Vec<OffsetDateTime>,
}

impl Pairings {
    /// The codes kept at `path` that are still alive; none when the file is missing or unreadable
    /// (the person then asks for a new code, and nothing else depends on it).
    pub fn load(path: &Path, now: OffsetDateTime) -> Pairings {
        let mut kept: Pairings = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        kept.forget_expired(now);
        kept
    }

    pub fn save(&self, path: &Path) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        persona::atomic::write(path, &bytes)
    }

    fn forget_expired(&mut self, now: OffsetDateTime) {
        self.codes.retain(|_, p| now - p.issued < CODE_LIFETIME);
    }

    /// A new 6-character code for `chat` on a channel of `kind`; a chat that already holds
    /// [`CODES_PER_CHAT`] live codes is given its newest one again (any of the newest when
    /// they were issued in the same instant).
    pub fn issue(&mut self, kind: ChannelKind, chat: &str, now: OffsetDateTime) -> String {
        self.forget_expired(now);
        let mut held: Vec<_> = self
            .codes
            .iter()
            .filter(|(_, p)| p.chat == chat && p.kind == kind)
            .collect();
        if held.len() >= CODES_PER_CHAT {
            held.sort_by_key(|(_, p)| p.issued);
            if let Some((newest, _)) = held.last() {
                return (*newest).clone();
            }
        }
        while self.codes.len() >= MOST_PENDING {
            let Some(oldest) = self
                .codes
                .iter()
                .min_by_key(|(_, p)| p.issued)
                .map(|(code, _)| code.clone())
            else {
                break;
            };
            self.codes.remove(&oldest);
        }
        let seed = uuid::Uuid::new_v4().into_bytes();
        let code: String = seed
            .iter()
            .take(6)
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect();
        self.codes.insert(
            code.clone(),
            Pending {
                kind,
                chat: chat.to_string(),
                issued: now,
            },
        );
        code
    }

    /// Binds the channel the code was issued for in `channels`, returning it.
    pub fn redeem(
        &mut self,
        code: &str,
        channels: &mut [Channel],
        now: OffsetDateTime,
    ) -> Result<Channel, PairError> {
        self.wrong.retain(|at| now - *at < WRONG_WINDOW);
        if self.wrong.len() >= MOST_WRONG {
            return Err(PairError::TooManyAttempts);
        }
        let code = code.trim().to_ascii_uppercase();
        let Some(pending) = self
            .codes
            .remove(&code)
            .filter(|p| now - p.issued < CODE_LIFETIME)
        else {
            self.wrong.push(now);
            return Err(PairError::Invalid);
        };
        let channel = channels
            .iter_mut()
            .find(|c| c.kind == pending.kind)
            .ok_or(PairError::NoChannel)?;
        if channel.verified_at.is_some() {
            return Err(PairError::AlreadyVerified);
        }
        channel.name = pending.chat;
        channel.verified_at = Some(crate::clock::iso(now));
        Ok(channel.clone())
    }
}

/// What an unpaired chat is told: the code, where it goes, and how long it lasts.
pub(crate) fn message(name: &str, code: &str) -> String {
    format!(
        "Your pairing code is: {code}\n\nTo make this chat yours, enter the code in {name}'s panel (Settings, Channels, Verify). \
         It works once and expires in {} minutes.",
        CODE_LIFETIME.whole_minutes()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_pairing_message_carries_the_code_and_its_lifetime() {
        let text = message("Iris", "ABC234");
        assert!(text.starts_with("Your pairing code is: ABC234\n"));
        assert!(
            text.contains("Iris's panel") && text.contains("10 minutes"),
            "{text}"
        );
    }

    #[test]
    fn codes_bind_once_case_insensitively_and_expire() {
        let now = datetime!(2026-05-18 08:00 UTC);
        let mut channels = vec![Channel {
            kind: ChannelKind::Telegram,
            name: String::new(),
            credentials: None,
            verified_at: None,
        }];
        let mut p = Pairings::default();
        let code = p.issue(ChannelKind::Telegram, "4242", now);
        assert_eq!(code.len(), 6);
        let stale = p.issue(ChannelKind::Telegram, "1", now);
        assert_eq!(
            p.redeem(&stale, &mut channels, now + CODE_LIFETIME),
            Err(PairError::Invalid)
        );
        let bound = p
            .redeem(
                &code.to_lowercase(),
                &mut channels,
                now + Duration::minutes(3),
            )
            .unwrap();
        assert_eq!(bound.name, "4242");
        assert!(channels[0].verified_at.is_some());
        assert_eq!(p.redeem(&code, &mut channels, now), Err(PairError::Invalid));
        let again = p.issue(ChannelKind::Telegram, "9", now);
        assert_eq!(
            p.redeem(&again, &mut channels, now),
            Err(PairError::AlreadyVerified)
        );
        let discord = p.issue(ChannelKind::Discord, "9", now);
        assert_eq!(
            p.redeem(&discord, &mut channels, now),
            Err(PairError::NoChannel)
        );
    }

    #[test]
    fn kept_codes_come_back_alive_and_expired_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pairing.json");
        let now = datetime!(2026-05-18 08:00 UTC);
        let mut p = Pairings::default();
        let old = p.issue(ChannelKind::Telegram, "1", now - Duration::minutes(9));
        let fresh = p.issue(ChannelKind::Telegram, "2", now);
        p.save(&path).unwrap();
        let saved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(saved["codes"][&fresh]["chat"], "2");
        assert_eq!(saved["codes"][&fresh]["kind"], "telegram");

        let back = Pairings::load(&path, now + Duration::minutes(2));
        assert_eq!(
            back.codes.keys().collect::<Vec<_>>(),
            [&fresh],
            "{old} had expired"
        );
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(Pairings::load(&path, now), Pairings::default());
        assert_eq!(
            Pairings::load(&dir.path().join("missing.json"), now),
            Pairings::default()
        );
    }

    fn telegram() -> Vec<Channel> {
        vec![Channel {
            kind: ChannelKind::Telegram,
            name: String::new(),
            credentials: None,
            verified_at: None,
        }]
    }

    #[test]
    fn wrong_codes_lock_pairing_for_the_window_then_the_right_code_still_works() {
        let now = datetime!(2026-05-18 08:00 UTC);
        let mut channels = telegram();
        let mut p = Pairings::default();
        let code = p.issue(ChannelKind::Telegram, "4242", now);
        for guess in 0..MOST_WRONG {
            let wrong = format!("ZZZZZ{guess}");
            assert_eq!(
                p.redeem(&wrong, &mut channels, now),
                Err(PairError::Invalid)
            );
        }
        let soon = now + WRONG_WINDOW - Duration::seconds(1);
        assert_eq!(
            p.redeem(&code, &mut channels, soon),
            Err(PairError::TooManyAttempts),
            "while locked even the right code is refused (and not used up)"
        );
        let bound = p.redeem(&code, &mut channels, now + WRONG_WINDOW).unwrap();
        assert_eq!(bound.name, "4242");
    }

    #[test]
    fn a_chat_holds_at_most_a_few_codes_and_is_sent_its_newest_again() {
        let now = datetime!(2026-05-18 08:00 UTC);
        let mut p = Pairings::default();
        let issued: Vec<String> = (0..CODES_PER_CHAT as i64)
            .map(|i| p.issue(ChannelKind::Telegram, "666", now + Duration::seconds(i)))
            .collect();
        let again = p.issue(ChannelKind::Telegram, "666", now + Duration::seconds(9));
        assert_eq!(&again, issued.last().unwrap());
        assert_eq!(p.codes.len(), CODES_PER_CHAT);
        let other = p.issue(ChannelKind::Telegram, "777", now);
        assert!(!issued.contains(&other), "another chat still gets its own");
        let later = p.issue(ChannelKind::Telegram, "666", now + CODE_LIFETIME);
        assert!(
            !issued.contains(&later),
            "once they expire she may ask again"
        );
    }

    #[test]
    fn strangers_cannot_pile_up_codes() {
        let now = datetime!(2026-05-18 08:00 UTC);
        let mut p = Pairings::default();
        let first = p.issue(ChannelKind::Telegram, "0", now);
        for i in 1..=MOST_PENDING {
            p.issue(
                ChannelKind::Telegram,
                &i.to_string(),
                now + Duration::seconds(i as i64),
            );
        }
        assert_eq!(p.codes.len(), MOST_PENDING);
        assert!(!p.codes.contains_key(&first), "the oldest code made room");
    }
}
