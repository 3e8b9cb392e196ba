//! A persona whose Mind is a model in her library (`ETERNEGO_HOME/models/`): created with no
//! provider and no key, never registered with Ollama, recorded in her config as the model's
//! name alone, and deleted without asking Ollama to drop anything. A model found nowhere is a
//! 400 naming both places looked. (The model here is a synthetic GGUF: only its header is read
//! to prepare her; her answers on a real model are the real-model tier's, in real_model.rs.)

mod support;

use std::path::Path;

use serde_json::{Value, json};
use support::{Fakes, Harness};

fn add_model(home: &Path, name: &str) {
    let file = home.join("incoming.gguf");
    std::fs::write(&file, models::gguf::synthetic::tiny_model(64)).unwrap();
    models::Library::open(home)
        .unwrap()
        .add(&file, name)
        .unwrap();
    std::fs::remove_file(file).unwrap();
}

#[tokio::test]
async fn a_persona_on_a_model_in_her_library_needs_no_ollama_and_no_key() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    add_model(home.path(), "smollm2");
    let d = Harness::start(home.path(), &fakes).await;

    let (status, created) = d
        .post(
            "/api/persona/create",
            json!({"name": "Wren", "thinking_model": "smollm2"}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let persona = &created["persona"];
    assert_eq!(persona["base_model"], "smollm2");
    assert_eq!(persona["thinking"]["name"], "smollm2");
    assert_eq!(persona["thinking"]["provider"], Value::Null);
    let id = persona["id"].as_str().unwrap().to_string();
    let config: Value = serde_json::from_slice(
        &std::fs::read(
            home.path()
                .join("personas")
                .join(&id)
                .join("home")
                .join("config.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (&config["thinking"]["name"], &config["thinking"]["provider"]),
        (&json!("smollm2"), &Value::Null),
        "her config records the model's name and no provider: {config}"
    );

    assert_eq!(
        d.post_empty(&format!("/api/persona/{id}/delete")).await,
        (200, Value::Null)
    );
    let asked: Vec<String> = fakes
        .ollama
        .requests()
        .all()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert!(
        asked.is_empty(),
        "nothing was pulled, registered or deleted in Ollama: {asked:?}"
    );
    d.shutdown().await;
}

#[tokio::test]
async fn a_model_found_nowhere_is_a_400_naming_both_places() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let (status, body) = d
        .post(
            "/api/persona/create",
            json!({"name": "Wren", "thinking_model": "nosuch"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let detail = body["detail"].as_str().expect("a detail string");
    let models = home.path().join("models").display().to_string();
    assert!(detail.contains("'nosuch'"), "{detail}");
    assert!(detail.contains(&models), "{detail}");
    assert!(detail.contains(&fakes.ollama.url()), "{detail}");
    assert!(d.personas().await.is_empty());
    d.shutdown().await;
}

#[tokio::test]
async fn her_eye_cannot_be_an_embedded_model() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    add_model(home.path(), "smollm2");
    let d = Harness::start(home.path(), &fakes).await;
    let (status, body) = d
        .post(
            "/api/persona/create",
            json!({"name": "Wren", "thinking_model": "smollm2", "eye_model": "smollm2"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("eye: the embedded engine cannot see"),
        "{detail}"
    );
    d.shutdown().await;
}
