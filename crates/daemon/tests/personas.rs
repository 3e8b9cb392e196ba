//! The persona contract of `shared/spec/`: every route, its status codes and `detail` texts.

mod support;

use serde_json::{Value, json};
use support::*;

fn id_of(created: &Value) -> String {
    created["persona"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_empty_machine_lists_no_personas_and_its_providers() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    assert_eq!(d.get("/api/personas").await, (200, json!({"personas": []})));
    let (status, providers) = d.get("/api/config/providers").await;
    assert_eq!(status, 200);
    assert_eq!(providers["local"]["url"], fakes.ollama.url());
    assert_eq!(providers["anthropic"]["url"], fakes.anthropic.url());
    assert_eq!(providers["gemini"]["url"], fakes.gemini.url());
    assert_eq!(providers["openai"]["url"], fakes.openai.url());
    assert_eq!(providers["xai"]["url"], fakes.xai.url());
    assert_eq!(providers.as_object().unwrap().len(), 5);
    d.shutdown().await;
}

#[tokio::test]
async fn creating_a_local_persona_pulls_registers_and_starts_her() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let (status, created) = d
        .post(
            "/api/persona/create",
            json!({"name": "Polaris", "thinking_model": "qwen2.5:0.5b"}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = id_of(&created);
    let persona = &created["persona"];
    assert_eq!(persona["name"], "Polaris");
    assert_eq!(persona["thinking"]["name"], format!("eternego-{id}"));
    assert_eq!(persona["thinking"]["provider"], Value::Null);
    assert_eq!(persona["base_model"], "qwen2.5:0.5b");
    assert_eq!(persona["status"], "active");
    assert_eq!(persona["idle_timeout"], 3600);
    assert_eq!(persona["version"], "v1");
    for organ in [
        "imagination",
        "mouth",
        "eye",
        "ear",
        "teacher",
        "researcher",
    ] {
        assert_eq!(persona[organ], Value::Null, "{organ}");
    }
    assert_eq!(persona["channels"], json!([]));
    let words: Vec<&str> = created["recovery_phrase"]
        .as_str()
        .unwrap()
        .split(' ')
        .collect();
    assert_eq!(words.len(), 24);

    let log = fakes.ollama.requests();
    assert_eq!(log.to("/api/pull").len(), 1, "the absent model is pulled");
    let registered = log.to("/api/create");
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0].body["model"], format!("eternego-{id}"));
    assert_eq!(registered[0].body["from"], "qwen2.5:0.5b");

    let persona_home = home.path().join("personas").join(&id).join("home");
    assert!(persona_home.join("config.json").is_file());
    assert!(persona_home.join("routines.json").is_file());
    assert!(
        home.path()
            .join("personas")
            .join(&id)
            .join("workspace")
            .is_dir()
    );
    assert!(
        home.path()
            .join("diary")
            .join(&id)
            .join(format!("{id}.diary"))
            .is_file()
    );

    let listed = d.personas().await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["running"], true);
    assert_eq!(
        listed[0]["thinking"]["name"], "qwen2.5:0.5b",
        "the view shows the model the person chose"
    );
    assert_eq!(listed[0]["thinking"]["url"], fakes.ollama.url());
    d.shutdown().await;
}

