//! `eternego personas` and `eternego talk` against a daemon process whose persona thinks with a
//! fake OpenAI server; `talk` is driven through a pseudo-terminal as a person would type.

mod support;

use std::time::Duration;

use expectrl::{ControlCode, Session};
use support::*;
use testkit::{ScriptedReply, ollama, openai, responder};

const REPLY: &str = "I hear you, and I am glad you wrote.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personas_lists_her_as_a_table() {
    let fake_ollama = ollama::start(&["llama3.2:1b"]).await;
    let fake_openai = openai::start(&[OPENAI_KEY], &["gpt-5.4"]).await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let empty = daemon_with(&home, &fake_ollama.url(), &fake_openai.url());
    assert_eq!(
        output(eternego(&home).arg("personas")).stdout,
        "No personas yet.\n"
    );
    let id = create_cloud(&empty, "Iris").await;

    let out = output(eternego(&home).arg("personas"));
    assert!(out.success, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["NAME", "ID", "STATUS", "RUNNING", "MIND"]);
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        row,
        ["Iris", id.as_str(), "active", "yes", "gpt-5.4", "(openai)"]
    );
    assert_eq!(lines[0].find("ID"), lines[1].find(&id), "columns line up");
}

/// A daemon that asks for a token (`ETERNEGO_REQUIRE_TOKEN=1`, as one bound beyond loopback
/// does) is reached with `ETERNEGO_TOKEN`; without it the command says what to set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exposed_daemon_is_reached_with_the_token_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let made = output(eternego(&home).args(["token", "create", "--name", "terminal"]));
    assert!(made.success, "{}", made.stderr);
    let token = made
        .stdout
        .lines()
        .nth(1)
        .expect("the token's line")
        .trim()
        .to_string();
    let mut cmd = eternego(&home);
    cmd.args(["daemon", "--port", "0"])
        .env("ETERNEGO_REQUIRE_TOKEN", "1");
    let _daemon = Daemon::start(cmd);

    let refused = output(eternego(&home).arg("personas"));
    assert!(!refused.success);
    assert!(
        refused.stderr.contains("ETERNEGO_TOKEN"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains(&token));

    let listed = output(
        eternego(&home)
            .arg("personas")
            .env("ETERNEGO_TOKEN", &token),
    );
    assert!(listed.success, "{}", listed.stderr);
    assert_eq!(listed.stdout, "No personas yet.\n");
}

#[test]
fn personas_without_a_daemon_says_how_to_start_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = output(eternego(dir.path()).args(["personas", "--port", "9"]));
    assert!(!out.success);
    assert!(
        out.stderr
            .contains("no Eternego daemon answers at http://127.0.0.1:9"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("eternego daemon"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talk_sends_what_is_typed_and_prints_her_reply() {
    let fake_ollama = ollama::start(&["llama3.2:1b"]).await;
    let fake_openai = openai::start(&[OPENAI_KEY], &["gpt-5.4"]).await;
    fake_openai.set_responder(responder(|_| ScriptedReply::text(REPLY)));
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let daemon = daemon_with(&home, &fake_ollama.url(), &fake_openai.url());
    create_cloud(&daemon, "Iris").await;
    let note = dir.path().join("note.txt");
    std::fs::write(&note, "Buy bread.").unwrap();

    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_eternego"));
    cmd.env("ETERNEGO_HOME", &home)
        .env("ETERNEGO_KEYRING", "file")
        .env_remove("WEB_PORT")
        .env_remove("WEB_HOST")
        .args(["talk", "iris"]);
    let mut session = Session::spawn(cmd).expect("spawn talk in a pty");
    // Bounds only keep a broken build from hanging CI; a working one answers in well under a second.
    session.set_expect_timeout(Some(Duration::from_secs(60)));
    session.expect("Talking with Iris.").unwrap();
    session.send_line("Hello, are you there?").unwrap();
    session.expect(format!("Iris: {REPLY}")).unwrap();

    session
        .send_line(format!("/attach {} my list", note.display()))
        .unwrap();
    session
        .expect(format!("(sent {})", note.display()))
        .unwrap();
    session.send_line("/attach /no/such/file.txt").unwrap();
    session
        .expect("(not sent: reading /no/such/file.txt")
        .unwrap();

    // Ctrl-C, as a person presses it: the terminal turns it into SIGINT.
    session.send(ControlCode::EndOfText).unwrap();
    session.expect("Bye.").unwrap();
    let status = session.get_process_mut().wait().unwrap();
    assert_eq!(
        format!("{status:?}").rsplit(", ").next(),
        Some("0)"),
        "a clean exit: {status:?}"
    );

    let conversation: serde_json::Value = reqwest::get(format!(
        "{}/api/persona/{}/conversation",
        daemon.url,
        created_id(&daemon).await
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let said = conversation.to_string();
    assert!(said.contains("Hello, are you there?"), "{said}");
    assert!(
        said.contains("Buy bread.") || said.contains("my list"),
        "the attachment reached her: {said}"
    );
}

/// While her beat runs `talk` shows "Iris is thinking…"; when she speaks the sign is erased
/// (carriage return, erase line) and her reply takes its place. Her Mind is held until the sign
/// has been seen, so the order does not depend on timing. Her beat's log lines name her.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talk_shows_a_thinking_sign_until_she_speaks() {
    let fake_ollama = ollama::start(&["llama3.2:1b"]).await;
    let fake_openai = openai::start(&[OPENAI_KEY], &["gpt-5.4"]).await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let daemon = daemon_with(&home, &fake_ollama.url(), &fake_openai.url());
    let id = create_cloud(&daemon, "Iris").await;
    let gate = std::sync::Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
    let held = gate.clone();
    fake_openai.set_responder(responder(move |_| {
        let (open, opened) = &*held;
        let mut open = open.lock().unwrap();
        while !*open {
            open = opened.wait(open).unwrap();
        }
        ScriptedReply::text(REPLY)
    }));

    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_eternego"));
    cmd.env("ETERNEGO_HOME", &home)
        .env("ETERNEGO_KEYRING", "file")
        .env_remove("WEB_PORT")
        .env_remove("WEB_HOST")
        .args(["talk", "iris"]);
    let mut session = Session::spawn(cmd).expect("spawn talk in a pty");
    session.set_expect_timeout(Some(Duration::from_secs(60)));
    session.expect("Talking with Iris.").unwrap();
    session.send_line("Are you awake?").unwrap();
    session.expect("Iris is thinking…").unwrap();
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
    session.expect(format!("\r\x1b[2KIris: {REPLY}")).unwrap();
    session.send(ControlCode::EndOfText).unwrap();
    session.expect("Bye.").unwrap();

    // Her Mind answered prose where JSON was asked for, which her beat logs: that line, like
    // every line of a beat, carries the `beat` span with her id.
    let logs = std::fs::read_dir(home.join("logs"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    assert!(
        logs.lines()
            .any(|l| l.contains(&format!("beat{{persona={id}}}"))),
        "a line logged in her beat names her: {logs}"
    );
}

async fn created_id(daemon: &Daemon) -> String {
    let list: serde_json::Value = reqwest::get(format!("{}/api/personas", daemon.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["personas"][0]["id"].as_str().unwrap().to_string()
}
