//! `eternego daemon`: serve the API and the dashboard until SIGINT/SIGTERM.

use std::process::ExitCode;

use anyhow::Context;

use crate::home::{self, Globals, Running};
use crate::logging::{self, LogFormat};
use crate::say;

#[derive(clap::Args)]
// `launch` flattens these in beside its own `Args`: the group needs a name of its own.
#[group(id = "daemon_options")]
pub struct Args {
    /// How lines are written to ETERNEGO_HOME/logs/.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

pub async fn run(globals: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    // A service's or a redirected stdout ends up in a file: the one-time link must not.
    let link = std::io::stdout().is_terminal();
    serve(globals, &args, link, |_| {}).await?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the daemon; `ready` is called with the dashboard's URL once it is listening. On a daemon
/// exposed beyond loopback that URL carries a one-time key in its fragment when `link` is set
/// (an interactive terminal, or `launch`); it is printed, never logged.
pub async fn serve(
    globals: &Globals,
    args: &Args,
    link: bool,
    ready: impl FnOnce(&str),
) -> anyhow::Result<()> {
    let config = globals.config()?;
    home::secure(&config.home)?;
    logging::to_files(&config.home, args.log_format, globals.verbose)?;
    let shutdown = shutdown_signal()?;
    let listener = daemon::bind(&config).await?;
    let address = listener.local_addr().context("reading the bound address")?;
    let data = config.home.clone();
    let daemon = daemon::Daemon::open(config)?;
    let mut dashboard = format!("{}/", home::base_url(address.ip(), address.port()));
    // Written before the lines below, so whoever reads them finds the daemon already.
    let running = Running::write(&data, dashboard.trim_end_matches('/'))?;
    say(&format!(
        "Eternego is listening on http://{address} (data: {})",
        data.display()
    ));
    match &daemon.access {
        Some(access) if link => dashboard = format!("{dashboard}#token={}", access.mint_link()),
        Some(_) => say("Access tokens are required on this address (`eternego token create`)."),
        None => {}
    }
    say(&format!("Dashboard: {dashboard}"));
    tracing::info!(%address, "listening");
    ready(&dashboard);
    daemon.launch(listener, shutdown).await?;
    drop(running);
    tracing::info!("stopped");
    say("Eternego stopped.");
    Ok(())
}

/// Installs the SIGINT/SIGTERM handlers now (so a signal that arrives while personas are still
/// booting is not lost to the default action) and resolves when one arrives.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
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
