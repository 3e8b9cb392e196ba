//! Hosting for identity-engine instances: durable storage under a directory the caller
//! chooses, per-instance serialisation, and the HTTP routers of both dialects.

pub mod clock;
mod error;
mod group_commit;
mod http;
mod service;
mod store;

pub use clock::Clock;
pub use error::InstancesError;
pub use http::{openapi, router};
pub use service::{
    InstanceView, ListQuery, NAME_MAX_CHARS, ObservationInput, Page, ProcessOutcome, Service,
    Settings, SnapshotView, SortKey, TestOutcome, TestSubject,
};
pub use store::{DriftRecord, HistoryRecord, ResetTo};
