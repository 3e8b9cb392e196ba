//! Access beyond loopback: on a daemon any machine can reach, every API request proves it may
//! drive her, with an access token (`Authorization: Bearer ...`) or a session cookie the
//! dashboard got by trading a token or a one-time link for it.
//!
//! * Tokens are 256 random bits, kept as their SHA-256 in `ETERNEGO_HOME/access.json` (owner-only,
//!   replaced atomically). A fast hash is enough: a slow one (argon2, bcrypt) only slows the
//!   guessing of a *low-entropy* secret such as a password, and nobody can enumerate 2^256
//!   candidates at any speed. A stolen file therefore yields no usable token.
//! * Comparison is constant-time (`subtle`) so response timing tells nothing about a hash.
//! * A client address that presents wrong tokens is refused with 429 for a while, whatever it
//!   sends next, so even a lucky guess could not be told apart from a wrong one.
//! * Sessions and one-time links live in memory: a restart ends every session, and a revoked
//!   token ends the sessions it opened at its next use.
//!
//! On loopback none of this runs (the guard holds no [`Access`]): the spec promises no login
//! there, and the clients that always send an `Authorization` header must keep working.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The token file below `ETERNEGO_HOME`.
pub const TOKENS_FILE: &str = "access.json";
/// The dashboard's session cookie.
pub const SESSION_COOKIE: &str = "eternego_session";
/// Every token starts with this, so a leaked one is recognisable (and greppable) as ours.
const TOKEN_PREFIX: &str = "etg_";
/// Wrong tokens an address may present per [`FAILURE_WINDOW`] before it is refused outright.
pub const MOST_FAILURES: u32 = 10;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at once; past this, those whose window is over are forgotten first, so
/// a spray from many addresses cannot grow the table without bound.
const MOST_TRACKED: usize = 10_000;
/// Sessions (and one-time links) held at once; the oldest make room.
const MOST_SESSIONS: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("could not read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("{path} is not a token file ({source}); move it aside and create a token again")]
    Corrupt {
        path: String,
        source: serde_json::Error,
    },
    #[error("could not write {path}: {source}")]
    Write { path: String, source: io::Error },
    #[error("No access token has the id '{0}'.")]
    Unknown(String),
}

/// One token as the file keeps it (and `eternego token list` shows it, without the hash).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenEntry {
    pub id: String,
    pub name: String,
    /// RFC 3339, UTC.
    pub created: String,
    /// Hex SHA-256 of the whole token, prefix included.
    sha256: String,
}

#[derive(Default, Serialize, Deserialize)]
struct TokenFile {
    tokens: Vec<TokenEntry>,
}

/// The token file: what `eternego token` edits and the daemon reads.
#[derive(Clone, Debug)]
pub struct Tokens {
    path: PathBuf,
}

impl Tokens {
    pub fn at(home: &Path) -> Tokens {
        Tokens {
            path: home.join(TOKENS_FILE),
        }
    }

    fn read(&self) -> Result<TokenFile, TokenError> {
        let path = self.path.display().to_string();
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|source| TokenError::Corrupt { path, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(TokenFile::default()),
            Err(source) => Err(TokenError::Read { path, source }),
        }
    }

    /// Written through a temporary file (created owner-only) renamed over the old one, so a
    /// crash leaves either file whole and no other user can ever read the hashes.
    fn write(&self, file: &TokenFile) -> Result<(), TokenError> {
        let bytes = serde_json::to_vec_pretty(file).map_err(io::Error::other);
        bytes
            .and_then(|b| persona::atomic::write(&self.path, &b))
            .map_err(|source| TokenError::Write {
                path: self.path.display().to_string(),
                source,
            })
    }

    pub fn list(&self) -> Result<Vec<TokenEntry>, TokenError> {
        Ok(self.read()?.tokens)
    }

    /// Makes a token named `name`; the secret is returned once and never stored.
    pub fn create(&self, name: &str) -> Result<(TokenEntry, String), TokenError> {
        let mut file = self.read()?;
        let secret = format!("{TOKEN_PREFIX}{}", random_text());
        let mut id = [0u8; 4];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let entry = TokenEntry {
            id: hex(&id),
            name: name.to_string(),
            created: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            sha256: hex(&digest(&secret)),
        };
        file.tokens.push(entry.clone());
        self.write(&file)?;
        Ok((entry, secret))
    }

