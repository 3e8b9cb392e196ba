//! Her working memory (`memory.json`) and the message protocol of her mind.
//!
//! Turns are standard chat: `user` is the outside world (her person, tool results, notices),
//! `assistant` is her own words and calls. A call is an assistant turn whose content is
//! `{"tools.<name>": args}`; its result is a user turn starting with `TOOL_RESULT`.

use std::collections::HashSet;
use std::io;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

pub const TOOL_RESULT: &str = "TOOL_RESULT";
pub const LOAD_INSTRUCTION: &str = "tools.load_instruction";

/// Where a turn came from or went to. Credentials never enter her memory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Via {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// A turn as her Mind sees it. The text is shared, so handing her conversation to a request
/// costs a reference count per turn, not a copy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    pub role: Role,
    pub content: Arc<str>,
    #[serde(default)]
    pub cache_point: bool,
}

/// An image (or other file) that reached her; the eye answers `question` about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Media {
    pub source: String,
    #[serde(default)]
    pub caption: String,
    #[serde(default)]
    pub question: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Shared with `prompt` when she sees the turn as it was said, so her memory holds one
    /// copy and saving it clones only reference counts.
    pub content: Arc<str>,
    #[serde(default)]
    pub channel: Option<Via>,
    /// What the model sees. `None` until `realize` has perceived the turn (media).
    #[serde(default)]
    pub prompt: Option<Prompt>,
    #[serde(default)]
    pub media: Option<Media>,
    #[serde(default = "Uuid::new_v4")]
    pub id: Uuid,
}

impl Message {
    pub fn user(content: impl Into<Arc<str>>, channel: Option<Via>) -> Message {
        let content = content.into();
        Message {
            prompt: Some(Prompt {
                role: Role::User,
                content: content.clone(),
                cache_point: false,
            }),
            content,
            channel,
            media: None,
            id: Uuid::new_v4(),
        }
    }

    pub fn assistant(content: impl Into<Arc<str>>, channel: Option<Via>) -> Message {
        let content = content.into();
        Message {
            prompt: Some(Prompt {
                role: Role::Assistant,
                content: content.clone(),
                cache_point: false,
            }),
            content,
            channel,
            media: None,
            id: Uuid::new_v4(),
        }
    }

    /// The turn a `conversation.jsonl` line records, for replay: what her person said (a
    /// file as one she has not perceived yet) or what she said.
    fn from_line(line: &Value) -> Option<Message> {
        let content = line.get("content").and_then(Value::as_str)?;
        let channel = line
            .get("channel")
            .filter(|c| !c.is_null())
            .and_then(|c| serde_json::from_value::<Via>(c.clone()).ok());
        let id = line.get("id").and_then(Value::as_str)?.parse().ok()?;
        let message = match (line.get("role").and_then(Value::as_str)?, line.get("media")) {
            ("assistant", _) => Message::assistant(content, channel),
            ("person", None) => Message::user(content, channel),
            ("person", Some(media)) => {
                let source = media.get("source").and_then(Value::as_str)?;
                let seen = Media {
                    source: source.to_string(),
                    caption: content.to_string(),
                    question: String::new(),
                };
                Message::unseen(content, seen, channel)
            }
            _ => return None,
        };
        Some(Message { id, ..message })
    }

    /// A file she has not looked at yet; `realize` turns it into a prompt.
    pub fn unseen(caption: impl Into<Arc<str>>, media: Media, channel: Option<Via>) -> Message {
        Message {
            content: caption.into(),
            channel,
            prompt: None,
            media: Some(media),
            id: Uuid::new_v4(),
        }
    }

    pub fn role(&self) -> Option<Role> {
        self.prompt.as_ref().map(|p| p.role)
    }

    /// The call this assistant turn makes: `(selector, args)`.
    pub fn call(&self) -> Option<(String, Value)> {
        if self.role() != Some(Role::Assistant) {
            return None;
        }
        let value: Value = serde_json::from_str(&self.content).ok()?;
        let (k, v) = value.as_object()?.iter().next()?;
        k.starts_with("tools.").then(|| (k.clone(), v.clone()))
    }

