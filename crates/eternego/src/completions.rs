//! `eternego completions SHELL`: completion scripts and the man page, generated from the same
//! clap definitions the command parses with, so they never drift from it.

use std::process::ExitCode;

use clap::CommandFactory;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Target {
    Bash,
    Zsh,
    Fish,
    /// The man page (roff), e.g. `eternego completions man > ~/.local/share/man/man1/eternego.1`.
    Man,
}

#[derive(clap::Args)]
pub struct Args {
    /// What to print.
    #[arg(value_enum)]
    pub target: Target,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut command = crate::Cli::command();
    let mut out = std::io::stdout();
    let shell = match args.target {
        Target::Bash => clap_complete::Shell::Bash,
        Target::Zsh => clap_complete::Shell::Zsh,
        Target::Fish => clap_complete::Shell::Fish,
        Target::Man => {
            clap_mangen::Man::new(command).render(&mut out)?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    clap_complete::generate(shell, &mut command, "eternego", &mut out);
    Ok(ExitCode::SUCCESS)
}