#[tokio::test]
async fn a_cloud_persona_keeps_her_keys_out_of_views_logs_and_files() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let (status, created) = d
        .post(
            "/api/persona/create",
            json!({
                "name": "Iris",
                "thinking_model": "claude-sonnet-4-6", "thinking_provider": "anthropic", "thinking_api_key": ANTHROPIC_KEY,
                "eye_model": "gpt-4o", "eye_provider": "openai", "eye_api_key": OPENAI_KEY,
                "teacher_model": "gemini-2.5-pro", "teacher_provider": "gemini", "teacher_api_key": GEMINI_KEY,
                "researcher_model": "grok-4", "researcher_provider": "xai", "researcher_api_key": XAI_KEY,
                "telegram_token": TELEGRAM_TOKEN,
                "discord_token": DISCORD_TOKEN
            }),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let persona = &created["persona"];
    assert_eq!(
        persona["thinking"]["api_key"], ANTHROPIC_KEY,
        "the create response echoes keys, as documented"
    );
    assert_eq!(persona["base_model"], "");
    assert_eq!(persona["eye"]["provider"], "openai");
    assert_eq!(persona["teacher"]["url"], fakes.gemini.url());
    assert_eq!(persona["channels"].as_array().unwrap().len(), 2);

    let (_, listed) = d.get("/api/personas").await;
    let text = listed.to_string();
    let secrets = [
        ANTHROPIC_KEY,
        OPENAI_KEY,
        GEMINI_KEY,
        XAI_KEY,
        TELEGRAM_TOKEN,
        DISCORD_TOKEN,
    ];
    for secret in secrets {
        assert!(!text.contains(secret), "the persona view leaks {secret}");
        assert!(
            files_containing(home.path(), secret).is_empty(),
            "a file under ETERNEGO_HOME holds {secret} in plain text"
        );
    }
    let view = &listed["personas"][0];
    assert_eq!(
        view["thinking"],
        json!({"name": "claude-sonnet-4-6", "provider": "anthropic", "url": fakes.anthropic.url()})
    );
    assert_eq!(
        view["channels"][0],
        json!({"type": "telegram", "name": "telegram", "verified": false})
    );

    // The secrets come back from the secret store after a restart.
    d.shutdown().await;
    let d = Harness::start(home.path(), &fakes).await;
    let listed = d.personas_settled().await;
    assert_eq!(
        listed[0]["running"], true,
        "an active persona is started at boot, with her key from the secret store"
    );
    d.shutdown().await;
}

#[tokio::test]
async fn create_validates_its_body_like_fastapi() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;

    let (status, body) = d
        .post("/api/persona/create", json!({"thinking_model": "m"}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "missing");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "name"]));
    assert_eq!(body["detail"][0]["msg"], "Field required");
    assert_eq!(body["detail"][0]["input"], json!({"thinking_model": "m"}));

    let (status, body) = d.post("/api/persona/create", json!({})).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["detail"].as_array().unwrap().len(),
        2,
        "both missing fields are listed"
    );

    let (status, body) = d
        .post(
            "/api/persona/create",
            json!({"name": 7, "thinking_model": "m"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "string_type");
    assert_eq!(body["detail"][0]["input"], 7);

    let (status, body) = d.post_raw("/api/persona/create", "{\"name\": ").await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "json_invalid");
    assert_eq!(body["detail"][0]["loc"][0], "body");

    let (status, body) = d.post_empty("/api/persona/create").await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body"]));

    assert!(d.personas().await.is_empty());
    d.shutdown().await;
}

