//! `eternego model add|list|rm|pull`: her local models in `ETERNEGO_HOME/models/`. These work on
//! the files directly, daemon or no daemon; the manifest's lock keeps a running daemon's pulls
//! and these commands from losing each other's changes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use models::Library;
use models::hf::{Puller, Status};

use crate::home::Globals;
use crate::{printable, say};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Copy a GGUF file into her models (its header is checked first).
    Add {
        /// The .gguf file.
        file: PathBuf,
        /// The name personas use for it (default: the file name, lower case, without .gguf).
        #[arg(long)]
        name: Option<String>,
    },
    /// List her models.
    List,
    /// Remove a model and its file.
    Rm {
        /// The model's name.
        name: String,
    },
    /// Download a GGUF model from Hugging Face: hf.co/OWNER/REPO[:QUANT] (HF_ENDPOINT, HF_TOKEN).
    Pull {
        /// hf.co/OWNER/REPO or hf.co/OWNER/REPO:QUANT (default quantisation Q4_K_M).
        reference: String,
        /// The name personas use for it (default: the repository's name without -GGUF).
        #[arg(long)]
        name: Option<String>,
    },
}

pub async fn run(globals: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let home = globals.config()?.home;
    match args.command {
        Command::Add { file, name } => {
            let name = match name {
                Some(n) => n,
                None => models::default_name(
                    &file
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                ),
            };
            let entry =
                tokio::task::spawn_blocking(move || Library::open(&home)?.add(&file, &name))
                    .await??;
            say(&format!(
                "Added {} ({}, context {}).",
                printable(&entry.name),
                size(entry.size),
                context(entry.context_length)
            ));
        }
        Command::List => {
            let lib = tokio::task::spawn_blocking(move || Library::open(&home)).await??;
            let all = lib.list();
            if all.is_empty() {
                say(
                    "No models yet. Add one with `eternego model add FILE.gguf` or `eternego model pull hf.co/OWNER/REPO`.",
                );
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<[String; 4]> = all
                .iter()
                .map(|m| {
                    [
                        printable(&m.name).into_owned(),
                        size(m.size),
                        context(m.context_length),
                        printable(m.origin.as_deref().unwrap_or("-")).into_owned(),
                    ]
                })
                .collect();
            for line in crate::personas::table(&["NAME", "SIZE", "CONTEXT", "FROM"], &rows) {
                say(&line);
            }
        }
        Command::Rm { name } => {
            let entry =
                tokio::task::spawn_blocking(move || Library::open(&home)?.remove(&name)).await??;
            say(&format!("Removed {}.", printable(&entry.name)));
        }
        Command::Pull { reference, name } => {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg:12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .context("progress bar template")?
                .progress_chars("=> "),
            );
            bar.set_message("downloading");
            let entry = Puller::from_env()
                .pull(&home, &reference, name.as_deref(), |p| {
                    if let Some(total) = p.total {
                        bar.set_length(total);
                    }
                    bar.set_position(p.completed);
                    match p.status {
                        Status::Verifying => bar.set_message("verifying"),
                        Status::Done => bar.finish_with_message("done"),
                        Status::Failed => bar.abandon_with_message("failed"),
                        Status::Downloading => {}
                    }
                })
                .await?;
            say(&format!(
                "Pulled {} as {} ({}, context {}).",
                printable(&reference),
                printable(&entry.name),
                size(entry.size),
                context(entry.context_length)
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Bytes in the largest unit that keeps a whole number in front.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn context(tokens: Option<u64>) -> String {
    tokens.map_or_else(|| "unknown".into(), |t| t.to_string())
}
