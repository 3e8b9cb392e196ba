//! Preparation against the loopback fakes: the production client on the real wire protocols.

use std::io::Write;
use std::sync::{Arc, Mutex};

use organs::{Endpoints, MIND_CONTEXT, OrganError, OrganRequest, Preparer};
use persona::{Organ, OrganSlot, Provider};
use serde_json::{Value, json};
use uuid::Uuid;

const KEY: &str = "sk-secret-test-key-1234567890";

fn preparer(endpoints: Endpoints) -> Preparer {
    Preparer::new(organs::http_client(), endpoints)
}

fn all_at(url: &str) -> Endpoints {
    Endpoints {
        local: url.into(),
        anthropic: url.into(),
        openai: url.into(),
        xai: url.into(),
        gemini: url.into(),
    }
}

fn remote(provider: &str, model: &str, key: &str) -> OrganRequest {
    OrganRequest {
        model: Some(model.into()),
        provider: Some(provider.into()),
        url: None,
        api_key: Some(key.into()),
    }
}

fn local(model: Option<&str>) -> OrganRequest {
    OrganRequest {
        model: model.map(str::to_string),
        ..OrganRequest::default()
    }
}

/// Collects log output so tests can check that no key was written.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let me = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || me.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn local_model_present_is_accepted_with_latest_tag_implied() {
    let ollama = testkit::ollama::start(&["llama3:latest"]).await;
    let p = preparer(all_at(&ollama.url()));
    let organ = p
        .prepare(OrganSlot::Thinking, &local(Some("llama3")))
        .await
        .unwrap();
    assert_eq!(
        organ,
        Organ {
            name: "llama3".into(),
            provider: None,
            api_key: None,
            url: ollama.url()
        }
    );
    assert!(ollama.requests().to("/api/pull").is_empty());
}

#[tokio::test]
async fn local_without_model_takes_the_first_installed_and_fails_when_none() {
    let ollama = testkit::ollama::start(&["qwen3:0.6b"]).await;
    let p = preparer(all_at(&ollama.url()));
    assert_eq!(
        p.prepare(OrganSlot::Thinking, &local(None))
            .await
            .unwrap()
            .name,
        "qwen3:0.6b"
    );
    let empty = testkit::ollama::start(&[]).await;
    let err = preparer(all_at(&empty.url()))
        .prepare(OrganSlot::Thinking, &local(None))
        .await
        .unwrap_err();
    assert_eq!(err, OrganError::NoLocalModel { organ: "thinking" });
}

#[tokio::test]
async fn missing_local_model_is_pulled_with_progress_logged() {
    let ollama = testkit::ollama::start(&[]).await;
    ollama.publish("smollm2:135m");
    let logs = Captured::default();
    let _guard = logs.install();
    // A custom URL with a trailing slash: trimmed, and the pull goes to that engine.
    let req = OrganRequest {
        model: Some("smollm2:135m".into()),
        url: Some(format!("{}/", ollama.url())),
        ..Default::default()
    };
    let organ = preparer(all_at("http://127.0.0.1:1"))
        .prepare(OrganSlot::Eye, &req)
        .await
        .unwrap();
    assert_eq!(organ.url, ollama.url());
    assert!(ollama.installed().contains(&"smollm2:135m".to_string()));
    let pulls = ollama.requests().to("/api/pull");
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].body["model"], "smollm2:135m");
    let text = logs.text();
    assert!(text.contains("model pull progress"), "{text}");
    assert!(text.contains("percent=50"), "{text}");
}

#[tokio::test]
async fn pull_errors_fail_preparation() {
    let ollama = testkit::ollama::start(&[]).await;
    let p = preparer(all_at(&ollama.url()));
    let err = p
        .prepare(OrganSlot::Thinking, &local(Some("nosuch")))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "thinking: could not pull 'nosuch' into the local engine (pull model manifest: file does not exist)"
    );
    ollama.publish("big");
    ollama.fail_pulls_with("write /models/blobs: no space left on device");
    let err = p
        .prepare(OrganSlot::Thinking, &local(Some("big")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no space left on device"), "{err}");
    assert!(!ollama.installed().iter().any(|m| m.starts_with("big")));
}

#[tokio::test]
async fn unreachable_engines_are_named_with_the_organ() {
    let p = preparer(all_at("http://127.0.0.1:1"));
    let err = p
        .prepare(OrganSlot::Thinking, &local(Some("llama3")))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "thinking: could not reach the local engine at http://127.0.0.1:1 (connection refused)"
    );
    assert!(err.is_unreachable());
    let err = p
        .prepare(OrganSlot::Teacher, &remote("anthropic", "claude", KEY))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "teacher: could not reach anthropic at http://127.0.0.1:1 (connection refused)"
    );
}

