//! A running persona over HTTP: a message read reaches her Mind, and her reply reaches the web
//! socket and her conversation. Her Mind is a fake OpenAI server that answers in prose, so the
//! cycle's fallback (speak the prose when no JSON comes back) is what carries the reply.

mod support;

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use support::*;
use testkit::{ScriptedReply, responder};
use tokio_tungstenite::tungstenite::Message;

const REPLY: &str = "I hear you, and I am glad you wrote.";

#[tokio::test]
async fn a_message_read_gets_a_reply_on_the_socket_and_in_her_conversation() {
    let fakes = Fakes::start().await;
    fakes.openai.set_responder(responder(|_| ScriptedReply::text(REPLY)));
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let (status, created) = d
        .post(
            "/api/persona/create",
            json!({"name": "Iris", "thinking_model": "gpt-5.4", "thinking_provider": "openai", "thinking_api_key": OPENAI_KEY}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["persona"]["id"].as_str().unwrap().to_string();

    let ws_url = format!("{}/ws/{id}", d.url.replacen("http", "ws", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();

    let (status, body) = d.post(&format!("/api/persona/{id}/read"), json!({"message": "Hello, are you there?"})).await;
    assert_eq!((status, body), (200, json!({"status": "received"})));

    // The reply is pushed; the bound only keeps a broken build from hanging CI.
    let frame = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => break serde_json::from_str::<Value>(&text).unwrap(),
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("a reply within a minute");
    assert_eq!(frame["type"], "chat_message");
    assert_eq!(frame["persona_id"], id);
    assert!(frame["content"].as_str().unwrap().contains("glad you wrote"), "{frame}");

    let (status, conversation) = d.get(&format!("/api/persona/{id}/conversation")).await;
    assert_eq!(status, 200);
    let messages = conversation["messages"].as_array().unwrap();
    assert!(messages.iter().any(|m| m["role"] == "person" && m["content"] == "Hello, are you there?"), "{conversation}");
    assert!(messages.iter().any(|m| m["role"] == "assistant"), "{conversation}");
    assert!(!fakes.openai.requests().to("/v1/chat/completions").is_empty(), "her Mind was asked");

    // Live routes need her running.
    d.post_empty(&format!("/api/persona/{id}/stop")).await;
    assert_eq!(
        d.post(&format!("/api/persona/{id}/read"), json!({"message": "still there?"})).await,
        (409, json!({"detail": "Persona is not active."}))
    );
    d.shutdown().await;
}

#[tokio::test]
async fn a_cross_origin_socket_is_refused() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = d.create_local("Adam").await["persona"]["id"].as_str().unwrap().to_string();
    let host = d.url.trim_start_matches("http://").to_string();
    let request = tokio_tungstenite::tungstenite::http::Request::builder()
        .uri(format!("ws://{host}/ws/{id}"))
        .header("host", &host)
        .header("origin", "http://evil.example")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .body(())
        .unwrap();
    let refused = tokio_tungstenite::connect_async(request).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {other:?}"),
    }
    d.shutdown().await;
}
