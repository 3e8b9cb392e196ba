//! The daemon's own cost of a message and of an idle persona.
//!
//! * Per message: from `read` to the first byte of her Mind's request reaching loopback, and
//!   from her Mind's answer leaving loopback to her reply reaching the web-channel
//!   subscription. A relay in front of the fake Mind stamps both moments on the wire, so the
//!   fake's own work (parsing and logging every request) is measured apart and not charged to
//!   her. The inbound leg includes the fsync of `conversation.jsonl` (the message is durable
//!   before `read` returns); the outbound leg includes one loopback hop through the relay.
//! * Per idle persona: resident memory grown by starting 100 personas, divided by 100.
//!
//! Run with `cargo bench -p mind --bench overhead`. Targets: < 1 ms per leg, < 200 KB per
//! idle persona.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The tests' in-memory identity engine; the bench uses only what `Identity` asks of it.
#[allow(dead_code)]
#[path = "../tests/common/engine.rs"]
mod engine;

use mind::{Agent, ManualClock, Surroundings};
use persona::{Organ, Persona, Phrase, Store};
use serde_json::json;
use testkit::ScriptedReply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MODEL: &str = "eternego-bench";
const MESSAGES: usize = 300;
const PERSONAS: usize = 100;

fn persona(url: &str) -> Persona {
    let thinking = Organ {
        name: MODEL.into(),
        provider: None,
        api_key: None,
        url: url.into(),
    };
    Persona {
        idle_timeout: 86_400,
        ..Persona::new(
            uuid::Uuid::new_v4(),
            "Bench".into(),
            thinking,
            "2026-05-01".into(),
        )
    }
}

fn install(store: &Store, p: &Persona) {
    let staging = store.staging().unwrap();
    std::fs::create_dir_all(staging.path().join("home")).unwrap();
    std::fs::create_dir_all(staging.path().join("workspace")).unwrap();
    store.write_record(p, &staging.path().join("home")).unwrap();
    store.install(p.id, staging.path()).unwrap();
    store.set_phrase(p.id, &Phrase::generate()).unwrap();
}

/// When the latest request's first byte reached loopback, when the fake had parsed it, and
/// when its answer had been handed back to her socket.
#[derive(Default)]
struct Wire {
    began: Option<Instant>,
    parsed: Option<Instant>,
    answered: Option<Instant>,
}

/// A loopback relay to `upstream` that stamps [`Wire`]: a request begins at its connection's
/// accept or at its first byte after the previous answer; an answer is stamped as it is
/// handed to her socket, before she can read it (the relay runs on another thread, so a
/// stamp taken after the write could land after her reply).
async fn relay(upstream: String, wire: Arc<Mutex<Wire>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            wire.lock().unwrap().began = Some(Instant::now());
            let _ = client.set_nodelay(true);
            let server = TcpStream::connect(&upstream).await.unwrap();
            let _ = server.set_nodelay(true);
            let (mut client_in, mut client_out) = client.into_split();
            let (mut server_in, mut server_out) = server.into_split();
            let waiting = Arc::new(AtomicBool::new(false));
            let (w, idle) = (wire.clone(), waiting.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = client_in.read(&mut buf).await {
                    if idle.swap(false, Ordering::SeqCst) {
                        w.lock().unwrap().began = Some(Instant::now());
                    }
                    if server_out.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
            let w = wire.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = server_in.read(&mut buf).await {
                    w.lock().unwrap().answered = Some(Instant::now());
                    waiting.store(true, Ordering::SeqCst);
                    if client_out.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// Starts the fake Mind and the relay on a thread and runtime of their own, as a Mind is
/// another process in real life: the fake's parsing then never holds one of her workers.
/// Returns the relay's URL and the fake's own.
fn mind_apart(wire: Arc<Mutex<Wire>>) -> (String, String) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let fake = testkit::ollama::start(&[MODEL]).await;
            let marks = wire.clone();
            fake.set_responder(testkit::responder(move |_| {
                marks.lock().unwrap().parsed = Some(Instant::now());
                ScriptedReply::Json(json!({"decision": [{"say": "ok"}, {"done": null}]}))
            }));
            let relayed = relay(fake.url().trim_start_matches("http://").to_string(), wire).await;
            tx.send((relayed, fake.url())).unwrap();
            std::future::pending::<()>().await
        })
    });
    rx.recv().unwrap()
}

fn rss_kb() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    println!(
        "{name}: median {:?}, p95 {:?}, max {:?} ({} samples)",
        at(0.5),
        at(0.95),
        at(1.0),
        samples.len()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &persona::secrets::Keyring::none()).unwrap();
    let identity = Arc::new(engine::Engine::default());
    let clock = ManualClock::at(time::macros::datetime!(2026-05-18 08:00 UTC));
    let around = Surroundings {
        http: organs::http_client(),
        identity,
        clock: Arc::new(clock),
        platforms: Default::default(),
        embedded: None,
    };
    let wire: Arc<Mutex<Wire>> = Arc::default();
    let (mind_url, fake_url) = mind_apart(wire.clone());

    let p = persona(&mind_url);
    install(&store, &p);
    let agent = Agent::start(p, store.clone(), around.clone())
        .await
        .unwrap();
    let mut out = agent.subscribe();
    let (mut acked, mut inbound, mut fake_cost, mut outbound) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..MESSAGES {
        let sent = Instant::now();
        agent.read(&format!("message {i}")).await.unwrap();
        let returned = Instant::now();
        out.recv().await.unwrap();
        let replied = Instant::now();
        let w = wire.lock().unwrap();
        let (began, parsed, answered) = (w.began.unwrap(), w.parsed.unwrap(), w.answered.unwrap());
        if i >= 20 {
            acked.push(returned - sent);
            inbound.push(began.saturating_duration_since(sent));
            fake_cost.push(parsed.saturating_duration_since(began));
            outbound.push(replied.saturating_duration_since(answered));
        }
    }
    agent.stop().await;
    let (early, late) = (..50, inbound.len() - 50..);
    println!(
        "Each message adds two turns to her memory; the early window is turns 40-140, the late one 500-600."
    );
    summary(
        "read() returns (conversation.jsonl fsynced), early",
        acked[early].to_vec(),
    );
    summary(
        "read() returns (conversation.jsonl fsynced), late",
        acked[late.clone()].to_vec(),
    );
    summary(
        "read -> Mind request on the wire, early",
        inbound[early].to_vec(),
    );
    summary(
        "read -> Mind request on the wire, late",
        inbound[late.clone()].to_vec(),
    );
    summary(
        "fake Mind parsing the request (not hers), early",
        fake_cost[early].to_vec(),
    );
    summary(
        "fake Mind parsing the request (not hers), late",
        fake_cost[late].to_vec(),
    );
    summary("Mind answer on the wire -> reply", outbound);

    let mut agents = Vec::new();
    let before = rss_kb();
    for _ in 0..PERSONAS {
        let p = persona(&fake_url);
        install(&store, &p);
        agents.push(
            Agent::start(p, store.clone(), around.clone())
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = rss_kb();
    println!(
        "idle persona: {} KB each ({} personas, RSS {} KB -> {} KB)",
        (after.saturating_sub(before)) / PERSONAS as u64,
        PERSONAS,
        before,
        after
    );
    for a in agents {
        a.stop().await;
    }
}
