//! The daemon's log files: rolled by size, one JSON object per line with `--log-format json`,
//! her persona id on every request, readable with `eternego logs [--persona] [-f]`, and never a
//! key in any line.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use support::*;
use testkit::{ScriptedReply, ollama, openai, responder};

/// Every log line below `home/logs`, oldest file first, as `eternego logs -n 0` prints them.
fn all_lines(home: &std::path::Path) -> Vec<String> {
    let out = output(eternego(home).args(["logs", "-n", "0"]));
    assert!(out.success, "{}", out.stderr);
    out.stdout.lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_log_file_is_rolled_and_old_ones_are_dropped() {
    const CAP: u64 = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let mut cmd = eternego(&home);
    cmd.args(["daemon", "--port", "0"])
        .env("ETERNEGO_LOG_MAX_BYTES", CAP.to_string());
    let mut daemon = Daemon::start(cmd);
    let client = reqwest::Client::new();
    // Each request writes one line of some 150 bytes: 300 of them fill about 22 caps.
    for n in 0..300 {
        let status = client
            .get(format!("{}/api/personas?n={n}", daemon.url))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
    assert!(daemon.stop());

    let logs = home.join("logs");
    let mut names: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let expected: Vec<String> = std::iter::once("eternego.log".to_string())
        .chain((1..=10).map(|n| format!("eternego.log.{n}")))
        .collect::<Vec<_>>();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(
        names, expected_sorted,
        "the current file and ten rolled ones, no more"
    );
    for name in &expected {
        let size = std::fs::metadata(logs.join(name)).unwrap().len();
        // A file is rolled before the write that would start past the cap: one line over at most.
        assert!(size <= CAP + 400, "{name} is {size} bytes");
    }
    let lines = all_lines(&home);
    assert!(
        lines.last().unwrap().contains("stopped"),
        "newest last: {:?}",
        lines.last()
    );
    let requests: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("/api/personas"))
        .collect();
    assert!(
        requests.len() > 50 && requests.len() < 300,
        "old lines were dropped: {}",
        requests.len()
    );
    assert!(
        !lines.iter().any(|l| l.contains("n=")),
        "the query string is not logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn her_lines_carry_her_id_as_json_and_no_key_is_ever_written() {
    let fake_ollama = ollama::start(&["llama3.2:1b"]).await;
    let fake_openai = openai::start(&[OPENAI_KEY], &["gpt-5.4"]).await;
    fake_openai.set_responder(responder(|_| ScriptedReply::text("Hello back.")));
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let mut cmd = eternego(&home);
    // Debug, so even the chattiest lines are searched for her key.
    cmd.args(["daemon", "--port", "0", "--log-format", "json"])
        .env("RUST_LOG", "debug")
        .env("OLLAMA_BASE_URL", fake_ollama.url())
        .env("OPENAI_BASE_URL", fake_openai.url());
    let mut daemon = Daemon::start(cmd);
    let iris = create_cloud(&daemon, "Iris").await;
    let ada = create_local(&daemon, "Ada").await;

    // `eternego logs -f --persona` shows her new lines as they are written, and only hers.
    let mut follow = eternego(&home)
        .args(["logs", "-f", "-n", "0", "--persona", &iris])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, seen) = mpsc::channel::<String>();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let (status, body) = post(
        &format!("{}/api/persona/{iris}/read", daemon.url),
        json!({"message": "hello"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = post(
        &format!("{}/api/persona/{ada}/read", daemon.url),
        json!({"message": "hi Ada"}),
    )
    .await;
    assert_eq!(status, 200);
    let read_line = loop {
        let line = seen
            .recv_timeout(Duration::from_secs(60))
            .expect("her read request shows up in `logs -f`");
        assert!(line.contains(&iris), "only her lines: {line}");
        if line.contains(&format!("/api/persona/{iris}/read"))
            && line.contains("finished processing request")
        {
            break line;
        }
    };
    let _ = follow.kill();
    let _ = follow.wait();

    let event: Value = serde_json::from_str(&read_line).expect("one JSON object per line");
    assert_eq!(event["span"]["persona"], iris.as_str(), "{event}");
    assert_eq!(event["span"]["path"], format!("/api/persona/{iris}/read"));
    assert_eq!(event["fields"]["status"], 200, "{event}");

    assert!(daemon.stop());
    let lines = all_lines(&home);
    assert!(
        lines
            .iter()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "every line is JSON"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("/api/persona/{ada}/read"))),
        "Ada's request is logged with her id"
    );
    assert!(
        files_containing(&home.join("logs"), OPENAI_KEY).is_empty(),
        "her key is in no log file"
    );
}

#[test]
fn logs_before_the_first_run_says_where_they_will_be() {
    let dir = tempfile::tempdir().unwrap();
    let out = output(eternego(dir.path()).arg("logs"));
    assert!(out.success);
    assert!(
        out.stdout.starts_with(&format!(
            "No logs yet in {}",
            dir.path().join("logs").display()
        )),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_carries_on_across_a_roll_without_losing_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let mut cmd = eternego(&home);
    // Some 250 bytes a request: 150 requests roll the file two or three times, well short of
    // the ten rolled files kept, so every line still exists when `-f` looks.
    cmd.args(["daemon", "--port", "0"])
        .env("ETERNEGO_LOG_MAX_BYTES", "12000");
    let mut daemon = Daemon::start(cmd);
    let mut follow = eternego(&home)
        .args(["logs", "-f", "-n", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, seen) = mpsc::channel::<String>();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let client = reqwest::Client::new();
    let ids: Vec<String> = (0..150).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    for id in &ids {
        let status = client
            .get(format!("{}/api/persona/{id}/conversation", daemon.url))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 404);
    }
    let mut waiting: std::collections::VecDeque<&String> = ids.iter().collect();
    while let Some(next) = waiting.front() {
        let line = seen
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{} lines never shown", waiting.len()));
        if line.contains(next.as_str()) && line.contains("finished processing request") {
            waiting.pop_front();
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(daemon.stop());
    assert!(
        home.join("logs/eternego.log.2").exists(),
        "the file was rolled more than once while followed"
    );
}
