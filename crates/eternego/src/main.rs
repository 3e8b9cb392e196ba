//! The `eternego` command: one module per subcommand, each with its own `Args` and `run`.
//! Adding a subcommand is a variant in [`Command`] plus a `mod` line and its match arm.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod client;
mod completions;
mod daemon;
mod doctor;
mod home;
mod launch;
mod logging;
mod logs;
mod model;
mod personas;
mod service;
mod talk;
mod token;
mod uninstall;

/// `--version` shows the commit the binary was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("ETERNEGO_COMMIT"),
    ")"
);

#[derive(Parser)]
#[command(name = "eternego", version = VERSION, about = "Keeps AI personas alive on your own machine.")]
pub struct Cli {
    #[command(flatten)]
    globals: home::Globals,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: serve the API and the dashboard, keep active personas alive.
    Daemon(daemon::Args),
    /// Start the daemon and open the dashboard in the browser.
    Launch(launch::Args),
    /// Install and control the daemon as a user service (systemd on Linux, launchd on macOS).
    Service(service::Args),
    /// Check that this machine can keep her alive; prints each check with its fix.
    Doctor(doctor::Args),
    /// List the personas of the running daemon.
    Personas,
    /// Talk with her from the terminal.
    Talk(talk::Args),
    /// Access tokens for a daemon bound beyond loopback: create, list, revoke.
    Token(token::Args),
    /// Print the daemon's logs.
    Logs(logs::Args),
    /// Her local models: add a GGUF file, list, remove, or pull one from Hugging Face.
    Model(model::Args),
    /// Print a shell completion script (bash, zsh, fish) or the man page.
    Completions(completions::Args),
    /// Remove the service; with --purge also every persona and her data.
    Uninstall(uninstall::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let serves = matches!(cli.command, Command::Daemon(_) | Command::Launch(_));
    if !serves {
        logging::to_console(cli.globals.verbose);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.globals;
    match cli.command {
        Command::Daemon(args) => daemon::run(g, args).await,
        Command::Launch(args) => launch::run(g, args).await,
        Command::Service(args) => service::run(g, args).await,
        Command::Doctor(args) => doctor::run(g, args).await,
        Command::Personas => personas::run(g).await,
        Command::Talk(args) => talk::run(g, args).await,
        Command::Logs(args) => logs::run(g, args).await,
        Command::Token(args) => token::run(g, args).await,
        Command::Model(args) => model::run(g, args).await,
        Command::Completions(args) => completions::run(args),
        Command::Uninstall(args) => uninstall::run(g, args).await,
    }
}

/// Prints a line. A closed stdout (the person piped us into `head`) must not turn a clean stop
/// into a panic.
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Text from elsewhere (her words, a persona's name, a log line) made safe for a terminal:
/// control characters, above all ESC, which starts sequences that can move the cursor, retitle
/// the window or rewrite what was printed before, are shown as `\u{..}` escapes. Newlines and
/// tabs stay.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks the whole definition (unique names, valid defaults) only when asked.
    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn terminal_control_sequences_are_shown_not_obeyed() {
        assert_eq!(super::printable("plain\nand\ttabs"), "plain\nand\ttabs");
        assert_eq!(
            super::printable("\u{1b}]0;owned\u{7}hi\r"),
            "\\u{1b}]0;owned\\u{7}hi\\u{d}"
        );
    }
}