#[tokio::test]
async fn create_failures_say_which_organ_and_leave_nothing() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let before = snapshot(home.path());

    let cases = [
        (
            json!({"name": "A", "thinking_model": "gpt-5.4", "thinking_provider": "openai", "thinking_api_key": "sk-wrong"}),
            "thinking",
        ),
        (
            json!({"name": "A", "thinking_model": "no-such-model", "thinking_provider": "openai", "thinking_api_key": OPENAI_KEY}),
            "thinking",
        ),
        (
            json!({"name": "A", "thinking_model": "llama3.2:1b", "eye_model": "gpt-4o", "eye_provider": "anthropic", "eye_api_key": ANTHROPIC_KEY}),
            "eye",
        ),
        (
            json!({"name": "A", "thinking_model": "llama3.2:1b", "teacher_model": "x", "teacher_provider": "groq"}),
            "groq",
        ),
        (
            json!({"name": "A", "thinking_model": "llama3.2:1b", "mouth_model": "m", "mouth_provider": "openai", "mouth_url": "http://127.0.0.1:9", "mouth_api_key": OPENAI_KEY}),
            "mouth",
        ),
        (
            json!({"name": "A", "thinking_model": "never-published"}),
            "thinking",
        ),
    ];
    for (body, expected) in cases {
        let (status, reply) = d.post("/api/persona/create", body.clone()).await;
        assert_eq!(status, 400, "{body} → {reply}");
        let detail = reply["detail"].as_str().unwrap();
        assert!(
            detail.contains(expected),
            "{detail} should mention {expected}"
        );
        assert!(
            !detail.contains("sk-wrong") && !detail.contains(OPENAI_KEY),
            "{detail} leaks a key"
        );
    }

    let (status, reply) = d
        .post(
            "/api/persona/create",
            json!({"name": "A", "thinking_model": "llama3.2:1b", "telegram_token": "1:bad"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        reply["detail"]
            .as_str()
            .unwrap()
            .starts_with("Telegram validation failed: "),
        "{reply}"
    );
    assert!(!reply["detail"].as_str().unwrap().contains("1:bad"));
    let (status, reply) = d
        .post(
            "/api/persona/create",
            json!({"name": "A", "thinking_model": "llama3.2:1b", "discord_token": "bad"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        reply["detail"]
            .as_str()
            .unwrap()
            .starts_with("Discord validation failed: "),
        "{reply}"
    );

    assert_eq!(
        fakes.ollama.requests().to("/api/create").len(),
        0,
        "nothing was registered"
    );
    assert_eq!(
        snapshot(home.path()),
        before,
        "a refused create leaves ETERNEGO_HOME as it was"
    );
    assert!(d.personas().await.is_empty());
    d.shutdown().await;
}

#[tokio::test]
async fn a_create_that_fails_after_validation_leaves_no_trace() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    // Her diary cannot be written: `diary` is a file, not a folder.
    std::fs::write(home.path().join("diary"), b"in the way").unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let (status, reply) = d
        .post(
            "/api/persona/create",
            json!({"name": "A", "thinking_model": "llama3.2:1b"}),
        )
        .await;
    assert_eq!(status, 400, "{reply}");
    assert!(
        reply["detail"].as_str().unwrap().contains("diary"),
        "{reply}"
    );
    let left: Vec<_> = std::fs::read_dir(home.path().join("personas"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        left.is_empty(),
        "no persona or staging folder is left: {left:?}"
    );
    let registered = fakes.ollama.requests().to("/api/create");
    let unregistered = fakes.ollama.requests().to("/api/delete");
    assert_eq!(registered.len(), 1);
    assert_eq!(
        unregistered.len(),
        1,
        "the registered model is removed again"
    );
    assert_eq!(unregistered[0].body["model"], registered[0].body["model"]);
    assert!(d.personas().await.is_empty());
    d.shutdown().await;
}

#[tokio::test]
async fn start_stop_restart_and_sleep_follow_the_lifecycle_page() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = id_of(&d.create_local("Adam").await);
    let path = |action: &str| format!("/api/persona/{id}/{action}");

    assert_eq!(
        d.post_empty(&path("start")).await,
        (200, json!({"status": "already running"}))
    );
    assert_eq!(
        d.post_empty(&path("stop")).await,
        (200, json!({"status": "stopped"}))
    );
    assert_eq!(
        d.post_empty(&path("stop")).await,
        (404, json!({"detail": "Persona is not running."}))
    );
    assert_eq!(
        d.post_empty(&path("sleep")).await,
        (409, json!({"detail": "Persona is not active."}))
    );
    assert_eq!(d.personas().await[0]["running"], false);
    assert_eq!(
        d.personas().await[0]["status"],
        "active",
        "stop does not change her status"
    );
    assert_eq!(
        d.post_empty(&path("start")).await,
        (200, json!({"status": "started"}))
    );
    assert_eq!(
        d.post_empty(&path("restart")).await,
        (200, json!({"status": "restarted"}))
    );
    assert_eq!(d.personas().await[0]["running"], true);

    let diary = home
        .path()
        .join("diary")
        .join(&id)
        .join(format!("{id}.diary"));
    let first = std::fs::read(&diary).unwrap();
    assert_eq!(d.post_empty(&path("sleep")).await, (200, Value::Null));
    let second = std::fs::read(&diary).unwrap();
    assert_ne!(first, second, "sleep writes a fresh diary");

    d.post_empty(&path("stop")).await;
    assert_eq!(
        d.post_empty(&path("restart")).await,
        (200, json!({"status": "restarted"})),
        "restart starts a stopped persona"
    );
    assert_eq!(d.personas().await[0]["running"], true);
    d.shutdown().await;
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_not_found() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let unknown = "6c17c83c-3158-450d-8e43-0e7efea717c1";
    let not_found = json!({"detail": "Persona not found."});
    for action in ["start", "restart", "delete"] {
        assert_eq!(
            d.post_empty(&format!("/api/persona/{unknown}/{action}"))
                .await,
            (404, not_found.clone()),
            "{action}"
        );
    }
    assert_eq!(
        d.post(
            &format!("/api/persona/{unknown}/update"),
            json!({"status": "active"})
        )
        .await,
        (404, not_found.clone())
    );
    assert_eq!(
        d.post_empty(&format!("/api/persona/{unknown}/stop")).await,
        (404, json!({"detail": "Persona is not running."}))
    );
    assert_eq!(
        d.post_empty(&format!("/api/persona/{unknown}/sleep")).await,
        (409, json!({"detail": "Persona is not active."}))
    );
    assert_eq!(
        d.get(&format!("/api/persona/{unknown}/export")).await,
        (404, not_found.clone())
    );
    for bad in [
        "..%2F..%2Fetc",
        "not-a-uuid",
        "6C17C83C-3158-450D-8E43-0E7EFEA717C1x",
    ] {
        assert_eq!(
            d.post_empty(&format!("/api/persona/{bad}/start")).await,
            (404, not_found.clone()),
            "{bad}"
        );
    }
    d.shutdown().await;
}

#[tokio::test]
async fn update_follows_the_transition_table() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = id_of(&d.create_local("Adam").await);
    let update = |body: Value| {
        let path = format!("/api/persona/{id}/update");
        let d = &d;
        async move { d.post(&path, body).await }
    };

    // active + running → hibernate: removed.
    assert_eq!(
        update(json!({"status": "hibernate"})).await,
        (200, json!({"status": "hibernate", "running": false}))
    );
    // hibernate + not running → sick: nothing.
    assert_eq!(
        update(json!({"status": "sick"})).await,
        (200, json!({"status": "sick", "running": false}))
    );
    // not running, organ only: nothing.
    assert_eq!(
        update(json!({"eye": {"model": "gpt-4o", "provider": "openai", "api_key": OPENAI_KEY}}))
            .await,
        (200, json!({"status": "sick", "running": false}))
    );
    assert_eq!(d.personas().await[0]["eye"]["name"], "gpt-4o");
    // → active, not running: started.
    assert_eq!(
        update(json!({"status": "active"})).await,
        (200, json!({"status": "active", "running": true}))
    );
    // active + running, organ only: restarted, still running.
    let chats_before = fakes.ollama.requests().to("/api/tags").len();
    assert_eq!(
        update(json!({"teacher": {"model": "claude-sonnet-4-6", "provider": "anthropic", "api_key": ANTHROPIC_KEY}})).await,
        (200, json!({"status": "active", "running": true}))
    );
    assert!(
        fakes.ollama.requests().to("/api/tags").len() > chats_before,
        "her Mind was checked again on restart"
    );
    // active + running → active: restarted.
    assert_eq!(
        update(json!({"status": "active"})).await,
        (200, json!({"status": "active", "running": true}))
    );
    // clear_* wins over an organ object for the same slot.
    assert_eq!(
        update(json!({"clear_eye": true, "eye": {"model": "gpt-4o", "provider": "openai", "api_key": OPENAI_KEY}})).await.0,
        200
    );
    let view = &d.personas().await[0];
    assert_eq!(view["eye"], Value::Null);
    assert_eq!(view["teacher"]["name"], "claude-sonnet-4-6");
    // null is "don't touch".
    assert_eq!(update(json!({"teacher": null})).await.0, 200);
    assert_eq!(
        d.personas().await[0]["teacher"]["name"],
        "claude-sonnet-4-6"
    );

    // Errors.
    assert_eq!(
        update(json!({"status": "sleeping"})).await,
        (
            400,
            json!({"detail": "Status must be one of: active, hibernate, sick."})
        )
    );
    let (status, body) =
        update(json!({"eye": {"model": "gpt-4o", "provider": "openai", "api_key": "sk-nope"}}))
            .await;
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().unwrap().contains("eye"));
    let (status, body) = update(json!({"eye": {"provider": "openai"}})).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "eye", "model"]));
    let (status, body) = update(json!({"clear_eye": "perhaps"})).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "bool_parsing");
    // There is no clear_thinking: like any unknown key it is a 422 naming it, and the Mind stays.
    let (status, body) = update(json!({"clear_thinking": true})).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "extra_forbidden");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "clear_thinking"]));
    assert_eq!(d.personas().await[0]["thinking"]["name"], "llama3.2:1b");

    // Swapping the Mind to the cloud unregisters her local wrapper.
    let (status, body) = update(
        json!({"thinking": {"model": "gpt-5.4", "provider": "openai", "api_key": OPENAI_KEY}}),
    )
    .await;
    assert_eq!(
        (status, body),
        (200, json!({"status": "active", "running": true}))
    );
    let view = &d.personas().await[0];
    assert_eq!(view["thinking"]["name"], "gpt-5.4");
    assert_eq!(view["base_model"], "");
    assert_eq!(fakes.ollama.requests().to("/api/delete").len(), 1);
    d.shutdown().await;
}

