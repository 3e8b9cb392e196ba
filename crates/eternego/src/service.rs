//! `eternego service`: the daemon as a user service that starts with the session and comes
//! back after a crash. Linux: a systemd user unit. macOS: a launchd agent. Elsewhere: not yet.
//!
//! `install` writes the unit (idempotent: the same unit twice changes nothing) and shows it;
//! `uninstall` removes it and never touches her data. The other verbs hand over to
//! `systemctl --user` or `launchctl`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

use crate::home::Globals;
use crate::{logging, logs, say};

/// The unit's name in systemd.
pub const UNIT: &str = "eternego.service";
/// The agent's label in launchd.
pub const LABEL: &str = "dev.eternego.daemon";

/// The variables the daemon reads (docs/cli.md). Those set when `install` runs are written into
/// the unit, because a service does not inherit the shell that installed it.
const PASSED_ON: &[&str] = &[
    "WEB_HOST",
    "WEB_PORT",
    "OLLAMA_BASE_URL",
    "ANTHROPIC_BASE_URL",
    "OPENAI_BASE_URL",
    "XAI_BASE_URL",
    "GEMINI_BASE_URL",
    "TELEGRAM_BASE_URL",
    "DISCORD_BASE_URL",
    "ETERNEGO_ALLOWED_HOSTS",
    "ETERNEGO_KEYRING",
    "ETERNEGO_UPLOAD_LIMIT_MB",
    "ETERNEGO_LOG_MAX_BYTES",
    "IDENTITY_MIN_INTERVAL_MS",
    "RUST_LOG",
];

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(clap::Subcommand)]
pub enum Verb {
    /// Write the service definition and enable it (run again after moving the binary).
    Install,
    /// Stop and remove the service definition; her data stays.
    Uninstall,
    Start,
    Stop,
    Restart,
    Status,
    /// The daemon's log files (as `eternego logs`).
    Logs(logs::Args),
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Platform {
    Systemd,
    Launchd,
    Unsupported,
}

fn platform() -> Platform {
    if cfg!(target_os = "linux") {
        Platform::Systemd
    } else if cfg!(target_os = "macos") {
        Platform::Launchd
    } else {
        Platform::Unsupported
    }
}

fn user_home() -> anyhow::Result<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .context("HOME is not set")
}

/// Where the service definition lives for this user.
fn unit_path(platform: Platform) -> anyhow::Result<PathBuf> {
    match platform {
        Platform::Systemd => {
            let config = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
                Some(dir) => PathBuf::from(dir),
                None => user_home()?.join(".config"),
            };
            Ok(config.join("systemd").join("user").join(UNIT))
        }
        Platform::Launchd => Ok(user_home()?
            .join("Library")
            .join("LaunchAgents")
            .join(format!("{LABEL}.plist"))),
        Platform::Unsupported => bail!("{}", unsupported()),
    }
}

fn unsupported() -> String {
    format!(
        "running Eternego as a service is not supported yet on {}; run `eternego daemon` from your own startup script",
        std::env::consts::OS
    )
}

pub async fn run(globals: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let platform = platform();
    if let Verb::Logs(args) = &args.verb {
        return logs::print_logs(&logging::dir(&globals.config()?.home), args).await;
    }
    if platform == Platform::Unsupported {
        bail!("{}", unsupported());
    }
    match args.verb {
        Verb::Install => install(globals, platform),
        Verb::Uninstall => {
            remove()?;
            Ok(ExitCode::SUCCESS)
        }
        Verb::Start => control(platform, "start"),
        Verb::Stop => control(platform, "stop"),
        Verb::Restart => control(platform, "restart"),
        Verb::Status => control(platform, "status"),
        Verb::Logs(_) => unreachable!("handled above"),
    }
}

/// What the service runs and with which environment.
struct Service {
    program: PathBuf,
    home: PathBuf,
    env: Vec<(String, String)>,
}

impl Service {
    fn from_here(globals: &Globals) -> anyhow::Result<Service> {
        let config = globals.config()?;
        let program = std::env::current_exe().context("finding this program's path")?;
        let home = std::path::absolute(&config.home).context("resolving ETERNEGO_HOME")?;
        let mut env: Vec<(String, String)> = PASSED_ON
            .iter()
            .filter_map(|name| {
                Some((
                    name.to_string(),
                    std::env::var(name).ok().filter(|v| !v.is_empty())?,
                ))
            })
            .collect();
        // Flags given to `install` are kept as the service's address.
        if globals.host.is_some() {
            env.retain(|(k, _)| k != "WEB_HOST");
            env.push(("WEB_HOST".into(), config.host.to_string()));
        }
        if globals.port.is_some() {
            env.retain(|(k, _)| k != "WEB_PORT");
            env.push(("WEB_PORT".into(), config.port.to_string()));
        }
        Ok(Service { program, home, env })
    }
}

