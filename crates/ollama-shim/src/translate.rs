//! Ollama's `/api/chat` and `/api/generate` bodies onto OpenAI's `/v1/chat/completions`, and
//! the answers back. Only what the upstream can honour is translated; anything it cannot
//! (images: the upstream has no vision weights; raw prompts) is refused with a clear error
//! rather than silently dropped.

use serde_json::{Map, Value, json};

/// Why a request cannot be translated; becomes a 400 `{"error": …}`.
#[derive(Debug, PartialEq)]
pub struct Invalid(pub String);

fn invalid(text: impl Into<String>) -> Invalid {
    Invalid(text.into())
}

/// The upstream body for an Ollama chat request.
pub fn chat(upstream_model: &str, request: &Value, stream: bool) -> Result<Value, Invalid> {
    let mut messages = Vec::new();
    let mut call_ids: Vec<String> = Vec::new();
    let mut answered = 0usize;
    for m in request
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let role = m
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("every message needs a role"))?;
        let content = m.get("content").and_then(Value::as_str).unwrap_or("");
        refuse_images(m)?;
        match role {
            "system" | "user" => messages.push(json!({"role": role, "content": content})),
            "assistant" => {
                let calls: Vec<Value> = m
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        let id = format!("call_{}", call_ids.len());
                        call_ids.push(id.clone());
                        let function = c.get("function").cloned().unwrap_or(Value::Null);
                        let arguments = function.get("arguments").cloned().unwrap_or_else(|| json!({}));
                        json!({"id": id, "type": "function", "function": {
                            "name": function.get("name").cloned().unwrap_or(Value::Null),
                            "arguments": if arguments.is_string() { arguments } else { json!(arguments.to_string()) }}})
                    })
                    .collect();
                if calls.is_empty() {
                    messages.push(json!({"role": "assistant", "content": content}));
                } else {
                    messages.push(
                        json!({"role": "assistant", "content": content, "tool_calls": calls}),
                    );
                }
            }
            // Ollama pairs results with calls by order; OpenAI by id.
            "tool" => {
                let id = call_ids
                    .get(answered)
                    .cloned()
                    .unwrap_or_else(|| format!("call_{answered}"));
                answered += 1;
                messages.push(json!({"role": "tool", "tool_call_id": id, "content": content}));
            }
            other => return Err(invalid(format!("unknown message role '{other}'"))),
        }
    }
    let mut body = json!({"model": upstream_model, "messages": messages});
    if let Some(tools) = request
        .get("tools")
        .filter(|t| t.as_array().is_some_and(|a| !a.is_empty()))
    {
        body["tools"] = tools.clone();
    }
    common(&mut body, request, stream)?;
    Ok(body)
}

/// The upstream body for an Ollama generate request: its `system` and `prompt` as two turns.
pub fn generate(upstream_model: &str, request: &Value, stream: bool) -> Result<Value, Invalid> {
    if request.get("raw").and_then(Value::as_bool) == Some(true) {
        return Err(invalid(
            "raw prompts are not supported: the upstream only offers chat completions",
        ));
    }
    refuse_images(request)?;
    let mut messages = Vec::new();
    if let Some(system) = request
        .get("system")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.push(json!({"role": "user", "content": request.get("prompt").and_then(Value::as_str).unwrap_or("")}));
    let mut body = json!({"model": upstream_model, "messages": messages});
    common(&mut body, request, stream)?;
    Ok(body)
}

fn refuse_images(v: &Value) -> Result<(), Invalid> {
    if v.get("images")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        return Err(invalid(
            "images are not supported: the model behind this shim has no vision",
        ));
    }
    Ok(())
}

/// Ollama's documented sampling defaults, which differ from llama.cpp's (no repeat penalty,
/// `top_p` 0.95, `min_p` 0.05). A request without `options` samples as it would on Ollama: with
/// llama.cpp's own defaults a small model loops inside a JSON string far more often.
const SAMPLING_DEFAULTS: [(&str, f64); 6] = [
    ("temperature", 0.8),
    ("top_k", 40.0),
    ("top_p", 0.9),
    ("min_p", 0.0),
    ("repeat_penalty", 1.1),
    ("repeat_last_n", 64.0),
];

