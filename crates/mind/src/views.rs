//! What the daemon shows of her, read from her files (so it works whether she runs or not).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

use crate::clock;
use crate::home::{Home, read_jsonl};
use crate::meanings::Meanings;
use crate::memory::Memory;

/// Knowledge-view key of each Markdown file she keeps.
pub const MEMORY_KEYS: [(&str, &str); 6] = [
    ("person", "person.md"),
    ("traits", "traits.md"),
    ("persona-trait", "persona-trait.md"),
    ("wishes", "wishes.md"),
    ("struggles", "struggles.md"),
    ("permissions", "permissions.md"),
];

/// `{"messages": [...]}`: `conversation.jsonl` entries as written.
pub fn conversation(home: &Home) -> Value {
    json!({ "messages": read_jsonl(&home.conversation()) })
}

/// `{"memory": {key: body}, "instruction": [{intention, body, source}]}`; empty files left out.
pub fn knowledge(home: &Home) -> Value {
    let memory: serde_json::Map<String, Value> = MEMORY_KEYS
        .iter()
        .filter_map(|(key, file)| {
            let body = home.read(file);
            (!body.trim().is_empty()).then(|| (key.to_string(), Value::String(body)))
        })
        .collect();
    json!({ "memory": memory, "instruction": Meanings::open(&home.meanings()).all() })
}

/// `{"start","end","history":{…},"destiny":{…}}` for `[start, end)`.
pub fn calendar(home: &Home, start: PrimitiveDateTime, end: PrimitiveDateTime) -> Value {
    let mut v = crate::destiny::calendar(home.root(), start, end);
    let f = time::macros::format_description!("[year]-[month]-[day]");
    v["start"] = json!(start.format(&f).unwrap_or_default());
    v["end"] = json!(end.format(&f).unwrap_or_default());
    v
}

/// Parses a calendar bound: an ISO date or date-time (an offset, if given, is ignored: her
/// files name local minutes).
pub fn calendar_bound(text: &str) -> Option<PrimitiveDateTime> {
    let t = text.trim();
    let date = crate::destiny::parse_date(t.get(..10)?)?;
    if t.len() == 10 {
        return Some(PrimitiveDateTime::new(date, time::Time::MIDNIGHT));
    }
    crate::destiny::parse_trigger(&t.replace('T', " "))
        .or(Some(PrimitiveDateTime::new(date, time::Time::MIDNIGHT)))
}

/// `{"status", "mind": {messages, archive, context}, "uptime": {"rows": 24 × 60 cells}}`; the
/// first row is the latest hour and its first cell the latest minute. `mind` is her live
/// memory while she runs, else what `memory.json` holds.
pub fn diagnose(home: &Home, status: &str, now: OffsetDateTime, mind: Option<Memory>) -> Value {
    let mind = mind.unwrap_or_else(|| Memory::load_readonly(&home.memory()));
    let mut by_minute: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in read_jsonl(&home.health()) {
        if let Some(t) = line
            .get("time")
            .and_then(Value::as_str)
            .and_then(|t| t.get(..16))
        {
            by_minute
                .entry(t.to_string())
                .or_default()
                .push(line.clone());
        }
    }
    let minute = clock::next_minute(now) - Duration::minutes(1);
    let rows: Vec<Value> = (0..24)
        .map(|r| {
            let cells: Vec<Value> = (0..60)
                .map(|c| {
                    let at = minute - Duration::minutes(r * 60 + c);
                    let key = clock::iso(at).get(..16).unwrap_or("").to_string();
                    let lines = by_minute.get(&key).cloned().unwrap_or_default();
                    let faults: u64 = lines.iter().filter_map(|l| l.get("fault_count").and_then(Value::as_u64)).sum();
                    let mut providers: Vec<String> = lines
                        .iter()
                        .flat_map(|l| l.get("fault_providers").and_then(Value::as_array).cloned().unwrap_or_default())
                        .filter_map(|p| p.as_str().map(str::to_string))
                        .collect();
                    providers.sort();
                    providers.dedup();
                    let signals: Vec<Value> =
                        lines.iter().flat_map(|l| l.get("signals").and_then(Value::as_array).cloned().unwrap_or_default()).collect();
                    json!({"at": clock::iso(at), "tick": !lines.is_empty(), "fault": faults > 0, "providers": providers, "signals": signals})
                })
                .collect();
            json!({"from": cells[59]["at"], "to": cells[0]["at"], "cells": cells})
        })
        .collect();
    json!({"status": status, "mind": mind, "uptime": {"rows": rows}})
}
