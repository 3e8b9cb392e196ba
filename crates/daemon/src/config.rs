//! The daemon's configuration: one typed struct, read once at start-up from the environment
//! and the command line, then passed by reference. Nothing else reads the environment.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use channels::PlatformUrls;
use organs::Endpoints;

#[derive(Clone, Debug)]
pub struct Config {
    /// Interface to bind; loopback unless the person says otherwise.
    pub host: IpAddr,
    /// The first port to try; the next 19 are tried when it is taken.
    pub port: u16,
    /// `ETERNEGO_HOME`: every persona, diary, secret and instance lives below it.
    pub home: PathBuf,
    pub providers: Endpoints,
    pub platforms: PlatformUrls,
    /// Minimum interval between two observations of one identity instance.
    pub identity_min_interval: Duration,
    /// Largest request body accepted anywhere (a diary upload is the largest legitimate one).
    pub upload_limit: usize,
    /// Extra `Host`/`Origin` names the person allows (e.g. a reverse proxy's name).
    pub allowed_hosts: Vec<String>,
    /// Keep the secret store's master key in the system keyring when one exists
    /// (`ETERNEGO_KEYRING=file` turns this off: headless servers, tests).
    pub system_keyring: bool,
    /// `ETERNEGO_CHAT_TIMEOUT_S`: how long `/v1/chat/completions` waits for her answer (and for
    /// the requests to her queued before it) before a 504.
    pub chat_timeout: Duration,
    /// `HF_ENDPOINT`: where `hf.co/...` models are pulled from (a mirror, or a test server).
    pub hugging_face: String,
    /// `ETERNEGO_REQUIRE_TOKEN=1`: ask for an access token even on loopback (a reverse proxy on
    /// this machine makes her reachable from elsewhere; tests use it too). See [`Config::exposed`].
    pub require_token: bool,
    /// `ETERNEGO_MODEL_IDLE_S`: an embedded model nobody has used this long is unloaded and its
    /// memory returned (it loads again on the next request).
    pub model_idle: Duration,
}

/// Defaults shared by [`Config::from_env`] and tests.
pub const DEFAULT_PORT: u16 = 5000;
pub const DEFAULT_UPLOAD_LIMIT: usize = 256 * 1024 * 1024;
/// Generous enough for a small local model on a CPU to think a whole beat through.
pub const DEFAULT_CHAT_TIMEOUT: Duration = Duration::from_secs(300);
/// How long an embedded model stays loaded with nothing to do.
pub const DEFAULT_MODEL_IDLE: Duration = Duration::from_secs(15 * 60);

impl Config {
    /// Reads the environment. `host`/`port` may then be overridden by command-line flags.
    pub fn from_env() -> Result<Config, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let host = match var("WEB_HOST") {
            Some(h) => parse_host(&h)?,
            None => IpAddr::from([127, 0, 0, 1]),
        };
        let port = match var("WEB_PORT") {
            Some(p) => p
                .trim()
                .parse()
                .map_err(|_| format!("WEB_PORT must be a port number, got '{p}'"))?,
            None => DEFAULT_PORT,
        };
        let home = match var("ETERNEGO_HOME") {
            Some(h) => PathBuf::from(h),
            None => home_dir()?.join(".eternego"),
        };
        let url = |name: &str, default: &str| {
            var(name)
                .unwrap_or_else(|| default.to_string())
                .trim_end_matches('/')
                .to_string()
        };
        let providers = Endpoints::from_env(var);
        let platforms = PlatformUrls {
            telegram: url("TELEGRAM_BASE_URL", "https://api.telegram.org"),
            discord: url("DISCORD_BASE_URL", "https://discord.com/api/v10"),
        };
        let identity_min_interval = match var("IDENTITY_MIN_INTERVAL_MS") {
            Some(ms) => Duration::from_millis(ms.trim().parse().map_err(|_| {
                format!("IDENTITY_MIN_INTERVAL_MS must be milliseconds, got '{ms}'")
            })?),
            None => Duration::from_secs(1),
        };
        let upload_limit = match var("ETERNEGO_UPLOAD_LIMIT_MB") {
            Some(mb) => {
                mb.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("ETERNEGO_UPLOAD_LIMIT_MB must be a number, got '{mb}'"))?
                    * 1024
                    * 1024
            }
            None => DEFAULT_UPLOAD_LIMIT,
        };
        let allowed_hosts = var("ETERNEGO_ALLOWED_HOSTS")
            .map(|v| {
                v.split(',')
                    .map(|h| h.trim().to_ascii_lowercase())
                    .filter(|h| !h.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let system_keyring =
            !var("ETERNEGO_KEYRING").is_some_and(|v| v.trim().eq_ignore_ascii_case("file"));
        let chat_timeout = match var("ETERNEGO_CHAT_TIMEOUT_S") {
            Some(s) => Duration::from_secs(s.trim().parse().map_err(|_| {
                format!("ETERNEGO_CHAT_TIMEOUT_S must be whole seconds, got '{s}'")
            })?),
            None => DEFAULT_CHAT_TIMEOUT,
        };
        let hugging_face = url("HF_ENDPOINT", "https://huggingface.co");
        let require_token = var("ETERNEGO_REQUIRE_TOKEN").is_some_and(|v| v.trim() == "1");
        let model_idle =
            match var("ETERNEGO_MODEL_IDLE_S") {
                Some(s) => Duration::from_secs(s.trim().parse().map_err(|_| {
                    format!("ETERNEGO_MODEL_IDLE_S must be whole seconds, got '{s}'")
                })?),
                None => DEFAULT_MODEL_IDLE,
            };
        Ok(Config {
            host,
            port,
            home,
            providers,
            platforms,
            identity_min_interval,
            upload_limit,
            allowed_hosts,
            system_keyring,
            chat_timeout,
            hugging_face,
            require_token,
            model_idle,
        })
    }

    /// Whether every API request needs an access token: decided from the address bound (any
    /// non-loopback one, `0.0.0.0` included, is reachable from other machines), not from each
    /// request's peer, since a proxy would make every peer look local.
    pub fn exposed(&self) -> bool {
        self.require_token || !self.host.is_loopback()
    }
}

pub fn parse_host(text: &str) -> Result<IpAddr, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::from([127, 0, 0, 1]));
    }
    t.parse()
        .map_err(|_| format!("host must be an IP address, got '{t}'"))
}

fn home_dir() -> Result<PathBuf, String> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| {
            "HOME is not set; set ETERNEGO_HOME to choose where personas live".to_string()
        })
}
