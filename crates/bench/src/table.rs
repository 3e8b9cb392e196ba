//! The benchmark table: every figure of issue 14, taken on a real daemon process.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use persona::Status;
use serde_json::{Value, json};

use crate::daemon::{Daemon, Launch, first_answer, index_kept, index_lines};
use crate::fakes::{self, Behaviour, Fakes};
use crate::load::{self, Load, percentile};
use crate::micro::{self, DiskCheck};
use crate::populate;

#[derive(Clone, Debug)]
pub struct Options {
    pub binary: PathBuf,
    /// Data root for the list sizes; a temporary one when absent. With `against`, the other
    /// daemon must serve this same folder.
    pub home: Option<PathBuf>,
    pub against: Option<String>,
    pub quick: bool,
    pub connections: usize,
}

/// One persona count under list load.
pub struct ListRow {
    pub personas: usize,
    pub ours: Load,
    pub theirs: Option<Load>,
    /// From spawning the daemon to its first answered list, with these personas on disk.
    pub first_answer: Duration,
    pub idle_rss: u64,
    /// Resident size 15 s after the load ended (measured at the largest size only).
    pub rss_after: Option<u64>,
    /// Whether the daemon kept its index by filesystem events (else by stat) when the load
    /// began, `None` when it had not said within 30 s.
    pub watched: Option<bool>,
    /// How long writing this size's new personas as folders took (and how many).
    pub written: (usize, Duration),
}

/// Start-to-first-answer with a number of active personas and a provider behaviour.
pub struct StartRow {
    pub active: usize,
    pub provider: String,
    pub first_answer: Duration,
    /// How many were running when the wait ended, and when that was.
    pub running: usize,
    pub waited: Duration,
    /// Resident size once all were running (or the wait ended).
    pub rss: u64,
}

pub struct Operations {
    pub create: Vec<Duration>,
    pub sleep: Vec<Duration>,
    /// `/v1/chat/completions` round trips with an instant fake Mind.
    pub message: Vec<Duration>,
    /// `POST /instances/{id}/process` over HTTP (durable).
    pub identity_http: Load,
}

pub struct Table {
    pub options: Options,
    pub list: Vec<ListRow>,
    pub start: Vec<StartRow>,
    pub operations: Operations,
    pub identity_cycles: f64,
    pub diary: (f64, Duration),
    pub disk_check: DiskCheck,
    pub took: Duration,
}

