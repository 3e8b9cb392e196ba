//! OpenAI's API in front of her: the official `openai` Python client against a real daemon
//! whose persona thinks with a fake Mind (the fake OpenAI server on loopback), and the shapes
//! a client relies on checked over raw HTTP.

mod support;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use support::*;
use testkit::{ScriptedReply, responder};

const REPLY: &str = "I am right here with you.";

fn openai_importable() -> bool {
    Command::new("python3")
        .args(["-c", "import openai"])
        .output()
        .is_ok_and(|o| o.status.success())
}

async fn cloud_persona(d: &Harness) -> String {
    let (status, created) = d
        .post(
            "/api/persona/create",
            json!({"name": "Iris", "thinking_model": "gpt-5.4", "thinking_provider": "openai",
                   "thinking_api_key": OPENAI_KEY}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    created["persona"]["id"].as_str().unwrap().to_string()
}

fn person_lines(conversation: &Value, text: &str) -> Vec<Value> {
    conversation["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "person" && m["content"] == text)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_official_openai_client_talks_with_her() {
    if !openai_importable() {
        println!(
            "NOTICE: skipping: the openai package is not importable (pip install -r .ci/requirements.txt)"
        );
        return;
    }
    let fakes = Fakes::start().await;
    fakes
        .openai
        .set_responder(responder(|_| ScriptedReply::text(REPLY)));
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = cloud_persona(&d).await;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openai/openai_check.py");
    let (url, model) = (d.url.clone(), id.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args([script, &url, &model, REPLY])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "openai_check failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("all openai calls succeeded"), "{stdout}");

    // The exchange is in her conversation, on her openai channel, and the history the client
    // re-sent was not fed to her twice.
    let (_, conversation) = d.get(&format!("/api/persona/{id}/conversation")).await;
    let via = json!({"type": "openai", "name": "openai"});
    let hello = person_lines(&conversation, "Hello there");
    assert_eq!(hello.len(), 1, "{conversation}");
    assert_eq!(hello[0]["channel"], via);
    assert_eq!(
        person_lines(&conversation, "What is in this picture?").len(),
        1,
        "{conversation}"
    );
    assert!(
        conversation["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["role"] == "assistant" && m["channel"] == via && m["content"] == REPLY),
        "{conversation}"
    );
    assert!(
        !conversation.to_string().contains("You are helpful."),
        "the client's system message is not hers"
    );
    d.shutdown().await;
}

#[tokio::test]
async fn models_and_errors_take_openai_shapes() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = cloud_persona(&d).await;

    let (status, list) = d.get("/v1/models").await;
    assert_eq!(status, 200);
    assert_eq!(list["object"], "list");
    let model = &list["data"][0];
    assert_eq!(model["id"], id);
    assert_eq!(model["object"], "model");
    assert_eq!(model["owned_by"], "eternego");
    assert!(model["created"].as_i64().unwrap() > 0);
    let (status, one) = d.get(&format!("/v1/models/{id}")).await;
    assert_eq!((status, &one), (200, model));
    let (status, missing) = d.get("/v1/models/nobody").await;
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["type"], "invalid_request_error");
    assert_eq!(missing["error"]["code"], "model_not_found");
    assert!(missing["error"]["message"].is_string());

    let ask =
        |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    let (status, body) = d.post("/v1/chat/completions", ask("nobody")).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("model_not_found"))
    );
    let (status, body) = d
        .post("/v1/chat/completions", json!({"model": id, "messages": []}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "messages");

    d.post_empty(&format!("/api/persona/{id}/stop")).await;
    let (status, body) = d.post("/v1/chat/completions", ask(&id)).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "persona_not_running");

    // The Host/Origin guard applies here too.
    let r = d
        .client
        .post(format!("{}/v1/chat/completions", d.url))
        .header("origin", "http://evil.example")
        .json(&ask(&id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    d.shutdown().await;
}

/// Her Mind is held until the test lets it go, so the request cannot be answered in time: the
/// client gets OpenAI's shape with 504. A second request queues behind the first instead of
/// cutting its beat off, and both are answered once her Mind answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unanswered_request_is_a_504_and_requests_queue() {
    let fakes = Fakes::start().await;
    let held = Arc::new(AtomicBool::new(false));
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = Arc::new(Mutex::new(gate));
    {
        let (held, gate) = (held.clone(), gate.clone());
        fakes.openai.set_responder(responder(move |_| {
            if held.load(Ordering::SeqCst) {
                // Blocks this request's thread until the sender is dropped.
                let _ = gate.lock().unwrap().recv();
            }
            ScriptedReply::text(REPLY)
        }));
    }
    let home = tempfile::tempdir().unwrap();
    let mut config = config(home.path(), &fakes);
    config.chat_timeout = Duration::from_secs(1);
    let d = Harness::with_config(config).await;
    let id = cloud_persona(&d).await;
    held.store(true, Ordering::SeqCst);

    let ask = |text: &str| json!({"model": id, "messages": [{"role": "user", "content": text}]});
    let (status, body) = d.post("/v1/chat/completions", ask("are you there?")).await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["error"]["type"], "timeout_error");
    assert_eq!(body["error"]["code"], "timeout");

    drop(release);
    held.store(false, Ordering::SeqCst);
    let (first, second) = tokio::join!(
        d.post("/v1/chat/completions", ask("first question")),
        d.post("/v1/chat/completions", ask("second question")),
    );
    for (status, body) in [first, second] {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
    }
    d.shutdown().await;
}

#[tokio::test]
async fn the_openapi_document_names_every_new_route_with_distinct_ids() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let (_, doc) = d.get("/openapi.json").await;
    let paths = &doc["paths"];
    for (path, method, id) in [
        ("/v1/models", "get", "list_models"),
        ("/v1/models/{model}", "get", "retrieve_model"),
        ("/v1/chat/completions", "post", "create_chat_completion"),
        ("/api/persona/{persona_id}/channels", "post", "add_channel"),
        (
            "/api/persona/{persona_id}/channels/{channel_name}",
            "delete",
            "remove_channel",
        ),
        ("/api/persona/{persona_id}/see", "post", "see"),
        ("/v1/instances", "post", "sdk_create_instance"),
        ("/v1/instances/{id}/snapshot", "get", "sdk_get_snapshot"),
        ("/instances", "post", "create_instance"),
    ] {
        assert_eq!(
            paths[path][method]["operationId"], id,
            "{method} {path} in /openapi.json"
        );
    }
    let hear = &paths["/api/persona/{persona_id}/hear"]["post"]["requestBody"]["content"];
    assert!(hear["multipart/form-data"].is_object() && hear["application/json"].is_object());
    let mut ids = std::collections::BTreeSet::new();
    for item in paths.as_object().unwrap().values() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if let Some(id) = item[method]["operationId"].as_str() {
                assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
            }
        }
    }
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["AddChannelRequest"]["required"],
        json!(["kind", "credentials"])
    );
    assert!(schemas["ChatCompletion"]["properties"]["usage"].is_object());
    d.shutdown().await;
}

