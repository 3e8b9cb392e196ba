//! `eternego uninstall`: removes the service; `--purge` also removes every persona, her diaries
//! and her secrets, after asking (or `--yes`). The binary itself is the package manager's or
//! cargo's to remove.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::Context;

use crate::home::{Globals, Running};
use crate::{say, service};

#[derive(clap::Args)]
pub struct Args {
    /// Also delete ETERNEGO_HOME: every persona, her diaries, her secrets, the logs.
    #[arg(long)]
    pub purge: bool,
    /// Do not ask (for scripts).
    #[arg(long, short)]
    pub yes: bool,
}

pub async fn run(globals: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let config = globals.config()?;
    service::remove()?;
    let home = &config.home;
    let diaries = home.join("diary");
    if !args.purge {
        say(&format!(
            "Her data stays in {}; her diaries are in {}.",
            home.display(),
            diaries.display()
        ));
        say("Run `eternego uninstall --purge` to delete it too.");
        return Ok(ExitCode::SUCCESS);
    }
    if !home.exists() {
        say(&format!(
            "Nothing to purge: {} does not exist.",
            home.display()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(running) = Running::read(home) {
        anyhow::bail!(
            "the daemon is still running (pid {}, {}); stop it first (`eternego service stop`, or Ctrl-C where it runs)",
            running.pid,
            running.url
        );
    }
    let count = std::fs::read_dir(home.join("personas"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| uuid::Uuid::parse_str(&e.file_name().to_string_lossy()).is_ok())
                .count()
        })
        .unwrap_or(0);
    say(&format!(
        "This deletes {} with {count} persona(s), their memories, secrets and logs.",
        home.display()
    ));
    say(&format!(
        "Her diaries are in {}: copy them elsewhere first if you may want her back.",
        diaries.display()
    ));
    if !args.yes && !confirm()? {
        say("Nothing deleted.");
        return Ok(ExitCode::FAILURE);
    }
    std::fs::remove_dir_all(home).with_context(|| format!("deleting {}", home.display()))?;
    say(&format!("Deleted {}.", home.display()));
    Ok(ExitCode::SUCCESS)
}

/// Asks on the terminal; only a typed "yes" deletes.
fn confirm() -> anyhow::Result<bool> {
    print!("Type 'yes' to delete everything: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}
