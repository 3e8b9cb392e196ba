//! The identity engine: a deterministic behavioural state per agent.
//!
//! Pure by construction — no I/O, no clock, no randomness, no hash-ordered containers —
//! so the same state and observation give the same result bit for bit, and replaying an
//! observation log reproduces a state exactly. Hosting, storage and HTTP live in `instances`.

pub mod actions;
pub mod contract;
pub mod engine;
pub mod modes;
pub mod observation;
pub mod personas;
pub mod state;
pub mod test_bank;

pub use actions::{Action, ActionSet};
pub use contract::{Contract, DecisionStyle, HardLocks, RecoveryProfile, TrustProfile, contract};
pub use engine::{process, step};
pub use modes::{Mode, ModeList, ModeSet, Modes};
pub use observation::{InitialConfig, InputError, Observation};
pub use state::{
    BehavioralPattern, Drift, DriftLevel, Memory, SelfModel, State, StressLevel, SystemState,
};
