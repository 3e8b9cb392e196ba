//! The second tier: she lives on a real model. SmolLM2-135M-Instruct served by llama.cpp's own
//! server (pip `xllamacpp`), reached on the local path through the Ollama shim and on the
//! OpenAI path directly, with the production organ clients and cycle in between.
//!
//! A 135M model's words are not worth asserting; what is asserted is that the machinery holds
//! on a real engine: the model is pulled and registered, her beat on a message ends with her
//! reply logged or a structured decision kept, her sleep archives, consolidates (from JSON that
//! matched its schema) and writes her diary.
//!
//! Needs `bench/real-backends/setup.sh` (or `ETERNEGO_REAL_BACKENDS=<venv>`); without it the
//! tier is skipped with the reason printed, unless `ETERNEGO_REQUIRE_REAL_BACKENDS=1` (set by
//! `.ci/run`), which turns absence into a failure.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use daemon::Daemon;
use mind::Agent;
use ollama_shim::backend::{Backend, LlamaServer, MODEL};
use serde_json::{Value, json};
use support::{Fakes, read};
use tokio::sync::oneshot;
use uuid::Uuid;

/// Her cycle asks several questions per message; on two busy cores each can take seconds.
/// This only turns a hung engine into a failure, it is not a speed claim (see docs/real-backends.md).
const HANG: Duration = Duration::from_secs(600);

/// One engine at a time: two llama.cpp servers on two cores only slow each other down.
static ENGINE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn backend() -> Option<Backend> {
    match Backend::find() {
        Ok(b) => Some(b),
        Err(why) if std::env::var("ETERNEGO_REQUIRE_REAL_BACKENDS").is_ok_and(|v| v == "1") => {
            panic!("ETERNEGO_REQUIRE_REAL_BACKENDS=1 but the real backends are unusable: {why}")
        }
        Err(why) => {
            eprintln!("skipping the real-model tier: {why}");
            None
        }
    }
}

/// The engine, with a key it enforces, a bounded answer length (a tiny model asked for JSON
/// can otherwise fill its context with one string) and a fixed seed. The sampling temperature
/// stays llama.cpp's default: greedy decoding makes this model repeat itself to the bound.
fn engine(backend: &Backend, dir: &Path) -> LlamaServer {
    let started = Instant::now();
    let server = backend
        .serve(&["--api-key", KEY, "--max-tokens", "400", "--seed", "42"], &dir.join("llama-server.log"))
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("llama.cpp server (pid {}) ready in {:.2} s", server.pid(), started.elapsed().as_secs_f64());
    server
}

const KEY: &str = "sk-real-tier-0123456789";

