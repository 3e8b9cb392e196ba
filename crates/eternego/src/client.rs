//! The running daemon's API as the terminal commands use it: the same routes the dashboard
//! calls, over loopback.

use std::path::Path;

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

use crate::home::Globals;

pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    pub fn locate(globals: &Globals) -> anyhow::Result<Client> {
        let config = globals.config()?;
        Ok(Client {
            base: globals.daemon_url(&config),
            http: reqwest::Client::new(),
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

    /// Her socket's URL.
    pub fn socket(&self, id: &str) -> String {
        format!("{}/ws/{id}", self.base.replacen("http", "ws", 1))
    }
}
