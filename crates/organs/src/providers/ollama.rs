//! Ollama, her local engine over HTTP (the provider `None`): a bearer key when one is given,
//! `format` for structure, and the preparation only a local engine needs — listing installed
//! models, pulling a missing one with progress, and registering her Mind as `eternego-<id>`.

use std::borrow::Cow;
use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use super::{Base64, Defaults, Function, LIST_TIMEOUT, system_with_schema};
use crate::OrganError;
use crate::chat::{ChatRequest, Image, Role, ToolCall};
use crate::reply::Usage;
use crate::wire::Call;

pub(crate) const DEFAULTS: Defaults = Defaults {
    name: "the local engine",
    env: "OLLAMA_BASE_URL",
    url: "http://localhost:11434",
};

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

pub(crate) fn authorize(builder: RequestBuilder, key: &str) -> RequestBuilder {
    builder.bearer_auth(key)
}

pub(crate) fn chat(
    call: &Call<'_>,
    http: &reqwest::Client,
    model: &str,
    request: &ChatRequest,
) -> RequestBuilder {
    call.request(http, Method::POST, "/api/chat")
        .json(&body(model, request))
}

/// The same request with `stream: true`: the answer arrives as NDJSON lines of text, the last
/// one (`done: true`) carrying the stop reason and the counts.
pub(crate) fn chat_streamed(
    call: &Call<'_>,
    http: &reqwest::Client,
    model: &str,
    request: &ChatRequest,
) -> RequestBuilder {
    let mut body = body(model, request);
    body.stream = true;
    call.request(http, Method::POST, "/api/chat").json(&body)
}

/// The streamed lines as one answer: the last line with the whole text in its message.
pub(crate) async fn gather(
    call: &Call<'_>,
    response: reqwest::Response,
    idle: Duration,
    on_text: &mut (dyn FnMut(&str) + Send),
) -> Result<Value, String> {
    let mut content = String::new();
    let mut last = None;
    call.lines(response, idle, |line| {
        if let Some(piece) = line.pointer("/message/content").and_then(Value::as_str)
            && !piece.is_empty()
        {
            on_text(piece);
            content.push_str(piece);
        }
        if line.get("done") == Some(&Value::Bool(true)) {
            last = Some(line);
        }
        Ok(())
    })
    .await?;
    let mut last = last.ok_or("the stream ended before the answer was done")?;
    let Some(fields) = last.as_object_mut() else {
        return Err("the last line of the stream is not an object".into());
    };
    fields.insert(
        "message".into(),
        json!({"role": "assistant", "content": content}),
    );
    Ok(last)
}

pub(crate) fn read(answer: &Value) -> Result<(String, Option<Value>), String> {
    let content = answer
        .pointer("/message/content")
        .and_then(Value::as_str)
        .ok_or("no message content")?;
    Ok((content.to_string(), None))
}

pub(crate) fn cut_off(answer: &Value) -> bool {
    answer.pointer("/done_reason").and_then(Value::as_str) == Some("length")
}

/// `prompt_eval_count` (absent when the whole prompt was already in the engine's cache) and
/// `eval_count`, on the answer or on the last line of a stream.
pub(crate) fn usage(answer: &Value) -> Usage {
    Usage::read(answer, &["/prompt_eval_count"], &["/eval_count"])
}

/// The model to use from the local engine: `model` when installed (pulled first when not),
/// or the first installed one when none is named.
pub(crate) async fn prepare(
    call: &Call<'_>,
    http: &reqwest::Client,
    model: Option<&str>,
) -> Result<String, OrganError> {
    let installed = installed(call, http).await?;
    let Some(model) = model else {
        return installed
            .into_iter()
            .next()
            .ok_or(OrganError::NoLocalModel { organ: call.organ });
    };
    if !installed.iter().any(|m| same_local_model(m, model)) {
        pull(call, http, model).await?;
    }
    Ok(model.to_string())
}

