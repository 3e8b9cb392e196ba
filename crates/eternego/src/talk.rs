//! `eternego talk`: a chat with her in the terminal, over the same routes and socket as the
//! dashboard. What you type goes to `read`; her replies are printed as her socket delivers them.

use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::client::Client;
use crate::home::Globals;
use crate::{printable, say};

#[derive(clap::Args)]
pub struct Args {
    /// Her name or id; may be left out when only one persona lives here, or only one runs.
    pub who: Option<String>,
}

/// What the person typed.
#[derive(Debug, PartialEq)]
enum Input<'a> {
    Say(&'a str),
    Attach { file: &'a str, caption: &'a str },
    Leave,
    Nothing,
}

fn parse(line: &str) -> Input<'_> {
    let line = line.trim();
    if line.is_empty() {
        return Input::Nothing;
    }
    if matches!(line, "/quit" | "/exit") {
        return Input::Leave;
    }
    match line.strip_prefix("/attach") {
        Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
            let rest = rest.trim();
            // A path with spaces works when it is the whole rest of the line.
            if Path::new(rest).is_file() {
                return Input::Attach {
                    file: rest,
                    caption: "",
                };
            }
            let (file, caption) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            Input::Attach {
                file,
                caption: caption.trim(),
            }
        }
        _ => Input::Say(line),
    }
}

pub async fn run(globals: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let client = Client::locate(globals)?;
    let persona = client.find(args.who.as_deref()).await?;
    let id = persona["id"]
        .as_str()
        .context("her view has no id")?
        .to_string();
    let name = printable(persona["name"].as_str().unwrap_or("She")).into_owned();
    if persona["running"] != Value::Bool(true) {
        bail!(
            "{name} is not running (status: {}); wake her in the dashboard first",
            persona["status"].as_str().unwrap_or("unknown")
        );
    }
    let (socket, _) = tokio_tungstenite::connect_async(client.socket(&id)?)
        .await
        .context("opening her socket")?;
    let (_, mut frames) = socket.split();
    let mut lines = typed_lines();
    let mut sign = Thinking::new(&name, std::io::stdout().is_terminal());
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    say(&format!(
        "Talking with {name}. Enter sends; /attach FILE [caption] sends a file; Ctrl-C leaves."
    ));
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
            frame = frames.next() => match frame {
                Some(Ok(Message::Text(text))) => show(&name, &text, &mut sign),
                Some(Ok(Message::Close(_))) | None => bail!("the daemon closed her socket (did it stop?)"),
                Some(Err(e)) => bail!("her socket failed: {e}"),
                Some(Ok(_)) => {}
            },
            line = lines.recv() => {
                let Some(line) = line else { break };
                match parse(&line) {
                    Input::Nothing => {}
                    Input::Leave => break,
                    Input::Say(text) => {
                        if let Err(e) = client.post(&format!("/api/persona/{id}/read"), &json!({"message": text})).await {
                            say(&format!("(not sent: {e})"));
                        }
                    }
                    Input::Attach { file, caption } => {
                        match client.attach(&id, Path::new(file), caption).await {
                            Ok(_) => say(&format!("(sent {file})")),
                            Err(e) => say(&format!("(not sent: {e:#})")),
                        }
                    }
                }
            }
        }
    }
    say("Bye.");
    Ok(ExitCode::SUCCESS)
}

/// Prints what she says. Her socket also carries her signals (what she heard, decided, did);
/// the terminal shows her words, and a "thinking" sign between hearing and speaking.
fn show(name: &str, frame: &str, sign: &mut Thinking) {
    let Ok(frame) = serde_json::from_str::<Value>(frame) else {
        return;
    };
    let title = frame["title"].as_str().unwrap_or("");
    match frame["type"].as_str().unwrap_or("") {
        "chat_message" => {
            if let Some(content) = frame["content"].as_str() {
                sign.clear();
                say(&format!("{name}: {}", printable(content)));
            }
        }
        // Heard starts her beat; Said, a fault, falling sick or asleep ends what she was doing
        // for her person (the dashboard reads the same signals).
        "Message" if title == "Heard" => sign.show(),
        "Message" if title == "Said" => sign.clear(),
        "BrainFault" => sign.clear(),
        "Event" if matches!(title, "Sick" | "Slept") => sign.clear(),
        _ => {}
    }
}

/// The "thinking" sign: one line without a newline while her beat runs, erased (carriage
/// return, erase line) when she speaks, so her reply takes its place. Only on a terminal: a
/// script reading the output sees her words alone.
struct Thinking {
    text: String,
    terminal: bool,
    shown: bool,
}

impl Thinking {
    fn new(name: &str, terminal: bool) -> Thinking {
        Thinking {
            text: format!("{name} is thinking…"),
            terminal,
            shown: false,
        }
    }

    fn show(&mut self) {
        if self.terminal && !self.shown {
            self.shown = true;
            Self::write(&self.text);
        }
    }

    fn clear(&mut self) {
        if self.shown {
            self.shown = false;
            Self::write(ERASE_LINE);
        }
    }

    fn write(text: &str) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// Back to the line's start and erase it.
const ERASE_LINE: &str = "\r\x1b[2K";

/// Lines typed on stdin, read on a thread of their own: a blocking read must not keep the
/// process alive after Ctrl-C, as a read on the async runtime's blocking pool would.
fn typed_lines() -> mpsc::UnboundedReceiver<String> {
    let (send, receive) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_lines_become_what_she_is_sent() {
        assert_eq!(parse("  hello there "), Input::Say("hello there"));
        assert_eq!(parse(""), Input::Nothing);
        assert_eq!(parse("/quit"), Input::Leave);
        assert_eq!(
            parse("/attach photo.png look at this"),
            Input::Attach {
                file: "photo.png",
                caption: "look at this"
            }
        );
        assert_eq!(
            parse("/attach notes.txt"),
            Input::Attach {
                file: "notes.txt",
                caption: ""
            }
        );
        assert_eq!(
            parse("/attachment is a word"),
            Input::Say("/attachment is a word")
        );
    }
}