/// A daemon whose `local` engine is the shim and whose `openai` is the llama.cpp server.
struct Running {
    url: String,
    home: PathBuf,
    http: reqwest::Client,
    manager: Arc<daemon::manager::Manager>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start(home: &Path, fakes: &Fakes, local: String, openai: String) -> Running {
        let mut config = support::config(home, fakes);
        config.providers.local = local;
        config.providers.openai = openai;
        let listener = daemon::bind(&config).await.expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let daemon = Daemon::open(config).expect("open daemon");
        let manager = daemon.state.manager.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            daemon
                .launch(listener, async {
                    let _ = stopped.await;
                })
                .await
                .expect("daemon ran");
        });
        Running { url, home: home.to_path_buf(), http: reqwest::Client::new(), manager, stop: Some(stop), task }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        read(self.http.post(format!("{}{path}", self.url)).json(&body).send().await.unwrap()).await
    }

    async fn agent(&self, id: Uuid) -> Arc<Agent> {
        self.manager.agent(id).await.expect("she runs")
    }

    fn persona_home(&self, id: Uuid) -> PathBuf {
        self.home.join("personas").join(id.to_string()).join("home")
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        self.task.await.unwrap();
    }

    /// Sends her one message and waits until her beat on it ends, noting whether she spoke.
    async fn converse(&self, id: Uuid, engine: &str, text: &str) -> Beat {
        let mut said = self.agent(id).await.subscribe();
        let started = Instant::now();
        self.read(id, text).await;
        loop {
            tokio::select! {
                reply = said.recv() => {
                    let reply = reply.expect("her channel").content;
                    eprintln!("she answered after {:.1} s: {reply:?}", started.elapsed().as_secs_f64());
                    // Her words leave before they are written down; the beat's end is after both.
                    while !self.engine_idle_for(engine, QUIET).await {}
                    return Beat::Spoke(reply);
                }
                idle = self.engine_idle_for(engine, QUIET) => if idle {
                    eprintln!("her beat settled without a word after {:.1} s", started.elapsed().as_secs_f64());
                    return Beat::Settled;
                },
            }
        }
    }

    async fn read(&self, id: Uuid, text: &str) {
        let (status, body) = self.post(&format!("/api/persona/{id}/read"), json!({"message": text})).await;
        assert_eq!((status, body), (200, json!({"status": "received"})));
    }

    /// Whether llama.cpp's only slot stays free for all of `quiet`. Her stages follow each
    /// other within milliseconds, so a free slot for seconds means her beat is over.
    async fn engine_idle_for(&self, engine: &str, quiet: Duration) -> bool {
        let since = Instant::now();
        while since.elapsed() < quiet {
            let slots: Value = self.http.get(format!("{engine}/slots")).bearer_auth(KEY).send().await.unwrap().json().await.unwrap();
            if slots.as_array().unwrap().iter().any(|s| s["is_processing"] == true) {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        true
    }
}

/// A free engine for this long means her beat ended (see `engine_idle_for`).
const QUIET: Duration = Duration::from_secs(4);

/// How her beat on a message ended. A 135M model often decides, in valid JSON, that a beat
/// needs nothing (`{"done": null}`) rather than speaking; that is the production cycle working
/// on a real model too, so both endings count, and each is checked by what it leaves behind.
enum Beat {
    Spoke(String),
    Settled,
}

fn id_of(created: &Value) -> Uuid {
    created["persona"]["id"].as_str().unwrap().parse().unwrap()
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// What a beat leaves: the person's line in `conversation.jsonl`, then her reply if she spoke;
/// if she did not, traces in her working memory of decisions she returned as JSON objects, which
/// (the engine's grammar enforcing each stage's schema) means her Mind's structured answers came
/// back and were acted on.
fn assert_answered(home: &Path, asked: &str, beat: &Beat) {
    let log = lines(&home.join("conversation.jsonl"));
    let person = log.iter().position(|l| l["role"] == "person" && l["content"] == asked).expect("the message is logged");
    match beat {
        Beat::Spoke(reply) => {
            assert!(!reply.trim().is_empty());
            let answer = log.iter().position(|l| l["role"] == "assistant" && &l["content"] == reply).expect("her reply is logged");
            assert!(person < answer, "{log:?}");
        }
        Beat::Settled => {
            let memory: Value = serde_json::from_slice(&std::fs::read(home.join("memory.json")).unwrap()).unwrap();
            let decisions = decisions_in(&memory);
            assert!(!decisions.is_empty(), "no structured decision in her memory: {memory}");
            eprintln!("her decisions: {decisions:?}");
        }
    }
}

/// Traces of her structured decisions in a memory file: her own turns whose text is a JSON
/// object, and the results of the tools those decisions called (`clear_memory` leaves only that).
fn decisions_in(v: &Value) -> Vec<Value> {
    match v {
        Value::Object(map) => {
            let turn = map.get("prompt").and_then(|p| Some((p["role"].as_str()?, p["content"].as_str()?)));
            let mut found: Vec<Value> = match turn {
                Some(("assistant", text)) => serde_json::from_str::<Value>(text).ok().filter(Value::is_object).into_iter().collect(),
                Some(("user", text)) if text.starts_with("TOOL_RESULT") => vec![Value::String(text.to_string())],
                _ => Vec::new(),
            };
            found.extend(map.values().flat_map(decisions_in));
            found
        }
        Value::Array(items) => items.iter().flat_map(decisions_in).collect(),
        _ => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_persona_pulls_her_model_through_the_shim_lives_a_beat_and_sleeps() {
    let Some(backend) = backend() else { return };
    let _one = ENGINE.lock().await;
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let server = engine(&backend, dir.path());
    let registry = dir.path().join("registry");
    ollama_shim::models::offer(&registry, MODEL, &backend.model).unwrap();
    let shim = ollama_shim::start(ollama_shim::Settings {
        upstream: server.url.clone(),
        upstream_model: MODEL.into(),
        upstream_key: Some(KEY.into()),
        store: dir.path().join("shim"),
        registry,
    })
    .await
    .unwrap();
    let fakes = Fakes::start().await;
    let d = Running::start(&dir.path().join("eternego"), &fakes, shim.url(), server.url.clone()).await;

    let (status, created) = d.post("/api/persona/create", json!({"name": "Wren", "thinking_model": MODEL})).await;
    assert_eq!(status, 200, "{created}");
    let id = id_of(&created);
    assert_eq!(created["persona"]["base_model"], MODEL);
    let tags: Value = reqwest::get(format!("{}/api/tags", shim.url())).await.unwrap().json().await.unwrap();
    let names: Vec<&str> = tags["models"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    let mind = format!("eternego-{id}:latest");
    assert_eq!(names, [mind.as_str(), MODEL], "her model was pulled into the engine and her Mind registered over it");
    assert_eq!(tags["models"][1]["size"], std::fs::metadata(&backend.model).unwrap().len());

    let asked = "Hello Wren! I'm Sam, I grow tomatoes. Please say hello to me.";
    let beat = tokio::time::timeout(HANG, d.converse(id, &server.url, asked)).await.expect("no hang");
    let home = d.persona_home(id);
    assert_answered(&home, asked, &beat);

    let diary = d.home.join("diary").join(id.to_string()).join(format!("{id}.diary"));
    let before = std::fs::read(&diary).unwrap();
    let slept = Instant::now();
    let (status, body) = tokio::time::timeout(HANG, d.post(&format!("/api/persona/{id}/sleep"), json!({}))).await.expect("she slept");
    assert_eq!(status, 200, "{body}");
    eprintln!("she slept in {:.1} s", slept.elapsed().as_secs_f64());
    assert_ne!(std::fs::read(&diary).unwrap(), before, "tonight's diary replaced her birth diary");
    let today = std::fs::read_dir(home.join("history")).unwrap().flatten().find(|e| e.file_name().to_string_lossy().starts_with("conversation-"));
    let archived = std::fs::read_to_string(today.expect("today's conversation is archived").path()).unwrap();
    assert!(archived.contains(asked), "{archived}");
    if let Beat::Spoke(reply) = &beat {
        assert!(archived.contains(reply.trim()), "{archived}");
    }
    assert!(lines(&home.join("conversation.jsonl")).is_empty(), "she wakes to an empty conversation");
    let kept: Vec<&str> = ["person.md", "traits.md", "wishes.md", "struggles.md", "persona-trait.md", "permissions.md"]
        .into_iter()
        .filter(|f| home.join(f).is_file())
        .collect();
    assert_eq!(kept.len(), 6, "consolidation wrote every knowledge file from the JSON she returned: {kept:?}");

    d.shutdown().await;
    eprintln!("local path: {:.1} s in all", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openai_persona_lives_a_beat_on_llama_cpp_directly() {
    let Some(backend) = backend() else { return };
    let _one = ENGINE.lock().await;
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let server = engine(&backend, dir.path());
    let fakes = Fakes::start().await;
    let d = Running::start(&dir.path().join("eternego"), &fakes, fakes.ollama.url(), server.url.clone()).await;

    let wrong = json!({"name": "Ash", "thinking_model": MODEL, "thinking_provider": "openai", "thinking_api_key": "sk-wrong"});
    let (status, body) = d.post("/api/persona/create", wrong).await;
    assert_eq!(status, 400, "the engine enforces its key: {body}");
    let (status, created) = d
        .post("/api/persona/create", json!({"name": "Ash", "thinking_model": MODEL, "thinking_provider": "openai", "thinking_api_key": KEY}))
        .await;
    assert_eq!(status, 200, "{created}");
    let id = id_of(&created);

    let asked = "Hi Ash! Please say hello to me and tell me what two plus two is.";
    let beat = tokio::time::timeout(HANG, d.converse(id, &server.url, asked)).await.expect("no hang");
    assert_answered(&d.persona_home(id), asked, &beat);

    d.shutdown().await;
    eprintln!("openai path: {:.1} s in all", started.elapsed().as_secs_f64());
}
