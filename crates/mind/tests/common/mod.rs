//! A persona on disk, a scripted fake Mind on loopback, a manual clock and a running agent.

#![allow(dead_code)]

pub mod engine;

use std::sync::Arc;
use std::time::Duration;

use mind::{Agent, LifeEvent, ManualClock, Outgoing, Surroundings, prompts};
use persona::{Organ, Persona, Phrase, Provider, Store};
use serde_json::Value;
use testkit::{Responder, ScriptedReply};
use time::OffsetDateTime;
use time::macros::datetime;

pub const START: OffsetDateTime = datetime!(2026-05-18 08:00 UTC);
/// Bounds every wait for something the agent must do; reaching it is a failure, never a pass.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct World {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub clock: ManualClock,
    pub identity: Arc<engine::Engine>,
    pub persona: Persona,
    /// Where her gateways reach Telegram and Discord (a fake on loopback in channel tests).
    pub platforms: channels::PlatformUrls,
}

pub fn mind_at(provider: Option<Provider>, url: &str, name: &str) -> Organ {
    Organ {
        name: name.into(),
        provider,
        api_key: provider.map(|_| "sk-test".to_string()),
        url: url.into(),
    }
}

impl World {
    pub fn new(thinking: Organ) -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &persona::secrets::Keyring::none()).unwrap();
        let persona = Persona {
            idle_timeout: 86_400,
            ..Persona::new(
                uuid::Uuid::new_v4(),
                "Iris".into(),
                thinking,
                "2026-05-01".into(),
            )
        };
        let staging = store.staging().unwrap();
        let home = staging.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(staging.path().join("workspace")).unwrap();
        store.write_record(&persona, &home).unwrap();
        store.install(persona.id, staging.path()).unwrap();
        store.set_phrase(persona.id, &Phrase::generate()).unwrap();
        let identity = Arc::new(engine::Engine::default());
        World {
            dir,
            store,
            clock: ManualClock::at(START),
            identity,
            persona,
            platforms: Default::default(),
        }
    }

    pub fn home(&self) -> std::path::PathBuf {
        self.store.home(self.persona.id)
    }

    pub async fn start(&self) -> Agent {
        let around = Surroundings {
            http: organs::http_client(),
            identity: self.identity.clone(),
            clock: Arc::new(self.clock.clone()),
            platforms: self.platforms.clone(),
            embedded: None,
        };
        Agent::start(self.persona.clone(), self.store.clone(), around)
            .await
            .unwrap()
    }
}

/// The stage a request comes from, told by the named phrase of `mind::prompts` its question
/// (or, for the eye, its system prompt) carries.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Stage {
    Recognize,
    Decide,
    Reply,
    Teach,
    OwnIt,
    Refine,
    Consolidate,
    Eye,
    Other,
}

/// The text of every message of a chat body (Ollama and OpenAI share the `messages` shape).
pub fn texts(body: &Value) -> Vec<String> {
    body.get("messages")
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .map(|m| match m.get("content") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(parts)) => parts
                        .iter()
                        .filter_map(|p| p.get("text").and_then(Value::as_str))
                        .collect::<Vec<_>>()
                        .join(" "),
                    _ => String::new(),
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn stage(body: &Value) -> Stage {
    let all = texts(body);
    let q = all.last().cloned().unwrap_or_default();
    if q.contains(prompts::RECOGNIZE_MORNING) || q.contains(prompts::RECOGNIZE_MOMENT) {
        Stage::Recognize
    } else if q.contains(prompts::DECIDE) {
        Stage::Decide
    } else if q.contains(prompts::REPLY) {
        Stage::Reply
    } else if q.contains(prompts::TEACH) {
        Stage::Teach
    } else if q.contains(prompts::OWN) {
        Stage::OwnIt
    } else if q.contains(prompts::REFINE) {
        Stage::Refine
    } else if q.contains(prompts::KEEP) {
        Stage::Consolidate
    } else if all.first().is_some_and(|s| s.contains(prompts::EYE)) {
        Stage::Eye
    } else {
        Stage::Other
    }
}

/// The newest turn of her memory (the one just before the stage's question).
pub fn latest(body: &Value) -> String {
    let all = texts(body);
    if all.len() >= 2 {
        all[all.len() - 2].clone()
    } else {
        String::new()
    }
}

pub fn json(v: Value) -> ScriptedReply {
    ScriptedReply::Json(v)
}

pub fn script(
    f: impl Fn(Stage, &str, &Value) -> ScriptedReply + Send + Sync + 'static,
) -> Responder {
    testkit::responder(move |body| f(stage(body), &latest(body), body))
}

/// Her next reply or notice; drafts of her replies are skipped.
pub async fn next_line(rx: &mut tokio::sync::broadcast::Receiver<Outgoing>) -> Outgoing {
    loop {
        let line = tokio::time::timeout(PATIENCE, rx.recv())
            .await
            .expect("she never spoke")
            .expect("channel closed");
        if !line.kind.is_draft() {
            return line;
        }
    }
}

pub async fn next_event(rx: &mut tokio::sync::broadcast::Receiver<LifeEvent>) -> LifeEvent {
    tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("nothing happened")
        .expect("channel closed")
}

/// Waits until she has come to rest `beats` times since she started.
pub async fn rested(agent: &Agent, beats: u64) {
    tokio::time::timeout(PATIENCE, async {
        while agent.status().beats < beats {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("her beat never came to rest");
}

pub fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
