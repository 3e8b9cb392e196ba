//! Signals: what happens in her life, as the dashboard's live feed shows it (`/ws/system`,
//! and the signals that mention her on her own socket).
//!
//! The shape follows the original's bus frames, `{"type", "title", "time", "details"}`, with
//! `time` in nanoseconds since the epoch. Details name her (`persona: {id, name}`) and carry no
//! credentials: nothing that could hold a key or token is ever put in one.

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::outbox::LifeEvent;

/// The kinds of signal; the names are the original's signal classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Kind {
    /// Something changed in her life: she consolidated, slept, fell sick.
    Event,
    /// Something was heard or said.
    Message,
    /// Her heartbeat.
    Tick,
    /// A stage failed because an organ she cannot think without failed.
    BrainFault,
    /// One of her tools ran.
    CapabilityRun,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Signal {
    #[serde(rename = "type")]
    pub kind: Kind,
    pub title: String,
    /// Nanoseconds since the Unix epoch.
    pub time: i64,
    pub details: Value,
    /// Whose life it came from; the sockets filter on it.
    #[serde(skip)]
    pub persona_id: Uuid,
}

impl Signal {
    /// A signal from persona `id` (called `name`); `details` must be an object.
    pub fn new(
        kind: Kind,
        title: impl Into<String>,
        at: OffsetDateTime,
        id: Uuid,
        name: &str,
        mut details: Value,
    ) -> Signal {
        if let Some(map) = details.as_object_mut() {
            map.insert("persona".into(), json!({"id": id, "name": name}));
        }
        let time = i64::try_from(at.unix_timestamp_nanos()).unwrap_or(i64::MAX);
        Signal {
            kind,
            title: title.into(),
            time,
            details,
            persona_id: id,
        }
    }

    /// How a change the daemon acts on is shown in the feed.
    pub fn of_event(event: &LifeEvent, at: OffsetDateTime, id: Uuid, name: &str) -> Signal {
        let (kind, title, details) = match event {
            LifeEvent::Faulted {
                stage,
                error,
                in_a_row,
            } => (
                Kind::BrainFault,
                stage.as_str(),
                json!({"error": error, "in_a_row": in_a_row}),
            ),
            LifeEvent::Sick { reason } => (Kind::Event, "Sick", json!({"reason": reason})),
            LifeEvent::Consolidated => (Kind::Event, "Consolidated", json!({})),
            LifeEvent::Slept => (Kind::Event, "Slept", json!({})),
        };
        Signal::new(kind, title, at, id, name, details)
    }
}
