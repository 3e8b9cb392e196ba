//! Her decisions carried out: what she says and the intentions she loads take effect at once;
//! her tool calls run in order, unless she is too stressed to act.

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::abilities::{self, Status};
use crate::cycle::Answer;
use crate::life::Life;
use crate::meanings::Meanings;
use crate::memory::{LOAD_INSTRUCTION, Message};
use crate::outbox::Spoken;
use crate::regulation::Event;

/// A tool call she decided on.
pub(crate) struct Call {
    pub(crate) selector: String,
    pub(crate) args: Value,
}

/// The items of `{"decision": [...]}`, tolerating a bare list or a single action object.
fn decisions(v: &Value) -> Vec<(String, Value)> {
    let list = match v.get("decision") {
        Some(Value::Array(a)) => a.clone(),
        Some(other @ Value::Object(_)) => vec![other.clone()],
        _ if v.as_object().is_some_and(|o| o.len() == 1) => vec![v.clone()],
        _ => Vec::new(),
    };
    list.iter()
        .filter_map(|item| {
            item.as_object()?
                .iter()
                .next()
                .map(|(k, v)| (k.clone(), v.clone()))
        })
        .collect()
}

/// Applies her decisions: speech and intentions now, tools returned for execution.
pub(crate) fn apply(life: &Life, answer: Answer) -> Vec<Call> {
    let items = match answer {
        Answer::Json(v) => decisions(&v),
        Answer::Prose(text) => {
            let text = text.trim().to_string();
            if !text.is_empty() {
                life.speak(&text, Spoken::Say);
            }
            return Vec::new();
        }
    };
    let mut calls = Vec::new();
    for (key, value) in items {
        match key.as_str() {
            "say" | "notify" => {
                if let Some(text) = value.as_str().map(str::trim).filter(|t| !t.is_empty()) {
                    life.speak(
                        text,
                        if key == "say" {
                            Spoken::Say
                        } else {
                            Spoken::Notify
                        },
                    );
                }
            }
            "done" => break,
            LOAD_INSTRUCTION => {
                if let Some(intention) = value.get("intention").and_then(Value::as_str) {
                    life.journal.with_memory(|m| m.intention(intention));
                }
            }
            "clear_memory" => {
                life.journal.with_memory(|m| {
                    m.forget();
                    m.add_tool_result("clear_memory", "ok", "memory cleared");
                });
            }
            "remove_meaning" => {
                let stem = value.get("name").and_then(Value::as_str).unwrap_or("");
                let mut catalog = Meanings::open(&life.home.meanings());
                let (status, result) = match catalog.remove(stem) {
                    Ok(true) => ("ok", format!("removed {stem}")),
                    Ok(false) => (
                        "error",
                        format!("{stem} is not one of your own instructions"),
                    ),
                    Err(e) => ("error", e.to_string()),
                };
                life.journal
                    .with_memory(|m| m.add_tool_result("remove_meaning", status, &result));
            }
            k if k.starts_with("tools.") => calls.push(Call {
                selector: key,
                args: value,
            }),
            other => {
                tracing::debug!(persona = %life.persona.id, action = other, "ignoring unknown action")
            }
        }
    }
    calls
}

/// Runs her tool calls in order, stopping at the first that does not succeed or when a new
/// perception is waiting. Under `OVER` stress nothing runs: she says she is deferring.
pub(crate) async fn execute(life: &Life, calls: Vec<Call>, cancel: &CancellationToken) -> bool {
    let regulated = life.regulation.regulated();
    if regulated.must_defer() {
        let names: Vec<&str> = calls
            .iter()
            .map(|c| c.selector.trim_start_matches("tools."))
            .collect();
        life.speak(
            &format!(
                "I'm overloaded right now (stress {}), so I'm deferring {} instead of acting. Let's come back to it once I've steadied.",
                regulated.stress,
                names.join(", ")
            ),
            Spoken::Say,
        );
        return false;
    }
    let mut ran = false;
    for call in calls {
        if cancel.is_cancelled() {
            break;
        }
        let today = life.conversation_today();
        let outcome = {
            let cx = abilities::Context {
                home: &life.home,
                reach: &life.persona.reach,
                now: life.clock.now(),
                http: &life.http,
                today: &today,
            };
            abilities::call(&call.selector, &call.args, &cx).await
        };
        ran = true;
        life.outbox.signal(
            crate::signal::Kind::CapabilityRun,
            call.selector.trim_start_matches("tools."),
            json!({"status": outcome.status.as_str()}),
        );
        life.regulation.observe(if outcome.status == Status::Ok {
            Event::ToolSucceeded
        } else {
            Event::ToolFailed
        });
        life.journal.with_memory(|m| {
            m.add_call(&call.selector, &call.args);
            m.add_tool_result(&call.selector, outcome.status.as_str(), &outcome.result);
            if let Some(media) = outcome.media {
                m.remember(Message::unseen(String::new(), media, None));
            }
        });
        if outcome.status != Status::Ok {
            break;
        }
    }
    ran
}
