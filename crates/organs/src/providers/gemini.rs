//! Gemini's `generateContent` (and `streamGenerateContent` as server-sent events):
//! `x-goog-api-key`, an OpenAPI-subset response schema, models listed as `models/<id>`.

use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use super::{Base64, Defaults, LIST_TIMEOUT, text_or_placeholder};
use crate::OrganError;
use crate::chat::{ChatRequest, Message, Role};
use crate::reply::Usage;
use crate::wire::Call;

pub(crate) const DEFAULTS: Defaults = Defaults {
    name: "gemini",
    env: "GEMINI_BASE_URL",
    url: "https://generativelanguage.googleapis.com",
};

pub(crate) fn authorize(builder: RequestBuilder, key: &str) -> RequestBuilder {
    builder.header("x-goog-api-key", key)
}

pub(crate) fn chat(
    call: &Call<'_>,
    http: &reqwest::Client,
    model: &str,
    request: &ChatRequest,
) -> RequestBuilder {
    call.request(
        http,
        Method::POST,
        &format!("/v1beta/models/{model}:generateContent"),
    )
    .json(&body(request))
}

/// The same request streamed: each event a partial response with more of the text.
pub(crate) fn chat_streamed(
    call: &Call<'_>,
    http: &reqwest::Client,
    model: &str,
    request: &ChatRequest,
) -> RequestBuilder {
    call.request(
        http,
        Method::POST,
        &format!("/v1beta/models/{model}:streamGenerateContent?alt=sse"),
    )
    .json(&body(request))
}

/// The streamed responses as one: the text of every part joined (thoughts are not passed on),
/// the last finish reason and counts. A stream with no candidate at all (a blocked prompt) is
/// its last response, which [`read`] explains.
pub(crate) async fn gather(
    call: &Call<'_>,
    response: reqwest::Response,
    idle: Duration,
    on_text: &mut (dyn FnMut(&str) + Send),
) -> Result<Value, String> {
    let (mut text, mut answered) = (String::new(), false);
    let (mut finish, mut usage, mut last) = (Value::Null, Value::Null, Value::Null);
    call.events(response, idle, |chunk| {
        if let Some(candidate) = chunk.pointer("/candidates/0") {
            answered = true;
            let parts = candidate
                .pointer("/content/parts")
                .and_then(Value::as_array);
            for part in parts.into_iter().flatten() {
                if part.get("thought").and_then(Value::as_bool) == Some(true) {
                    continue;
                }
                if let Some(piece) = part.get("text").and_then(Value::as_str) {
                    on_text(piece);
                    text.push_str(piece);
                }
            }
            if let Some(reason) = candidate.get("finishReason") {
                finish = reason.clone();
            }
        }
        if let Some(counts) = chunk.get("usageMetadata") {
            usage = counts.clone();
        }
        last = chunk;
        Ok(())
    })
    .await?;
    if !answered {
        return Ok(last);
    }
    Ok(
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                              "finishReason": finish}],
              "usageMetadata": usage}),
    )
}

pub(crate) fn read(answer: &Value) -> Result<(String, Option<Value>), String> {
    let Some(candidate) = answer.pointer("/candidates/0") else {
        let reason = answer
            .pointer("/promptFeedback/blockReason")
            .and_then(Value::as_str)
            .unwrap_or("no candidates");
        return Err(format!("no answer ({reason})"));
    };
    let parts = candidate
        .pointer("/content/parts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let text: String = parts
        .iter()
        .filter(|p| p.get("thought").and_then(Value::as_bool) != Some(true))
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect();
    Ok((text, None))
}

/// `promptTokenCount`, and what it wrote: `candidatesTokenCount` plus `thoughtsTokenCount`
/// (a thinking model's reasoning, billed as output).
pub(crate) fn usage(answer: &Value) -> Usage {
    Usage::read(
        answer,
        &["/usageMetadata/promptTokenCount"],
        &[
            "/usageMetadata/candidatesTokenCount",
            "/usageMetadata/thoughtsTokenCount",
        ],
    )
}

pub(crate) fn cut_off(answer: &Value) -> bool {
    answer
        .pointer("/candidates/0/finishReason")
        .and_then(Value::as_str)
        == Some("MAX_TOKENS")
}

/// Gemini names models `models/<id>`; she keeps the bare id.
pub(crate) fn model_name(model: &str) -> &str {
    model.trim_start_matches("models/")
}

/// Gemini lists `models/<id>`, paged by `nextPageToken`.
pub(crate) async fn has_model(
    call: &Call<'_>,
    http: &reqwest::Client,
    model: &str,
) -> Result<bool, OrganError> {
    let wanted = format!("models/{}", model_name(model));
    let mut token: Option<String> = None;
    loop {
        let mut request = call
            .request(http, Method::GET, "/v1beta/models")
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Gemini<'a> {
    contents: Vec<GeminiContent<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<GeminiSystem<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation_config: Option<GenerationConfig>,
}

#[derive(Serialize)]
struct GeminiContent<'a> {
    role: &'static str,
    parts: GeminiParts<'a>,
}

/// A turn's parts: a function response alone, or its text, images and function calls, with a
/// placeholder text when it has none (Gemini refuses empty parts).
struct GeminiParts<'a>(&'a Message);

