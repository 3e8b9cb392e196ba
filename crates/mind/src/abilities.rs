//! What she can do: the `tools.<name>` she may call, each with its parameters (for her catalog
//! and the JSON schema of her decisions) and its effect.
//!
//! Tools that reach outside her home and workspace (the shell, files elsewhere, outbound HTTP)
//! exist only when her person turned them on in `config.json` (`reach`). A disabled tool is
//! neither listed to her nor run if she names it anyway: nothing she says can open it.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use persona::record::Reach;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::destiny;
use crate::home::{Home, read_jsonl};
use crate::memory::Media;

/// Longest tool output kept in her memory.
const RESULT_LIMIT: usize = 10_000;
const SHELL_TIMEOUT: Duration = Duration::from_secs(60);
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    Open,
    Shell,
    Http,
}

pub struct Tool {
    pub name: &'static str,
    pub params: &'static [(&'static str, &'static str)],
    pub doc: &'static str,
    gate: Gate,
}

const TOOLS: &[Tool] = &[
    Tool {
        name: "save_notes",
        params: &[("content", "string")],
        doc: "Replace what you hold in notes.md with this text.",
        gate: Gate::Open,
    },
    Tool {
        name: "recall_notes",
        params: &[],
        doc: "Read back your notes.md.",
        gate: Gate::Open,
    },
    Tool {
        name: "save_destiny",
        params: &[
            ("type", "string"),
            ("trigger", "string"),
            ("content", "string"),
            ("recurrence", "string"),
        ],
        doc: "Plan a moment: type reminder|schedule, trigger YYYY-MM-DD HH:MM (local), recurrence empty|hourly|daily|weekly|monthly.",
        gate: Gate::Open,
    },
    Tool {
        name: "check_calendar",
        params: &[("date", "string")],
        doc: "What is planned on a day (YYYY-MM-DD) or month (YYYY-MM), recurrences included.",
        gate: Gate::Open,
    },
    Tool {
        name: "recall_history",
        params: &[("date", "string")],
        doc: "Conversations and fired reminders of a day (YYYY-MM-DD); today includes the live conversation.",
        gate: Gate::Open,
    },
    Tool {
        name: "check_health",
        params: &[("count", "integer")],
        doc: "Your last heartbeats: faults and their providers.",
        gate: Gate::Open,
    },
    Tool {
        name: "look_at",
        params: &[("source", "string"), ("question", "string")],
        doc: "Look at an image in your media folder (file name) and answer a question about it.",
        gate: Gate::Open,
    },
    Tool {
        name: "filesystem.read",
        params: &[("path", "string")],
        doc: "Read a text file. Paths are inside your workspace unless your person opened the machine's files to you.",
        gate: Gate::Open,
    },
    Tool {
        name: "filesystem.write",
        params: &[("path", "string"), ("content", "string")],
        doc: "Write a text file (replaces it). Same path rule as filesystem.read.",
        gate: Gate::Open,
    },
    Tool {
        name: "OS.execute",
        params: &[("command", "string")],
        doc: "Run a shell command and read its output.",
        gate: Gate::Shell,
    },
    Tool {
        name: "http.request",
        params: &[("method", "string"), ("url", "string"), ("body", "string")],
        doc: "Send an HTTP request and read the answer.",
        gate: Gate::Http,
    },
];

/// The tools open to her under `reach`.
pub fn available(reach: &Reach) -> impl Iterator<Item = &'static Tool> + '_ {
    TOOLS.iter().filter(move |t| match t.gate {
        Gate::Open => true,
        Gate::Shell => reach.shell,
        Gate::Http => reach.http,
    })
}

/// `- tools.save_notes {content: string} — …` lines for her identity.
pub fn catalog(reach: &Reach) -> String {
    available(reach)
        .map(|t| {
            let params: Vec<String> = t
                .params
                .iter()
                .map(|(n, ty)| format!("{n}: {ty}"))
                .collect();
            format!("- `tools.{}` {{{}}} — {}", t.name, params.join(", "), t.doc)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One `anyOf` variant per open tool: `{"tools.<name>": {params}}`.
pub fn schema_variants(reach: &Reach) -> Vec<Value> {
    available(reach)
        .map(|t| {
            let props: serde_json::Map<String, Value> = t.params.iter().map(|(n, ty)| (n.to_string(), json!({"type": ty}))).collect();
            let required: Vec<&str> = t.params.iter().map(|(n, _)| *n).collect();
            let selector = format!("tools.{}", t.name);
            json!({"type": "object", "additionalProperties": false, "required": [selector.clone()], "description": t.doc,
                   "properties": {selector: {"type": "object", "additionalProperties": false, "required": required, "properties": props}}})
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// The tool ran and reported failure (a non-zero exit, an HTTP error).
    Failed,
    /// The call itself was wrong or not allowed.
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Error => "error",
        }
    }
}

pub struct Outcome {
    pub status: Status,
    pub result: String,
    /// An image she asked to look at; `realize` hands it to her eye.
    pub media: Option<Media>,
}

fn ok(result: impl Into<String>) -> Outcome {
    Outcome {
        status: Status::Ok,
        result: result.into(),
        media: None,
    }
}
fn err(result: impl Into<String>) -> Outcome {
    Outcome {
        status: Status::Error,
        result: result.into(),
        media: None,
    }
}

pub struct Context<'a> {
    pub home: &'a Home,
    pub reach: &'a Reach,
    pub now: OffsetDateTime,
    pub http: &'a reqwest::Client,
    /// Today's live conversation, for `recall_history` of today.
    pub today: &'a str,
}

fn arg<'v>(args: &'v Value, name: &str) -> &'v str {
    args.get(name).and_then(Value::as_str).unwrap_or("")
}

