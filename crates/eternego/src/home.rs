//! Where the daemon lives: the flags every subcommand shares, the configuration they resolve to,
//! and the small file a running daemon leaves in its data root so other commands find it.

use std::path::{Path, PathBuf};

use anyhow::Context;
use daemon::Config;
use serde::{Deserialize, Serialize};

/// Flags accepted before or after any subcommand.
#[derive(clap::Args)]
pub struct Globals {
    /// Interface to bind or reach (default: WEB_HOST, else 127.0.0.1).
    #[arg(long, global = true)]
    pub host: Option<String>,
    /// Port to bind or reach (default: WEB_PORT, else 5000); a daemon tries the next 19 if it is taken.
    #[arg(long, global = true)]
    pub port: Option<u16>,
    /// More console output (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

impl Globals {
    /// The environment's configuration with the flags applied.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut config = Config::from_env().map_err(anyhow::Error::msg)?;
        if let Some(host) = &self.host {
            config.host = daemon::config::parse_host(host).map_err(anyhow::Error::msg)?;
        }
        if let Some(port) = self.port {
            config.port = port;
        }
        Ok(config)
    }

    /// The URL of the running daemon: the flags when given, else what the daemon wrote when it
    /// started (it may have moved to a later port), else the configured address.
    pub fn daemon_url(&self, config: &Config) -> String {
        if self.host.is_none()
            && self.port.is_none()
            && let Some(running) = Running::read(&config.home)
        {
            return running.url;
        }
        base_url(config.host, config.port)
    }
}

/// `http://host:port` for reaching an address; an unspecified bind address (0.0.0.0, ::) is
/// reached over loopback.
pub fn base_url(host: std::net::IpAddr, port: u16) -> String {
    let host = if host.is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        host
    };
    format!("http://{}", std::net::SocketAddr::new(host, port))
}

/// `ETERNEGO_HOME/daemon.json`: written when the daemon is listening, removed when it stops.
#[derive(Serialize, Deserialize)]
pub struct Running {
    pub url: String,
    pub pid: u32,
}

const RUNNING_FILE: &str = "daemon.json";

impl Running {
    pub fn read(home: &Path) -> Option<Running> {
        serde_json::from_slice(&std::fs::read(home.join(RUNNING_FILE)).ok()?).ok()
    }

    /// Writes the file atomically (a reader never sees half of it) and returns a guard that
    /// removes it again.
    pub fn write(home: &Path, url: &str) -> anyhow::Result<RunningGuard> {
        let path = home.join(RUNNING_FILE);
        let temp = home.join(format!(".{RUNNING_FILE}.{}", std::process::id()));
        let body = serde_json::to_vec(&Running {
            url: url.to_string(),
            pid: std::process::id(),
        })?;
        std::fs::write(&temp, body).with_context(|| format!("writing {}", temp.display()))?;
        std::fs::rename(&temp, &path).with_context(|| format!("writing {}", path.display()))?;
        Ok(RunningGuard(path))
    }
}

pub struct RunningGuard(PathBuf);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Creates the data root if needed and makes it owner-only: it holds her keys, her diaries
/// and everything she remembers.
pub fn secure(home: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(home).with_context(|| format!("creating {}", home.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} owner-only", home.display()))?;
    }
    Ok(())
}
