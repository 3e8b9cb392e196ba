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
    fakes
        .openai
        .set_responder(responder(|_| ScriptedReply::text(REPLY)));
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
    let (mut system, _) =
        tokio_tungstenite::connect_async(format!("{}/ws/system", d.url.replacen("http", "ws", 1)))
            .await
            .unwrap();

    let (status, body) = d
        .post(
            &format!("/api/persona/{id}/read"),
            json!({"message": "Hello, are you there?"}),
        )
        .await;
    assert_eq!((status, body), (200, json!({"status": "received"})));

    // The reply is pushed, after the signals that mention her; the bound only keeps a broken
    // build from hanging CI.
    let mine = frames_until(&mut socket, |f| f["type"] == "chat_message").await;
    let frame = mine.last().unwrap();
    assert_eq!(frame["persona_id"], id);
    assert!(
        frame["content"]
            .as_str()
            .unwrap()
            .contains("glad you wrote"),
        "{frame}"
    );
    assert!(
        mine.iter()
            .any(|f| f["type"] == "Message" && f["title"] == "Heard"),
        "her socket shows her signals: {mine:?}"
    );

    let feed = frames_until(&mut system, |f| {
        f["type"] == "Message" && f["title"] == "Said"
    })
    .await;
    let heard = feed
        .iter()
        .find(|f| f["title"] == "Heard")
        .expect("the system feed shows what she heard");
    assert_eq!(heard["details"]["persona"]["id"], id);
    assert_eq!(heard["details"]["content"], "Hello, are you there?");
    assert!(heard["time"].as_i64().unwrap() > 0, "{heard}");
    assert!(
        feed.iter().all(|f| f["type"] != "chat_message"),
        "chat lines stay on her own socket"
    );
    assert!(
        !format!("{feed:?}{mine:?}").contains(OPENAI_KEY),
        "no key on any socket"
    );

    let (status, conversation) = d.get(&format!("/api/persona/{id}/conversation")).await;
    assert_eq!(status, 200);
    let messages = conversation["messages"].as_array().unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m["role"] == "person" && m["content"] == "Hello, are you there?"),
        "{conversation}"
    );
    assert!(
        messages.iter().any(|m| m["role"] == "assistant"),
        "{conversation}"
    );
    assert!(
        !fakes
            .openai
            .requests()
            .to("/v1/chat/completions")
            .is_empty(),
        "her Mind was asked"
    );

    // Live routes need her running.
    d.post_empty(&format!("/api/persona/{id}/stop")).await;
    assert_eq!(
        d.post(
            &format!("/api/persona/{id}/read"),
            json!({"message": "still there?"})
        )
        .await,
        (409, json!({"detail": "Persona is not active."}))
    );
    d.shutdown().await;
}

#[tokio::test]
async fn interrupt_stops_her_beat_in_flight_and_refuses_an_unknown_or_stopped_persona() {
    let fakes = Fakes::start().await;
    fakes
        .openai
        .set_responder(responder(|_| ScriptedReply::text(REPLY)));
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
    let interrupt = format!("/api/persona/{id}/interrupt");
    assert_eq!(
        d.post_empty(&interrupt).await,
        (200, json!({"interrupted": false})),
        "nothing in flight before she hears anything"
    );
    let ws_url = format!("{}/ws/{id}", d.url.replacen("http", "ws", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    d.post(
        &format!("/api/persona/{id}/read"),
        json!({"message": "Hello?"}),
    )
    .await;
    frames_until(&mut socket, |f| f["type"] == "chat_message").await;
    // After her reply the beat waits out her idle hour to reflect: still in flight.
    assert_eq!(
        d.post_empty(&interrupt).await,
        (200, json!({"interrupted": true}))
    );
    assert_eq!(
        d.post_empty(&interrupt).await,
        (200, json!({"interrupted": false}))
    );
    assert_eq!(
        d.post_empty(&format!("/api/persona/{}/interrupt", uuid::Uuid::new_v4()))
            .await,
        (404, json!({"detail": "Persona not found."}))
    );
    d.post_empty(&format!("/api/persona/{id}/stop")).await;
    assert_eq!(
        d.post_empty(&interrupt).await,
        (409, json!({"detail": "Persona is not active."}))
    );
    d.shutdown().await;
}

/// Text frames, parsed, up to and including the first that `last` accepts.
async fn frames_until<S>(socket: &mut S, last: impl Fn(&Value) -> bool) -> Vec<Value>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    let done = last(&frame);
                    seen.push(frame);
                    if done {
                        return;
                    }
                }
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no such frame within a minute; saw {seen:?}"));
    seen
}

#[tokio::test]
async fn a_cross_origin_socket_is_refused() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = d.create_local("Adam").await["persona"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let host = d.url.trim_start_matches("http://").to_string();
    for path in [format!("/ws/{id}"), "/ws/system".to_string()] {
        let request = tokio_tungstenite::tungstenite::http::Request::builder()
            .uri(format!("ws://{host}{path}"))
            .header("host", &host)
            .header("origin", "http://evil.example")
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .body(())
            .unwrap();
        match tokio_tungstenite::connect_async(request).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403, "{path}")
            }
            other => panic!("expected 403 on {path}, got {other:?}"),
        }
    }
    d.shutdown().await;
}