/// `format`, `options` and streaming, shared by chat and generate.
fn common(body: &mut Value, request: &Value, stream: bool) -> Result<(), Invalid> {
    match request.get("format") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.is_empty() => {}
        Some(Value::String(s)) if s == "json" => {
            body["response_format"] = json!({"type": "json_object"})
        }
        Some(schema @ Value::Object(_)) => {
            body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "format", "schema": schema, "strict": true}});
        }
        Some(other) => {
            return Err(invalid(format!(
                "format must be \"json\" or a JSON schema, got {other}"
            )));
        }
    }
    for (name, value) in SAMPLING_DEFAULTS {
        body[name] = json!(value);
    }
    if let Some(options) = request.get("options").and_then(Value::as_object) {
        for (ours, theirs) in [
            ("temperature", "temperature"),
            ("top_p", "top_p"),
            ("top_k", "top_k"),
            ("min_p", "min_p"),
            ("seed", "seed"),
            ("repeat_penalty", "repeat_penalty"),
            ("repeat_last_n", "repeat_last_n"),
            ("stop", "stop"),
        ] {
            if let Some(v) = options.get(ours).filter(|v| !v.is_null()) {
                body[theirs] = v.clone();
            }
        }
        // Ollama's -1 (no limit) and -2 (fill the context) are the upstream's default.
        if let Some(n) = options
            .get("num_predict")
            .and_then(Value::as_i64)
            .filter(|n| *n > 0)
        {
            body["max_tokens"] = json!(n);
        }
    }
    if stream {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    Ok(())
}

/// Counts and timings for Ollama's final (`done: true`) object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Done {
    pub reason: String,
    pub prompt_tokens: u64,
    pub eval_tokens: u64,
    pub prompt_ns: u64,
    pub eval_ns: u64,
}

impl Done {
    /// Reads what the upstream reported: `usage` (OpenAI) and `timings` (llama.cpp).
    pub fn absorb(&mut self, chunk: &Value) {
        if let Some(reason) = chunk
            .pointer("/choices/0/finish_reason")
            .and_then(Value::as_str)
        {
            self.reason = if reason == "length" {
                "length".into()
            } else {
                "stop".into()
            };
        }
        if let Some(n) = chunk
            .pointer("/usage/prompt_tokens")
            .and_then(Value::as_u64)
        {
            self.prompt_tokens = n;
        }
        if let Some(n) = chunk
            .pointer("/usage/completion_tokens")
            .and_then(Value::as_u64)
        {
            self.eval_tokens = n;
        }
        let ms = |key: &str| {
            chunk
                .get("timings")
                .and_then(|t| t.get(key))
                .and_then(Value::as_f64)
                .map(|ms| (ms * 1e6) as u64)
        };
        if let Some(ns) = ms("prompt_ms") {
            self.prompt_ns = ns;
        }
        if let Some(ns) = ms("predicted_ms") {
            self.eval_ns = ns;
        }
    }

    /// Ollama's closing fields; `total_ns` is the shim's own wall time for the request.
    pub fn fields(&self, total_ns: u64) -> Map<String, Value> {
        let reason = if self.reason.is_empty() {
            "stop"
        } else {
            &self.reason
        };
        let mut out = Map::new();
        out.insert("done".into(), json!(true));
        out.insert("done_reason".into(), json!(reason));
        out.insert("total_duration".into(), json!(total_ns));
        out.insert("load_duration".into(), json!(0));
        out.insert("prompt_eval_count".into(), json!(self.prompt_tokens));
        out.insert("prompt_eval_duration".into(), json!(self.prompt_ns));
        out.insert("eval_count".into(), json!(self.eval_tokens));
        out.insert("eval_duration".into(), json!(self.eval_ns));
        out
    }
}

/// An OpenAI message (or stream delta) as Ollama's `message`: content, and tool calls with
/// their arguments as objects.
pub fn message(openai: &Value) -> Value {
    let mut out = json!({"role": "assistant", "content": openai.get("content").and_then(Value::as_str).unwrap_or("")});
    let calls: Vec<Value> = openai
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(tool_call)
        .collect();
    if !calls.is_empty() {
        out["tool_calls"] = json!(calls);
    }
    out
}

fn tool_call(call: &Value) -> Value {
    let arguments = match call.pointer("/function/arguments") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_else(|_| json!({})),
        Some(v @ Value::Object(_)) => v.clone(),
        _ => json!({}),
    };
    json!({"function": {"name": call.pointer("/function/name").cloned().unwrap_or(Value::Null), "arguments": arguments}})
}

/// Gathers streamed tool-call deltas (split by `index`) into whole calls.
#[derive(Default)]
pub struct ToolCalls {
    calls: Vec<(String, String)>,
}

