//! Preparing an organ before she is created or updated: the engine answers, the key is good,
//! the model exists (pulled into the local engine when missing). Only listing calls are made,
//! so no tokens are spent.

use std::time::Duration;

use persona::{Organ, OrganSlot, Provider};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::endpoints::given;
use crate::wire::Call;
use crate::{Endpoints, OrganError, OrganRequest};

/// Listing calls answer in well under a second on a healthy engine; this bounds a hung one.
const LIST_TIMEOUT: Duration = Duration::from_secs(30);
/// Pulls and creates stream progress lines; silence this long means the engine is stuck.
const STREAM_IDLE: Duration = Duration::from_secs(300);
/// The context window her Mind's model is created with in the local engine, or the base
/// model's own when that is smaller. Ollama otherwise gives a model 2048–4096 tokens and
/// silently drops the start of a longer prompt, which is where her instructions and files
/// are: her first `recognize` prompt is already about 7,000 characters (some 2,000 tokens)
/// with empty files. 8192 leaves room for roughly 20,000 more characters of files and talk;
/// each token of window costs KV-cache memory (about 1 GB at 8192 for an 8B model with
/// grouped-query attention), so it is not larger.
pub const MIND_CONTEXT: u64 = 8192;

/// Checks and completes organs against the real engines.
#[derive(Clone, Debug)]
pub struct Preparer {
    http: reqwest::Client,
    endpoints: Endpoints,
}

impl Preparer {
    /// `http` should come from [`crate::http_client`] (bounded connect time).
    pub fn new(http: reqwest::Client, endpoints: Endpoints) -> Self {
        Preparer { http, endpoints }
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Turns what a person asked for into an organ that works: provider parsed, URL defaulted
    /// and trimmed, the model checked (and pulled, for the local engine).
    pub async fn prepare(&self, slot: OrganSlot, req: &OrganRequest) -> Result<Organ, OrganError> {
        let organ = slot.as_str();
        let provider = Provider::parse(req.provider.as_deref())
            .map_err(|message| OrganError::UnknownProvider { organ, message })?;
        let url = given(&req.url)
            .unwrap_or(self.endpoints.url_for(provider))
            .trim_end_matches('/')
            .to_string();
        let model = given(&req.model);
        let key = given(&req.api_key);
        let call = Call {
            organ,
            provider,
            url: &url,
            key,
        };
        let Some(p) = provider else {
            let name = self.prepare_local(&call, model).await?;
            return Ok(Organ {
                name,
                provider: None,
                api_key: None,
                url,
            });
        };
        let model = model.ok_or(OrganError::ModelRequired { organ })?;
        let key = key.ok_or(OrganError::KeyRequired {
            organ,
            provider: p.as_str(),
        })?;
        let listed = match p {
            Provider::Openai | Provider::Xai => self.openai_has(&call, model).await?,
            Provider::Anthropic => self.anthropic_has(&call, model).await?,
            Provider::Gemini => self.gemini_has(&call, model).await?,
        };
        if !listed {
            return Err(OrganError::UnknownModel {
                organ,
                model: model.to_string(),
                provider: p.as_str(),
            });
        }
        let name = if p == Provider::Gemini {
            model.trim_start_matches("models/")
        } else {
            model
        };
        Ok(Organ {
            name: name.to_string(),
            provider: Some(p),
            api_key: Some(key.to_string()),
            url,
        })
    }

    async fn prepare_local(
        &self,
        call: &Call<'_>,
        model: Option<&str>,
    ) -> Result<String, OrganError> {
        let installed = self.local_models(call).await?;
        let Some(model) = model else {
            return installed
                .into_iter()
                .next()
                .ok_or(OrganError::NoLocalModel { organ: call.organ });
        };
        if !installed.iter().any(|m| same_local_model(m, model)) {
            self.pull(call, model).await?;
        }
        Ok(model.to_string())
    }

    async fn local_models(&self, call: &Call<'_>) -> Result<Vec<String>, OrganError> {
        let response = call
            .send(
                call.request(&self.http, Method::GET, "/api/tags")
                    .timeout(LIST_TIMEOUT),
            )
            .await?;
        let body = call.json(response).await?;
        let models = body
            .get("models")
            .and_then(Value::as_array)
            .ok_or_else(|| call.unreadable("the model list has no `models`".into()))?;
        Ok(models
            .iter()
            .filter_map(|m| m.get("name").and_then(Value::as_str))
            .map(str::to_string)
            .collect())
    }

    /// Pulls a model into the local engine, logging its progress as the engine streams it.
    async fn pull(&self, call: &Call<'_>, model: &str) -> Result<(), OrganError> {
        tracing::info!(
            organ = call.organ,
            model,
            "pulling model into the local engine"
        );
        let failed = |reason: String| OrganError::PullFailed {
            organ: call.organ,
            model: model.to_string(),
            reason,
        };
        let request = call
            .request(&self.http, Method::POST, "/api/pull")
            .json(&json!({"model": model, "stream": true}));
        let response = call.send(request).await?;
        if !response.status().is_success() {
            return Err(failed(
                call.error_text(&response.text().await.unwrap_or_default()),
            ));
        }
        let mut finished = false;
        let mut last_status = String::new();
        let mut last_tenth = -1i64;
        call.lines(response, STREAM_IDLE, |line| {
            let status = line.get("status").and_then(Value::as_str).unwrap_or("").to_string();
            let total = line.get("total").and_then(Value::as_i64).unwrap_or(0);
            let completed = line.get("completed").and_then(Value::as_i64).unwrap_or(0);
            let tenth = if total > 0 { completed * 10 / total } else { -1 };
            if status != last_status || tenth != last_tenth {
                if total > 0 {
                    tracing::info!(model, status = %status, completed, total, percent = completed * 100 / total, "model pull progress");
                } else {
                    tracing::info!(model, status = %status, "model pull progress");
                }
                last_status = status.clone();
                last_tenth = tenth;
            }
            finished |= status == "success";
            Ok(())
        })
        .await
        .map_err(failed)?;
        if !finished {
            return Err(failed("the engine stopped before the pull finished".into()));
        }
        tracing::info!(organ = call.organ, model, "model pulled");
        Ok(())
    }

    async fn openai_has(&self, call: &Call<'_>, model: &str) -> Result<bool, OrganError> {
        let response = call
            .send(
                call.request(&self.http, Method::GET, "/v1/models")
                    .timeout(LIST_TIMEOUT),
            )
            .await?;
        let body = call.json(response).await?;
        let data = body
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| call.unreadable("the model list has no `data`".into()))?;
        Ok(data
            .iter()
            .any(|m| m.get("id").and_then(Value::as_str) == Some(model)))
    }

