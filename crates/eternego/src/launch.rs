//! `eternego launch`: the daemon, plus the dashboard opened in the person's browser.

use std::process::{Command, ExitCode, Stdio};

use crate::daemon;
use crate::home::Globals;
use crate::say;

#[derive(clap::Args)]
pub struct Args {
    /// Only print the dashboard's URL; do not open a browser (a server, a script).
    #[arg(long)]
    pub no_browser: bool,
    #[command(flatten)]
    pub daemon: daemon::Args,
}

pub async fn run(globals: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let no_browser = args.no_browser;
    daemon::serve(globals, &args.daemon, true, |url| {
        if !no_browser {
            open(url);
        }
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// The system's "open this URL" command.
fn opener() -> &'static str {
    if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    }
}

/// Opens `url` in the default browser without waiting for it. A machine without a browser
/// (a server over SSH) is told where to go instead of failing the daemon.
fn open(url: &str) {
    let spawned = Command::new(opener())
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(mut child) => {
            // Reap it in the background so it never lingers as a zombie.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
        }
        Err(e) => say(&format!(
            "Could not open a browser ({e}); open {url} yourself."
        )),
    }
}
