//! Peak memory (VmHWM) of a daemon receiving one large `attach` (issue 9, finding 9).
//!
//! `cargo run --release -p daemon --example upload_rss -- [MiB] [file name]` (default 255 MiB,
//! `notes.txt`): starts a daemon on loopback with a local-Mind persona talking to a fake Ollama,
//! writes a file of that size, sends it with `curl -F` (a separate process, so its memory is
//! not counted), waits for her to perceive it, and prints this process's VmHWM before and after.
//! Linux only (reads `/proc/self/status`); needs `curl` on `PATH`.

use std::net::IpAddr;
use std::time::Duration;

use daemon::{Config, Daemon};

/// Peak resident set size of this process so far, in kB.
fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status (Linux)")
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line")
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().map_or(255, |a| a.parse().expect("MiB"));
    let file_name = args.next().unwrap_or_else(|| "notes.txt".into());
    let ollama = testkit::ollama::start(&["llama3.2:1b"]).await;
    let home = tempfile::tempdir().expect("temp dir");
    let nowhere = "http://127.0.0.1:9".to_string();
    let config = Config {
        host: IpAddr::from([127, 0, 0, 1]),
        port: 0,
        home: home.path().join("data"),
        providers: organs::Endpoints {
            local: ollama.url(),
            anthropic: nowhere.clone(),
            openai: nowhere.clone(),
            xai: nowhere.clone(),
            gemini: nowhere.clone(),
        },
        platforms: channels::PlatformUrls {
            telegram: nowhere.clone(),
            discord: nowhere.clone(),
        },
        identity_min_interval: Duration::ZERO,
        upload_limit: daemon::config::DEFAULT_UPLOAD_LIMIT,
        allowed_hosts: vec![],
        system_keyring: false,
        chat_timeout: daemon::config::DEFAULT_CHAT_TIMEOUT,
        hugging_face: nowhere,
        require_token: false,
        model_idle: daemon::config::DEFAULT_MODEL_IDLE,
    };
    let listener = daemon::bind(&config).await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let daemon = Daemon::open(config).expect("open daemon");
    tokio::spawn(daemon.launch(listener, std::future::pending()));

    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(format!("{url}/api/persona/create"))
        .json(&serde_json::json!({"name": "Adam", "thinking_model": "llama3.2:1b"}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("create reply");
    let id = created["persona"]["id"]
        .as_str()
        .expect("an id")
        .to_string();

    let path = home.path().join(&file_name);
    {
        use std::io::Write;
        let line = b"all work and no play makes a dull day\n";
        let chunk: Vec<u8> = line.iter().copied().cycle().take(1 << 20).collect();
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("file"));
        for _ in 0..mib {
            file.write_all(&chunk).expect("write");
        }
    }
    let before = vm_hwm_kb();
    let attach = format!("{url}/api/persona/{id}/attach");
    let form = format!("file=@{}", path.display());
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-F",
                &form,
                &attach,
            ])
            .output()
            .expect("curl")
    })
    .await
    .expect("curl ran");
    let code = String::from_utf8_lossy(&status.stdout).to_string();
    // She perceives the file in her next beat; wait until her conversation shows it.
    for _ in 0..600 {
        let conversation: serde_json::Value = client
            .get(format!("{url}/api/persona/{id}/conversation"))
            .send()
            .await
            .expect("conversation")
            .json()
            .await
            .expect("conversation reply");
        if conversation.to_string().contains(&file_name) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = vm_hwm_kb();
    println!("attach of {mib} MiB ({file_name}): HTTP {code}");
    println!("VmHWM before the upload: {} MB", before / 1000);
    println!("VmHWM after the upload and her beat: {} MB", after / 1000);
}
