//! The cost `/v1/chat/completions` adds around her own beat, on a real daemon over loopback:
//!
//! * request in → her Mind's request out: from the client sending a streamed chat request to
//!   the first byte of her Mind's request reaching loopback;
//! * her Mind's answer → first SSE byte out: from her Mind's answer reaching loopback to the
//!   client receiving the first byte of the event stream (her words).
//!
//! A relay in front of the fake Mind (a fake Ollama on a thread and runtime of its own, as a
//! Mind is another process in real life) stamps both moments on the wire. `POST …/read` is
//! measured the same way for comparison: the difference is what the OpenAI route itself costs.
//! The inbound leg includes the fsync of `conversation.jsonl`.
//!
//! Run with `cargo bench -p daemon --bench chat_overhead` (about 20 s). Target: < 1 ms each.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use daemon::{Config, Daemon};
use serde_json::json;
use testkit::ScriptedReply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MODEL: &str = "bench-mind:1b";
const WARMUP: usize = 20;
const ROUNDS: usize = 200;

/// Every moment a request to her Mind began on the wire, and every moment an answer did.
#[derive(Default)]
struct Wire {
    began: Vec<Instant>,
    answered: Vec<Instant>,
}

/// A loopback relay to `upstream` stamping [`Wire`]: a request begins with the first bytes
/// after an answer (or the connection); an answer is stamped before it is handed on.
async fn relay(upstream: String, wire: Arc<Mutex<Wire>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let _ = client.set_nodelay(true);
            let server = TcpStream::connect(&upstream).await.unwrap();
            let _ = server.set_nodelay(true);
            let (mut client_in, mut client_out) = client.into_split();
            let (mut server_in, mut server_out) = server.into_split();
            let asking = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let (w, asked) = (wire.clone(), asking.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = client_in.read(&mut buf).await {
                    if !asked.swap(true, std::sync::atomic::Ordering::SeqCst) {
                        w.lock().unwrap().began.push(Instant::now());
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
                    if asking.swap(false, std::sync::atomic::Ordering::SeqCst) {
                        w.lock().unwrap().answered.push(Instant::now());
                    }
                    if client_out.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// The fake Mind and its relay on their own thread; returns the relay's URL.
fn mind_apart(wire: Arc<Mutex<Wire>>) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let fake = testkit::ollama::start(&[MODEL]).await;
            fake.set_responder(testkit::responder(|_| {
                ScriptedReply::Json(json!({"decision": [{"say": "ok"}, {"done": null}]}))
            }));
            let relayed = relay(fake.url().trim_start_matches("http://").to_string(), wire).await;
            tx.send(relayed).unwrap();
            std::future::pending::<()>().await
        })
    });
    rx.recv().unwrap()
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    println!(
        "{name}: p50 {:?}, p90 {:?}, max {:?} ({} samples)",
        at(0.5),
        at(0.9),
        at(1.0),
        samples.len()
    );
}

/// The first stamp at or after `from`, and the last one at or before `to`.
fn first_after(stamps: &[Instant], from: Instant) -> Instant {
    *stamps
        .iter()
        .find(|t| **t >= from)
        .expect("her Mind was asked")
}
fn last_before(stamps: &[Instant], to: Instant) -> Instant {
    *stamps
        .iter()
        .rev()
        .find(|t| **t <= to)
        .expect("her Mind answered")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let wire: Arc<Mutex<Wire>> = Arc::default();
    let mind = mind_apart(wire.clone());
    let home = tempfile::tempdir().unwrap();
    let config = Config {
        host: IpAddr::from([127, 0, 0, 1]),
        port: 0,
        home: home.path().to_path_buf(),
        providers: organs::Endpoints {
            local: mind,
            anthropic: "http://127.0.0.1:9".into(),
            openai: "http://127.0.0.1:9".into(),
            xai: "http://127.0.0.1:9".into(),
            gemini: "http://127.0.0.1:9".into(),
        },
        platforms: Default::default(),
        identity_min_interval: Duration::ZERO,
        upload_limit: 8 * 1024 * 1024,
        allowed_hosts: vec![],
        system_keyring: false,
        chat_timeout: Duration::from_secs(60),
        hugging_face: "http://127.0.0.1:9".into(),
        require_token: false,
        model_idle: daemon::config::DEFAULT_MODEL_IDLE,
    };
    let listener = daemon::bind(&config).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let daemon = Daemon::open(config).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        daemon
            .launch(listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap()
    });
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let created: serde_json::Value = client
        .post(format!("{url}/api/persona/create"))
        .json(&json!({"name": "Bench", "thinking_model": MODEL}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["persona"]["id"].as_str().unwrap().to_string();

    let (mut chat_in, mut chat_out, mut read_in) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..WARMUP + ROUNDS {
        let sent = Instant::now();
        let mut response = client
            .post(format!("{url}/v1/chat/completions"))
            .json(&json!({"model": id, "stream": true,
                          "messages": [{"role": "user", "content": format!("question {i}")}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.chunk().await.unwrap().expect("a first event");
        let first_byte = Instant::now();
        while response.chunk().await.unwrap().is_some() {}
        let w = wire.lock().unwrap();
        if i >= WARMUP {
            chat_in.push(first_after(&w.began, sent) - sent);
            chat_out.push(first_byte - last_before(&w.answered, first_byte));
        }
    }
    for i in 0..WARMUP + ROUNDS {
        let asked = wire.lock().unwrap().began.len();
        let sent = Instant::now();
        let response = client
            .post(format!("{url}/api/persona/{id}/read"))
            .json(&json!({"message": format!("note {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        // Wait for her beat to ask her Mind (bounded: a broken build must not hang the bench).
        let deadline = Instant::now() + Duration::from_secs(30);
        while wire.lock().unwrap().began.len() == asked {
            assert!(Instant::now() < deadline, "her Mind was never asked");
            tokio::task::yield_now().await;
        }
        // ...and answer it, so the next note starts a beat of its own.
        while wire.lock().unwrap().answered.len() <= asked {
            assert!(Instant::now() < deadline, "her Mind never answered");
            tokio::task::yield_now().await;
        }
        if i >= WARMUP {
            let w = wire.lock().unwrap();
            read_in.push(first_after(&w.began, sent) - sent);
        }
    }
    println!("{ROUNDS} rounds after {WARMUP} warm-up, a local Mind behind a stamping relay");
    summary("chat: request in -> her Mind request out", chat_in);
    summary("chat: her Mind answer -> first SSE byte out", chat_out);
    summary(
        "read (for comparison): request in -> her Mind request out",
        read_in,
    );
    let _ = stop.send(());
    served.await.unwrap();
}