#[tokio::test]
async fn delete_removes_her_everywhere() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = id_of(&d.create_local("Adam").await);
    assert_eq!(
        d.post_empty(&format!("/api/persona/{id}/delete")).await,
        (200, Value::Null)
    );
    assert!(d.personas().await.is_empty());
    assert!(!home.path().join("personas").join(&id).exists());
    assert!(!home.path().join("diary").join(&id).exists());
    let deleted = fakes.ollama.requests().to("/api/delete");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].body["model"], format!("eternego-{id}"));
    assert_eq!(
        d.post_empty(&format!("/api/persona/{id}/delete")).await,
        (404, json!({"detail": "Persona not found."}))
    );
    d.shutdown().await;
}

#[tokio::test]
async fn boot_starts_active_personas_only() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let active = id_of(&d.create_local("Awake").await);
    let resting = id_of(&d.create_local("Resting").await);
    d.post(
        &format!("/api/persona/{resting}/update"),
        json!({"status": "hibernate"}),
    )
    .await;
    d.shutdown().await;

    // Boot starts her in the background: wait until no one is still "starting".
    let d = Harness::start(home.path(), &fakes).await;
    for view in d.personas_settled().await {
        let expected = view["id"] == active;
        assert_eq!(view["running"], expected, "{view}");
    }
    d.shutdown().await;
}

