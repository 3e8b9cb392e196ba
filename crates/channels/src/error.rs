//! What can go wrong talking to a chat platform, worded for the person, never with a token.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ChannelError {
    #[error("Telegram validation failed: {0}")]
    Telegram(String),
    #[error("Discord validation failed: {0}")]
    Discord(String),
    /// A message or request to the platform failed after the channel was set up.
    #[error("{platform}: {reason}")]
    Platform {
        platform: &'static str,
        reason: String,
    },
}
