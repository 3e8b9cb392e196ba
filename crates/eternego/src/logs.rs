//! `eternego logs`: the daemon's log files, oldest line first, optionally only one persona's
//! lines, optionally following the file as it grows (and across a roll).

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::home::Globals;
use crate::logging::{self, KEEP, LOG_FILE};
use crate::say;

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
    let mut lines: Vec<String> = Vec::new();
    for file in files(dir) {
        let text = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        lines.extend(
            String::from_utf8_lossy(&text)
                .lines()
                .filter(|l| keep(l))
                .map(str::to_string),
        );
    }
    if lines.is_empty() && !args.follow && !dir.join(LOG_FILE).exists() {
        say(&format!(
            "No logs yet in {} (the daemon writes them there once it runs).",
            dir.display()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let skip = if args.lines == 0 {
        0
    } else {
        lines.len().saturating_sub(args.lines)
    };
    for line in &lines[skip..] {
        say(line);
    }
    if args.follow {
        follow(&dir.join(LOG_FILE), &keep).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The rolled files, oldest first, then the current one.
fn files(dir: &Path) -> Vec<PathBuf> {
    let current = dir.join(LOG_FILE);
    let rolled = (1..=KEEP)
        .rev()
        .map(|n| dir.join(format!("{LOG_FILE}.{n}")));
    rolled
        .chain(std::iter::once(current))
        .filter(|p| p.is_file())
        .collect()
}

/// Prints lines appended to `path` until Ctrl-C. When the file is rolled (it becomes shorter
/// than what was read), reading starts again at the new file's beginning.
async fn follow(path: &Path, keep: &impl Fn(&str) -> bool) -> anyhow::Result<()> {
    let mut offset = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut partial = String::new();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
        }
        let Ok(mut file) = std::fs::File::open(path) else {
            continue;
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < offset {
            offset = 0;
            partial.clear();
        }
        if len == offset {
            continue;
        }
        file.seek(SeekFrom::Start(offset))?;
        let mut chunk = Vec::new();
        file.take(len - offset).read_to_end(&mut chunk)?;
        offset = len;
        partial.push_str(&String::from_utf8_lossy(&chunk));
        // Only whole lines are printed; a line still being written waits for its end.
        while let Some(end) = partial.find('\n') {
            let line: String = partial.drain(..=end).collect();
            let text = line.trim_end_matches(['\n', '\r']);
            if keep(text) {
                say(text);
            }
        }
    }
}