impl Serialize for GeminiParts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        if m.role == Role::Tool {
            let name = m.tool_name.as_deref().unwrap_or_default();
            return s.collect_seq([Part::FunctionResponse {
                name,
                response: FunctionResponse { content: &m.text },
            }]);
        }
        let inline = m
            .images
            .iter()
            .map(|i| (&i.mime, &i.bytes))
            .chain(m.documents.iter().map(|d| (&d.mime, &d.bytes)));
        let inline = inline.map(|(mime, bytes)| Part::InlineData {
            mime_type: mime,
            data: Base64(bytes),
        });
        let calls = m.tool_calls.iter().map(|c| Part::FunctionCall {
            name: &c.name,
            args: &c.arguments,
        });
        s.collect_seq(
            text_or_placeholder(m)
                .map(Part::Text)
                .into_iter()
                .chain(inline)
                .chain(calls),
        )
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum Part<'a> {
    Text(&'a str),
    InlineData {
        #[serde(rename = "mimeType")]
        mime_type: &'a str,
        data: Base64<'a>,
    },
    FunctionCall {
        name: &'a str,
        args: &'a Value,
    },
    FunctionResponse {
        name: &'a str,
        response: FunctionResponse<'a>,
    },
}

#[derive(Serialize)]
struct FunctionResponse<'a> {
    content: &'a str,
}

#[derive(Serialize)]
struct GeminiSystem<'a> {
    parts: [Part<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    response_mime_type: &'static str,
    response_schema: Value,
}

pub(crate) fn body(request: &ChatRequest) -> Gemini<'_> {
    let contents = request
        .messages
        .iter()
        .map(|m| GeminiContent {
            role: if m.role == Role::Assistant {
                "model"
            } else {
                "user"
            },
            parts: GeminiParts(m),
        })
        .collect();
    Gemini {
        contents,
        system_instruction: (!request.system.is_empty()).then(|| GeminiSystem {
            parts: [Part::Text(&request.system)],
        }),
        generation_config: request.schema.as_ref().map(|schema| GenerationConfig {
            response_mime_type: "application/json",
            response_schema: gemini_schema(&schema.schema),
        }),
    }
}

/// Gemini's `responseSchema` is an OpenAPI subset: no `$`-keywords or `additionalProperties`,
/// and a nullable type is `nullable: true` rather than a type list.
fn gemini_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                if k.starts_with('$') || k == "additionalProperties" {
                    continue;
                }
                if k == "type"
                    && let Value::Array(types) = v
                {
                    let real: Vec<&Value> = types
                        .iter()
                        .filter(|t| t.as_str() != Some("null"))
                        .collect();
                    if real.len() < types.len() {
                        out.insert("nullable".into(), Value::Bool(true));
                    }
                    out.insert(
                        "type".into(),
                        real.first().map_or(Value::from("string"), |t| (*t).clone()),
                    );
                    continue;
                }
                out.insert(
                    k.clone(),
                    if k == "properties" {
                        properties(v)
                    } else {
                        gemini_schema(v)
                    },
                );
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(gemini_schema).collect()),
        other => other.clone(),
    }
}

/// Property names are data, not keywords: keep them all and clean their schemas.
fn properties(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, s)| (k.clone(), gemini_schema(s)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn gemini_schema_drops_what_it_cannot_take() {
        let schema = json!({"$schema": "x", "type": "object", "additionalProperties": false,
                            "properties": {"type": {"type": ["string", "null"]}}});
        assert_eq!(
            gemini_schema(&schema),
            json!({"type": "object", "properties": {"type": {"type": "string", "nullable": true}}})
        );
    }
}
