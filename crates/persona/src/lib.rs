//! A persona on disk: her record (`config.json`), the layout of `ETERNEGO_HOME`, the secret store
//! that keeps her keys and phrase out of plain files, her recovery phrase and her diary.

pub mod diary;
pub mod media_type;
pub mod phrase;
pub mod record;
pub mod secrets;
pub mod store;

/// Crash-safe writes: the shared `durable` crate, under the name her crates have always used.
pub use durable as atomic;
pub use phrase::Phrase;
pub use record::{Channel, ChannelKind, Credentials, Organ, OrganSlot, Persona, Provider, Status};
pub use secrets::SecretStore;
pub use store::{Store, StoreError};