fn clip(mut text: String) -> String {
    if text.len() > RESULT_LIMIT {
        let mut cut = RESULT_LIMIT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("\n[truncated]");
    }
    text
}

/// Runs `tools.<name>` with `args`.
pub async fn call(selector: &str, args: &Value, cx: &Context<'_>) -> Outcome {
    let name = selector.strip_prefix("tools.").unwrap_or(selector);
    let Some(tool) = TOOLS.iter().find(|t| t.name == name) else {
        return err(format!("there is no tool named {name}"));
    };
    if !available(cx.reach).any(|t| t.name == tool.name) {
        return err(format!(
            "{name} is closed to you; only your person can open it in your configuration"
        ));
    }
    let home = cx.home;
    match name {
        "save_notes" => match home.write("notes.md", arg(args, "content")) {
            Ok(()) => ok("notes saved"),
            Err(e) => err(format!("could not save notes: {e}")),
        },
        "recall_notes" => {
            let notes = home.read("notes.md");
            ok(if notes.trim().is_empty() {
                "(no notes)".into()
            } else {
                notes
            })
        }
        "save_destiny" => {
            match destiny::save(
                &home.destiny(),
                arg(args, "type"),
                arg(args, "trigger"),
                arg(args, "content"),
                arg(args, "recurrence"),
                cx.now,
            ) {
                Ok(s) => ok(s),
                Err(e) => err(e),
            }
        }
        "check_calendar" => match destiny::window(arg(args, "date")) {
            None => err("date must be YYYY-MM-DD or YYYY-MM"),
            Some((start, end)) => {
                let found = destiny::projected(&home.destiny(), start, end);
                if found.is_empty() {
                    ok("nothing planned")
                } else {
                    ok(found
                        .iter()
                        .map(|e| format!("{} [{}] {}", e.time, e.kind, e.body))
                        .collect::<Vec<_>>()
                        .join("\n"))
                }
            }
        },
        "recall_history" => recall_history(home, arg(args, "date"), cx),
        "check_health" => {
            let count = args
                .get("count")
                .and_then(Value::as_u64)
                .unwrap_or(10)
                .clamp(1, 200) as usize;
            let lines = read_jsonl(&home.health());
            let tail: Vec<String> = lines[lines.len().saturating_sub(count)..]
                .iter()
                .map(|l| l.to_string())
                .collect();
            ok(if tail.is_empty() {
                "no heartbeats recorded".into()
            } else {
                tail.join("\n")
            })
        }
        "look_at" => {
            let source = arg(args, "source");
            match media_path(home, source) {
                Some(path) => Outcome {
                    status: Status::Ok,
                    result: format!("looking at {source}"),
                    media: Some(Media {
                        source: path.display().to_string(),
                        caption: String::new(),
                        question: arg(args, "question").to_string(),
                    }),
                },
                None => err(format!("{source} is not an image in your media folder")),
            }
        }
        "filesystem.read" => match place(cx, arg(args, "path")) {
            Err(e) => err(e),
            Ok(path) => match tokio::fs::read_to_string(&path).await {
                Ok(text) => ok(clip(text)),
                Err(e) => Outcome {
                    status: Status::Failed,
                    result: format!("{}: {e}", path.display()),
                    media: None,
                },
            },
        },
        "filesystem.write" => match place(cx, arg(args, "path")) {
            Err(e) => err(e),
            Ok(path) => match persona::atomic::write(&path, arg(args, "content").as_bytes()) {
                Ok(()) => ok(format!("wrote {}", path.display())),
                Err(e) => Outcome {
                    status: Status::Failed,
                    result: format!("{}: {e}", path.display()),
                    media: None,
                },
            },
        },
        "OS.execute" => shell(arg(args, "command"), cx.home.workspace()).await,
        "http.request" => {
            http(
                cx.http,
                arg(args, "method"),
                arg(args, "url"),
                arg(args, "body"),
            )
            .await
        }
        _ => err(format!("there is no tool named {name}")),
    }
}