    /// Anthropic's listing is paged; aliases (`claude-…-latest`) are not listed, so a model not
    /// found there is looked up by name, which resolves aliases.
    async fn anthropic_has(&self, call: &Call<'_>, model: &str) -> Result<bool, OrganError> {
        let mut after: Option<String> = None;
        loop {
            let mut request = call
                .request(&self.http, Method::GET, "/v1/models")
                .timeout(LIST_TIMEOUT)
                .query(&[("limit", "1000")]);
            if let Some(a) = &after {
                request = request.query(&[("after_id", a)]);
            }
            let body = call.json(call.send(request).await?).await?;
            let data = body
                .get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| call.unreadable("the model list has no `data`".into()))?;
            if data
                .iter()
                .any(|m| m.get("id").and_then(Value::as_str) == Some(model))
            {
                return Ok(true);
            }
            let more = body
                .get("has_more")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            match body.get("last_id").and_then(Value::as_str) {
                Some(last) if more => after = Some(last.to_string()),
                _ => break,
            }
        }
        let one = call
            .request(&self.http, Method::GET, &format!("/v1/models/{model}"))
            .timeout(LIST_TIMEOUT);
        let response = call.send(one).await?;
        match response.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(call.refused(response).await),
        }
    }

    /// Gemini lists `models/<id>`, paged by `nextPageToken`.
    async fn gemini_has(&self, call: &Call<'_>, model: &str) -> Result<bool, OrganError> {
        let wanted = format!("models/{}", model.trim_start_matches("models/"));
        let mut token: Option<String> = None;
        loop {
            let mut request = call
                .request(&self.http, Method::GET, "/v1beta/models")
                .timeout(LIST_TIMEOUT)
                .query(&[("pageSize", "1000")]);
            if let Some(t) = &token {
                request = request.query(&[("pageToken", t)]);
            }
            let body = call.json(call.send(request).await?).await?;
            let models = body
                .get("models")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if models
                .iter()
                .any(|m| m.get("name").and_then(Value::as_str) == Some(wanted.as_str()))
            {
                return Ok(true);
            }
            match body.get("nextPageToken").and_then(Value::as_str) {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(false),
            }
        }
    }

    /// Registers her Mind in the local engine as `eternego-<id>`, built from `base`, so her
    /// model has her own name there. Returns the organ she thinks with from now on.
    pub async fn register_mind(&self, persona_id: Uuid, base: &Organ) -> Result<Organ, OrganError> {
        let organ = OrganSlot::Thinking.as_str();
        if base.provider.is_some() {
            return Err(OrganError::Unsupported {
                organ,
                provider: crate::wire::provider_name(base.provider),
                what: "register a local model",
            });
        }
        let url = base.url.trim_end_matches('/');
        let call = Call {
            organ,
            provider: None,
            url,
            key: None,
        };
        let name = format!("eternego-{persona_id}");
        let failed = |reason: String| OrganError::RegisterFailed {
            organ,
            model: name.clone(),
            reason,
        };
        let mut create = json!({"model": name, "from": base.name, "stream": true});
        match self.trained_context(&call, &base.name).await {
            Some(trained) => create["parameters"] = json!({"num_ctx": trained.min(MIND_CONTEXT)}),
            None => {
                tracing::warn!(model = %base.name, "the local engine did not say how long a context the model takes; her Mind keeps the engine's default window")
            }
        }
        let request = call
            .request(&self.http, Method::POST, "/api/create")
            .json(&create);
        let response = call.send(request).await?;
        if !response.status().is_success() {
            return Err(failed(
                call.error_text(&response.text().await.unwrap_or_default()),
            ));
        }
        let mut finished = false;
        call.lines(response, STREAM_IDLE, |line| {
            finished |= line.get("status").and_then(Value::as_str) == Some("success");
            Ok(())
        })
        .await
        .map_err(failed)?;
        if !finished {
            return Err(failed(
                "the engine stopped before the model was created".into(),
            ));
        }
        tracing::info!(model = %name, base = %base.name, "registered her Mind with the local engine");
        Ok(Organ {
            name,
            provider: None,
            api_key: None,
            url: url.to_string(),
        })
    }

    /// The context length `model` was trained for, from the engine's `/api/show` (its
    /// `model_info` has `<architecture>.context_length`); `None` when the engine cannot say.
    async fn trained_context(&self, call: &Call<'_>, model: &str) -> Option<u64> {
        let request = call
            .request(&self.http, Method::POST, "/api/show")
            .timeout(LIST_TIMEOUT)
            .json(&json!({"model": model}));
        let shown = call.json(call.send(request).await.ok()?).await.ok()?;
        let info = shown.get("model_info")?.as_object()?;
        info.iter()
            .find(|(key, _)| key.ends_with(".context_length"))
            .and_then(|(_, v)| v.as_u64())
            .filter(|n| *n > 0)
    }

    /// Removes her Mind's wrapper model. A model already gone counts as removed.
    pub async fn unregister_mind(&self, organ: &Organ) -> Result<(), OrganError> {
        let slot = OrganSlot::Thinking.as_str();
        if organ.provider.is_some() {
            return Ok(());
        }
        let call = Call {
            organ: slot,
            provider: None,
            url: organ.url.trim_end_matches('/'),
            key: None,
        };
        let request = call
            .request(&self.http, Method::DELETE, "/api/delete")
            .timeout(LIST_TIMEOUT)
            .json(&json!({"model": organ.name}));
        let response = call.send(request).await?;
        let status = response.status();
        if status.is_success() || status.as_u16() == 404 {
            return Ok(());
        }
        let reason = format!(
            "HTTP {}: {}",
            status.as_u16(),
            call.error_text(&response.text().await.unwrap_or_default())
        );
        Err(OrganError::UnregisterFailed {
            organ: slot,
            model: organ.name.clone(),
            reason,
        })
    }
}

/// Ollama resolves a name without a tag to `:latest`, so `llama3` and `llama3:latest` are one model.
fn same_local_model(installed: &str, wanted: &str) -> bool {
    fn full(name: &str) -> String {
        let tail = name.rsplit('/').next().unwrap_or(name);
        if tail.contains(':') {
            name.to_ascii_lowercase()
        } else {
            format!("{}:latest", name.to_ascii_lowercase())
        }
    }
    full(installed) == full(wanted)
}

#[cfg(test)]
mod tests {
    use super::same_local_model;

    #[test]
    fn latest_tag_is_implied() {
        assert!(same_local_model("llama3:latest", "llama3"));
        assert!(same_local_model("llama3", "llama3:latest"));
        assert!(!same_local_model("llama3:8b", "llama3"));
        assert!(same_local_model("library/qwen3:0.6b", "library/qwen3:0.6b"));
    }
}
