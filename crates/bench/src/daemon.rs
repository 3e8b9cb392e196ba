//! A real `eternego daemon` process on an ephemeral loopback port, with its own data root and
//! its providers pointed at fakes: started, measured (its RSS from `/proc`), stopped with
//! SIGTERM, or killed with SIGKILL as a crash would.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Where the daemon's providers live (all on loopback).
#[derive(Clone, Debug)]
pub struct Providers {
    pub ollama: String,
    pub openai: String,
    pub anthropic: String,
}

/// How to start the daemon under test.
#[derive(Clone, Debug)]
pub struct Launch {
    pub binary: PathBuf,
    pub home: PathBuf,
    pub providers: Providers,
}

pub struct Daemon {
    child: Child,
    pub url: String,
    pub spawned: Instant,
}

impl Launch {
    /// Spawns the daemon and waits (at most 30 s) for the line that names its address.
    pub fn start(&self) -> anyhow::Result<Daemon> {
        let spawned = Instant::now();
        let mut child = Command::new(&self.binary)
            .args(["--host", "127.0.0.1", "--port", "0", "daemon"])
            .env("ETERNEGO_HOME", &self.home)
            .env("ETERNEGO_KEYRING", "file")
            .env("OLLAMA_BASE_URL", &self.providers.ollama)
            .env("OPENAI_BASE_URL", &self.providers.openai)
            .env("ANTHROPIC_BASE_URL", &self.providers.anthropic)
            // Nothing outside loopback: the other providers point at a closed port.
            .env("XAI_BASE_URL", "http://127.0.0.1:9")
            .env("GEMINI_BASE_URL", "http://127.0.0.1:9")
            .env("TELEGRAM_BASE_URL", "http://127.0.0.1:9")
            .env("DISCORD_BASE_URL", "http://127.0.0.1:9")
            .env("HF_ENDPOINT", "http://127.0.0.1:9")
            .env("IDENTITY_MIN_INTERVAL_MS", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        let stdout = child.stdout.take().context("the daemon's stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent && let Some(rest) = line.split("listening on ").nth(1) {
                    let url = rest.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(url.to_string());
                    sent = true;
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => Ok(Daemon {
                child,
                url,
                spawned,
            }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the daemon did not say where it listens within 30 s")
            }
        }
    }
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now, in bytes (`VmRSS` of `/proc/<pid>/status`).
    pub fn rss(&self) -> anyhow::Result<u64> {
        rss_of(self.pid())
    }

    /// SIGKILL, as a crash or a power cut would, and reaps it.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits up to `grace` for a clean exit before SIGKILL. Returns whether it
    /// exited by itself.
    pub fn stop(mut self, grace: Duration) -> bool {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// SIGKILL by pid, from code that only borrows the [`Daemon`] (it is reaped when dropped).
pub fn kill_now(pid: u32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

pub fn rss_of(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS line")?;
    Ok(kb * 1024)
}

/// The `eternego` binary beside this one (both come out of the same `cargo build`).
pub fn sibling_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let path = me
        .parent()
        .map(|d| d.join("eternego"))
        .filter(|p| p.is_file());
    path.with_context(|| {
        "no eternego binary beside this one: build it (`cargo build --release -p eternego`) or pass --eternego"
    })
}

/// Polls `GET {url}/api/personas` until it answers 200 (or `limit` passes); returns when.
pub async fn first_answer(
    client: &reqwest::Client,
    url: &str,
    limit: Duration,
) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(r) = client.get(format!("{url}/api/personas")).send().await
            && r.status().is_success()
            && r.bytes().await.is_ok()
        {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            bail!("{url} did not answer within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The daemon's log lines saying how its persona index keeps true to the disk: watching, or
/// the stat check after the watch failed.
const WATCHING: &str = "watching the personas folder";
const STAT_CHECK: &str = "one stat per persona per list instead";

/// How many times the logs under `home` have said how the index is kept (a data root reused by
/// several daemons holds the lines of each).
pub fn index_lines(home: &Path) -> usize {
    index_said(home).len()
}

/// Those lines, oldest first, from the log and its rolled files (a fast list load logs a line
/// per request and rolls the file within seconds).
fn index_said(home: &Path) -> Vec<String> {
    let logs = home.join("logs");
    let mut files: Vec<(usize, PathBuf)> = std::fs::read_dir(&logs)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let age = match name.strip_prefix("eternego.log") {
                Some("") => 0,
                Some(n) => n.strip_prefix('.')?.parse().ok()?,
                None => return None,
            };
            Some((age, e.path()))
        })
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    files
        .iter()
        .flat_map(|(_, f)| {
            let log = std::fs::read_to_string(f).unwrap_or_default();
            log.lines()
                .filter(|l| l.contains(WATCHING) || l.contains(STAT_CHECK))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Waits (at most `limit`) for the daemon to log how its index is kept, after `before` such
/// lines; returns whether it watches, or `None` when it did not say in time.
pub async fn index_kept(home: &Path, before: usize, limit: Duration) -> Option<bool> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(line) = index_said(home).into_iter().nth(before) {
            return Some(line.contains(WATCHING));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}
