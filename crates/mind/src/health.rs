//! Her health: one `health.jsonl` line per heartbeat, and falling sick when her Mind keeps
//! failing (see [`crate::vitals::SICK_AFTER`]).

use persona::{Organ, Status};
use serde_json::json;
use time::OffsetDateTime;

use crate::clock;
use crate::home::Home;
use crate::life::Life;
use crate::outbox::{LifeEvent, Spoken};

/// One failed beat.
#[derive(Clone, Debug)]
pub struct Fault {
    pub stage: &'static str,
    pub provider: String,
    pub url: String,
    pub model: String,
    pub error: String,
    pub at: OffsetDateTime,
}

impl Fault {
    pub fn new(
        stage: &'static str,
        organ: &Organ,
        error: &organs::OrganError,
        at: OffsetDateTime,
    ) -> Fault {
        Fault {
            stage,
            provider: organ.provider.map_or("ollama", |p| p.as_str()).to_string(),
            url: organ.url.clone(),
            model: organ.name.clone(),
            error: error.to_string(),
            at,
        }
    }
}

/// Appends this beat's line: `{"time","fault_count","fault_providers","signals"}`.
pub fn record(home: &Home, at: OffsetDateTime, faults: &[Fault]) {
    let mut providers: Vec<&str> = faults.iter().map(|f| f.provider.as_str()).collect();
    providers.sort();
    providers.dedup();
    let signals: Vec<serde_json::Value> = faults
        .iter()
        .map(|f| {
            json!({"type": "BrainFault", "title": f.stage, "time": clock::iso(f.at),
                   "details": {"provider": f.provider, "url": f.url, "model_name": f.model, "error": f.error}})
        })
        .collect();
    let line = json!({"time": clock::iso(at), "fault_count": faults.len(), "fault_providers": providers, "signals": signals});
    if let Err(e) = persona::atomic::append_line(&home.health(), &line.to_string()) {
        tracing::error!(error = %e, "could not append to health.jsonl");
    }
}

/// Marks her sick on disk (re-reading her record so a change saved meanwhile is kept), tells
/// her person, and tells the registry.
pub fn fall_sick(life: &Life, last: Option<&Fault>) {
    let p = &life.persona;
    let provider = p.thinking.provider.map_or("ollama", |x| x.as_str());
    let reason = match last {
        Some(f) => format!(
            "Her Mind ({provider}) failed {} beats in a row: {}",
            crate::vitals::SICK_AFTER,
            f.error
        ),
        None => format!(
            "Her Mind ({provider}) failed {} beats in a row.",
            crate::vitals::SICK_AFTER
        ),
    };
    let mut record = life.store.load(p.id).unwrap_or_else(|_| p.clone());
    record.status = Status::Sick;
    record.sickness = Some(reason.clone());
    if let Err(e) = life.store.save(&record) {
        tracing::error!(persona = %p.id, error = %e, "could not save her sickness");
    }
    life.vitals.mark_sick(&reason);
    life.speak(
        &format!(
            "{} ran into trouble thinking ({provider}). Stepping out for now.",
            p.name
        ),
        Spoken::Notify,
    );
    life.outbox.announce(LifeEvent::Sick { reason });
}
