//! The `eternego` command.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use daemon::{Config, Daemon};

#[derive(Parser)]
#[command(name = "eternego", version, about = "Keeps AI personas alive on your own machine.")]
struct Cli {
    /// Interface to bind (default: WEB_HOST, else 127.0.0.1).
    #[arg(long, global = true)]
    host: Option<String>,
    /// First port to try (default: WEB_PORT, else 5000); the next 19 are tried if it is taken.
    #[arg(long, global = true)]
    port: Option<u16>,
    /// More log output (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: serve the API and keep active personas alive.
    Daemon,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let Command::Daemon = cli.command;
    let mut config = Config::from_env().map_err(anyhow::Error::msg)?;
    if let Some(host) = cli.host {
        config.host = daemon::config::parse_host(&host).map_err(anyhow::Error::msg)?;
    }
    if let Some(port) = cli.port {
        config.port = port;
    }
    let listener = daemon::bind(&config).await?;
    let address = listener.local_addr().context("reading the bound address")?;
    let home = config.home.display().to_string();
    let daemon = Daemon::open(config)?;
    println!("Eternego is listening on http://{address} (data: {home})");
    daemon.launch(listener, shutdown_signal()).await?;
    println!("Eternego stopped.");
    Ok(())
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}
