//! The stages of rest: refining her own instructions, consolidating what she learned into her
//! files, and at night keeping what her eye saw.

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::cycle::{Answer, Halt, Phase, Stage, Step, ask, ask_json, ask_over};
use crate::home::{KNOWLEDGE, read_jsonl};
use crate::life::Life;
use crate::meanings::Meanings;
use crate::memory::Memory;
use crate::regulation::Event;
use crate::{clock, prompts};

/// Refines her own meanings and consolidates what she learned into her files. During the day
/// this waits until she has been idle for her `idle_timeout`; at night it runs at once.
pub(crate) async fn reflect(life: &Life, cancel: &CancellationToken, phase: Phase) -> Step<()> {
    if life.journal.recall(|m| m.messages.is_empty()) {
        return Ok(());
    }
    if phase == Phase::Day {
        let until =
            life.vitals.last_activity() + time::Duration::seconds(life.persona.idle_timeout as i64);
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Halt::Interrupted),
            _ = life.clock.wait_until(until) => {}
        }
    }
    refine(life, cancel).await?;
    consolidate(life, cancel).await
}

async fn refine(life: &Life, cancel: &CancellationToken) -> Step<()> {
    let mut catalog = Meanings::open(&life.home.meanings());
    let used: Vec<String> = catalog
        .intentions()
        .into_iter()
        .filter(|(i, _)| catalog.is_learned(i))
        .map(|(i, _)| i)
        .collect();
    if used.is_empty() {
        return Ok(());
    }
    let question = prompts::refine(&used);
    let schema = prompts::refine_schema();
    if let Answer::Json(v) = ask_json(
        life,
        cancel,
        Stage::Reflect,
        ask(life, question, Some(("extracting", schema))),
    )
    .await?
    {
        for update in v
            .get("updates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(i), Some(body)) = (
                update.get("intention").and_then(Value::as_str),
                update.get("instruction").and_then(Value::as_str),
            ) else {
                continue;
            };
            if !body.trim().is_empty() {
                let _ = catalog.refine(i, body);
            }
        }
    }
    Ok(())
}

/// Reads a consolidation field, accepting a list of lines as a bulleted text.
fn field(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(|s| format!("- {s}"))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => None,
    }
}

/// Asks what she wants to keep from `memory` and rewrites her person files with it. Returns
/// her answer, or `None` when it was not the JSON asked for (then nothing changes).
pub(crate) async fn keep(
    life: &Life,
    cancel: &CancellationToken,
    memory: &Memory,
) -> Step<Option<Value>> {
    let question = prompts::keep();
    let schema = prompts::keep_schema();
    let Answer::Json(v) = ask_json(
        life,
        cancel,
        Stage::Reflect,
        ask_over(life, memory, question, Some(("consolidating", schema))),
    )
    .await?
    else {
        return Ok(None);
    };
    if v.as_object().is_none_or(|o| o.is_empty()) {
        return Ok(None);
    }
    for (key, file) in KNOWLEDGE {
        if let Some(text) = field(&v, key)
            && let Err(e) = life.home.write(file, &text)
        {
            tracing::warn!(persona = %life.persona.id, file, error = %e, "could not write a knowledge file");
        }
    }
    life.regulation.observe(Event::Consolidated);
    Ok(Some(v))
}

/// Consolidates her live memory: files rewritten, context handed on, the stretch archived.
async fn consolidate(life: &Life, cancel: &CancellationToken) -> Step<()> {
    let Some(v) = keep(life, cancel, &life.journal.memory()).await? else {
        return Ok(());
    };
    life.journal.with_memory(|m| {
        if let Some(context) = field(&v, "context").filter(|c| !c.trim().is_empty()) {
            m.context = Some(context);
        }
        m.consolidate();
    });
    life.outbox.announce(crate::outbox::LifeEvent::Consolidated);
    Ok(())
}

pub(crate) fn context_of(v: &Value) -> Option<String> {
    field(v, "context").filter(|c| !c.trim().is_empty())
}

/// Keeps what her eye answered about images in `media/gallery.jsonl`.
pub(crate) fn archive(life: &Life) {
    let memory = life.journal.memory();
    let now = clock::iso(life.clock.now());
    let seen: std::collections::BTreeSet<String> =
        read_jsonl(&life.home.media().join("gallery.jsonl"))
            .iter()
            .filter_map(|l| l.get("id")?.as_str().map(str::to_string))
            .collect();
    for batch in &memory.archive {
        for pair in batch.windows(2) {
            let Some((sel, args)) = pair[0].call() else {
                continue;
            };
            let Some((_, status, answer)) = pair[1].tool_result() else {
                continue;
            };
            if sel != "tools.look_at"
                || status != "ok"
                || answer.trim().is_empty()
                || seen.contains(&pair[1].id.to_string())
            {
                continue;
            }
            let line = json!({"id": pair[1].id, "kind": "image", "source": args.get("source"), "question": args.get("question"),
                              "answer": answer, "time": now});
            let _ = persona::atomic::append_line(
                &life.home.media().join("gallery.jsonl"),
                &line.to_string(),
            );
        }
    }
}
