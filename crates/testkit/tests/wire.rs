//! The fakes speak the wire formats clients rely on; these check the parts the production
//! clients do not exercise (streaming, long-poll blocking, paging).

use serde_json::{Value, json};
use testkit::{ScriptedReply, responder};

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn ollama_streams_chat_as_ndjson_and_pull_installs() {
    let fake = testkit::ollama::start(&["llama3"]).await;
    fake.set_responder(responder(|_| ScriptedReply::text("Hello there, friend")));
    let text = http()
        .post(format!("{}/api/chat", fake.url()))
        .json(&json!({"model": "llama3:latest", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() > 2);
    let joined: String = lines
        .iter()
        .filter_map(|l| l["message"]["content"].as_str())
        .collect();
    assert_eq!(joined, "Hello there, friend");
    assert_eq!(lines.last().unwrap()["done"], true);

    fake.publish("qwen3:0.6b");
    let pulled = http()
        .post(format!("{}/api/pull", fake.url()))
        .json(&json!({"model": "qwen3:0.6b"}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(pulled.lines().last().unwrap().contains("success"));
    assert!(fake.installed().contains(&"qwen3:0.6b".to_string()));
}

#[tokio::test]
async fn openai_streams_sse_with_tool_call_arguments() {
    let fake = testkit::openai::start(&["sk-good"], &["gpt-4o"]).await;
    fake.set_responder(responder(|_| ScriptedReply::Json(json!({"say": "hi"}))));
    let body = json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "hi"}],
                      "tools": [{"type": "function", "function": {"name": "answer", "parameters": {}}}],
                      "tool_choice": {"type": "function", "function": {"name": "answer"}}});
    let text = http()
        .post(format!("{}/v1/chat/completions", fake.url()))
        .bearer_auth("sk-good")
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"));
    let args: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter_map(|c| {
            c.pointer("/choices/0/delta/tool_calls/0/function/arguments")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"say": "hi"})
    );
}

#[tokio::test]
async fn anthropic_streams_events_and_pages_models() {
    let fake = testkit::anthropic::start(&["ak"], &["a", "b", "c"]).await;
    let page: Value = http()
        .get(format!("{}/v1/models?limit=2", fake.url()))
        .header("x-api-key", "ak")
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["has_more"], true);
    assert_eq!(page["last_id"], "b");
    let text = http()
        .post(format!("{}/v1/messages", fake.url()))
        .header("x-api-key", "ak")
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "a", "max_tokens": 10, "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.starts_with("event: message_start"));
    assert!(text.contains("event: message_stop"));
    let no_version = http()
        .get(format!("{}/v1/models", fake.url()))
        .header("x-api-key", "ak")
        .send()
        .await
        .unwrap();
    assert_eq!(no_version.status(), 400);
}

#[tokio::test]
async fn telegram_get_updates_blocks_until_an_update_arrives() {
    let fake = testkit::telegram::start(&["123:abc"]).await;
    let url = format!("{}/bot123:abc/getUpdates", fake.url());
    let poll = tokio::spawn({
        let url = url.clone();
        async move {
            http()
                .post(url)
                .json(&json!({"timeout": 30}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    });
    // The poll is parked inside the fake until the push wakes it; no sleep needed.
    while fake.requests().to("/bot123:abc/getUpdates").is_empty() {
        tokio::task::yield_now().await;
    }
    let id = fake.push_text("123:abc", 42, "hello");
    let got = poll.await.unwrap();
    assert_eq!(got["result"][0]["update_id"], id);
    assert_eq!(got["result"][0]["message"]["text"], "hello");
    // Confirming with offset removes it; timeout 0 answers at once.
    let empty: Value = http()
        .get(format!("{url}?offset={}&timeout=0", id + 1))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(empty["result"], json!([]));
    assert_eq!(fake.pending("123:abc"), 0);
    let bad = http()
        .get(format!("{}/botnope/getMe", fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
}

#[tokio::test]
async fn discord_checks_the_bot_token() {
    let fake = testkit::discord::start(&["dtok"]).await;
    let ok = http()
        .get(format!("{}/users/@me", fake.url()))
        .header("authorization", "Bot dtok")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let bad = http()
        .get(format!("{}/users/@me", fake.url()))
        .header("authorization", "Bot x")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
}