/// The names of the models installed in the engine.
pub(crate) async fn installed(
    call: &Call<'_>,
    http: &reqwest::Client,
) -> Result<Vec<String>, OrganError> {
    let response = call
        .send(
            call.request(http, Method::GET, "/api/tags")
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
async fn pull(call: &Call<'_>, http: &reqwest::Client, model: &str) -> Result<(), OrganError> {
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
        .request(http, Method::POST, "/api/pull")
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

/// Creates `name` in the engine from `base`, with a context window that holds her prompt.
pub(crate) async fn register(
    call: &Call<'_>,
    http: &reqwest::Client,
    name: &str,
    base: &str,
) -> Result<(), OrganError> {
    let failed = |reason: String| OrganError::RegisterFailed {
        organ: call.organ,
        model: name.to_string(),
        reason,
    };
    let mut create = json!({"model": name, "from": base, "stream": true});
    match trained_context(call, http, base).await {
        Some(trained) => create["parameters"] = json!({"num_ctx": trained.min(MIND_CONTEXT)}),
        None => {
            tracing::warn!(model = %base, "the local engine did not say how long a context the model takes; her Mind keeps the engine's default window")
        }
    }
    let request = call
        .request(http, Method::POST, "/api/create")
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
    Ok(())
}

/// The context length `model` was trained for, from the engine's `/api/show` (its
/// `model_info` has `<architecture>.context_length`); `None` when the engine cannot say.
async fn trained_context(call: &Call<'_>, http: &reqwest::Client, model: &str) -> Option<u64> {
    let request = call
        .request(http, Method::POST, "/api/show")
        .timeout(LIST_TIMEOUT)
        .json(&json!({"model": model}));
    let shown = call.json(call.send(request).await.ok()?).await.ok()?;
    let info = shown.get("model_info")?.as_object()?;
    info.iter()
        .find(|(key, _)| key.ends_with(".context_length"))
        .and_then(|(_, v)| v.as_u64())
        .filter(|n| *n > 0)
}

/// Removes `model` from the engine. A model already gone counts as removed.
pub(crate) async fn delete(
    call: &Call<'_>,
    http: &reqwest::Client,
    model: &str,
) -> Result<(), OrganError> {
    let request = call
        .request(http, Method::DELETE, "/api/delete")
        .timeout(LIST_TIMEOUT)
        .json(&json!({"model": model}));
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
        organ: call.organ,
        model: model.to_string(),
        reason,
    })
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

/// A turn's images as a list of bare base64 strings (Ollama's shape).
struct Base64Images<'a>(&'a [Image]);

impl Base64Images<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Base64Images<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|i| Base64(&i.bytes)))
    }
}

#[derive(Serialize)]
pub(crate) struct Ollama<'a> {
    model: &'a str,
    messages: Vec<OllamaMessage<'a>>,
    stream: bool,
    /// Ollama constrains output to this schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'a Value>,
}

#[derive(Serialize)]
struct OllamaMessage<'a> {
    role: &'static str,
    content: Cow<'a, str>,
    /// Present on tool turns only, as `null` when the call's name is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_name: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Base64Images::is_empty")]
    images: Base64Images<'a>,
    #[serde(skip_serializing_if = "OllamaCalls::is_empty")]
    tool_calls: OllamaCalls<'a>,
}

struct OllamaCalls<'a>(&'a [ToolCall]);

impl OllamaCalls<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for OllamaCalls<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|c| OllamaCall {
            function: Function {
                name: &c.name,
                arguments: &c.arguments,
            },
        }))
    }
}

#[derive(Serialize)]
struct OllamaCall<'a> {
    function: Function<'a, &'a Value>,
}

/// Ollama's docs advise stating the schema in the prompt as well as in `format`.
pub(crate) fn body<'a>(model: &'a str, request: &'a ChatRequest) -> Ollama<'a> {
    let system = system_with_schema(&request.system, request.schema.as_ref());
    let system = (!system.is_empty()).then_some(OllamaMessage {
        role: "system",
        content: system,
        tool_name: None,
        images: Base64Images(&[]),
        tool_calls: OllamaCalls(&[]),
    });
    let turns = request.messages.iter().map(|m| OllamaMessage {
        role: match m.role {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        },
        content: Cow::Borrowed(&m.text),
        tool_name: (m.role == Role::Tool).then_some(m.tool_name.as_deref()),
        images: Base64Images(&m.images),
        tool_calls: OllamaCalls(&m.tool_calls),
    });
    Ollama {
        model,
        messages: system.into_iter().chain(turns).collect(),
        stream: false,
        format: request.schema.as_ref().map(|s| &s.schema),
    }
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
