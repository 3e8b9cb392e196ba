//! Where she talks: web, Telegram (Bot API) and Discord (REST, and the Gateway websocket to
//! hear people).
//!
//! Bot tokens are secrets. Telegram carries them in every URL, so no error or log line here
//! ever shows a URL or the text of a transport error that might hold one.

mod backoff;
pub mod discord;
pub mod discord_gateway;
mod error;
pub mod telegram;
mod transport;
mod validate;

pub use error::ChannelError;
pub use validate::{PlatformUrls, validate};
