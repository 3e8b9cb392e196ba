//! Load test for `POST /instances/{id}/process` over loopback.
//!
//! Starts the router on 127.0.0.1:0 over a temporary store (fsynced like production),
//! creates `--instances` instances and runs `--clients` concurrent clients, each sending
//! `--requests` observations to instances round-robin. Reports throughput and p50/p99.
//! With `--reads` the clients fetch snapshots instead: the same HTTP path without a disk
//! write, which is the ceiling durable writes can approach on this machine.
//!
//! cargo run --release -p instances --example identity_load -- --instances 64 --clients 32 --requests 500

use instances::{Service, Settings};
use std::time::{Duration, Instant};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .min(100_000)
}

#[tokio::main]
async fn main() {
    let (n_instances, clients, per_client) = (
        arg("--instances", 64),
        arg("--clients", 32),
        arg("--requests", 300),
    );
    let reads = std::env::args().any(|a| a == "--reads");
    let dir = tempfile::tempdir().expect("temp dir");
    let service = Service::open(
        dir.path(),
        Settings {
            min_interval: Duration::ZERO,
            ..Settings::default()
        },
    )
    .expect("open");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(axum::serve(listener, instances::router(service.clone())).into_future());

    let mut ids = Vec::new();
    for i in 0..n_instances {
        ids.push(
            service
                .create(&format!("load-{i}"), "", None)
                .await
                .expect("create")
                .id,
        );
    }
    let client = reqwest::Client::new();
    let modes = [
        "perception",
        "exploration",
        "order",
        "assertion",
        "connection",
        "identity",
        "stress_response",
    ];
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, base, ids) = (client.clone(), base.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            for r in 0..per_client {
                let id = &ids[(c + r * clients) % ids.len()];
                let body = serde_json::json!({
                    "mode_target": modes[(c + r) % 7],
                    "signal_strength": ((c * 31 + r * 17) % 100) as f64 / 100.0,
                });
                let t = Instant::now();
                let request = if reads {
                    client.get(format!("{base}/instances/{id}/snapshot"))
                } else {
                    client
                        .post(format!("{base}/instances/{id}/process"))
                        .json(&body)
                };
                let resp = request.send().await.expect("send");
                assert!(resp.status().is_success(), "status {}", resp.status());
                resp.bytes().await.expect("body");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client task"));
    }
    let elapsed = started.elapsed();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    println!(
        "{} {}, {n_instances} instances, {clients} clients in {:.2?}: {:.0} req/s, p50 {:?}, p99 {:?}",
        all.len(),
        if reads {
            "snapshot reads"
        } else {
            "observations"
        },
        elapsed,
        all.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99)
    );
}