    /// Removes the token `id`; a running daemon stops accepting it at its next request.
    pub fn revoke(&self, id: &str) -> Result<TokenEntry, TokenError> {
        let mut file = self.read()?;
        let at = file
            .tokens
            .iter()
            .position(|t| t.id == id)
            .ok_or_else(|| TokenError::Unknown(id.to_string()))?;
        let gone = file.tokens.remove(at);
        self.write(&file)?;
        Ok(gone)
    }
}

/// A request's standing on an exposed daemon.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// No credential, or a wrong one: 401.
    Refused,
    /// Too many wrong tokens from this address: 429 until the window ends.
    Limited(Duration),
}

impl Verdict {
    /// The answer for a request that is not [`Verdict::Allowed`].
    pub fn response(&self) -> Response {
        let body = |detail: &str| axum::Json(serde_json::json!({ "detail": detail }));
        match self {
            Verdict::Allowed => StatusCode::NO_CONTENT.into_response(),
            Verdict::Refused => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                body("An access token is required (Authorization: Bearer ...)."),
            )
                .into_response(),
            Verdict::Limited(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, wait.as_secs().max(1).to_string())],
                body("Too many wrong access tokens from this address; try again later."),
            )
                .into_response(),
        }
    }
}

/// Who opened a session: revoking the token ends it; a link's lasts until the daemon stops.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Opener {
    Token(String),
    Link,
}

struct Session {
    opener: Opener,
    opened: Instant,
}

struct Known {
    /// The file's modification time and length when it was read: a change reloads it.
    stamp: Option<(SystemTime, u64)>,
    tokens: Vec<(String, [u8; 32])>,
}

struct Failures {
    since: Instant,
    count: u32,
}

/// The daemon's side of access: the tokens (re-read when the file changes), sessions, one-time
/// links and the failure counts per client address.
pub struct Access {
    tokens: Tokens,
    known: Mutex<Known>,
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    links: Mutex<HashSet<[u8; 32]>>,
    failures: Mutex<HashMap<Option<IpAddr>, Failures>>,
}

impl Access {
    /// Opens the token file below `home`. An exposed daemon with no token would refuse every
    /// request, so the caller refuses to start instead: see [`Access::has_tokens`].
    pub fn open(home: &Path) -> Result<Access, TokenError> {
        let access = Access {
            tokens: Tokens::at(home),
            known: Mutex::new(Known {
                stamp: None,
                tokens: Vec::new(),
            }),
            sessions: Mutex::new(HashMap::new()),
            links: Mutex::new(HashSet::new()),
            failures: Mutex::new(HashMap::new()),
        };
        access.reload(&mut lock(&access.known))?;
        Ok(access)
    }

    pub fn has_tokens(&self) -> bool {
        !self.current().is_empty()
    }

