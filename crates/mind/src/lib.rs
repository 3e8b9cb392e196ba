//! Her life while she runs: the agent that owns her cognitive cycle, memory and sleep.
//!
//! `agent` is the handle and the command loop (one life task, a cancellable cycle, a
//! heartbeat); `life` her shared state, made of parts that own theirs: `journal` (memory and
//! conversation log), `regulation` (her identity instance, behind the `Identity` trait the
//! daemon implements), `outbox` (what leaves her: words, events, signals) and `vitals` (phase,
//! beats, faults, sickness). `inlet` is how a perception enters, `exchange` a message in and her
//! answer out, `draft` her words shown while her Mind still writes them. `cycle` is the stage machine, `act` her decisions carried out, `reflect` the
//! stages of rest, `prompts` every prompt and schema. `home`, `memory`, `meanings`, `destiny`
//! are her files; `abilities` her tools; `health` and `ritual` sickness and sleep; `perceive`
//! and `feed` what reaches her from outside; `gateway` her Telegram and Discord chats; `views`
//! what the daemon shows; `signal` the live feed of what happens to her; `error` what can fail.

pub mod abilities;
pub mod act;
pub mod agent;
pub mod clock;
pub mod cycle;
pub mod destiny;
mod draft;
pub mod error;
pub mod exchange;
pub mod feed;
pub mod gateway;
pub mod health;
pub mod home;
pub mod inlet;
pub mod journal;
pub mod life;
pub mod meanings;
pub mod memory;
pub mod outbox;
pub mod pairing;
pub mod perceive;
pub mod prompts;
pub mod reflect;
pub mod regulation;
pub mod ritual;
pub mod signal;
pub mod views;
pub mod vitals;
pub mod voice;

pub use agent::{Agent, Surroundings};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::MindError;
pub use exchange::{Exchanged, Piece};
pub use outbox::{LifeEvent, Outgoing, Spoken};
pub use regulation::{Identity, IdentityError, Observed, Pending};
pub use signal::Signal;
pub use vitals::{LiveStatus, SICK_AFTER};
