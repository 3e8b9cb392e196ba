//! A real daemon on an ephemeral port, its data root in a temp dir, and every outside service
//! replaced by a fake server on loopback that speaks the real protocol.

#![allow(dead_code)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use daemon::{Config, Daemon};
use serde_json::Value;
use testkit::{anthropic, discord, gemini, ollama, openai, telegram};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const OPENAI_KEY: &str = "sk-test-openai-0123456789";
pub const ANTHROPIC_KEY: &str = "sk-ant-test-0123456789";
pub const GEMINI_KEY: &str = "AIza-test-0123456789";
pub const XAI_KEY: &str = "xai-test-0123456789";
pub const TELEGRAM_TOKEN: &str = "123456:TEST-telegram-token";
pub const DISCORD_TOKEN: &str = "discord-test-token-0123456789";

pub struct Fakes {
    pub ollama: ollama::FakeOllama,
    pub openai: openai::FakeOpenAi,
    pub xai: openai::FakeOpenAi,
    pub anthropic: anthropic::FakeAnthropic,
    pub gemini: gemini::FakeGemini,
    pub telegram: telegram::FakeTelegram,
    pub discord: discord::FakeDiscord,
}

impl Fakes {
    pub async fn start() -> Fakes {
        let ollama = ollama::start(&["llama3.2:1b"]).await;
        ollama.publish("qwen2.5:0.5b");
        Fakes {
            ollama,
            openai: openai::start(
                &[OPENAI_KEY],
                &[
                    "gpt-5.4",
                    "gpt-4o",
                    "gpt-4o-mini-tts",
                    "gpt-image-1",
                    "gpt-audio",
                ],
            )
            .await,
            xai: openai::start_xai(&[XAI_KEY], &["grok-4"]).await,
            anthropic: anthropic::start(&[ANTHROPIC_KEY], &["claude-sonnet-4-6"]).await,
            gemini: gemini::start(&[GEMINI_KEY], &["gemini-2.5-pro"]).await,
            telegram: telegram::start(&[TELEGRAM_TOKEN]).await,
            discord: discord::start(&[DISCORD_TOKEN]).await,
        }
    }
}

pub struct Harness {
    pub url: String,
    pub home: PathBuf,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

pub fn config(home: &Path, fakes: &Fakes) -> Config {
    Config {
        host: IpAddr::from([127, 0, 0, 1]),
        port: 0,
        home: home.to_path_buf(),
        providers: organs::Endpoints {
            local: fakes.ollama.url(),
            anthropic: fakes.anthropic.url(),
            openai: fakes.openai.url(),
            xai: fakes.xai.url(),
            gemini: fakes.gemini.url(),
        },
        platforms: channels::PlatformUrls {
            telegram: fakes.telegram.url(),
            discord: fakes.discord.url(),
        },
        identity_min_interval: Duration::ZERO,
        upload_limit: 8 * 1024 * 1024,
        allowed_hosts: vec![],
        system_keyring: false,
        chat_timeout: daemon::config::DEFAULT_CHAT_TIMEOUT,
        hugging_face: "http://127.0.0.1:9".into(),
        require_token: false,
        model_idle: daemon::config::DEFAULT_MODEL_IDLE,
    }
}

impl Harness {
    /// Starts a daemon over `home` (created if missing) talking to `fakes`.
    pub async fn start(home: &Path, fakes: &Fakes) -> Harness {
        Harness::with_config(config(home, fakes)).await
    }

    pub async fn with_config(config: Config) -> Harness {
        let home = config.home.clone();
        let listener = daemon::bind(&config).await.expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let daemon = Daemon::open(config).expect("open daemon");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            daemon
                .launch(listener, async {
                    let _ = stopped.await;
                })
                .await
                .expect("daemon ran");
        });
        Harness {
            url,
            home,
            client: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Shuts the daemon down gracefully and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        read(r).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        read(r).await
    }

    pub async fn post_empty(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        read(r).await
    }

    pub async fn post_raw(&self, path: &str, body: &'static str) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        read(r).await
    }

    /// Creates a local-Mind persona and returns the create response.
    pub async fn create_local(&self, name: &str) -> Value {
        let (status, body) = self
            .post(
                "/api/persona/create",
                serde_json::json!({"name": name, "thinking_model": "llama3.2:1b"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn personas(&self) -> Vec<Value> {
        let (status, body) = self.get("/api/personas").await;
        assert_eq!(status, 200);
        body["personas"].as_array().unwrap().clone()
    }

    /// The list once no persona is still `starting`: boot starts active personas beside the
    /// server, so a test about what boot did waits for that start to end (bounded).
    pub async fn personas_settled(&self) -> Vec<Value> {
        for _ in 0..400 {
            let listed = self.personas().await;
            if listed.iter().all(|p| p["state"] != "starting") {
                return listed;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("a persona was still starting after 10 s");
    }
}

pub async fn read(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// Every file below `root` with its bytes, for before/after comparisons and secret scans.
pub fn snapshot(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.push((
                format!("{}/", path.strip_prefix(root).unwrap().display()),
                Vec::new(),
            ));
            walk(root, &path, out);
        } else {
            out.push((
                path.strip_prefix(root).unwrap().display().to_string(),
                std::fs::read(&path).unwrap_or_default(),
            ));
        }
    }
}

/// Paths (relative to `root`) of files whose bytes contain `needle`.
pub fn files_containing(root: &Path, needle: &str) -> Vec<String> {
    snapshot(root)
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .map(|(path, _)| path)
        .collect()
}
