//! The providers the daemon talks to during a run: testkit's fakes (real HTTP servers on
//! loopback speaking each provider's wire protocol) and, in front of the fake Ollama, a TCP
//! front whose behaviour can be switched while it runs: pass through, hold every request a
//! while (a slow provider), or accept and never answer (a provider that is down but whose
//! port is open, the worst case for a start that probes it).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::daemon::Providers;

/// The fake Mind every bench persona uses.
pub const MODEL: &str = "llama3.2:1b";
pub const OPENAI_KEY: &str = "sk-bench-openai-0123456789";
pub const OPENAI_MODEL: &str = "gpt-4o";
pub const ANTHROPIC_KEY: &str = "sk-ant-bench-0123456789";
pub const ANTHROPIC_MODEL: &str = "claude-sonnet-4-6";

/// What the front does with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Hands each request on after this long (zero: at once).
    Delay(Duration),
    /// Accepts the connection and never answers.
    Silent,
}

impl Behaviour {
    pub fn label(self) -> String {
        match self {
            Behaviour::Delay(d) if d.is_zero() => "answering".into(),
            Behaviour::Delay(d) => format!("answering in {} ms", d.as_millis()),
            Behaviour::Silent => "not answering".into(),
        }
    }
}

const SILENT: u64 = u64::MAX;

/// A switchable TCP front for one upstream.
#[derive(Clone)]
pub struct Front {
    pub url: String,
    behaviour: Arc<AtomicU64>,
}

impl Front {
    pub fn set(&self, behaviour: Behaviour) {
        let v = match behaviour {
            Behaviour::Delay(d) => d.as_millis() as u64,
            Behaviour::Silent => SILENT,
        };
        self.behaviour.store(v, Ordering::SeqCst);
    }
}

/// Starts a front for `upstream` (`http://host:port`), passing through at first.
pub async fn front(upstream: &str) -> anyhow::Result<Front> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let target = upstream.trim_start_matches("http://").to_string();
    let behaviour = Arc::new(AtomicU64::new(0));
    let mode = behaviour.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (target, mode) = (target.clone(), mode.clone());
            tokio::spawn(async move {
                let _ = relay(client, &target, &mode).await;
            });
        }
    });
    Ok(Front { url, behaviour })
}

async fn relay(client: TcpStream, target: &str, mode: &AtomicU64) -> std::io::Result<()> {
    let _ = client.set_nodelay(true);
    let (mut client_in, mut client_out) = client.into_split();
    if mode.load(Ordering::SeqCst) == SILENT {
        // Read and drop whatever comes until the caller gives up.
        let mut buf = [0u8; 4096];
        while client_in.read(&mut buf).await? > 0 {}
        return Ok(());
    }
    let server = TcpStream::connect(target).await?;
    let _ = server.set_nodelay(true);
    let (mut server_in, mut server_out) = server.into_split();
    let back = tokio::spawn(async move { tokio::io::copy(&mut server_in, &mut client_out).await });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = client_in.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        match mode.load(Ordering::SeqCst) {
            SILENT => {
                // Switched while connected: stop answering from here on.
                while client_in.read(&mut buf).await? > 0 {}
                break;
            }
            0 => {}
            ms => tokio::time::sleep(Duration::from_millis(ms)).await,
        }
        server_out.write_all(&buf[..n]).await?;
    }
    back.abort();
    Ok(())
}

/// Every fake a run needs; dropping it stops them.
pub struct Fakes {
    pub ollama: testkit::ollama::FakeOllama,
    pub openai: testkit::openai::FakeOpenAi,
    pub anthropic: testkit::anthropic::FakeAnthropic,
    /// In front of the fake Ollama; what the bench personas' records and the daemon point at.
    pub front: Front,
}

impl Fakes {
    pub async fn start() -> anyhow::Result<Fakes> {
        let ollama = testkit::ollama::start(&[MODEL]).await;
        let openai = testkit::openai::start(&[OPENAI_KEY], &[OPENAI_MODEL]).await;
        let anthropic = testkit::anthropic::start(&[ANTHROPIC_KEY], &[ANTHROPIC_MODEL]).await;
        let front = front(&ollama.url()).await?;
        Ok(Fakes {
            ollama,
            openai,
            anthropic,
            front,
        })
    }

    pub fn providers(&self) -> Providers {
        Providers {
            ollama: self.front.url.clone(),
            openai: self.openai.url(),
            anthropic: self.anthropic.url(),
        }
    }
}
