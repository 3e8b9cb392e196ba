//! JSON shapes. Snapshots and contracts carry the union of the keys both dialects read
//! (extra keys are ignored by the SDK's models); envelopes, lists and drift naming differ.

use super::Dialect;
use crate::clock::format;
use crate::service::{InstanceView, Page, ProcessOutcome, SnapshotView};
use crate::store::{DriftRecord, HistoryRecord};
use identity::personas::{Persona, best_matches};
use identity::{Contract, Drift, Mode, Modes};
use serde_json::{Map, Value, json};

pub fn modes(m: &Modes) -> Value {
    Value::Object(
        m.iter()
            .map(|(mode, v)| (mode.as_str().to_string(), json!(v)))
            .collect(),
    )
}

fn names<I: IntoIterator<Item = &'static str>>(items: I) -> Value {
    Value::Array(
        items
            .into_iter()
            .map(|s| Value::String(s.to_string()))
            .collect(),
    )
}

fn mode_names(items: impl IntoIterator<Item = Mode>) -> Value {
    names(items.into_iter().map(Mode::as_str))
}

pub fn instance(v: &InstanceView) -> Value {
    json!({
        "id": v.id,
        "name": v.name,
        "description": v.description,
        "created_at": format(v.created_at),
        "updated_at": format(v.updated_at),
        "cycle_count": v.cycle_count,
        "energy_level": v.energy_level,
        "stress_state": v.stress_state.as_str(),
        "stability_index": v.stability_index,
    })
}

pub fn snapshot(s: &SnapshotView) -> Value {
    let st = &s.state;
    let personas = best_matches(&st.modes, 2);
    let composites: Vec<String> = st
        .active_composites()
        .map(|(a, b)| format!("{a}+{b}"))
        .collect();
    json!({
        "schema_version": "1.0",
        "instance_id": s.instance_id,
        "cycle": st.cycle,
        "cycle_count": st.cycle,
        "mode_strengths": modes(&st.modes),
        "energy_level": st.energy,
        "stress_state": st.stress.as_str(),
        "stress_level": st.stress.as_str(),
        "system_state": st.system.as_str(),
        "stability_index": st.stability,
        "persona_primary": personas.first().map(|p| p.0.id),
        "persona_secondary": personas.get(1).map(|p| p.0.id),
        "active_composites": composites,
        "timestamp": format(s.updated_at),
        "created_at": format(s.created_at),
        "updated_at": format(s.updated_at),
    })
}

fn drift_fields(d: &Drift) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("magnitude".into(), json!(d.magnitude));
    m.insert("deviation".into(), json!(d.magnitude));
    m.insert("affected_modes".into(), mode_names(d.affected_modes.iter()));
    m.insert("rolled_back".into(), json!(d.rolled_back));
    m
}

/// The drift of one cycle as the process response shows it.
pub fn drift(dialect: Dialect, r: &DriftRecord) -> Value {
    let mut m = drift_fields(&r.drift);
    let level = match dialect {
        Dialect::Spec => r.drift.level.code(),
        Dialect::Sdk => r.drift.level.name(),
    };
    m.insert("level".into(), json!(level));
    m.insert("timestamp".into(), json!(format(r.at)));
    m.insert("cycle_number".into(), json!(r.cycle));
    Value::Object(m)
}

/// One entry of the drift log.
pub fn drift_event(dialect: Dialect, r: &DriftRecord) -> Value {
    let mut v = drift(dialect, r);
    let m = v.as_object_mut().expect("drift renders as an object");
    m.insert("cycle".into(), json!(r.cycle));
    m.insert("drift_level".into(), json!(r.drift.level.code()));
    v
}

pub fn history_item(r: &HistoryRecord) -> Value {
    json!({
        "cycle": r.cycle,
        "cycle_number": r.cycle,
        "mode_target": r.mode.as_str(),
        "signal_strength": r.signal_strength,
        "confidence": r.confidence,
        "context": if r.context.is_null() { json!({}) } else { (*r.context).clone() },
        "timestamp": format(r.at),
    })
}

