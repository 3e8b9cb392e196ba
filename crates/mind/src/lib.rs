//! Her life while she runs: the agent that owns her cognitive cycle, memory and sleep.

pub mod abilities;
pub mod agent;
pub mod clock;
pub mod destiny;
pub mod home;
pub mod meanings;
pub mod memory;

pub use agent::{Agent, MindError};
pub use clock::{Clock, ManualClock, SystemClock};