#[tokio::test]
async fn openai_key_and_model_are_checked_through_the_listing() {
    let fake = testkit::openai::start(&[KEY], &["gpt-4o-mini"]).await;
    let p = preparer(all_at(&fake.url()));
    let organ = p
        .prepare(OrganSlot::Eye, &remote("OpenAI", "gpt-4o-mini", KEY))
        .await
        .unwrap();
    assert_eq!(organ.provider, Some(Provider::Openai));
    assert_eq!(organ.api_key.as_deref(), Some(KEY));
    let listing = fake.requests().to("/v1/models");
    assert_eq!(
        listing[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );

    let bad = p
        .prepare(
            OrganSlot::Eye,
            &remote("openai", "gpt-4o-mini", "sk-wrong-key-abcdefgh"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        bad.to_string(),
        "eye: openai rejected the API key (HTTP 401)"
    );
    let unknown = p
        .prepare(OrganSlot::Eye, &remote("openai", "gpt-9", KEY))
        .await
        .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "eye: model 'gpt-9' is not available from openai"
    );
    // No completion was requested: preparation spends no tokens.
    assert!(fake.requests().to("/v1/chat/completions").is_empty());
}

#[tokio::test]
async fn xai_refusal_by_400_is_a_rejected_key() {
    let fake = testkit::openai::start_xai(&[KEY], &["grok-4"]).await;
    let p = preparer(all_at(&fake.url()));
    assert_eq!(
        p.prepare(OrganSlot::Mouth, &remote("xai", "grok-4", KEY))
            .await
            .unwrap()
            .provider,
        Some(Provider::Xai)
    );
    let err = p
        .prepare(
            OrganSlot::Mouth,
            &remote("xai", "grok-4", "xai-wrong-key-12345678"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "mouth: xai rejected the API key (HTTP 400)"
    );
}

#[tokio::test]
async fn anthropic_sends_key_and_version_and_pages_the_listing() {
    let models: Vec<String> = (0..30).map(|i| format!("claude-{i}")).collect();
    let refs: Vec<&str> = models.iter().map(String::as_str).collect();
    let fake = testkit::anthropic::start(&[KEY], &refs).await;
    let p = preparer(all_at(&fake.url()));
    let organ = p
        .prepare(OrganSlot::Teacher, &remote("anthropic", "claude-29", KEY))
        .await
        .unwrap();
    assert_eq!(organ.name, "claude-29");
    let first = &fake.requests().to("/v1/models")[0];
    assert_eq!(first.header("x-api-key"), Some(KEY));
    assert_eq!(first.header("anthropic-version"), Some("2023-06-01"));

    let err = p
        .prepare(OrganSlot::Teacher, &remote("anthropic", "x", KEY))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "teacher: model 'x' is not available from anthropic"
    );
    let err = p
        .prepare(OrganSlot::Teacher, &remote("anthropic", "claude-1", "bad"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "teacher: anthropic rejected the API key (HTTP 401)"
    );
}

#[tokio::test]
async fn gemini_lists_models_by_resource_name() {
    let fake = testkit::gemini::start(&[KEY], &["gemini-2.5-flash"]).await;
    let p = preparer(all_at(&fake.url()));
    let organ = p
        .prepare(
            OrganSlot::Researcher,
            &remote("gemini", "models/gemini-2.5-flash", KEY),
        )
        .await
        .unwrap();
    assert_eq!(organ.name, "gemini-2.5-flash");
    assert_eq!(
        fake.requests().to("/v1beta/models")[0].header("x-goog-api-key"),
        Some(KEY)
    );
    let err = p
        .prepare(OrganSlot::Researcher, &remote("gemini", "gemini-x", KEY))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "researcher: model 'gemini-x' is not available from gemini"
    );
    let err = p
        .prepare(
            OrganSlot::Researcher,
            &remote("gemini", "gemini-2.5-flash", "AIza-wrong"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "researcher: gemini rejected the API key (HTTP 400)"
    );
}

#[tokio::test]
async fn remote_needs_a_model_and_a_key_and_a_known_provider() {
    let p = preparer(all_at("http://127.0.0.1:1"));
    let no_model = OrganRequest {
        provider: Some("openai".into()),
        api_key: Some(KEY.into()),
        ..Default::default()
    };
    assert_eq!(
        p.prepare(OrganSlot::Mouth, &no_model)
            .await
            .unwrap_err()
            .to_string(),
        "mouth: a model name is required for a remote provider"
    );
    let no_key = OrganRequest {
        api_key: Some("  ".into()),
        ..remote("openai", "gpt-4o", "")
    };
    assert_eq!(
        p.prepare(OrganSlot::Mouth, &no_key)
            .await
            .unwrap_err()
            .to_string(),
        "mouth: an API key is required for openai"
    );
    let err = p
        .prepare(OrganSlot::Ear, &remote("groq", "m", KEY))
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("ear: Unknown provider 'groq'"),
        "{err}"
    );
}

#[tokio::test]
async fn no_key_appears_in_errors_logs_or_debug() {
    let openai = testkit::openai::start(&["sk-other"], &["gpt-4o"]).await;
    let xai = testkit::openai::start_xai(&["xk-other"], &["grok"]).await;
    let anthropic = testkit::anthropic::start(&["ak-other"], &["claude"]).await;
    let gemini = testkit::gemini::start(&["gk-other"], &["gemini"]).await;
    let endpoints = Endpoints {
        local: "http://127.0.0.1:1".into(),
        openai: openai.url(),
        xai: xai.url(),
        anthropic: anthropic.url(),
        gemini: gemini.url(),
    };
    let logs = Captured::default();
    let _guard = logs.install();
    let p = preparer(endpoints);
    let mut texts = Vec::new();
    for provider in ["openai", "xai", "anthropic", "gemini"] {
        let req = remote(provider, "m", KEY);
        let err = p.prepare(OrganSlot::Thinking, &req).await.unwrap_err();
        texts.push(err.to_string());
        texts.push(format!("{err:?}"));
        texts.push(format!("{req:?}"));
    }
    let dead = OrganRequest {
        url: Some("http://127.0.0.1:1".into()),
        ..remote("openai", "m", KEY)
    };
    texts.push(
        p.prepare(OrganSlot::Thinking, &dead)
            .await
            .unwrap_err()
            .to_string(),
    );
    texts.push(logs.text());
    for t in texts {
        assert!(!t.contains(KEY) && !t.contains("1234567890"), "leaked: {t}");
    }
}

#[tokio::test]
async fn mind_is_registered_and_unregistered_in_the_local_engine() {
    let ollama = testkit::ollama::start(&["llama3:latest"]).await;
    let p = preparer(all_at(&ollama.url()));
    let base = p
        .prepare(OrganSlot::Thinking, &local(Some("llama3")))
        .await
        .unwrap();
    let id = Uuid::new_v4();
    let mind = p.register_mind(id, &base).await.unwrap();
    assert_eq!(
        mind,
        Organ {
            name: format!("eternego-{id}"),
            provider: None,
            api_key: None,
            url: ollama.url()
        }
    );
    let create = &ollama.requests().to("/api/create")[0];
    assert_eq!(create.body["model"], format!("eternego-{id}"));
    assert_eq!(create.body["from"], "llama3");
    assert_eq!(
        create.body["parameters"],
        json!({"num_ctx": 8192}),
        "her window is set, not the engine's default"
    );
    assert_eq!(ollama.requests().to("/api/show")[0].body["model"], "llama3");
    assert!(
        ollama
            .installed()
            .contains(&format!("eternego-{id}:latest"))
    );

    p.unregister_mind(&mind).await.unwrap();
    assert!(
        !ollama
            .installed()
            .contains(&format!("eternego-{id}:latest"))
    );
    assert_eq!(ollama.requests().to("/api/delete")[0].method, "DELETE");
    // Already gone is fine.
    p.unregister_mind(&mind).await.unwrap();
}

/// Her window is the base model's own when that is smaller than [`MIND_CONTEXT`], never more
/// than it when the model takes longer ones, and left to the engine when it cannot say.
#[tokio::test]
async fn her_minds_context_window_follows_what_the_base_model_takes() {
    let ollama = testkit::ollama::start(&["llama3:latest"]).await;
    let p = preparer(all_at(&ollama.url()));
    let base = Organ {
        name: "llama3".into(),
        provider: None,
        api_key: None,
        url: ollama.url(),
    };
    for (trained, window) in [
        (Some(131_072), json!({"num_ctx": MIND_CONTEXT})),
        (Some(2048), json!({"num_ctx": 2048})),
        (None, Value::Null),
    ] {
        ollama.set_trained_context(trained);
        p.register_mind(Uuid::new_v4(), &base).await.unwrap();
        let create = ollama.requests().to("/api/create").pop().unwrap();
        assert_eq!(create.body["parameters"], window, "trained for {trained:?}");
    }
}

#[tokio::test]
async fn registering_from_a_missing_base_fails() {
    let ollama = testkit::ollama::start(&[]).await;
    let p = preparer(all_at(&ollama.url()));
    let base = Organ {
        name: "ghost".into(),
        provider: None,
        api_key: None,
        url: ollama.url(),
    };
    let err = p.register_mind(Uuid::nil(), &base).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "thinking: could not register 'eternego-00000000-0000-0000-0000-000000000000' with the local engine (model 'ghost' not found)"
    );
    let dead = Organ {
        url: "http://127.0.0.1:1".into(),
        ..base
    };
    assert!(
        p.register_mind(Uuid::nil(), &dead)
            .await
            .unwrap_err()
            .is_unreachable()
    );
    assert!(p.unregister_mind(&dead).await.unwrap_err().is_unreachable());
}
