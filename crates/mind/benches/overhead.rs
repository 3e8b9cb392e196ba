//! The daemon's own cost of a message and of an idle persona.
//!
//! * Per message: from `read` to her Mind's request arriving at a loopback fake Mind, and from
//!   the fake returning its answer to her reply reaching the web-channel subscription. Both
//!   legs include one loopback HTTP hop and the fsyncs of her files, so they bound the
//!   overhead from above.
//! * Per idle persona: resident memory grown by starting 100 personas, divided by 100.
//!
//! Run with `cargo bench -p mind --bench overhead`. Targets: < 1 ms per leg, < 200 KB per
//! idle persona.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mind::{Agent, ManualClock, Surroundings};
use persona::{Organ, Persona, Phrase, Status, Store};
use serde_json::json;
use testkit::ScriptedReply;

const MODEL: &str = "eternego-bench";
const MESSAGES: usize = 300;
const PERSONAS: usize = 100;

fn persona(url: &str) -> Persona {
    Persona {
        id: uuid::Uuid::new_v4(),
        name: "Bench".into(),
        thinking: Organ { name: MODEL.into(), provider: None, api_key: None, url: url.into() },
        version: "v1".into(),
        base_model: String::new(),
        birthday: "2026-05-01".into(),
        status: Status::Active,
        idle_timeout: 86_400,
        imagination: None,
        mouth: None,
        eye: None,
        ear: None,
        teacher: None,
        researcher: None,
        channels: Vec::new(),
        sickness: None,
        reach: Default::default(),
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

fn rss_kb() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    pages * 4
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    println!("{name}: median {:?}, p95 {:?}, max {:?} ({} samples)", at(0.5), at(0.95), at(1.0), samples.len());
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &persona::secrets::Keyring::none()).unwrap();
    let identity = instances::Service::open(&dir.path().join("identity"), instances::Settings { min_interval: Duration::ZERO, ..Default::default() }).unwrap();
    let clock = ManualClock::at(time::macros::datetime!(2026-05-18 08:00 UTC));
    let around = Surroundings { http: organs::http_client(), identity, clock: Arc::new(clock), platforms: Default::default() };
    let fake = testkit::ollama::start(&[MODEL]).await;
    let stamps: Arc<Mutex<(Option<Instant>, Option<Instant>)>> = Arc::default();
    let marks = stamps.clone();
    fake.set_responder(testkit::responder(move |_| {
        let arrived = Instant::now();
        let reply = ScriptedReply::Json(json!({"decision": [{"say": "ok"}, {"done": null}]}));
        *marks.lock().unwrap() = (Some(arrived), Some(Instant::now()));
        reply
    }));

    let p = persona(&fake.url());
    install(&store, &p);
    let agent = Agent::start(p, store.clone(), around.clone()).await.unwrap();
    let mut out = agent.subscribe();
    let (mut inbound, mut outbound) = (Vec::new(), Vec::new());
    for i in 0..MESSAGES {
        let sent = Instant::now();
        agent.read(&format!("message {i}")).unwrap();
        out.recv().await.unwrap();
        let replied = Instant::now();
        let (arrived, answered) = *stamps.lock().unwrap();
        if i >= 20 {
            inbound.push(arrived.unwrap() - sent);
            outbound.push(replied - answered.unwrap());
        }
    }
    agent.stop().await;
    summary("read -> Mind request, first 50 turns", inbound[..50].to_vec());
    summary("read -> Mind request, last 50 turns", inbound[inbound.len() - 50..].to_vec());
    summary("read -> Mind request", inbound);
    summary("Mind answer -> reply", outbound);

    let mut agents = Vec::new();
    let before = rss_kb();
    for _ in 0..PERSONAS {
        let p = persona(&fake.url());
        install(&store, &p);
        agents.push(Agent::start(p, store.clone(), around.clone()).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = rss_kb();
    println!("idle persona: {} KB each ({} personas, RSS {} KB -> {} KB)", (after.saturating_sub(before)) / PERSONAS as u64, PERSONAS, before, after);
    for a in agents {
        a.stop().await;
    }
}
