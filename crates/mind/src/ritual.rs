//! Sleep: the nightly ritual. She reflects at night (refines the meanings she wrote, and
//! consolidates what she learned about her person into her Markdown files), her conversation
//! is archived into `history/`, her diary is written, and she wakes fresh in the morning
//! phase. Running it twice is harmless: with nothing new there is nothing to consolidate or
//! archive, and the diary is simply written again.

use serde_json::Value;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::clock;
use crate::cycle::{self, Halt, Phase};
use crate::error::MindError;
use crate::home::{Home, Routines, read_jsonl};
use crate::life::Life;
use crate::outbox::LifeEvent;

/// Whether a `sleep` routine's `HH:MM` falls in the minutes `(since, at]`.
pub fn sleep_due(routines: &Routines, since: OffsetDateTime, at: OffsetDateTime) -> bool {
    let wanted: Vec<&str> = routines
        .routines
        .iter()
        .filter(|r| r.spec == "sleep")
        .map(|r| r.time.as_str())
        .collect();
    if wanted.is_empty() {
        return false;
    }
    let f = time::macros::format_description!("[hour]:[minute]");
    let mut t = since + time::Duration::minutes(1);
    let mut checked = 0;
    while t <= at && checked < 1440 {
        if wanted.contains(&t.format(&f).unwrap_or_default().as_str()) {
            return true;
        }
        t += time::Duration::minutes(1);
        checked += 1;
    }
    false
}

/// `[HH:MM:SS] role: content` lines of `conversation.jsonl`, optionally only one day's.
pub fn transcript(home: &Home, day: Option<&str>) -> String {
    read_jsonl(&home.conversation())
        .iter()
        .filter(|l| {
            day.is_none_or(|d| {
                l.get("time")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.starts_with(d))
            })
        })
        .map(|l| {
            let time = l
                .get("time")
                .and_then(Value::as_str)
                .and_then(|t| t.get(11..19))
                .unwrap_or("");
            let role = match l.get("role").and_then(Value::as_str) {
                Some("person") => "person",
                _ => "persona",
            };
            format!(
                "[{time}] {role}: {}",
                l.get("content").and_then(Value::as_str).unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub async fn sleep(life: &Life, stop: &CancellationToken) -> Result<(), MindError> {
    life.vitals.set_phase(Phase::Night);
    let night = stop.child_token();
    match cycle::run(life, &night).await {
        Ok(()) | Err(Halt::Interrupted) => {}
        Err(Halt::Fault { stage, error }) => {
            tracing::warn!(persona = %life.persona.id, stage, error = %error, "could not reflect tonight; archiving anyway");
        }
    }
    archive_conversation(&life.home, life.clock.now())?;
    life.regulate().await;
    write_diary(life).await?;
    life.journal.with_memory(|m| m.archive.clear());
    life.vitals.set_phase(Phase::Morning);
    life.outbox.announce(LifeEvent::Slept);
    Ok(())
}

/// Moves today's conversation into `history/conversation-<date>.md` (appending when she slept
/// already today) and notes it in `history/briefing.md`; then empties `conversation.jsonl`.
fn archive_conversation(home: &Home, now: OffsetDateTime) -> std::io::Result<()> {
    let text = transcript(home, None);
    if text.trim().is_empty() {
        return Ok(());
    }
    let name = format!("conversation-{}.md", clock::date(now));
    let path = home.history().join(&name);
    let mut body = std::fs::read_to_string(&path).unwrap_or_default();
    if !body.is_empty() && !body.ends_with('\n') {
        body.push('\n');
    }
    body.push_str(&text);
    body.push('\n');
    persona::atomic::write(&path, body.as_bytes())?;
    persona::atomic::append_line(
        &home.history().join("briefing.md"),
        &format!("- {}: {name}", clock::iso(now)),
    )?;
    persona::atomic::write(&home.conversation(), b"")
}

async fn write_diary(life: &Life) -> Result<(), MindError> {
    let id = life.persona.id;
    let phrase = life.store.phrase(id)?.ok_or(MindError::NoPhrase)?;
    let (diary_dir, home, now) = (
        life.store.diary_dir(id),
        life.home.root().to_path_buf(),
        life.clock.now(),
    );
    tokio::task::spawn_blocking(move || {
        persona::diary::write_at(&diary_dir, &home, id, &phrase, now)
    })
    .await
    .map_err(|e| MindError::Join(e.to_string()))??;
    Ok(())
}