#[tokio::test]
async fn export_downloads_her_latest_diary() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = id_of(&d.create_local("Adam").await);
    let r = d
        .client
        .get(format!("{}/api/persona/{id}/export", d.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(
        r.headers()["content-disposition"],
        format!("attachment; filename=\"{id}.diary\"")
    );
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(b"gAAAAA"), "a Fernet token");
    assert_eq!(
        bytes.as_ref(),
        std::fs::read(
            home.path()
                .join("diary")
                .join(&id)
                .join(format!("{id}.diary"))
        )
        .unwrap()
    );
    d.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_like_fastapi() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    assert_eq!(
        d.get("/api/nothing-here").await,
        (404, json!({"detail": "Not Found"}))
    );
    assert_eq!(
        d.get("/api/persona/create").await,
        (405, json!({"detail": "Method Not Allowed"}))
    );
    d.shutdown().await;
}

#[tokio::test]
async fn hostile_pages_are_refused() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let r = d
        .client
        .get(format!("{}/api/personas", d.url))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "DNS rebinding");
    let r = d
        .client
        .post(format!("{}/api/persona/create", d.url))
        .header("origin", "http://evil.example")
        .json(&json!({"name": "A", "thinking_model": "llama3.2:1b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "cross-origin write");
    assert!(d.personas().await.is_empty());
    let own = d.url.clone();
    let r = d
        .client
        .post(format!("{}/api/persona/create", d.url))
        .header("origin", own)
        .json(&json!({"name": "A", "thinking_model": "llama3.2:1b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the daemon's own pages may write");
    d.shutdown().await;
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let (status, doc) = d.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["info"]["title"], "Eternego");
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/personas",
        "/api/config/providers",
        "/api/persona/create",
        "/api/persona/migrate",
        "/api/persona/{persona_id}/start",
        "/api/persona/{persona_id}/stop",
        "/api/persona/{persona_id}/restart",
        "/api/persona/{persona_id}/sleep",
        "/api/persona/{persona_id}/update",
        "/api/persona/{persona_id}/delete",
        "/api/persona/{persona_id}/export",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} is missing from /openapi.json"
        );
    }
    assert!(
        doc["components"]["schemas"]["CreateRequest"]["required"]
            .as_array()
            .unwrap()
            .contains(&json!("name"))
    );
    d.shutdown().await;
}
