//! The running daemon's API as the terminal commands use it: the same routes the dashboard
//! calls, over loopback. A daemon exposed beyond loopback asks every client for an access token,
//! this one too: `ETERNEGO_TOKEN` is sent as `Authorization: Bearer` on requests and the socket.

use std::path::Path;

use anyhow::{Context, anyhow, bail};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;

use crate::home::Globals;

pub struct Client {
    base: String,
    http: reqwest::Client,
    /// `Bearer <ETERNEGO_TOKEN>`, when set.
    authorization: Option<HeaderValue>,
}

/// Where the terminal commands find the access token of an exposed daemon.
const TOKEN_VARIABLE: &str = "ETERNEGO_TOKEN";

impl Client {
    pub fn locate(globals: &Globals) -> anyhow::Result<Client> {
        let config = globals.config()?;
        let authorization = match std::env::var(TOKEN_VARIABLE) {
            Ok(token) if !token.trim().is_empty() => {
                let mut value = HeaderValue::try_from(format!("Bearer {}", token.trim()))
                    .map_err(|_| anyhow!("{TOKEN_VARIABLE} is not a valid token"))?;
                value.set_sensitive(true);
                Some(value)
            }
            _ => None,
        };
        let mut headers = HeaderMap::new();
        if let Some(value) = &authorization {
            headers.insert(AUTHORIZATION, value.clone());
        }
        Ok(Client {
            base: globals.daemon_url(&config),
            http: reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .context("building the HTTP client")?,
            authorization,
        })
    }

    fn unreachable(&self, e: reqwest::Error) -> anyhow::Error {
        anyhow!(
            "no Eternego daemon answers at {} ({e}). Start it with `eternego daemon` or `eternego service start`.",
            self.base
        )
    }

    async fn read(response: reqwest::Response) -> anyhow::Result<Value> {
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            bail!(
                "the daemon asks for an access token: set {TOKEN_VARIABLE} to one made by `eternego token create`"
            );
        }
        match body.get("detail") {
            Some(Value::String(detail)) => bail!("{detail}"),
            Some(detail) => bail!("the daemon refused ({status}): {detail}"),
            None => bail!("the daemon answered {status}"),
        }
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        Self::read(response).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        Self::read(response).await
    }

    pub async fn personas(&self) -> anyhow::Result<Vec<Value>> {
        let body = self.get("/api/personas").await?;
        body.get("personas")
            .and_then(Value::as_array)
            .cloned()
            .context("the daemon's persona list has no `personas`")
    }

    /// The persona `who` names (her id, or her name in any case); without `who`, the only
    /// persona there is, or the only one running.
    pub async fn find(&self, who: Option<&str>) -> anyhow::Result<Value> {
        let all = self.personas().await?;
        let names = || {
            all.iter()
                .filter_map(|p| p["name"].as_str())
                .map(|n| crate::printable(n).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let picked: Vec<&Value> = match who {
            Some(who) => all
                .iter()
                .filter(|p| {
                    p["id"].as_str() == Some(who)
                        || p["name"]
                            .as_str()
                            .is_some_and(|n| n.eq_ignore_ascii_case(who))
                })
                .collect(),
            None if all.len() == 1 => all.iter().collect(),
            None => all
                .iter()
                .filter(|p| p["running"] == Value::Bool(true))
                .collect(),
        };
        match (picked.as_slice(), who) {
            ([one], _) => Ok((*one).clone()),
            ([], _) if all.is_empty() => bail!(
                "there is no persona yet; create one in the dashboard at {}/",
                self.base
            ),
            ([], Some(who)) => bail!(
                "no persona is called '{}' (there are: {})",
                crate::printable(who),
                names()
            ),
            (_, Some(who)) => bail!(
                "more than one persona is called '{who}'; name her by id (see `eternego personas`)"
            ),
            (_, None) => bail!(
                "say whom to talk to: eternego talk NAME (there are: {})",
                names()
            ),
        }
    }

    /// Sends her a file, with what is said with it.
    pub async fn attach(&self, id: &str, file: &Path, caption: &str) -> anyhow::Result<Value> {
        let bytes = tokio::fs::read(file)
            .await
            .with_context(|| format!("reading {}", file.display()))?;
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("file")
            .to_string();
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(name),
            )
            .text("caption", caption.to_string());
        let response = self
            .http
            .post(format!("{}/api/persona/{id}/attach", self.base))
            .multipart(form)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        Self::read(response).await
    }

    /// The request that opens her socket, carrying the token when there is one.
    pub fn socket(&self, id: &str) -> anyhow::Result<Request> {
        let url = format!("{}/ws/{id}", self.base.replacen("http", "ws", 1));
        let mut request = url
            .as_str()
            .into_client_request()
            .with_context(|| format!("her socket's address {url}"))?;
        if let Some(value) = &self.authorization {
            request.headers_mut().insert(AUTHORIZATION, value.clone());
        }
        Ok(request)
    }
}