/// Quotes a value for a systemd unit line: `%` is systemd's specifier sign, `\` and `"` are
/// escaped inside double quotes.
fn systemd_quote(value: &str) -> String {
    let escaped = value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%");
    format!("\"{escaped}\"")
}

fn systemd_unit(s: &Service) -> String {
    let mut env = vec![format!(
        "Environment={}",
        systemd_quote(&format!("ETERNEGO_HOME={}", s.home.display()))
    )];
    env.extend(
        s.env
            .iter()
            .map(|(k, v)| format!("Environment={}", systemd_quote(&format!("{k}={v}")))),
    );
    format!(
        "# Written by `eternego service install`; `eternego service uninstall` removes it.\n\
         [Unit]\n\
         Description=Eternego: keeps her alive on this machine\n\
         Documentation=man:eternego(1)\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={} daemon\n\
         {}\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         # She is stopped with SIGTERM and given time to finish her beat and write her diary.\n\
         KillSignal=SIGTERM\n\
         TimeoutStopSec=60\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
        systemd_quote(&s.program.display().to_string()),
        env.join("\n"),
    )
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn launchd_plist(s: &Service) -> String {
    let mut env = vec![("ETERNEGO_HOME".to_string(), s.home.display().to_string())];
    env.extend(s.env.iter().cloned());
    let env: String = env
        .iter()
        .map(|(k, v)| {
            format!(
                "    <key>{}</key>\n    <string>{}</string>\n",
                xml_escape(k),
                xml_escape(v)
            )
        })
        .collect();
    let logs = logging::dir(&s.home);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <!-- Written by `eternego service install`; `eternego service uninstall` removes it. -->\n\
         <plist version=\"1.0\">\n\
         <dict>\n  <key>Label</key>\n  <string>{LABEL}</string>\n\
         \x20 <key>ProgramArguments</key>\n  <array>\n    <string>{}</string>\n    <string>daemon</string>\n  </array>\n\
         \x20 <key>EnvironmentVariables</key>\n  <dict>\n{env}  </dict>\n\
         \x20 <key>RunAtLoad</key>\n  <true/>\n\
         \x20 <key>KeepAlive</key>\n  <dict>\n    <key>SuccessfulExit</key>\n    <false/>\n  </dict>\n\
         \x20 <key>StandardOutPath</key>\n  <string>{}</string>\n\
         \x20 <key>StandardErrorPath</key>\n  <string>{}</string>\n\
         </dict>\n</plist>\n",
        xml_escape(&s.program.display().to_string()),
        xml_escape(&logs.join("launchd.out").display().to_string()),
        xml_escape(&logs.join("launchd.err").display().to_string()),
    )
}

