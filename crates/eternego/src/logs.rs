//! `eternego logs`: the daemon's log files, oldest line first, optionally only one persona's
//! lines, optionally following the file as it grows (and across a roll).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::home::Globals;
use crate::logging::{self, KEEP, LOG_FILE};
use crate::{printable, say};

/// How often `-f` looks for new lines. A person watching a log does not notice a quarter second.
const FOLLOW_POLL: Duration = Duration::from_millis(250);

#[derive(clap::Args)]
pub struct Args {
    /// Only the lines about this persona (her id).
    #[arg(long)]
    pub persona: Option<String>,
    /// Keep printing new lines as they are written (Ctrl-C stops).
    #[arg(short, long)]
    pub follow: bool,
    /// Print at most this many lines before following (0: all).
    #[arg(short = 'n', long, default_value_t = 200)]
    pub lines: usize,
}

pub async fn run(globals: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let dir = logging::dir(&globals.config()?.home);
    print_logs(&dir, &args).await
}

/// Shared with `service logs`.
pub async fn print_logs(dir: &Path, args: &Args) -> anyhow::Result<ExitCode> {
    let keep = |line: &str| args.persona.as_deref().is_none_or(|id| line.contains(id));
    let current = dir.join(LOG_FILE);
    // The current file is opened once: what is printed now and what `-f` prints next come from
    // the same handle, so no line between the two is lost or shown twice.
    let mut handle = File::open(&current).ok();
    let mut text = String::new();
    for file in rolled(dir) {
        let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    let mut partial = String::new();
    if let Some(file) = handle.as_mut() {
        read_new(file, &mut partial)?;
        // A last line still being written is kept for `-f` to finish.
        let whole = partial.rfind('\n').map_or(0, |end| end + 1);
        text.push_str(&partial[..whole]);
        partial.drain(..whole);
    }
    if text.is_empty() && !args.follow && handle.is_none() {
        say(&format!(
            "No logs yet in {} (the daemon writes them there once it runs).",
            dir.display()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let lines: Vec<&str> = text.lines().filter(|l| keep(l)).collect();
    let skip = if args.lines == 0 {
        0
    } else {
        lines.len().saturating_sub(args.lines)
    };
    for line in &lines[skip..] {
        say(&printable(line));
    }
    if args.follow {
        follow(&current, handle, partial, &keep).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The rolled files, oldest first.
fn rolled(dir: &Path) -> Vec<PathBuf> {
    (1..=KEEP)
        .rev()
        .map(|n| rolled_name(&dir.join(LOG_FILE), n))
        .filter(|p| p.is_file())
        .collect()
}

/// Appends what was written to `file` since the last read.
fn read_new(file: &mut File, into: &mut String) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    into.push_str(&String::from_utf8_lossy(&bytes));
    Ok(())
}

/// Whether two metadata describe the same file. Rolling renames the file away and creates a
/// new one under the same name, so the name alone does not say.
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (a.dev(), a.ino()) == (b.dev(), b.ino())
    }
    #[cfg(not(unix))]
    {
        a.len() >= b.len()
    }
}

fn is_file(path: &Path, handle: &File) -> bool {
    matches!((std::fs::metadata(path), handle.metadata()), (Ok(a), Ok(b)) if same_file(&a, &b))
}

/// Prints the whole lines in `partial` that `keep` accepts, leaving an unfinished last line.
fn emit(partial: &mut String, keep: &impl Fn(&str) -> bool) {
    while let Some(end) = partial.find('\n') {
        let line: String = partial.drain(..=end).collect();
        let text = line.trim_end_matches(['\n', '\r']);
        if keep(text) {
            say(&printable(text));
        }
    }
}

/// Prints lines appended to the log until Ctrl-C. When the file is rolled, the rest of the old
/// file is read through the open handle, then any file rolled after it (several rolls may pass
/// between two looks), then the new file from its start.
async fn follow(
    path: &Path,
    mut handle: Option<File>,
    mut partial: String,
    keep: &impl Fn(&str) -> bool,
) -> anyhow::Result<()> {
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
        }
        loop {
            let Some(file) = handle.as_mut() else {
                handle = File::open(path).ok();
                if handle.is_none() {
                    break;
                }
                continue;
            };
            read_new(file, &mut partial)?;
            emit(&mut partial, keep);
            if is_file(path, file) {
                break;
            }
            let was = (1..=KEEP).find(|n| is_file(&rolled_name(path, *n), file));
            for n in (1..was.unwrap_or(1)).rev() {
                let mut text = std::fs::read(rolled_name(path, n))
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                emit(&mut text, keep);
            }
            partial.clear();
            handle = None;
        }
    }
}

/// `eternego.log.N`.
fn rolled_name(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}
