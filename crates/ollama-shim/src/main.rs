//! `ollama-shim`: serves the Ollama API in front of an OpenAI-compatible llama.cpp server.
//!
//!     ollama-shim --upstream http://127.0.0.1:8080 [--upstream-model NAME] [--api-key KEY]
//!                 [--listen 127.0.0.1:11434] [--store DIR] [--registry DIR]
//!     ollama-shim --with-llm [--listen 127.0.0.1:11434] [--store DIR]
//!
//! `--with-llm` starts the server installed by `bench/real-backends/setup.sh` itself and offers
//! its SmolLM2-135M as `smollm2:135m` to pull, so `OLLAMA_BASE_URL=http://127.0.0.1:11434`
//! gives the daemon a real local engine.

use std::path::PathBuf;

use ollama_shim::backend::{Backend, MODEL};
use ollama_shim::{Settings, models};

struct Args {
    upstream: Option<String>,
    upstream_model: String,
    api_key: Option<String>,
    listen: String,
    store: PathBuf,
    registry: Option<PathBuf>,
    with_llm: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        upstream: None,
        upstream_model: MODEL.into(),
        api_key: None,
        listen: "127.0.0.1:11434".into(),
        store: std::env::temp_dir().join("ollama-shim"),
        registry: None,
        with_llm: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--with-llm" {
            args.with_llm = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--upstream" => args.upstream = Some(value),
            "--upstream-model" => args.upstream_model = value,
            "--api-key" => args.api_key = Some(value),
            "--listen" => args.listen = value,
            "--store" => args.store = value.into(),
            "--registry" => args.registry = Some(value.into()),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if args.upstream.is_none() && !args.with_llm {
        return Err("give --upstream URL or --with-llm".into());
    }
    Ok(args)
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("ollama-shim: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let args = parse()?;
    std::fs::create_dir_all(&args.store)
        .map_err(|e| format!("cannot create {}: {e}", args.store.display()))?;
    let registry = args
        .registry
        .clone()
        .unwrap_or_else(|| args.store.join("registry"));
    let mut _server = None;
    let upstream = match args.upstream {
        Some(u) => u,
        None => {
            let backend = Backend::find()?;
            models::offer(&registry, MODEL, &backend.model)
                .map_err(|e| format!("cannot offer the model: {e}"))?;
            let server = backend.serve(&[], &args.store.join("llama-server.log"))?;
            let url = server.url.clone();
            _server = Some(server);
            url
        }
    };
    let settings = Settings {
        upstream,
        upstream_model: args.upstream_model,
        upstream_key: args.api_key,
        store: args.store,
        registry,
    };
    let app = ollama_shim::router(settings).map_err(|e| format!("cannot open the store: {e}"))?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    println!(
        "ollama-shim listening on http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}
