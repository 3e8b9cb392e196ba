//! `GET /api/models`, `POST /api/models/pull` and the `ModelPull` frames on `/ws/system`, against
//! a fake Hugging Face and a fake Ollama on loopback.

mod support;

use futures::StreamExt;
use serde_json::{Value, json};
use support::{Fakes, Harness, config};
use testkit::huggingface;
use tokio_tungstenite::tungstenite::Message;

const REPO: &str = "TestOrg/Tiny-Model-GGUF";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn system(d: &Harness) -> Socket {
    let url = format!("{}/ws/system", d.url.replacen("http", "ws", 1));
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// `ModelPull` frames for `name` until its final one (`done` or `failed`).
async fn pull_frames(socket: &mut Socket, name: &str) -> Vec<Value> {
    let mut frames = Vec::new();
    while let Some(message) = socket.next().await {
        let Message::Text(text) = message.unwrap() else {
            continue;
        };
        let frame: Value = serde_json::from_str(&text).unwrap();
        if frame["type"] != "ModelPull" || frame["title"] != name {
            continue;
        }
        let status = frame["details"]["status"].as_str().unwrap().to_string();
        frames.push(frame);
        if status == "done" || status == "failed" {
            return frames;
        }
    }
    panic!("the socket closed before the pull finished: {frames:?}");
}

#[tokio::test]
async fn a_hugging_face_pull_lands_in_the_list_with_its_progress_on_the_system_socket() {
    let fakes = Fakes::start().await;
    let hf = huggingface::start().await;
    let model = models::gguf::synthetic::tiny_model(300_000);
    hf.publish(REPO, "tiny-model-Q8_0.gguf", model.clone());
    let home = tempfile::tempdir().unwrap();
    let d = Harness::with_config(daemon::Config {
        hugging_face: hf.url(),
        require_token: false,
        model_idle: daemon::config::DEFAULT_MODEL_IDLE,
        ..config(home.path(), &fakes)
    })
    .await;

    let (status, body) = d.get("/api/models").await;
    assert_eq!(status, 200);
    assert_eq!(body["embedded"], json!([]));
    assert_eq!(body["ollama"]["reachable"], true);
    assert_eq!(body["ollama"]["models"][0]["name"], "llama3.2:1b");

    let mut socket = system(&d).await;
    let name = format!("hf.co/{REPO}:Q8_0");
    let (status, body) = d.post("/api/models/pull", json!({"name": name})).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body, json!({"name": name, "source": "huggingface"}));

    let frames = pull_frames(&mut socket, &name).await;
    let last = frames.last().unwrap();
    assert_eq!(last["details"]["status"], "done", "{frames:?}");
    assert_eq!(last["details"]["source"], "huggingface");
    assert_eq!(last["details"]["completed"], model.len());
    assert_eq!(last["details"]["total"], model.len());
    assert_eq!(last["details"]["percent"], 100.0);
    assert!(last["time"].as_i64().unwrap() > 0);
    assert!(
        frames
            .iter()
            .any(|f| f["details"]["status"] == "downloading"),
        "{frames:?}"
    );

    let (_, body) = d.get("/api/models").await;
    let embedded = &body["embedded"][0];
    assert_eq!(embedded["name"], "tiny-model");
    assert_eq!(embedded["file"], "tiny-model.gguf");
    assert_eq!(embedded["size"], model.len());
    assert_eq!(embedded["context_length"], 2048);
    assert_eq!(embedded["chat_template_present"], true);
    assert_eq!(embedded["sha256"].as_str().unwrap().len(), 64);
    d.shutdown().await;
}

#[tokio::test]
async fn a_failed_pull_says_why_and_the_daemon_carries_on() {
    let fakes = Fakes::start().await;
    let hf = huggingface::start().await;
    hf.publish(
        REPO,
        "tiny-model-Q8_0.gguf",
        models::gguf::synthetic::tiny_model(10),
    );
    let home = tempfile::tempdir().unwrap();
    let d = Harness::with_config(daemon::Config {
        hugging_face: hf.url(),
        require_token: false,
        model_idle: daemon::config::DEFAULT_MODEL_IDLE,
        ..config(home.path(), &fakes)
    })
    .await;
    let mut socket = system(&d).await;

    let name = format!("hf.co/{REPO}:Q2_K");
    let (status, _) = d.post("/api/models/pull", json!({"name": name})).await;
    assert_eq!(status, 202);
    let last = pull_frames(&mut socket, &name).await.pop().unwrap();
    assert_eq!(last["details"]["status"], "failed");
    let error = last["details"]["error"].as_str().unwrap();
    assert!(error.contains("Q2_K"), "{error}");

    let (status, body) = d.get("/api/models").await;
    assert_eq!(status, 200);
    assert_eq!(body["embedded"], json!([]));
    let left: Vec<_> = std::fs::read_dir(home.path().join("models"))
        .map(|rd| rd.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.iter().all(|f| !f.to_string_lossy().ends_with(".gguf")),
        "{left:?}"
    );
    d.shutdown().await;
}

#[tokio::test]
async fn an_ollama_pull_streams_the_same_frames() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let mut socket = system(&d).await;

    let (status, body) = d
        .post("/api/models/pull", json!({"name": "qwen2.5:0.5b"}))
        .await;
    assert_eq!(status, 202);
    assert_eq!(body, json!({"name": "qwen2.5:0.5b", "source": "ollama"}));
    let frames = pull_frames(&mut socket, "qwen2.5:0.5b").await;
    let last = frames.last().unwrap();
    assert_eq!(last["details"]["status"], "done", "{frames:?}");
    assert_eq!(last["details"]["source"], "ollama");
    assert_eq!(last["details"]["total"], 4_000_000);
    assert!(
        fakes
            .ollama
            .installed()
            .contains(&"qwen2.5:0.5b".to_string())
    );

    // A model Ollama's registry does not have: its error, as Ollama said it.
    let (status, _) = d
        .post("/api/models/pull", json!({"name": "no-such-model"}))
        .await;
    assert_eq!(status, 202);
    let last = pull_frames(&mut socket, "no-such-model")
        .await
        .pop()
        .unwrap();
    assert_eq!(last["details"]["status"], "failed");
    assert!(
        last["details"]["error"]
            .as_str()
            .unwrap()
            .contains("file does not exist"),
        "{last}"
    );
    d.shutdown().await;
}

#[tokio::test]
async fn bad_pull_requests_are_refused() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let (status, body) = d.post("/api/models/pull", json!({})).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = d.post("/api/models/pull", json!({"name": "  "})).await;
    assert_eq!(status, 422, "{body}");
    for bad in [
        "hf.co/../x",
        "hf.co/owner",
        "a b",
        "../../etc/passwd",
        "hf.co/o/r:Q4 K",
    ] {
        let (status, body) = d.post("/api/models/pull", json!({"name": bad})).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["detail"].is_string(), "{body}");
    }
    d.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_ollama_is_reported_not_an_error() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut cfg = config(home.path(), &fakes);
    cfg.providers.local = "http://127.0.0.1:9".into();
    let d = Harness::with_config(cfg).await;
    let (status, body) = d.get("/api/models").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"embedded": [], "ollama": {"reachable": false, "models": []}})
    );
    d.shutdown().await;
}