/// The `content` of each delta in server-sent `chat.completion.chunk` events, and any usage.
fn deltas(events: &str) -> (Vec<String>, Option<Value>) {
    let mut contents = Vec::new();
    let mut usage = None;
    for data in events
        .split("\n\n")
        .filter_map(|e| e.trim().strip_prefix("data: "))
    {
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            continue;
        };
        if let Some(text) = chunk["choices"][0]["delta"]["content"].as_str() {
            contents.push(text.to_string());
        }
        if chunk["usage"].is_object() {
            usage = Some(chunk["usage"].clone());
        }
    }
    (contents, usage)
}

/// Usage as the fake counts it: 12 tokens read and 7 written by each call in the beat.
fn fake_usage(usage: &Value) -> u64 {
    let calls = usage["prompt_tokens"].as_u64().unwrap() / 12;
    assert!(calls >= 1, "{usage}");
    assert_eq!(
        usage,
        &json!({"prompt_tokens": 12 * calls, "completion_tokens": 7 * calls, "total_tokens": 19 * calls})
    );
    calls
}

/// Her Mind's answer is held after its first piece of text: the client already has her first
/// words, which could only have come from the answer as it was written. Usage is what her
/// Mind's provider counted in the beat.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn her_words_stream_as_her_mind_writes_them_and_usage_counts_her_tokens() {
    let fakes = Fakes::start().await;
    fakes
        .openai
        .set_responder(responder(|_| ScriptedReply::Json(json!({"say": REPLY}))));
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = cloud_persona(&d).await;
    let gate = fakes
        .openai
        .hold_next_stream(|body| body["response_format"]["json_schema"]["name"] == "recognizing");
    let calls_before = fakes.openai.requests().to("/v1/chat/completions").len();

    let response = d
        .client
        .post(format!("{}/v1/chat/completions", d.url))
        .json(
            &json!({"model": id, "stream": true, "stream_options": {"include_usage": true},
                      "messages": [{"role": "user", "content": "Hello there"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut events = String::new();
    let first = loop {
        let bytes = body
            .next()
            .await
            .expect("the stream ended before her first words")
            .unwrap();
        events.push_str(&String::from_utf8_lossy(&bytes));
        if let Some(first) = deltas(&events).0.into_iter().find(|c| !c.is_empty()) {
            break first;
        }
    };
    assert!(
        REPLY.starts_with(&first) && first.len() < REPLY.len(),
        "{first:?} is the start of her reply, sent while her Mind was still writing"
    );
    gate.release();
    while let Some(bytes) = body.next().await {
        events.push_str(&String::from_utf8_lossy(&bytes.unwrap()));
    }
    let (contents, usage) = deltas(&events);
    assert_eq!(contents.concat(), REPLY, "{events}");
    assert!(contents.len() > 2, "several deltas: {contents:?}");
    assert!(events.trim_end().ends_with("data: [DONE]"), "{events}");
    let calls = fake_usage(&usage.expect("a usage chunk"));
    let made = fakes.openai.requests().to("/v1/chat/completions").len() - calls_before;
    assert!(calls as usize <= made, "{calls} calls counted, {made} made");

    let (status, done) = d
        .post(
            "/v1/chat/completions",
            json!({"model": id, "messages": [{"role": "user", "content": "And now?"}]}),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["choices"][0]["message"]["content"], REPLY);
    fake_usage(&done["usage"]);
    d.shutdown().await;
}