fn recall_history(home: &Home, date: &str, cx: &Context<'_>) -> Outcome {
    let Some(day) = destiny::parse_date(date) else {
        return err("date must be YYYY-MM-DD");
    };
    let day = crate::clock::date(cx.now.replace_date(day));
    let mut parts = Vec::new();
    if let Ok(read) = std::fs::read_dir(home.history()) {
        let mut files: Vec<PathBuf> = read.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for path in files {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.contains(&day) && name != "briefing.md" {
                parts.push(format!(
                    "## {name}\n{}",
                    std::fs::read_to_string(&path).unwrap_or_default()
                ));
            }
        }
    }
    if day == crate::clock::date(cx.now) && !cx.today.trim().is_empty() {
        parts.push(format!("## today so far\n{}", cx.today));
    }
    ok(if parts.is_empty() {
        format!("nothing recorded for {day}")
    } else {
        clip(parts.join("\n\n"))
    })
}

/// A flat file name inside `media/`.
pub fn media_path(home: &Home, name: &str) -> Option<PathBuf> {
    let base = Path::new(name).file_name()?;
    let path = home.media().join(base);
    path.is_file().then_some(path)
}

/// Resolves a path she names: relative paths live in her workspace; anything outside it needs
/// `reach.files`.
fn place(cx: &Context<'_>, raw: &str) -> Result<PathBuf, String> {
    if raw.trim().is_empty() {
        return Err("path is required".into());
    }
    let given = Path::new(raw.trim());
    let path = if given.is_absolute() {
        given.to_path_buf()
    } else {
        cx.home.workspace().join(given)
    };
    let inside = path.starts_with(cx.home.workspace())
        && !path.components().any(|c| c == Component::ParentDir);
    if inside || cx.reach.files {
        Ok(path)
    } else {
        Err("files outside your workspace are closed to you; only your person can open them in your configuration".into())
    }
}

async fn shell(command: &str, cwd: &Path) -> Outcome {
    if command.trim().is_empty() {
        return err("command is required");
    }
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(cwd)
        .kill_on_drop(true);
    match tokio::time::timeout(SHELL_TIMEOUT, cmd.output()).await {
        Err(_) => Outcome {
            status: Status::Failed,
            result: "timed out after 60 s".into(),
            media: None,
        },
        Ok(Err(e)) => err(format!("could not run: {e}")),
        Ok(Ok(out)) => {
            let text = if out.status.success() {
                &out.stdout
            } else {
                &out.stderr
            };
            let status = if out.status.success() {
                Status::Ok
            } else {
                Status::Failed
            };
            Outcome {
                status,
                result: clip(String::from_utf8_lossy(text).into_owned()),
                media: None,
            }
        }
    }
}

async fn http(client: &reqwest::Client, method: &str, url: &str, body: &str) -> Outcome {
    let Ok(method) = reqwest::Method::from_bytes(method.trim().to_uppercase().as_bytes()) else {
        return err("method must be an HTTP method");
    };
    let mut request = client.request(method, url).timeout(HTTP_TIMEOUT);
    if !body.is_empty() {
        request = request.body(body.to_string());
    }
    match request.send().await {
        Err(e) => Outcome {
            status: Status::Failed,
            result: format!("request failed: {e}"),
            media: None,
        },
        Ok(response) => {
            let code = response.status();
            let text = response.text().await.unwrap_or_default();
            let status = if code.is_success() {
                Status::Ok
            } else {
                Status::Failed
            };
            Outcome {
                status,
                result: clip(format!("[{}] {text}", code.as_u16())),
                media: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn machine_tools_stay_closed_until_reach_opens_them() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("home"), dir.path().join("workspace"));
        home.ensure().unwrap();
        let http = reqwest::Client::new();
        let closed = Reach::default();
        let cx = Context {
            home: &home,
            reach: &closed,
            now: OffsetDateTime::now_utc(),
            http: &http,
            today: "",
        };
        assert!(!catalog(&closed).contains("OS.execute"));
        let out = call("tools.OS.execute", &json!({"command": "echo hi"}), &cx).await;
        assert_eq!(out.status, Status::Error);
        let out = call(
            "tools.filesystem.read",
            &json!({"path": "/etc/hostname"}),
            &cx,
        )
        .await;
        assert_eq!(out.status, Status::Error);
        let out = call(
            "tools.filesystem.write",
            &json!({"path": "draft.txt", "content": "x"}),
            &cx,
        )
        .await;
        assert_eq!(out.status, Status::Ok);
        let open = Reach {
            shell: true,
            files: false,
            http: false,
        };
        let cx = Context { reach: &open, ..cx };
        let out = call(
            "tools.OS.execute",
            &json!({"command": "cat draft.txt"}),
            &cx,
        )
        .await;
        assert_eq!((out.status, out.result.as_str()), (Status::Ok, "x"));
    }
}
