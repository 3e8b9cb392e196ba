//! The `eternego` binary run as a person runs it: a real daemon process on an ephemeral port,
//! its data root in a temp dir, and every outside service a testkit fake on loopback.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

pub const OPENAI_KEY: &str = "sk-test-openai-cli-0123456789";

/// `eternego` with its data root at `home`, the file keyring, and no address from the caller's
/// environment. Outside services point at a closed port unless a test says otherwise.
pub fn eternego(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_eternego"));
    cmd.env("ETERNEGO_HOME", home)
        .env("ETERNEGO_KEYRING", "file")
        .env_remove("WEB_PORT")
        .env_remove("WEB_HOST")
        .env_remove("RUST_LOG")
        .env("OLLAMA_BASE_URL", "http://127.0.0.1:9")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A command's exit, stdout and stderr.
pub struct Output {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub fn output(cmd: &mut Command) -> Output {
    let out = cmd.stdin(Stdio::null()).output().expect("run eternego");
    Output {
        success: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A running `eternego daemon`; stopped with SIGTERM (and waited for) when dropped, so a failing
/// assertion does not leave it running.
pub struct Daemon {
    pub child: Child,
    /// `http://127.0.0.1:PORT`, from its `Dashboard:` line.
    pub url: String,
    /// Every stdout line up to and including the `Dashboard:` line.
    pub lines: Vec<String>,
}

impl Daemon {
    /// Starts `cmd` (an `eternego daemon`/`launch` command) and waits for its dashboard line.
    pub fn start(mut cmd: Command) -> Daemon {
        // Owned by the guard from the start, so every way out of here stops and reaps it.
        let mut daemon = Daemon {
            child: cmd.spawn().expect("spawn the daemon"),
            url: String::new(),
            lines: Vec::new(),
        };
        let mut reader = BufReader::new(daemon.child.stdout.take().unwrap());
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                let mut stderr = String::new();
                let _ = std::io::Read::read_to_string(
                    daemon.child.stderr.as_mut().unwrap(),
                    &mut stderr,
                );
                panic!(
                    "the daemon exited before listening: {:?} {stderr}",
                    daemon.lines
                );
            }
            let line = line.trim_end().to_string();
            let url = line
                .strip_prefix("Dashboard: ")
                .map(|u| u.trim_end_matches('/').to_string());
            daemon.lines.push(line);
            if let Some(url) = url {
                // Keep draining stdout so a chatty daemon never blocks on a full pipe.
                std::thread::spawn(move || for _ in reader.lines() {});
                daemon.url = url;
                return daemon;
            }
        }
    }

    /// Stops it with SIGTERM, as systemd does; returns whether it stopped cleanly.
    pub fn stop(&mut self) -> bool {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        self.child.wait().unwrap().success()
    }

    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let _ = self.child.wait();
        }
    }
}

/// A daemon over `home` whose outside services are the given fakes.
pub fn daemon_with(home: &Path, ollama: &str, openai: &str) -> Daemon {
    let mut cmd = eternego(home);
    cmd.args(["daemon", "--port", "0"])
        .env("OLLAMA_BASE_URL", ollama)
        .env("OPENAI_BASE_URL", openai);
    Daemon::start(cmd)
}

pub async fn post(url: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Creates a persona thinking with the fake OpenAI and returns her id.
pub async fn create_cloud(daemon: &Daemon, name: &str) -> String {
    let body = json!({"name": name, "thinking_model": "gpt-5.4", "thinking_provider": "openai", "thinking_api_key": OPENAI_KEY});
    let (status, created) = post(&format!("{}/api/persona/create", daemon.url), body).await;
    assert_eq!(status, 200, "{created}");
    created["persona"]["id"].as_str().unwrap().to_string()
}

/// Creates a persona thinking with the fake Ollama and returns her id.
pub async fn create_local(daemon: &Daemon, name: &str) -> String {
    let (status, created) = post(
        &format!("{}/api/persona/create", daemon.url),
        json!({"name": name, "thinking_model": "llama3.2:1b"}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    created["persona"]["id"].as_str().unwrap().to_string()
}

/// Every file below `root` whose bytes contain `needle`.
pub fn files_containing(root: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}
