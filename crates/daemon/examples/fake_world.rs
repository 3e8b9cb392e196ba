//! A real daemon on 127.0.0.1 whose every outside service is a fake on loopback (testkit), for
//! tools that test the HTTP surface from outside: `bench/schemathesis.sh` runs schemathesis
//! against it. Its data root is a fresh temporary folder, removed when it stops.
//!
//! `cargo run -p daemon --example fake_world` prints `listening on http://127.0.0.1:PORT` once it
//! serves, then runs until its standard input closes or it gets SIGINT.

use std::net::IpAddr;
use std::time::Duration;

use tokio::io::AsyncReadExt;

const KEY: &str = "sk-fake-world-0123456789";
const TELEGRAM: &str = "123456:fake-world-telegram";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let home = tempfile::tempdir()?;
    let ollama = testkit::ollama::start(&["llama3.2:1b"]).await;
    let openai = testkit::openai::start(&[KEY], &["gpt-5.4", "gpt-4o"]).await;
    let xai = testkit::openai::start_xai(&[KEY], &["grok-4"]).await;
    let anthropic = testkit::anthropic::start(&[KEY], &["claude-sonnet-4-6"]).await;
    let gemini = testkit::gemini::start(&[KEY], &["gemini-2.5-pro"]).await;
    let telegram = testkit::telegram::start(&[TELEGRAM]).await;
    let discord = testkit::discord::start(&[KEY]).await;
    let hugging_face = testkit::huggingface::start().await;
    let config = daemon::Config {
        host: IpAddr::from([127, 0, 0, 1]),
        port: std::env::var("WEB_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0),
        home: home.path().to_path_buf(),
        providers: organs::Endpoints {
            local: ollama.url(),
            anthropic: anthropic.url(),
            openai: openai.url(),
            xai: xai.url(),
            gemini: gemini.url(),
        },
        platforms: channels::PlatformUrls {
            telegram: telegram.url(),
            discord: discord.url(),
        },
        identity_min_interval: Duration::ZERO,
        upload_limit: 8 * 1024 * 1024,
        allowed_hosts: vec![],
        system_keyring: false,
        chat_timeout: Duration::from_secs(30),
        hugging_face: hugging_face.url(),
        require_token: false,
        model_idle: daemon::config::DEFAULT_MODEL_IDLE,
    };
    let listener = daemon::bind(&config).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let daemon = daemon::Daemon::open(config)?;
    daemon
        .launch(listener, async {
            let mut sink = [0u8; 64];
            let mut stdin = tokio::io::stdin();
            tokio::select! {
                _ = async { while stdin.read(&mut sink).await.is_ok_and(|n| n > 0) {} } => {},
                _ = tokio::signal::ctrl_c() => {},
            }
        })
        .await?;
    Ok(())
}
