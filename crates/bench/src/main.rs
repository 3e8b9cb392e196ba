//! `bench table`: issue 14's benchmark table; `bench crash`: kill -9 trials and the invariants a
//! restart must find (issue 9). Both drive a real `eternego daemon` process on loopback with
//! fake providers, are bounded, and stop by themselves. `bench/run` is the one command.

mod crash;
mod daemon;
mod fakes;
mod invariants;
mod load;
mod micro;
mod populate;
mod report;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Benchmarks and the crash harness for eternego (loopback only, bounded)")]
struct Cli {
    /// The `eternego` binary to run; default: the one beside this binary.
    #[arg(long, global = true)]
    eternego: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the benchmark table and write it to `<out>/<date>.md`.
    Table {
        /// A bounded run: 0/100/1,000 personas, 2 s per load.
        #[arg(long)]
        quick: bool,
        /// Also measure this daemon's `GET /api/personas` on the same data (needs --home, the
        /// folder that daemon serves).
        #[arg(long)]
        against: Option<String>,
        /// Data root to fill with the list's personas (default: a temporary folder).
        #[arg(long)]
        home: Option<PathBuf>,
        /// Keep-alive connections of the list load.
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// Folder the table is written to.
        #[arg(long, default_value = "bench/results")]
        out: PathBuf,
    },
    /// Only the index's disk check, stat vs notify, on this many hibernating personas.
    DiskCheck {
        #[arg(long, default_value_t = 10000)]
        personas: usize,
    },
    /// Kill the daemon with SIGKILL at random points of create, update, sleep, migrate, delete
    /// and identity bursts; after each restart check every invariant. Exits non-zero on any
    /// violation.
    Crash {
        #[arg(long, default_value_t = 30)]
        trials: usize,
        /// Seed of the random choices (operations and kill times); printed when not given.
        #[arg(long)]
        seed: Option<u64>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let binary = match cli.eternego {
        Some(b) => b,
        None => daemon::sibling_binary()?,
    };
    match cli.command {
        Command::Table {
            quick,
            against,
            home,
            connections,
            out,
        } => {
            if against.is_some() && home.is_none() {
                bail!("--against needs --home: the folder both daemons serve");
            }
            let command = std::env::args().collect::<Vec<_>>().join(" ");
            let table = table::run(table::Options {
                binary,
                home,
                against,
                quick,
                connections,
            })
            .await?;
            let text = report::render(&table, &command);
            println!("{text}");
            std::fs::create_dir_all(&out)?;
            let now = time::OffsetDateTime::now_utc();
            let path = out.join(format!(
                "{}-{:02}-{:02}{}.md",
                now.year(),
                u8::from(now.month()),
                now.day(),
                if quick { "-quick" } else { "" }
            ));
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("written to {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::DiskCheck { personas } => {
            let root = tempfile::tempdir()?;
            let written = populate::fill(
                root.path(),
                personas,
                persona::Status::Hibernate,
                "http://127.0.0.1:9",
            )?;
            eprintln!("{} personas written in {:.1?}", written.0, written.1);
            println!("{:#?}", micro::disk_check(root.path(), 10)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Crash { trials, seed } => {
            let seed = seed.unwrap_or_else(rand::random);
            let summary = crash::run(&binary, trials, seed).await?;
            println!("{summary}");
            Ok(if summary.clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
