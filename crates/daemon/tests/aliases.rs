//! The original's own dashboard, pointed at this daemon: each test posts exactly what its
//! widgets post (field names, content types, shapes) to the routes it calls by their older
//! names, and checks that what a person meant was done.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use support::*;
use testkit::{ScriptedReply, responder};
use tokio_tungstenite::tungstenite::Message;

/// A running persona with a cloud Mind on the fake OpenAI, created with the original's create
/// form (`vision_*` for her eye).
async fn cloud_persona(d: &Harness, fakes: &Fakes) -> String {
    let (status, created) = d
        .post(
            "/api/persona/create",
            json!({"name": "Iris",
                   "thinking_model": "gpt-5.4", "thinking_provider": "openai",
                   "thinking_api_key": OPENAI_KEY, "thinking_url": fakes.openai.url(),
                   "vision_model": "gpt-4o", "vision_provider": "openai",
                   "vision_api_key": OPENAI_KEY, "vision_url": fakes.openai.url(),
                   "frontier_model": null, "frontier_provider": null,
                   "frontier_api_key": null, "frontier_url": null,
                   "telegram_token": null, "discord_token": null}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        created["persona"]["eye"]["name"], "gpt-4o",
        "the create form's vision is her eye"
    );
    created["persona"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn update_takes_vision_and_frontier_and_their_clear_flags() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = cloud_persona(&d, &fakes).await;
    let update = |body: Value| {
        let path = format!("/api/persona/{id}/update");
        let d = &d;
        async move { d.post(&path, body).await }
    };
    // settings-view.js SAVE on the Teacher section: {provider, model, url, api_key}.
    let (status, body) = update(json!({"frontier": {"provider": "anthropic", "model": "claude-sonnet-4-6",
                                                    "url": fakes.anthropic.url(), "api_key": ANTHROPIC_KEY}}))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        d.personas().await[0]["teacher"]["name"],
        "claude-sonnet-4-6"
    );
    // ...and on the Vision section.
    let (status, body) = update(json!({"vision": {"provider": "openai", "model": "gpt-5.4",
                                                  "url": fakes.openai.url(), "api_key": OPENAI_KEY}}))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(d.personas().await[0]["eye"]["name"], "gpt-5.4");
    // REMOVE buttons.
    assert_eq!(update(json!({"clear_vision": true})).await.0, 200);
    assert_eq!(d.personas().await[0]["eye"], Value::Null);
    assert_eq!(update(json!({"clear_frontier": true})).await.0, 200);
    assert_eq!(d.personas().await[0]["teacher"], Value::Null);

    // A key nobody knows is named, not dropped with a 200.
    let (status, body) = update(json!({"status": "active", "nose": {"model": "x"}})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["detail"],
        json!([{"type": "extra_forbidden", "loc": ["body", "nose"],
                "msg": "Extra inputs are not permitted", "input": {"model": "x"}}])
    );
    // An alias with the field it stands for is ambiguous.
    let (status, body) = update(json!({"clear_vision": true, "clear_eye": false})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "clear_vision"]));
    d.shutdown().await;
}

#[tokio::test]
async fn hear_with_a_json_message_is_read_as_text() {
    let fakes = Fakes::start().await;
    fakes
        .openai
        .set_responder(responder(|_| ScriptedReply::text("Here, always.")));
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = cloud_persona(&d, &fakes).await;
    let ws_url = format!("{}/ws/{id}", d.url.replacen("http", "ws", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();

    // chat-view.js: fetch(..., {method: "POST", headers: {"Content-Type": "application/json"},
    // body: JSON.stringify({message})}).
    let r = d
        .client
        .post(format!("{}/api/persona/{id}/hear", d.url))
        .header("Content-Type", "application/json")
        .body(r#"{"message":"Are you there?"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(read(r).await, (200, json!({"status": "received"})));
    frames_until(&mut socket, |f| f["type"] == "chat_message").await;
    let (_, conversation) = d.get(&format!("/api/persona/{id}/conversation")).await;
    assert!(
        conversation["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["role"] == "person" && m["content"] == "Are you there?"),
        "{conversation}"
    );
    // Audio stays multipart: a form without `audio` is still its 422.
    let r = d
        .client
        .post(format!("{}/api/persona/{id}/hear", d.url))
        .multipart(Form::new().text("message", "hi"))
        .send()
        .await
        .unwrap();
    let (status, body) = read(r).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "audio"]));
    // A JSON body without a message is the JSON 422.
    let (status, body) = d
        .post(&format!("/api/persona/{id}/hear"), json!({"text": "hi"}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "message"]));
    d.shutdown().await;
}

#[tokio::test]
async fn see_attaches_the_image_with_its_caption() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = cloud_persona(&d, &fakes).await;
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\nsee-alias-test-bytes".to_vec();
    // chat-view.js: FormData with `image` (the file) and `caption`.
    let form = Form::new()
        .part(
            "image",
            Part::bytes(png.clone())
                .file_name("photo.png")
                .mime_str("image/png")
                .unwrap(),
        )
        .text("caption", "my cat");
    let r = d
        .client
        .post(format!("{}/api/persona/{id}/see", d.url))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(read(r).await, (200, json!({"status": "received"})));
    let stored = files_containing(home.path(), "see-alias-test-bytes");
    assert!(
        stored
            .iter()
            .any(|p| p.contains("/media/web-") && p.ends_with("-photo.png")),
        "the image is in her media: {stored:?}"
    );
    let r = d
        .client
        .post(format!("{}/api/persona/{id}/see", d.url))
        .multipart(Form::new().text("caption", "no image"))
        .send()
        .await
        .unwrap();
    let (status, body) = read(r).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "image"]));
    d.shutdown().await;
}

const FIXTURE_ID: &str = "23733333-b081-4b50-8b41-f3cd301a42d4";

fn fixture(name: &str) -> PathBuf {
    let shared = match std::env::var_os("ETERNEGO_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    shared.join("fixtures/reference-diary").join(name)
}

#[tokio::test]
async fn migrate_takes_the_thinking_prefixed_fields() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let phrase = std::fs::read_to_string(fixture("phrase.txt")).unwrap();
    // migrate-form.js: the diary, the phrase, and the create form's organ field names.
    let form = Form::new()
        .part(
            "diary",
            Part::bytes(std::fs::read(fixture(&format!("{FIXTURE_ID}.diary"))).unwrap())
                .file_name(format!("{FIXTURE_ID}.diary")),
        )
        .text("phrase", phrase.trim().to_string())
        .text("thinking_model", "gpt-5.4")
        .text("thinking_provider", "openai")
        .text("thinking_api_key", OPENAI_KEY)
        .text("thinking_url", fakes.openai.url())
        .text("frontier_model", "claude-sonnet-4-6")
        .text("frontier_provider", "anthropic")
        .text("frontier_api_key", ANTHROPIC_KEY)
        .text("frontier_url", fakes.anthropic.url());
    let r = d
        .client
        .post(format!("{}/api/persona/migrate", d.url))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, body) = read(r).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["persona"]["id"], FIXTURE_ID);
    assert_eq!(body["persona"]["thinking"]["name"], "gpt-5.4");
    assert_eq!(body["persona"]["thinking"]["provider"], "openai");
    assert_eq!(body["persona"]["teacher"]["name"], "claude-sonnet-4-6");
    d.shutdown().await;
}

/// Text frames, parsed, up to and including the first that `last` accepts.
async fn frames_until<S>(socket: &mut S, last: impl Fn(&Value) -> bool) -> Vec<Value>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut seen = Vec::new();
    // The bound only keeps a broken build from hanging CI.
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