    /// `(tool, status, result)` when this is a tool result turn.
    pub fn tool_result(&self) -> Option<(String, String, String)> {
        if self.role() != Some(Role::User) {
            return None;
        }
        let rest = self.content.strip_prefix(TOOL_RESULT)?.strip_prefix('\n')?;
        let tool = rest.strip_prefix("tool: ")?;
        let (tool, rest) = tool.split_once('\n')?;
        let status = rest.strip_prefix("status: ")?;
        let (status, rest) = status.split_once('\n')?;
        let result = rest.strip_prefix("result: ").unwrap_or(rest);
        Some((tool.to_string(), status.to_string(), result.to_string()))
    }
}

pub fn call_text(selector: &str, args: &Value) -> String {
    json!({ selector: args }).to_string()
}

pub fn result_text(tool: &str, status: &str, result: &str) -> String {
    format!("{TOOL_RESULT}\ntool: {tool}\nstatus: {status}\nresult: {result}")
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    #[serde(default)]
    pub messages: Vec<Message>,
    #[serde(default)]
    pub archive: Vec<Vec<Message>>,
    #[serde(default)]
    pub context: Option<String>,
    /// The id of the newest `conversation.jsonl` line this memory holds. Turns on the message
    /// path are saved lazily, so after a crash the lines after it are replayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logged: Option<Uuid>,
}

impl Memory {
    /// `memory.json` holds a one-element array. A missing or unreadable file is an empty mind;
    /// an unreadable one is kept aside so nothing the person can still recover is overwritten.
    pub fn load(path: &Path) -> Memory {
        let Ok(bytes) = std::fs::read(path) else {
            return Memory::default();
        };
        let parsed = serde_json::from_slice::<Vec<Memory>>(&bytes)
            .ok()
            .and_then(|mut v| (!v.is_empty()).then(|| v.remove(0)))
            .or_else(|| serde_json::from_slice::<Memory>(&bytes).ok());
        match parsed {
            Some(m) => m,
            None => {
                let aside = path.with_extension("json.unreadable");
                tracing::warn!(path = %path.display(), "memory.json unreadable; kept aside as {}", aside.display());
                let _ = std::fs::rename(path, aside);
                Memory::default()
            }
        }
    }

