//! Her life while she runs: the agent that owns her cognitive cycle, memory and sleep.
//!
//! `agent` is the runtime (one life task, a cancellable cycle, a heartbeat); `cycle` the
//! stages; `home`, `memory`, `meanings`, `destiny` her files; `abilities` her tools;
//! `regulation` the identity engine's hold on her; `health` and `ritual` sickness and sleep;
//! `perceive` and `feed` what reaches her from outside; `gateway` her Telegram and Discord
//! chats; `views` what the daemon shows; `signal` the live feed of what happens to her.

pub mod abilities;
pub mod agent;
pub mod clock;
pub mod cycle;
pub mod destiny;
pub mod feed;
pub mod gateway;
pub mod health;
pub mod home;
pub mod meanings;
pub mod memory;
pub mod pairing;
pub mod perceive;
pub mod regulation;
pub mod ritual;
pub mod signal;
pub mod views;
pub mod voice;

pub use agent::{
    Agent, LifeEvent, LiveStatus, MindError, Outgoing, SICK_AFTER, Spoken, Surroundings,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use signal::Signal;
