//! What the service answers with: views of an instance, an observation's outcome, a page of a
//! list, a personality test's outcome. Owned values, so nothing crosses the boundary under a lock.

use crate::store::{DriftRecord, Live};
use identity::{Contract, Modes, Observation, State, StressLevel};
use serde_json::Value;
use time::OffsetDateTime;

/// What lists and lookups show about an instance.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub cycle_count: u64,
    pub energy_level: f64,
    pub stress_state: StressLevel,
    pub stability_index: f64,
}

/// An owned snapshot, as returned across the service boundary.
#[derive(Debug, Clone)]
pub struct SnapshotView {
    pub instance_id: String,
    pub state: State,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl SnapshotView {
    pub(super) fn of(live: &Live) -> SnapshotView {
        SnapshotView {
            instance_id: live.meta.id.clone(),
            state: live.state,
            created_at: live.meta.created_at,
            updated_at: live.updated_at(),
        }
    }
}

/// The answer to one observation.
#[derive(Debug, Clone)]
pub struct ProcessOutcome {
    pub snapshot: SnapshotView,
    pub contract: Contract,
    /// The drift measured by this cycle; `None` during warm-up or when throttled.
    pub drift: Option<DriftRecord>,
    /// True when the observation came inside the minimum interval and changed nothing.
    pub throttled: bool,
}

/// One observation as received: the engine input plus what only the host cares about.
#[derive(Debug, Clone)]
pub struct ObservationInput {
    pub observation: Observation,
    pub context: Value,
    pub timestamp: Option<OffsetDateTime>,
}

impl From<Observation> for ObservationInput {
    fn from(observation: Observation) -> Self {
        ObservationInput {
            observation,
            context: Value::Null,
            timestamp: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    CreatedAt,
    Name,
}

#[derive(Debug, Clone, Copy)]
pub struct ListQuery {
    pub limit: usize,
    pub offset: usize,
    pub sort: SortKey,
    pub descending: bool,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
}

impl<T> Page<T> {
    pub fn has_more(&self) -> bool {
        self.offset + self.items.len() < self.total
    }
}

/// Who a personality test is for.
#[derive(Debug, Clone)]
pub enum TestSubject {
    Existing(String),
    Create { name: String },
}

#[derive(Debug, Clone)]
pub struct TestOutcome {
    pub instance: InstanceView,
    pub profile: Modes,
    pub snapshot: SnapshotView,
    pub contract: Contract,
}