    /// Reads `memory.json` for display, never moving an unreadable file.
    pub fn load_readonly(path: &Path) -> Memory {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Vec<Memory>>(&b).ok())
            .and_then(|mut v| (!v.is_empty()).then(|| v.remove(0)))
            .unwrap_or_default()
    }

    pub fn save(&self, path: &Path) -> io::Result<()> {
        let bytes = serde_json::to_vec(&[self]).map_err(io::Error::other)?;
        persona::atomic::write(path, &bytes)
    }

    pub fn remember(&mut self, m: Message) {
        self.messages.push(m);
    }

    /// Remembers a turn that is also a line of `conversation.jsonl` (with the same id).
    pub fn remember_logged(&mut self, m: Message) {
        self.logged = Some(m.id);
        self.remember(m);
    }

    /// Brings back the turns `conversation.jsonl` has and `memory.json` lost because she
    /// stopped before saving them (a crash, a power cut): the lines after the newest one this
    /// memory holds, or every line when that one is gone (sleep empties the log). A line
    /// already in her memory or archive, or without an id (the original wrote none), is never
    /// replayed, so forgetting on purpose stays forgotten. Returns how many came back.
    pub fn replay(&mut self, lines: &[Value]) -> usize {
        let id_of = |l: &Value| {
            l.get("id")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<Uuid>().ok())
        };
        let start = self
            .logged
            .and_then(|newest| lines.iter().position(|l| id_of(l) == Some(newest)))
            .map_or(0, |i| i + 1);
        let known: HashSet<Uuid> = self
            .messages
            .iter()
            .chain(self.archive.iter().flatten())
            .map(|m| m.id)
            .collect();
        let mut back = 0;
        for line in &lines[start..] {
            if id_of(line).is_none_or(|id| known.contains(&id)) {
                continue;
            }
            if let Some(m) = Message::from_line(line) {
                self.remember_logged(m);
                back += 1;
            }
        }
        back
    }

    pub fn add_call(&mut self, selector: &str, args: &Value) {
        self.remember(Message::assistant(call_text(selector, args), None));
    }

    pub fn add_tool_result(&mut self, selector: &str, status: &str, result: &str) {
        let tool = selector.strip_prefix("tools.").unwrap_or(selector);
        self.remember(Message::user(result_text(tool, status, result), None));
    }

    /// She names what the moment calls for; `learn` answers with the matching instruction.
    pub fn intention(&mut self, text: &str) {
        self.add_call(LOAD_INSTRUCTION, &json!({ "intention": text }));
    }

    /// The intention still waiting for an instruction, if the latest signal is one.
    pub fn perception(&self) -> Option<String> {
        for m in self.messages.iter().rev() {
            match m.call() {
                Some((sel, args)) if sel == LOAD_INSTRUCTION => {
                    return args
                        .get("intention")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                }
                Some(_) => return None,
                None if m.role() == Some(Role::Assistant) => continue,
                None => return None,
            }
        }
        None
    }

    /// The instruction she was just given, when nothing has happened since.
    pub fn comprehension(&self) -> Option<String> {
        let last = self
            .messages
            .iter()
            .rev()
            .find(|m| m.role() != Some(Role::Assistant) || m.call().is_some())?;
        let (tool, _, result) = last.tool_result()?;
        (tool == "load_instruction").then_some(result)
    }

    /// What her person said since she last spoke to them (a reply, not a notice), oldest
    /// first: the turns a beat owes an answer to.
    pub fn unanswered(&self) -> Vec<String> {
        let mut heard: Vec<String> = Vec::new();
        for m in self.messages.iter().rev() {
            if m.channel.is_none() {
                continue;
            }
            if m.role() == Some(Role::Assistant) {
                break;
            }
            heard.push(
                m.prompt
                    .as_ref()
                    .map_or(&*m.content, |p| &p.content)
                    .to_string(),
            );
        }
        heard.reverse();
        heard
    }

    pub fn impression(&mut self, body: &str) {
        self.add_tool_result(LOAD_INSTRUCTION, "ok", body);
    }

    /// The chat turns her Mind sees, oldest first.
    pub fn prompts(&self) -> Vec<Prompt> {
        let mut out: Vec<Prompt> = self
            .messages
            .iter()
            .filter_map(|m| m.prompt.clone())
            .collect();
        if let Some(last) = out.last_mut() {
            last.cache_point = true;
        }
        out
    }

    /// Moves the live messages into the archive as one stretch.
    pub fn consolidate(&mut self) {
        if !self.messages.is_empty() {
            self.archive.push(std::mem::take(&mut self.messages));
        }
    }

    pub fn forget(&mut self) {
        self.messages.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intention_perception_and_comprehension() {
        let mut m = Memory::default();
        m.remember(Message::user("hi", None));
        assert_eq!(m.perception(), None);
        m.intention("Any conversation");
        assert_eq!(m.perception().as_deref(), Some("Any conversation"));
        m.impression("Talk back.");
        assert_eq!(m.perception(), None);
        assert_eq!(m.comprehension().as_deref(), Some("Talk back."));
        m.remember(Message::assistant("Hello!", None));
        assert_eq!(m.comprehension().as_deref(), Some("Talk back."));
        m.remember(Message::user("again", None));
        assert_eq!(m.comprehension(), None);
    }

    #[test]
    fn unanswered_is_what_her_person_said_since_her_last_reply() {
        let web = Some(Via {
            kind: "web".into(),
            name: "w".into(),
        });
        let mut m = Memory::default();
        m.remember(Message::user("hi", web.clone()));
        m.remember(Message::assistant("Hello!", web.clone()));
        m.remember(Message::user("how are you?", web.clone()));
        m.intention("Any conversation");
        m.remember(Message::assistant("A notice is not a reply.", None));
        m.remember(Message::user("due for:\nwater the plants", None));
        m.remember(Message::user("and the tomatoes?", web.clone()));
        assert_eq!(m.unanswered(), ["how are you?", "and the tomatoes?"]);
        m.remember(Message::assistant("Fine, and they grow.", web));
        assert!(m.unanswered().is_empty());
    }

    #[test]
    fn memory_file_is_a_one_element_array() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memory.json");
        let mut m = Memory::default();
        m.add_call("tools.save_notes", &json!({"content": "x"}));
        m.add_tool_result("tools.save_notes", "ok", "saved");
        m.save(&path).unwrap();
        let raw: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert!(raw.as_array().unwrap().len() == 1);
        let back = Memory::load(&path);
        assert_eq!(back, m);
        assert_eq!(
            back.messages[1].tool_result().unwrap(),
            ("save_notes".into(), "ok".into(), "saved".into())
        );
    }

    fn line(role: &str, content: &str, id: Option<Uuid>) -> Value {
        let mut l = json!({"role": role, "content": content, "channel": {"type": "web", "name": "web"}, "time": "2026-05-18T08:00:00"});
        if let Some(id) = id {
            l["id"] = json!(id);
        }
        l
    }

    #[test]
    fn replay_brings_back_only_what_the_log_has_and_memory_lost() {
        let web = Some(Via {
            kind: "web".into(),
            name: "web".into(),
        });
        let mut m = Memory::default();
        let kept = Message::user("hi", web.clone());
        let mut log = vec![
            line("person", "from the original, no id", None),
            line("person", "hi", Some(kept.id)),
        ];
        m.remember_logged(kept);
        let (lost_q, lost_a) = (Uuid::new_v4(), Uuid::new_v4());
        log.push(line("person", "are you there?", Some(lost_q)));
        log.push(line("assistant", "I am.", Some(lost_a)));
        let mut document = line("person", "my notes", Some(Uuid::new_v4()));
        document["media"] = json!({"source": "/h/media/web-1-notes.txt", "caption": "my notes"});
        let mut photo = line("person", "look", Some(Uuid::new_v4()));
        photo["media"] = json!({"source": "/h/media/web-2-cat.png", "caption": "look"});
        log.extend([document, photo]);

        assert_eq!(
            m.replay(&log),
            4,
            "the question, her answer, and both files as not yet perceived"
        );
        assert_eq!(m.messages[1].id, lost_q);
        assert_eq!(
            (m.messages[2].role(), &*m.messages[2].content),
            (Some(Role::Assistant), "I am.")
        );
        assert_eq!(m.messages[2].channel, web);
        assert!(
            m.messages[3].prompt.is_none()
                && m.messages[3]
                    .media
                    .as_ref()
                    .unwrap()
                    .source
                    .ends_with("notes.txt")
        );
        assert!(
            m.messages[4].prompt.is_none()
                && m.messages[4]
                    .media
                    .as_ref()
                    .unwrap()
                    .source
                    .ends_with("cat.png")
        );
        assert_eq!(m.replay(&log), 0, "a second replay changes nothing");

        m.forget();
        assert_eq!(
            m.replay(&log),
            0,
            "what she forgot on purpose stays forgotten"
        );
        let mut slept = Memory {
            logged: m.logged,
            ..Memory::default()
        };
        let fresh = Uuid::new_v4();
        assert_eq!(
            slept.replay(&[line("person", "good morning", Some(fresh))]),
            1,
            "after sleep emptied the log, every line is new"
        );
        assert_eq!(slept.logged, Some(fresh));
    }
}
