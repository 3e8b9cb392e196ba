//! Where log lines go. The daemon writes them to `ETERNEGO_HOME/logs/eternego.log`, rolled
//! when the day changes or the file reaches its size cap, whichever comes first, keeping the
//! last [`KEEP`] rolled files (`eternego.log.1` is the newest). The console shows only what
//! `-v` asks for; every other command logs to the console alone.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use rolling_file::{BasicRollingFileAppender, RollingConditionBasic};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The current log file's name inside `ETERNEGO_HOME/logs/`.
pub const LOG_FILE: &str = "eternego.log";
/// Rolled files kept: with the default cap, at most about 110 MB of logs in all.
pub const KEEP: usize = 10;
/// A file is rolled when it reaches this size, even within one day: a persona stuck in a loop
/// must not fill the disk. `ETERNEGO_LOG_MAX_BYTES` changes it.
const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// What reaches the file when RUST_LOG does not say: requests, beats, lifecycle.
const FILE_LEVEL: &str = "info";

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per line, for log shippers and scripts.
    Json,
}

pub fn dir(home: &Path) -> PathBuf {
    home.join("logs")
}

fn console_filter(verbose: u8) -> EnvFilter {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default))
}

pub fn to_console(verbose: u8) {
    tracing_subscriber::fmt()
        .with_env_filter(console_filter(verbose))
        .with_writer(std::io::stderr)
        .init();
}

/// The daemon's logging: rolling files below `home` plus the console.
pub fn to_files(home: &Path, format: LogFormat, verbose: u8) -> anyhow::Result<()> {
    let dir = dir(home);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let max_bytes = match std::env::var("ETERNEGO_LOG_MAX_BYTES") {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|_| {
            anyhow::anyhow!("ETERNEGO_LOG_MAX_BYTES must be a number of bytes, got '{v}'")
        })?,
        _ => DEFAULT_MAX_BYTES,
    };
    let condition = RollingConditionBasic::new().daily().max_size(max_bytes);
    // No write buffer: a line is on disk as soon as it is logged, so `eternego logs -f` and a
    // crash both see everything.
    let appender =
        BasicRollingFileAppender::new_with_buffer_capacity(dir.join(LOG_FILE), condition, KEEP, 0)
            .with_context(|| format!("opening {}", dir.join(LOG_FILE).display()))?;
    let file_filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(FILE_LEVEL));
    let file = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(Mutex::new(appender));
    let file = match format {
        LogFormat::Text => file.with_filter(file_filter).boxed(),
        LogFormat::Json => file.json().with_filter(file_filter).boxed(),
    };
    let console = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(console_filter(verbose));
    tracing_subscriber::registry()
        .with(file)
        .with(console)
        .init();
    Ok(())
}
