//! Feeding her history from another assistant: a ChatGPT export (`conversations.json`, a list
//! of conversations with a `mapping` of message nodes) or a Claude export (a list with
//! `chat_messages`). Each conversation is consolidated on its own, as if she had lived it, into
//! her person files; what she wants to carry on is added to her memory as context.

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::cycle::Halt;
use crate::error::MindError;
use crate::life::Life;
use crate::memory::{Memory, Message};
use crate::reflect;

#[derive(Debug, thiserror::Error)]
#[error("not a chat export")]
pub struct NotAnExport;

/// One transcript per conversation, `role: text` per turn. The export is read from `reader`
/// (buffered here), so a spooled upload's raw bytes are never held beside its parsed tree.
pub fn parse(reader: impl std::io::Read, source: &str) -> Result<Vec<String>, NotAnExport> {
    let value: Value =
        serde_json::from_reader(std::io::BufReader::new(reader)).map_err(|_| NotAnExport)?;
    let list = value.as_array().ok_or(NotAnExport)?;
    let conversations: Vec<String> = if source.eq_ignore_ascii_case("claude") {
        list.iter()
            .filter_map(|c| {
                let turns: Vec<String> = c
                    .get("chat_messages")?
                    .as_array()?
                    .iter()
                    .filter_map(|m| {
                        let who = if m.get("sender")?.as_str()? == "human" {
                            "person"
                        } else {
                            "assistant"
                        };
                        let text = m.get("text").and_then(Value::as_str).unwrap_or("").trim();
                        (!text.is_empty()).then(|| format!("{who}: {text}"))
                    })
                    .collect();
                (!turns.is_empty()).then(|| turns.join("\n"))
            })
            .collect()
    } else {
        list.iter()
            .filter_map(|c| {
                let mut nodes: Vec<(f64, String)> = c
                    .get("mapping")?
                    .as_object()?
                    .values()
                    .filter_map(|n| {
                        let m = n.get("message")?;
                        let role = m.pointer("/author/role")?.as_str()?;
                        if role != "user" && role != "assistant" {
                            return None;
                        }
                        let text: String = m
                            .pointer("/content/parts")?
                            .as_array()?
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join("\n");
                        let who = if role == "user" {
                            "person"
                        } else {
                            "assistant"
                        };
                        let at = m.get("create_time").and_then(Value::as_f64).unwrap_or(0.0);
                        (!text.trim().is_empty()).then(|| (at, format!("{who}: {}", text.trim())))
                    })
                    .collect();
                nodes.sort_by(|a, b| a.0.total_cmp(&b.0));
                (!nodes.is_empty()).then(|| {
                    nodes
                        .into_iter()
                        .map(|(_, t)| t)
                        .collect::<Vec<_>>()
                        .join("\n")
                })
            })
            .collect()
    };
    if conversations.is_empty() {
        Err(NotAnExport)
    } else {
        Ok(conversations)
    }
}

/// Consolidates each conversation in a memory of its own (her live memory is not touched but
/// for the context she carries on).
pub async fn digest(
    life: &Life,
    conversations: Vec<String>,
    stop: &CancellationToken,
) -> Result<usize, MindError> {
    let cancel = stop.child_token();
    let mut kept = 0;
    for transcript in conversations {
        let mut sandbox = Memory::default();
        sandbox.remember(Message::user(
            format!("A conversation my person had with another assistant:\n\n{transcript}"),
            None,
        ));
        match reflect::keep(life, &cancel, &sandbox).await {
            Ok(Some(v)) => {
                kept += 1;
                if let Some(context) = reflect::context_of(&v) {
                    let source = "an imported conversation";
                    life.journal.with_memory(|m| {
                        m.remember(Message::user(
                            format!(
                                "Here is fed data from {source} that seems useful to you: {context}"
                            ),
                            None,
                        ))
                    });
                }
            }
            Ok(None) => {}
            Err(Halt::Interrupted) => return Err(MindError::Stopped),
            Err(Halt::Fault { error, .. }) => {
                tracing::warn!(persona = %life.persona.id, error = %error, "feed stopped");
                return Err(MindError::Invalid(
                    "Could not analyze the conversations. Please make sure the model is running."
                        .into(),
                ));
            }
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::parse;

    #[test]
    fn a_claude_export_becomes_one_transcript_per_conversation() {
        let export = json!([
            {"uuid": "a", "name": "Bread", "chat_messages": [
                {"sender": "human", "text": "How long should sourdough proof?"},
                {"sender": "assistant", "text": "Overnight in the fridge works well."},
                {"sender": "human", "text": "  "}
            ]},
            {"uuid": "b", "name": "Empty", "chat_messages": []}
        ]);
        let transcripts = parse(export.to_string().as_bytes(), "claude").unwrap();
        assert_eq!(
            transcripts,
            [
                "person: How long should sourdough proof?\nassistant: Overnight in the fridge works well."
            ]
        );
    }

    #[test]
    fn a_chatgpt_export_is_read_in_time_order_and_anything_else_is_refused() {
        let export = json!([{"mapping": {
            "late": {"message": {"author": {"role": "assistant"}, "content": {"parts": ["Twice a day."]}, "create_time": 2.0}},
            "early": {"message": {"author": {"role": "user"}, "content": {"parts": ["How often do I feed it?"]}, "create_time": 1.0}},
            "system": {"message": {"author": {"role": "system"}, "content": {"parts": ["be nice"]}, "create_time": 0.5}}
        }}]);
        let transcripts = parse(export.to_string().as_bytes(), "chatgpt").unwrap();
        assert_eq!(
            transcripts,
            ["person: How often do I feed it?\nassistant: Twice a day."]
        );
        assert!(parse(&b"{\"not\": \"a list\"}"[..], "chatgpt").is_err());
        assert!(parse(&b"[]"[..], "claude").is_err());
        assert!(
            parse(export.to_string().as_bytes(), "claude").is_err(),
            "a ChatGPT export is not a Claude one"
        );
    }
}