    fn reload(&self, known: &mut Known) -> Result<(), TokenError> {
        let stamp = std::fs::metadata(&self.tokens.path)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())));
        if stamp.is_some() && stamp == known.stamp {
            return Ok(());
        }
        known.tokens = self
            .tokens
            .list()?
            .into_iter()
            .filter_map(|t| Some((t.id, unhex(&t.sha256)?)))
            .collect();
        known.stamp = stamp;
        Ok(())
    }

    /// The tokens as the file says now. A file that became unreadable accepts none (fail
    /// closed) until it is fixed.
    fn current(&self) -> Vec<(String, [u8; 32])> {
        let mut known = lock(&self.known);
        if let Err(e) = self.reload(&mut known) {
            tracing::warn!(error = %e, "the access token file cannot be read; refusing every token");
            known.tokens.clear();
            known.stamp = None;
        }
        known.tokens.clone()
    }

    /// The id of the token whose hash is `secret`'s. Every stored hash is compared in full,
    /// whichever matches, so timing says nothing about which or how much.
    fn token_id(&self, secret: &str) -> Option<String> {
        let hash = digest(secret);
        let mut found = None;
        for (id, stored) in self.current() {
            if bool::from(stored.ct_eq(&hash)) {
                found = Some(id);
            }
        }
        found
    }

    /// Whether `client` has presented too many wrong tokens lately.
    fn limited(&self, client: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let failures = lock(&self.failures);
        let f = failures.get(&bucket(client))?;
        let elapsed = now.saturating_duration_since(f.since);
        (elapsed < FAILURE_WINDOW && f.count >= MOST_FAILURES).then(|| FAILURE_WINDOW - elapsed)
    }

    fn fail(&self, client: Option<IpAddr>, now: Instant) {
        let mut failures = lock(&self.failures);
        if failures.len() >= MOST_TRACKED {
            failures.retain(|_, f| now.saturating_duration_since(f.since) < FAILURE_WINDOW);
        }
        let f = failures.entry(bucket(client)).or_insert(Failures {
            since: now,
            count: 0,
        });
        if now.saturating_duration_since(f.since) >= FAILURE_WINDOW {
            *f = Failures {
                since: now,
                count: 0,
            };
        }
        f.count += 1;
    }

    /// Whether a request with `headers` from `client` may pass. A session cookie is checked
    /// first (the dashboard's), then a Bearer token; only wrong tokens count towards the limit
    /// (a session id is as unguessable and goes stale at every restart, so counting it would
    /// lock out a dashboard left open across one).
    pub fn check(&self, headers: &HeaderMap, client: Option<IpAddr>, now: Instant) -> Verdict {
        if let Some(wait) = self.limited(client, now) {
            return Verdict::Limited(wait);
        }
        if cookie(headers).is_some_and(|s| self.session_valid(&s)) {
            return Verdict::Allowed;
        }
        let Some(token) = bearer(headers) else {
            return Verdict::Refused;
        };
        if self.token_id(token).is_some() {
            return Verdict::Allowed;
        }
        self.fail(client, now);
        Verdict::Refused
    }

    fn session_valid(&self, session: &str) -> bool {
        let key = digest(session);
        let opener = match lock(&self.sessions).get(&key) {
            Some(s) => s.opener.clone(),
            None => return false,
        };
        match opener {
            Opener::Link => true,
            Opener::Token(id) => {
                let alive = self.current().iter().any(|(known, _)| *known == id);
                if !alive {
                    lock(&self.sessions).remove(&key);
                }
                alive
            }
        }
    }

    /// A one-time secret for the dashboard link (`/#token=...`): it opens one session, once.
    pub fn mint_link(&self) -> String {
        let secret = format!("{TOKEN_PREFIX}{}", random_text());
        let mut links = lock(&self.links);
        if links.len() >= MOST_SESSIONS {
            links.clear();
        }
        links.insert(digest(&secret));
        secret
    }

    /// Trades a token or a one-time link for a new session id.
    pub fn exchange(
        &self,
        secret: &str,
        client: Option<IpAddr>,
        now: Instant,
    ) -> Result<String, Verdict> {
        if let Some(wait) = self.limited(client, now) {
            return Err(Verdict::Limited(wait));
        }
        let opener = if lock(&self.links).remove(&digest(secret)) {
            Opener::Link
        } else if let Some(id) = self.token_id(secret) {
            Opener::Token(id)
        } else {
            self.fail(client, now);
            return Err(Verdict::Refused);
        };
        let session = random_text();
        let mut sessions = lock(&self.sessions);
        if sessions.len() >= MOST_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.opened)
                .map(|(k, _)| *k)
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            digest(&session),
            Session {
                opener,
                opened: now,
            },
        );
        Ok(session)
    }
}

#[derive(Deserialize)]
pub struct Exchange {
    token: String,
}

/// `POST /api/session` `{"token": "..."}`: 204 with an `HttpOnly; SameSite=Strict` cookie that
/// authorises every later request of this browser, its web sockets, images and audio included.
/// Registered only on an exposed daemon.
pub async fn exchange(
    State(access): State<Arc<Access>>,
    extensions: axum::http::Extensions,
    body: axum::Json<Exchange>,
) -> Response {
    let client = extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    match access.exchange(&body.token, client, Instant::now()) {
        Ok(session) => {
            let cookie = format!("{SESSION_COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/");
            match HeaderValue::from_str(&cookie) {
                Ok(value) => {
                    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, value)]).into_response()
                }
                Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            }
        }
        Err(verdict) => verdict.response(),
    }
}

/// Failures are counted per address; an IPv6 client owns a whole /64, so it is one bucket.
fn bucket(client: Option<IpAddr>) -> Option<IpAddr> {
    client.map(|ip| match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::from(s)
            }
        },
        v4 => v4,
    })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then(|| value.to_string())
        })
}

/// 256 bits from the operating system's generator, URL-safe (it travels in a URL fragment).
fn random_text() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