impl ToolCalls {
    pub fn absorb(&mut self, delta: &Value) {
        for d in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = d
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(self.calls.len() as u64) as usize;
            while self.calls.len() <= index {
                self.calls.push(Default::default());
            }
            if let Some(name) = d.pointer("/function/name").and_then(Value::as_str) {
                self.calls[index].0.push_str(name);
            }
            if let Some(args) = d.pointer("/function/arguments").and_then(Value::as_str) {
                self.calls[index].1.push_str(args);
            }
        }
    }

    /// The gathered calls in Ollama's shape, if any.
    pub fn finish(&self) -> Option<Value> {
        if self.calls.is_empty() {
            return None;
        }
        Some(json!(
            self.calls
                .iter()
                .map(|(name, args)| tool_call(
                    &json!({"function": {"name": name, "arguments": args}})
                ))
                .collect::<Vec<_>>()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_maps_format_options_and_tools() {
        let request = json!({
        "model": "mine", "format": {"type": "object"},
        "options": {"temperature": 0, "num_predict": 64, "seed": 7, "num_ctx": 4096},
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
            {"role": "tool", "content": "42", "tool_name": "f"}
        ]});
        let body = chat("up", &request, true).unwrap();
        assert_eq!(body["model"], "up");
        assert_eq!(
            body["response_format"]["json_schema"]["schema"],
            json!({"type": "object"})
        );
        assert_eq!(
            (
                body["temperature"].clone(),
                body["max_tokens"].clone(),
                body["seed"].clone()
            ),
            (json!(0), json!(64), json!(7))
        );
        assert!(body.get("num_ctx").is_none());
        assert_eq!(
            body["messages"][2]["tool_calls"][0]["function"]["arguments"],
            "{\"a\":1}"
        );
        assert_eq!(
            body["messages"][3],
            json!({"role": "tool", "tool_call_id": "call_0", "content": "42"})
        );
        assert_eq!(body["stream_options"]["include_usage"], true);
    }

    #[test]
    fn json_format_unlimited_prediction_and_refusals() {
        let body = generate("up", &json!({"prompt": "p", "system": "s", "format": "json", "options": {"num_predict": -1}}), false).unwrap();
        assert_eq!(body["response_format"], json!({"type": "json_object"}));
        assert_eq!(
            body["messages"],
            json!([{"role": "system", "content": "s"}, {"role": "user", "content": "p"}])
        );
        assert!(body.get("max_tokens").is_none() && body.get("stream").is_none());
        let sampling: Vec<Value> = [
            "temperature",
            "top_k",
            "top_p",
            "min_p",
            "repeat_penalty",
            "repeat_last_n",
        ]
        .iter()
        .map(|k| body[*k].clone())
        .collect();
        assert_eq!(
            sampling,
            [
                json!(0.8),
                json!(40.0),
                json!(0.9),
                json!(0.0),
                json!(1.1),
                json!(64.0)
            ],
            "Ollama's defaults when options say nothing"
        );
        assert!(generate("up", &json!({"prompt": "p", "images": ["AAAA"]}), false).is_err());
        assert!(generate("up", &json!({"prompt": "p", "raw": true}), false).is_err());
        assert!(
            chat(
                "up",
                &json!({"messages": [{"role": "user", "content": "x", "images": ["AA"]}]}),
                false
            )
            .is_err()
        );
        assert!(chat("up", &json!({"messages": [], "format": 3}), false).is_err());
    }

    #[test]
    fn answers_come_back_in_ollama_shape() {
        let m = message(
            &json!({"content": null, "tool_calls": [{"id": "x", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}),
        );
        assert_eq!(
            m,
            json!({"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]})
        );
        let mut calls = ToolCalls::default();
        calls.absorb(&json!({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": "{\"a\""}}]}));
        calls.absorb(&json!({"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}));
        assert_eq!(
            calls.finish(),
            Some(json!([{"function": {"name": "f", "arguments": {"a": 1}}}]))
        );
        let mut done = Done::default();
        done.absorb(&json!({"choices": [{"finish_reason": "length"}], "usage": {"prompt_tokens": 5, "completion_tokens": 3},
                            "timings": {"prompt_ms": 1.5, "predicted_ms": 2.0}}));
        let fields = done.fields(9);
        assert_eq!(
            (
                fields["done_reason"].clone(),
                fields["eval_count"].clone(),
                fields["prompt_eval_duration"].clone()
            ),
            (json!("length"), json!(3), json!(1_500_000))
        );
    }
}
