//! `eternego doctor`: everything that must hold for her to live here, each check with ✓ or ✗
//! and, when it fails, what to do. Exit code 0 only when every check passes.
//!
//! Nothing here spends tokens or changes her: engines are asked for their model lists, the
//! secret store is opened and read, not written.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use daemon::Config;
use persona::{OrganSlot, Persona, Status};
use serde::Serialize;
use serde_json::Value;

use crate::home::{Globals, Running, base_url};
use crate::say;

/// Below this much free space her diary (written every night) and model pulls start failing.
const MIN_FREE_BYTES: u64 = 1024 * 1024 * 1024;
/// A healthy engine lists its models well within this.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(10);
/// The clock is wrong when it is earlier than the commit this binary was built from.
const BUILT_AT: &str = env!("ETERNEGO_COMMIT_TIME");

#[derive(clap::Args)]
pub struct Args {
    /// Print the checks as one JSON object (for scripts).
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Check {
    name: String,
    ok: bool,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

fn pass(name: &str, detail: String) -> Check {
    Check {
        name: name.to_string(),
        ok: true,
        detail,
        fix: None,
    }
}

fn fail(name: &str, detail: String, fix: String) -> Check {
    Check {
        name: name.to_string(),
        ok: false,
        detail,
        fix: Some(fix),
    }
}

pub async fn run(globals: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let config = globals.config()?;
    let mut checks = vec![
        data_root(&config.home),
        secret_store(&config),
        port(&config).await,
    ];
    checks.extend(embedded_models(&config.home));
    checks.extend(personas(&config).await);
    checks.push(disk(&config.home));
    checks.push(clock(SystemTime::now()));
    let healthy = checks.iter().all(|c| c.ok);
    if args.json {
        say(&serde_json::to_string_pretty(
            &serde_json::json!({"ok": healthy, "checks": checks}),
        )?);
    } else {
        for check in &checks {
            say(&format!(
                "{} {}",
                if check.ok { "✓" } else { "✗" },
                check.detail
            ));
            if let Some(fix) = &check.fix {
                say(&format!("    fix: {fix}"));
            }
        }
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn data_root(home: &Path) -> Check {
    const NAME: &str = "data_root";
    let shown = home.display();
    let Ok(meta) = std::fs::metadata(home) else {
        return fail(
            NAME,
            format!("Data root {shown} does not exist"),
            "run `eternego daemon` once (it creates it), or set ETERNEGO_HOME".into(),
        );
    };
    if !meta.is_dir() {
        return fail(
            NAME,
            format!("Data root {shown} is not a folder"),
            "move that file away or set ETERNEGO_HOME elsewhere".into(),
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return fail(
                NAME,
                format!("Data root {shown} can be read by others (mode {mode:o})"),
                format!("chmod 700 {shown}"),
            );
        }
        if meta.uid() != rustix::process::getuid().as_raw() {
            return fail(
                NAME,
                format!("Data root {shown} belongs to another user"),
                format!("chown -R $USER {shown}"),
            );
        }
    }
    pass(NAME, format!("Data root {shown} exists and is owner-only"))
}

fn keyring(config: &Config) -> persona::secrets::Keyring {
    if config.system_keyring {
        persona::secrets::Keyring::system()
    } else {
        persona::secrets::Keyring::none()
    }
}

fn secret_store(config: &Config) -> Check {
    const NAME: &str = "secret_store";
    if !config.home.is_dir() {
        return fail(
            NAME,
            "Secret store not checked: there is no data root".into(),
            "see the data root check".into(),
        );
    }
    let where_key = if config.system_keyring {
        "master key in the system keyring, or a file beside it"
    } else {
        "master key in a file"
    };
    let opened = persona::secrets::SecretStore::open_with(&config.home, &keyring(config))
        .and_then(|s| s.get("doctor/probe"));
    match opened {
        Ok(_) => pass(NAME, format!("Secret store opens and reads ({where_key})")),
        Err(e) => fail(
            NAME,
            format!("Secret store cannot be used: {e}"),
            "unlock the system keyring, or set ETERNEGO_KEYRING=file (the key then lives in the data root)".into(),
        ),
    }
}

async fn port(config: &Config) -> Check {
    const NAME: &str = "port";
    let address = std::net::SocketAddr::new(config.host, config.port);
    if std::net::TcpListener::bind(address).is_ok() {
        return pass(NAME, format!("Port {address} is free"));
    }
    if let Some(running) = Running::read(&config.home) {
        let ours = running.url == base_url(config.host, config.port);
        let answers = reqwest::Client::new()
            .get(format!("{}/api/personas", running.url))
            .timeout(ENGINE_TIMEOUT)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ours && answers {
            return pass(
                NAME,
                format!(
                    "Port {address} is held by this Eternego (pid {})",
                    running.pid
                ),
            );
        }
    }
    fail(
        NAME,
        format!("Port {address} is taken by another program"),
        format!(
            "stop that program, or choose another port: WEB_PORT={} eternego daemon",
            config.port.saturating_add(1)
        ),
    )
}

/// One check per model in her library (`models/`): its GGUF header reads, so the embedded
/// engine can load it. Only headers are read; no weights are loaded.
fn embedded_models(home: &Path) -> Vec<Check> {
    const NAME: &str = "embedded_model";
    let library = match models::Library::open(home) {
        Ok(library) => library,
        Err(e) => {
            return vec![fail(
                NAME,
                format!("Local models: {e}"),
                format!(
                    "move {} away and add the models again (`eternego model add FILE`)",
                    home.join(models::DIR).join(models::MANIFEST).display()
                ),
            )];
        }
    };
    library
        .list()
        .into_iter()
        .map(|entry| match models::gguf::read_header(&entry.path) {
            Ok(header) => pass(
                NAME,
                format!(
                    "Local model {} ({}): header reads ({}, trained context {}); runs embedded",
                    entry.name,
                    entry.path.display(),
                    header
                        .architecture
                        .as_deref()
                        .unwrap_or("unknown architecture"),
                    header
                        .context_length
                        .map_or("unknown".to_string(), |c| c.to_string())
                ),
            ),
            Err(e) => fail(
                NAME,
                format!(
                    "Local model {} ({}): its header does not read ({e})",
                    entry.name,
                    entry.path.display()
                ),
                format!(
                    "`eternego model rm {0}`, then add or pull it again",
                    entry.name
                ),
            ),
        })
        .collect()
}

/// One check per persona folder: her config parses; when she is active, her Mind's engine
/// answers and has her model.
async fn personas(config: &Config) -> Vec<Check> {
    let Ok(entries) = std::fs::read_dir(config.home.join("personas")) else {
        return Vec::new();
    };
    let mut ids: Vec<uuid::Uuid> = entries
        .flatten()
        .filter_map(|e| uuid::Uuid::parse_str(&e.file_name().to_string_lossy()).ok())
        .collect();
    ids.sort();
    let mut checks = Vec::new();
    for id in ids {
        let path = config
            .home
            .join("personas")
            .join(id.to_string())
            .join("home")
            .join("config.json");
        let parsed = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| Persona::from_json(&b).map_err(|e| e.to_string()));
        let persona = match parsed {
            Ok(p) => p,
            Err(e) => {
                checks.push(fail(
                    "persona_config",
                    format!("Persona {id}: her config {} cannot be read ({e})", path.display()),
                    format!("restore her from her diary in {} (dashboard → Restore), or move her folder away", config.home.join("diary").join(id.to_string()).display()),
                ));
                continue;
            }
        };
        checks.push(pass(
            "persona_config",
            format!(
                "Persona {} ({id}): config parses, status {}",
                persona.name,
                persona.status.as_str()
            ),
        ));
        if persona.status == Status::Active {
            checks.push(engine(config, &persona).await);
        }
    }
    checks
}

async fn engine(config: &Config, persona: &Persona) -> Check {
    const NAME: &str = "persona_engine";
    let who = &persona.name;
    let mind = &persona.thinking;
    let http = organs::http_client();
    if persona.thinks_locally()
        && let Ok(library) = models::Library::open(&config.home)
        && library.get(&mind.name).is_some()
    {
        return pass(
            NAME,
            format!(
                "Persona {who}: her Mind runs embedded on {} from her local models",
                mind.name
            ),
        );
    }
    if persona.thinks_locally() {
        let url = mind.url.trim_end_matches('/');
        let fix = format!(
            "start the local engine at {url} (`ollama serve`), or point her Mind elsewhere in the dashboard (Settings → Mind)"
        );
        let listed = async {
            let response = http
                .get(format!("{url}/api/tags"))
                .timeout(ENGINE_TIMEOUT)
                .send()
                .await
                .map_err(|e| organs::describe_transport_failure(&e))?;
            let body: Value = response.json().await.map_err(|e| e.to_string())?;
            Ok::<Vec<String>, String>(
                body["models"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m["name"].as_str().map(str::to_string))
                    .collect(),
            )
        };
        return match listed.await {
            Ok(models) if models.iter().any(|m| same_local_model(m, &mind.name)) => pass(
                NAME,
                format!(
                    "Persona {who}: her Mind's engine at {url} answers and has {}",
                    mind.name
                ),
            ),
            Ok(_) => fail(
                NAME,
                format!(
                    "Persona {who}: the engine at {url} answers but has no model {}",
                    mind.name
                ),
                format!(
                    "restart her (dashboard → Lifecycle) to register her model again, or `ollama pull {}`",
                    mind.name
                ),
            ),
            Err(e) => fail(
                NAME,
                format!("Persona {who}: her Mind's engine at {url} does not answer ({e})"),
                fix,
            ),
        };
    }
    // Her key lives in the secret store, not in the config.
    let key = persona::Store::open(&config.home, &keyring(config))
        .and_then(|store| store.load(persona.id))
        .ok()
        .and_then(|p| p.thinking.api_key);
    let provider = mind.provider.map(|p| p.as_str().to_string());
    let request = organs::OrganRequest {
        model: Some(mind.name.clone()),
        provider: provider.clone(),
        url: Some(mind.url.clone()),
        api_key: key,
    };
    let preparer = organs::Preparer::new(http, config.providers.clone());
    let provider = provider.unwrap_or_default();
    match preparer.prepare(OrganSlot::Thinking, &request).await {
        Ok(_) => pass(
            NAME,
            format!(
                "Persona {who}: {provider} at {} answers, knows her key and has {}",
                mind.url, mind.name
            ),
        ),
        Err(e) => fail(
            NAME,
            format!("Persona {who}: {e}"),
            format!(
                "check the network and her {provider} key and model (dashboard → Settings → Mind)"
            ),
        ),
    }
}

/// Ollama names a model without a tag as `:latest`.
fn same_local_model(listed: &str, wanted: &str) -> bool {
    let full = |n: &str| {
        if n.contains(':') {
            n.to_string()
        } else {
            format!("{n}:latest")
        }
    };
    full(listed) == full(wanted)
}

fn disk(home: &Path) -> Check {
    const NAME: &str = "disk";
    // The data root may not exist yet: measure the nearest folder that does.
    let existing = home
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    match rustix::fs::statvfs(existing) {
        Ok(stats) => {
            let free = stats.f_bavail.saturating_mul(stats.f_frsize);
            let shown = format!("{:.1} GiB", free as f64 / (1024.0 * 1024.0 * 1024.0));
            if free >= MIN_FREE_BYTES {
                pass(
                    NAME,
                    format!("Disk: {shown} free at {}", existing.display()),
                )
            } else {
                fail(
                    NAME,
                    format!("Disk: only {shown} free at {}", existing.display()),
                    "free at least 1 GiB (her diary is written every night)".into(),
                )
            }
        }
        Err(e) => fail(
            NAME,
            format!("Disk: free space at {} unknown ({e})", existing.display()),
            "check that the disk is mounted".into(),
        ),
    }
}

fn clock(now: SystemTime) -> Check {
    const NAME: &str = "clock";
    let floor = UNIX_EPOCH + Duration::from_secs(BUILT_AT.parse().unwrap_or(0));
    let shown = time::OffsetDateTime::from(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    if now >= floor {
        pass(
            NAME,
            format!("Clock: {shown} (not earlier than this build)"),
        )
    } else {
        fail(
            NAME,
            format!("Clock: {shown} is earlier than this build was made"),
            "set the clock, e.g. `timedatectl set-ntp true`".into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_before_the_build_fails_and_one_after_passes() {
        let built = UNIX_EPOCH + Duration::from_secs(BUILT_AT.parse().unwrap());
        assert!(!clock(built - Duration::from_secs(86_400)).ok);
        assert!(clock(built + Duration::from_secs(60)).ok);
    }

    #[test]
    fn local_model_names_match_with_or_without_the_latest_tag() {
        assert!(same_local_model("llama3.2:latest", "llama3.2"));
        assert!(same_local_model("eternego-1:latest", "eternego-1"));
        assert!(!same_local_model("llama3.2:1b", "llama3.2"));
    }
}