pub async fn run(options: Options) -> anyhow::Result<Table> {
    let began = Instant::now();
    let fakes = Fakes::start().await?;
    let scratch = tempfile::tempdir()?;
    let list_home = options
        .home
        .clone()
        .unwrap_or_else(|| scratch.path().join("list"));
    std::fs::create_dir_all(&list_home)?;
    populate::repoint(&list_home, &fakes.front.url)?;
    let launch = |home: PathBuf| Launch {
        binary: options.binary.clone(),
        home,
        providers: fakes.providers(),
    };
    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let duration = Duration::from_secs(if options.quick { 2 } else { 5 });
    let sizes: &[usize] = if options.quick {
        &[0, 100, 1000]
    } else {
        &[0, 100, 1000, 10000]
    };

    let mut list = Vec::new();
    for &size in sizes {
        let written = populate::fill(&list_home, size, Status::Hibernate, &fakes.front.url)?;
        eprintln!(
            "list: {size} personas on disk ({} written in {:.1?})",
            written.0, written.1
        );
        let said = index_lines(&list_home);
        let daemon = launch(list_home.clone()).start()?;
        let first =
            first_answer(&client, &daemon.url, Duration::from_secs(30)).await? - daemon.spawned;
        // The load measures the steady state: the watch is set up beside boot.
        let watched = index_kept(&list_home, said, Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle_rss = daemon.rss()?;
        let url = format!("{}/api/personas", daemon.url);
        let ours = load::get(&url, options.connections, duration, Some(daemon.pid())).await?;
        let theirs = match &options.against {
            Some(other) => Some(
                load::get(
                    &format!("{}/api/personas", other.trim_end_matches('/')),
                    options.connections,
                    duration,
                    None,
                )
                .await?,
            ),
            None => None,
        };
        let rss_after = if Some(&size) == sizes.last() {
            tokio::time::sleep(Duration::from_secs(15)).await;
            Some(daemon.rss()?)
        } else {
            None
        };
        daemon.stop(Duration::from_secs(10));
        list.push(ListRow {
            personas: size,
            ours,
            theirs,
            first_answer: first,
            idle_rss,
            rss_after,
            watched,
            written,
        });
    }
    eprintln!("disk check: stat vs notify");
    let disk_check = micro::disk_check(&list_home, if options.quick { 5 } else { 20 })?;

    let start_home = scratch.path().join("start");
    let mut start = Vec::new();
    let empty = launch(scratch.path().join("empty")).start()?;
    let first = first_answer(&client, &empty.url, Duration::from_secs(30)).await? - empty.spawned;
    start.push(StartRow {
        active: 0,
        provider: "—".into(),
        first_answer: first,
        running: 0,
        waited: Duration::ZERO,
        rss: empty.rss()?,
    });
    empty.stop(Duration::from_secs(10));
    populate::fill(&start_home, 100, Status::Active, &fakes.front.url)?;
    let wait = Duration::from_secs(if options.quick { 5 } else { 10 });
    for behaviour in [
        Behaviour::Delay(Duration::ZERO),
        Behaviour::Delay(Duration::from_millis(40)),
        Behaviour::Silent,
    ] {
        eprintln!("start: 100 active, provider {}", behaviour.label());
        fakes.front.set(behaviour);
        let daemon = launch(start_home.clone()).start()?;
        let answered = first_answer(&client, &daemon.url, Duration::from_secs(30)).await?;
        let (running, waited) = wait_running(&client, &daemon, 100, wait).await?;
        start.push(StartRow {
            active: 100,
            provider: behaviour.label(),
            first_answer: answered - daemon.spawned,
            running,
            waited,
            rss: daemon.rss()?,
        });
        daemon.stop(Duration::from_secs(10));
        fakes.front.set(Behaviour::Delay(Duration::ZERO));
    }

    eprintln!("operations: create, sleep, message, identity over HTTP");
    let daemon = launch(start_home.clone()).start()?;
    first_answer(&client, &daemon.url, Duration::from_secs(30)).await?;
    wait_running(&client, &daemon, 100, wait).await?;
    let operations = operations(&client, &daemon, &fakes, &options).await?;
    daemon.stop(Duration::from_secs(10));

    eprintln!("in-process: identity process, diary sealing");
    let identity_cycles = micro::identity_cycles_per_second(Duration::from_secs(1));
    let diary = micro::diary_seal(if options.quick { 16 } else { 64 })?;
    Ok(Table {
        options,
        list,
        start,
        operations,
        identity_cycles,
        diary,
        disk_check,
        took: began.elapsed(),
    })
}

/// Polls the list until `want` personas are running or `limit` passes.
async fn wait_running(
    client: &reqwest::Client,
    daemon: &Daemon,
    want: usize,
    limit: Duration,
) -> anyhow::Result<(usize, Duration)> {
    let started = Instant::now();
    loop {
        let listed: Value = client
            .get(format!("{}/api/personas", daemon.url))
            .send()
            .await?
            .json()
            .await?;
        let running = listed["personas"]
            .as_array()
            .context("a persona list")?
            .iter()
            .filter(|p| p["running"] == true)
            .count();
        if running >= want || started.elapsed() > limit {
            return Ok((running, daemon.spawned.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> anyhow::Result<Value> {
    let r = client.post(url).json(body).send().await?;
    let status = r.status();
    let text = r.text().await?;
    if !status.is_success() {
        bail!("{url} answered {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn operations(
    client: &reqwest::Client,
    daemon: &Daemon,
    fakes: &Fakes,
    options: &Options,
) -> anyhow::Result<Operations> {
    let base = &daemon.url;
    let rounds = if options.quick { 3 } else { 7 };
    let (mut create, mut sleep, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..rounds {
        let t = Instant::now();
        let made = post(
            client,
            &format!("{base}/api/persona/create"),
            &json!({"name": format!("Created {n}"), "thinking_model": fakes::MODEL}),
        )
        .await?;
        create.push(t.elapsed());
        ids.push(
            made["persona"]["id"]
                .as_str()
                .context("her id")?
                .to_string(),
        );
    }
    for id in &ids {
        let t = Instant::now();
        post(
            client,
            &format!("{base}/api/persona/{id}/sleep"),
            &json!({}),
        )
        .await?;
        sleep.push(t.elapsed());
    }
    fakes.ollama.set_responder(testkit::responder(|_| {
        testkit::ScriptedReply::Json(json!({"decision": [{"say": "ok"}, {"done": null}]}))
    }));
    let mut message = Vec::new();
    let her = &ids[0];
    for i in 0..(if options.quick { 30 } else { 100 }) {
        let t = Instant::now();
        post(
            client,
            &format!("{base}/v1/chat/completions"),
            &json!({"model": her, "messages": [{"role": "user", "content": format!("note {i}")}]}),
        )
        .await?;
        if i >= 5 {
            message.push(t.elapsed());
        }
    }
    message.sort();
    let mut instances = Vec::new();
    for n in 0..options.connections {
        let made = post(
            client,
            &format!("{base}/instances"),
            &json!({"name": format!("bench {n}")}),
        )
        .await?;
        instances.push(
            made["data"]["id"]
                .as_str()
                .context("an instance id")?
                .to_string(),
        );
    }
    let identity_http = identity_load(base, &instances, Duration::from_secs(3)).await?;
    Ok(Operations {
        create,
        sleep,
        message,
        identity_http,
    })
}

/// One closed-loop client per instance, each observing its own instance (every answer is
/// durable: group commit with one fdatasync per batch).
async fn identity_load(
    base: &str,
    instances: &[String],
    duration: Duration,
) -> anyhow::Result<Load> {
    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
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
    let until = started + duration;
    let mut tasks = Vec::new();
    for (c, id) in instances.iter().enumerate() {
        let (client, url) = (client.clone(), format!("{base}/instances/{id}/process"));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut r = 0usize;
            while Instant::now() < until {
                let body = json!({"mode_target": modes[(c + r) % 7],
                                  "signal_strength": ((c * 31 + r * 17) % 100) as f64 / 100.0});
                let t = Instant::now();
                let resp = client.post(&url).json(&body).send().await?;
                if !resp.status().is_success() {
                    bail!("{url} answered {}", resp.status());
                }
                resp.bytes().await?;
                latencies.push(t.elapsed());
                r += 1;
            }
            Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort();
    Ok(Load {
        requests: all.len(),
        elapsed: started.elapsed(),
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
        body_bytes: 0,
        peak_rss: None,
    })
}