pub fn contract(instance_id: &str, c: &Contract) -> Value {
    let locks = &c.hard_locks;
    let mut hard = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            hard.insert(k.to_string(), v);
        }
    };
    put("option_set_max", locks.option_set_max.map(|x| json!(x)));
    put("novelty_rate", locks.novelty_rate.map(|x| json!(x)));
    put(
        "exec_strictness_min",
        locks.exec_strictness_min.map(|x| json!(x)),
    );
    put(
        "goal_resistance_min",
        locks.goal_resistance_min.map(|x| json!(x)),
    );
    put(
        "pivot_threshold_min",
        locks.pivot_threshold_min.map(|x| json!(x)),
    );
    json!({
        "schema_version": "1.0",
        "instance_id": instance_id,
        "dominant_modes": mode_names(c.dominant_modes.as_slice().iter().copied()),
        "suppressed_modes": mode_names(c.suppressed_modes.iter()),
        "allowed_actions": names(c.allowed_actions.iter().map(|a| a.as_str())),
        "forbidden_actions": names(c.forbidden_actions.iter().map(|a| a.as_str())),
        "decision_style": {
            "tempo": c.decision_style.tempo,
            "risk": c.decision_style.risk,
            "expressiveness": c.decision_style.expressiveness,
            "commitment_threshold": c.decision_style.commitment_threshold,
        },
        "recovery_profile": {
            "preferred_path": c.recovery_profile.preferred_path,
            "support_required": c.recovery_profile.support_required,
            "cooldown_required": c.recovery_profile.cooldown_required,
        },
        "hard_locks": hard,
        "stress_state": c.stress.as_str(),
        "current_stress_level": c.stress.as_str(),
        "current_system_state": c.system.as_str(),
        "energy_level": c.energy_level,
        "stability_index": c.stability_index,
        "cycle_count": c.cycle_count,
        "drift_level": c.drift.map(|d| d.level.name()),
        "drift_magnitude": c.drift.map_or(0.0, |d| d.magnitude),
        "should_pause": c.should_pause,
        "should_escalate": c.should_escalate,
        "max_steps_remaining": c.max_steps_remaining,
        "trust_profile": {
            "outgoing_trust": c.trust.outgoing_trust,
            "delegation_allowed": c.trust.delegation_allowed,
            "collaboration_style": c.trust.collaboration_style,
        },
        "self_model_context": {
            "stress_resilience": c.self_model.stress_resilience,
            "trait_stability": c.self_model.trait_stability,
        },
        "memory_context": { "behavioral_pattern": c.behavioral_pattern.as_str() },
    })
}

pub fn outcome(dialect: Dialect, o: &ProcessOutcome) -> Value {
    json!({
        "snapshot": snapshot(&o.snapshot),
        "contract": contract(&o.snapshot.instance_id, &o.contract),
        "drift": o.drift.as_ref().map(|d| drift(dialect, d)),
        "throttled": o.throttled,
    })
}

pub fn persona(p: &Persona, detail: bool) -> Value {
    let mut v = json!({
        "id": p.id,
        "name": p.name,
        "archetype": p.archetype,
        "description": p.description,
        "mode_a": p.mode_a.as_str(),
        "mode_b": p.mode_b.as_str(),
        "mode_profile": modes(&p.profile),
        "core_values": p.core_values,
        "decision_style": {
            "tempo": p.decision_style[0],
            "risk": p.decision_style[1],
            "expressiveness": p.decision_style[2],
            "commitment_threshold": p.decision_style[3],
        },
        "expressions": p.expressions.iter().map(|(c, b)| json!({"context": c, "behavior": b})).collect::<Vec<_>>(),
    });
    if detail {
        let m = v.as_object_mut().expect("persona renders as an object");
        m.insert("long_description".into(), json!(p.long_description));
        m.insert(
            "preferred_actions".into(),
            names(p.preferred_actions.iter().map(|a| a.as_str())),
        );
        m.insert("stress_recovery".into(), json!(p.stress_recovery));
    }
    v
}

pub fn matches(profile: &Modes) -> Value {
    Value::Array(
        best_matches(profile, 3)
            .into_iter()
            .map(|(p, score)| json!({"id": p.id, "name": p.name, "match_score": score}))
            .collect(),
    )
}

/// A page in the dialect's list shape; `extra` adds top-level keys (e.g. `instance_id`).
pub fn page<T>(
    dialect: Dialect,
    page: &Page<T>,
    items: Vec<Value>,
    extra: &[(&str, Value)],
) -> Value {
    let mut m = Map::new();
    match dialect {
        Dialect::Spec => {
            m.insert("data".into(), Value::Array(items));
            m.insert(
                "pagination".into(),
                json!({"limit": page.limit, "offset": page.offset, "total": page.total, "has_more": page.has_more()}),
            );
        }
        Dialect::Sdk => {
            m.insert("items".into(), Value::Array(items));
            m.insert("total".into(), json!(page.total));
            m.insert("limit".into(), json!(page.limit));
            m.insert("offset".into(), json!(page.offset));
            m.insert("has_more".into(), json!(page.has_more()));
        }
    }
    for (k, v) in extra {
        m.insert((*k).to_string(), v.clone());
    }
    Value::Object(m)
}
