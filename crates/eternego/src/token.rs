//! `eternego token`: the access tokens a daemon bound beyond loopback asks of every client.
//! Works on `ETERNEGO_HOME/access.json` directly, so it needs no running daemon; a running one
//! notices the change at its next request.

use std::process::ExitCode;

use clap::Subcommand;

use crate::home::{self, Globals};
use crate::{printable, say};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Make a token. It is shown once, here; only its hash is kept.
    Create {
        /// What the token is for (a laptop, a script), shown by `list`.
        #[arg(long, default_value = "token")]
        name: String,
    },
    /// The tokens: id, name and when each was made (never the tokens themselves).
    List,
    /// Remove a token by its id; a running daemon refuses it from its next request on.
    Revoke { id: String },
}

pub async fn run(globals: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let config = globals.config()?;
    home::secure(&config.home)?;
    let tokens = daemon::access::Tokens::at(&config.home);
    match args.action {
        Action::Create { name } => {
            let (entry, secret) = tokens.create(&name)?;
            say(&format!(
                "Created token {} ({}).",
                entry.id,
                printable(&name)
            ));
            say(&secret);
            say("Clients send it as `Authorization: Bearer <token>`. It is not shown again.");
            say(&format!(
                "Dashboard: {}/#token={secret}",
                globals.daemon_url(&config)
            ));
        }
        Action::List => {
            let all = tokens.list()?;
            if all.is_empty() {
                say("No access tokens. `eternego token create` makes one.");
            }
            for t in all {
                say(&format!("{}  {}  {}", t.id, t.created, printable(&t.name)));
            }
        }
        Action::Revoke { id } => {
            let gone = tokens.revoke(&id)?;
            say(&format!("Revoked {} ({}).", gone.id, printable(&gone.name)));
        }
    }
    Ok(ExitCode::SUCCESS)
}
