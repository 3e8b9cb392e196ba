//! The shim's Ollama API against a scripted OpenAI-compatible upstream on loopback: model
//! management, and chat/generate translated both ways, streamed and not.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use ollama_shim::{Settings, models};
use serde_json::{Value, json};

/// An upstream that records each request body and answers "Hello there." (as SSE when asked),
/// and lists its model as llama.cpp's server does.
async fn upstream() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let listing = json!({"object": "list", "data": [{"id": "up-model", "object": "model", "owned_by": "llamacpp",
                                                     "meta": {"n_ctx": 8192, "n_ctx_train": 4096, "n_params": 134515008}}]});
    let app = axum::Router::new().route("/v1/models", get(move || async move { Json(listing) })).route(
        "/v1/chat/completions",
        post(move |Json(body): Json<Value>| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(body.clone());
                let usage = json!({"prompt_tokens": 11, "completion_tokens": 3});
                if body["stream"] == true {
                    let mut sse = String::new();
                    for piece in ["Hello", " there", "."] {
                        sse.push_str(&format!("data: {}\n\n", json!({"choices": [{"index": 0, "delta": {"content": piece}}]})));
                    }
                    sse.push_str(&format!("data: {}\n\n", json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})));
                    sse.push_str(&format!("data: {}\n\ndata: [DONE]\n\n", json!({"choices": [], "usage": usage, "timings": {"prompt_ms": 2.0, "predicted_ms": 3.0}})));
                    ([("content-type", "text/event-stream")], sse).into_response()
                } else {
                    Json(json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there."}, "finish_reason": "stop"}],
                                "usage": usage, "timings": {"prompt_ms": 2.0, "predicted_ms": 3.0}}))
                    .into_response()
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

struct Fixture {
    _dir: tempfile::TempDir,
    shim: ollama_shim::Running,
    seen: Arc<Mutex<Vec<Value>>>,
    http: reqwest::Client,
    weights: std::path::PathBuf,
}

async fn fixture() -> Fixture {
    let (url, seen) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("tiny.gguf");
    std::fs::write(&weights, b"GGUF not really a model").unwrap();
    models::offer(&dir.path().join("registry"), "tiny:1b", &weights).unwrap();
    let settings = Settings {
        upstream: url,
        upstream_model: "up-model".into(),
        upstream_key: None,
        store: dir.path().join("store"),
        registry: dir.path().join("registry"),
    };
    let shim = ollama_shim::start(settings).await.unwrap();
    Fixture {
        _dir: dir,
        shim,
        seen,
        http: reqwest::Client::new(),
        weights,
    }
}

