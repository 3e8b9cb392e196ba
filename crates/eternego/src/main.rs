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
    let shutdown = shutdown_signal()?;
    let listener = daemon::bind(&config).await?;
    let address = listener.local_addr().context("reading the bound address")?;
    let home = config.home.display().to_string();
    let daemon = Daemon::open(config)?;
    say(&format!("Eternego is listening on http://{address} (data: {home})"));
    daemon.launch(listener, shutdown).await?;
    say("Eternego stopped.");
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

/// Installs the SIGINT/SIGTERM handlers now (so a signal that arrives while personas are still
/// booting is not lost to the default action) and resolves when one arrives.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut terminate = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Prints a status line. A closed stdout (the person piped us into `head`) must not turn a
/// clean stop into a panic.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}