/// Writes `text` to `path` through a temporary file and a rename: never half a unit.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = path.parent().context("the unit path has no folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let temp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("unit")
    ));
    std::fs::write(&temp, text).with_context(|| format!("writing {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn install(globals: &Globals, platform: Platform) -> anyhow::Result<ExitCode> {
    let service = Service::from_here(globals)?;
    let path = unit_path(platform)?;
    let text = match platform {
        Platform::Systemd => systemd_unit(&service),
        _ => launchd_plist(&service),
    };
    if std::fs::read_to_string(&path).is_ok_and(|old| old == text) {
        say(&format!("Already installed, unchanged: {}", path.display()));
    } else {
        write_atomically(&path, &text)?;
        say(&format!("Wrote {}:", path.display()));
        say("");
        say(&text);
    }
    match platform {
        Platform::Systemd => {
            tell(systemctl(&["daemon-reload"]));
            tell(systemctl(&["enable", UNIT]));
            say("Start it now with `eternego service start`.");
            say(
                "On a server, let it run while you are logged out: `loginctl enable-linger $USER`.",
            );
        }
        _ => say("Start it now with `eternego service start` (it also starts at every login)."),
    }
    Ok(ExitCode::SUCCESS)
}

/// Stops and removes the service definition if there is one. Her data is never touched.
pub fn remove() -> anyhow::Result<()> {
    let platform = platform();
    if platform == Platform::Unsupported {
        return Ok(());
    }
    let path = unit_path(platform)?;
    if !path.exists() {
        say(&format!(
            "No service installed ({} does not exist).",
            path.display()
        ));
        return Ok(());
    }
    match platform {
        Platform::Systemd => tell(systemctl(&["disable", "--now", UNIT])),
        _ => tell(launchctl(&["unload", "-w", &path.display().to_string()])),
    }
    std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    if platform == Platform::Systemd {
        tell(systemctl(&["daemon-reload"]));
    }
    say(&format!(
        "Removed {}. Her data is untouched.",
        path.display()
    ));
    Ok(())
}

fn control(platform: Platform, verb: &str) -> anyhow::Result<ExitCode> {
    let path = unit_path(platform)?;
    if !path.exists() {
        bail!("no service installed; run `eternego service install` first");
    }
    let result = match (platform, verb) {
        (Platform::Systemd, _) => systemctl(&[verb, UNIT]),
        (_, "start") => launchctl(&["load", "-w", &path.display().to_string()]),
        (_, "stop") => launchctl(&["unload", &path.display().to_string()]),
        (_, "restart") => launchctl(&[
            "kickstart",
            "-k",
            &format!("gui/{}/{LABEL}", rustix::process::getuid().as_raw()),
        ]),
        _ => launchctl(&["list", LABEL]),
    };
    match result {
        Ok(status) if status.success() => Ok(ExitCode::SUCCESS),
        Ok(status) => Ok(ExitCode::from(
            status.code().unwrap_or(1).clamp(1, 255) as u8
        )),
        Err(e) => Err(e),
    }
}

/// `ETERNEGO_SYSTEMCTL` names another systemctl: the tests use a recording stand-in so they
/// never touch the user's own service manager.
fn systemctl(args: &[&str]) -> anyhow::Result<std::process::ExitStatus> {
    let program = std::env::var_os("ETERNEGO_SYSTEMCTL")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "systemctl".into());
    Command::new(program)
        .arg("--user")
        .args(args)
        .status()
        .context("running systemctl --user (is systemd installed?)")
}

fn launchctl(args: &[&str]) -> anyhow::Result<std::process::ExitStatus> {
    Command::new("launchctl")
        .args(args)
        .status()
        .context("running launchctl")
}

/// Reports a service-manager step that did not work without failing the whole command: the
/// unit file is what `install` promises; a user manager may simply not be running (a container,
/// an SSH session without lingering).
fn tell(result: anyhow::Result<std::process::ExitStatus>) {
    match result {
        Ok(status) if status.success() => {}
        Ok(status) => say(&format!(
            "(the service manager said {status}; the file above is in place)"
        )),
        Err(e) => say(&format!("({e:#}; the file above is in place)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Service {
        Service {
            program: PathBuf::from("/opt/eternego & co/bin/eternego"),
            home: PathBuf::from("/home/ada/.eternego"),
            env: vec![("OLLAMA_BASE_URL".into(), "http://127.0.0.1:11434".into())],
        }
    }

    #[test]
    fn the_launchd_agent_runs_the_daemon_at_login_and_after_a_crash() {
        let plist = launchd_plist(&sample());
        assert!(
            plist.contains("<string>dev.eternego.daemon</string>"),
            "{plist}"
        );
        assert!(
            plist.contains(
                "<string>/opt/eternego &amp; co/bin/eternego</string>\n    <string>daemon</string>"
            ),
            "{plist}"
        );
        assert!(
            plist.contains("<key>ETERNEGO_HOME</key>\n    <string>/home/ada/.eternego</string>"),
            "{plist}"
        );
        assert!(plist.contains("<key>OLLAMA_BASE_URL</key>"), "{plist}");
        assert!(plist.contains("<key>RunAtLoad</key>\n  <true/>"), "{plist}");
        assert!(
            plist.contains("<key>SuccessfulExit</key>\n    <false/>"),
            "restarted only after a failure: {plist}"
        );
    }

    #[test]
    fn systemd_values_are_quoted_and_specifiers_escaped() {
        assert_eq!(systemd_quote(r#"a "b" 50% c\d"#), r#""a \"b\" 50%% c\\d""#);
    }
}