impl Fixture {
    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, String) {
        let r = self
            .http
            .request(method, format!("{}{path}", self.shim.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn post(&self, path: &str, body: Value) -> (u16, String) {
        self.send(reqwest::Method::POST, path, body).await
    }

    async fn names(&self) -> Vec<String> {
        let tags: Value = self
            .http
            .get(format!("{}/api/tags", self.shim.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tags["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect()
    }
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn models_are_pulled_created_shown_and_deleted() {
    let f = fixture().await;
    let root = f
        .http
        .get(f.shim.url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(root, "Ollama is running");
    assert!(f.names().await.is_empty());

    let (status, body) = f.post("/api/pull", json!({"model": "absent:7b"})).await;
    assert_eq!(
        status, 200,
        "Ollama reports a failed pull inside the stream"
    );
    assert_eq!(
        lines(&body).last().unwrap()["error"],
        "pull model manifest: file does not exist"
    );
    assert_eq!(
        f.post("/api/pull", json!({"model": "absent:7b", "stream": false}))
            .await
            .0,
        404
    );

    let (status, body) = f.post("/api/pull", json!({"model": "tiny:1b"})).await;
    assert_eq!(status, 200);
    let progress = lines(&body);
    let size = std::fs::metadata(&f.weights).unwrap().len();
    assert!(
        progress
            .iter()
            .any(|l| l["total"] == size && l["completed"] == size),
        "{body}"
    );
    assert!(
        progress
            .iter()
            .all(|l| l["digest"].is_null() || l["digest"].as_str().unwrap().starts_with("sha256:"))
    );
    assert_eq!(progress.last().unwrap()["status"], "success");
    assert_eq!(f.names().await, ["tiny:1b"]);

    let (status, body) = f
        .post(
            "/api/create",
            json!({"model": "mine", "from": "tiny:1b", "parameters": {"num_ctx": 2048}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(lines(&body).last().unwrap()["status"], "success");
    assert_eq!(f.names().await, ["mine:latest", "tiny:1b"]);
    let (status, body) = f
        .post("/api/create", json!({"model": "x", "from": "nope:1b"}))
        .await;
    assert_eq!(
        (status, body.as_str()),
        (404, r#"{"error":"model 'nope:1b' not found"}"#)
    );

    let (status, body) = f.post("/api/show", json!({"model": "mine"})).await;
    assert_eq!(status, 200);
    let shown: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(shown["details"]["parent_model"], "tiny:1b");
    assert_eq!(shown["details"]["format"], "gguf");
    assert_eq!(
        shown["parameters"], "num_ctx 2048",
        "what she was created with"
    );
    assert_eq!(
        shown["model_info"]["llama.context_length"], 4096,
        "what the upstream's model was trained for"
    );
    assert_eq!(f.post("/api/show", json!({"model": "nope"})).await.0, 404);

    assert_eq!(
        f.send(
            reqwest::Method::DELETE,
            "/api/delete",
            json!({"model": "mine"})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        f.send(
            reqwest::Method::DELETE,
            "/api/delete",
            json!({"model": "mine"})
        )
        .await
        .0,
        404
    );
    assert_eq!(f.names().await, ["tiny:1b"]);
    assert_eq!(
        f.post("/api/pull", json!({"model": 3})).await,
        (400, r#"{"error":"model is required"}"#.into())
    );
    assert_eq!(f.post("/api/pull", json!([])).await.0, 400);
}

#[tokio::test]
async fn chat_translates_both_ways_streamed_or_not() {
    let f = fixture().await;
    let (status, body) = f
        .post("/api/chat", json!({"model": "nope:1b", "messages": []}))
        .await;
    assert_eq!(
        (status, body.as_str()),
        (404, r#"{"error":"model 'nope:1b' not found"}"#)
    );
    f.post("/api/pull", json!({"model": "tiny:1b", "stream": false}))
        .await;

    let schema =
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
    let (status, body) = f
        .post(
            "/api/chat",
            json!({"model": "tiny:1b", "stream": false, "format": schema,
            "options": {"temperature": 0, "num_predict": 32, "seed": 1},
            "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        answer["message"],
        json!({"role": "assistant", "content": "Hello there."})
    );
    assert_eq!(
        (answer["done"].clone(), answer["done_reason"].clone()),
        (json!(true), json!("stop"))
    );
    assert_eq!(
        (
            answer["prompt_eval_count"].clone(),
            answer["eval_count"].clone()
        ),
        (json!(11), json!(3))
    );
    assert_eq!(answer["eval_duration"], 3_000_000);
    let sent = f.seen.lock().unwrap()[0].clone();
    assert_eq!(sent["model"], "up-model");
    assert_eq!(sent["response_format"]["json_schema"]["schema"], schema);
    assert_eq!(
        (
            sent["temperature"].clone(),
            sent["max_tokens"].clone(),
            sent["seed"].clone()
        ),
        (json!(0), json!(32), json!(1))
    );
    assert!(sent.get("stream").is_none());

    let (status, body) = f
        .post(
            "/api/chat",
            json!({"model": "tiny:1b", "messages": [{"role": "user", "content": "u"}]}),
        )
        .await;
    assert_eq!(status, 200);
    let chunks = lines(&body);
    let text: String = chunks
        .iter()
        .filter_map(|c| c["message"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello there.");
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c["done"] == false)
    );
    assert_eq!(chunks.last().unwrap()["done"], true);
    assert_eq!(chunks.last().unwrap()["eval_count"], 3);
    assert_eq!(
        f.seen.lock().unwrap()[1]["stream_options"]["include_usage"],
        true
    );

    let (status, body) = f
        .post(
            "/api/generate",
            json!({"model": "tiny:1b", "prompt": "p", "format": "json", "stream": false}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["response"],
        "Hello there."
    );
    assert_eq!(
        f.seen.lock().unwrap()[2]["response_format"],
        json!({"type": "json_object"})
    );
    let (status, body) = f
        .post("/api/generate", json!({"model": "tiny:1b", "prompt": "p"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        lines(&body)
            .iter()
            .filter_map(|c| c["response"].as_str())
            .collect::<String>(),
        "Hello there."
    );

    let (status, _) = f.post("/api/chat", json!({"model": "tiny:1b", "messages": [{"role": "user", "content": "x", "images": ["AA=="]}]})).await;
    assert_eq!(
        status, 400,
        "no vision behind the shim: refused, not ignored"
    );
    assert_eq!(f.seen.lock().unwrap().len(), 4);
}
