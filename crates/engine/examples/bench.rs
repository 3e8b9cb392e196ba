//! Prints the engine's figures beside a bare llama-cpp-2 decode loop on the same GGUF and
//! threads: prompt tok/s, generated tok/s, time to first token; one stage with prefix reuse on
//! and off; RSS with one and five personas. Never asserts a time.
//!
//! `cargo run -p engine --example bench -- PATH.gguf [THREADS]`

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use engine::{Engine, EngineConfig, Request, Role, Turn};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;

const GENERATE: u32 = 64;
/// The token bound of the structured stage: a 135M model inside a grammar often writes until it
/// is cut, so this is also what a runaway answer costs.
const STRUCTURED: u32 = 256;

/// A stage answer shaped like her Mind's `decision` schema: an array of single-key actions.
fn decision_schema() -> serde_json::Value {
    let one = |key: &str, schema: serde_json::Value| {
        serde_json::json!({"type": "object", "additionalProperties": false, "required": [key],
                           "properties": {key: schema}})
    };
    serde_json::json!({"type": "object", "additionalProperties": false, "required": ["decision"],
    "properties": {"decision": {"type": "array", "items": {"anyOf": [
        one("say", serde_json::json!({"type": "string"})),
        one("done", serde_json::json!({"type": "null"})),
        one("load_instruction", serde_json::json!({"type": "object", "additionalProperties": false,
            "required": ["intention"], "properties": {"intention": {"type": "string"}}})),
    ]}}}})
}

/// One structured stage as her Mind asks it (sampled at 0.7, seed 42), with the schema's
/// grammar and without: what the grammar costs per generated token.
fn structured(engine: &Engine, path: &Path, schema: bool, seed: u32) -> engine::Output {
    let mut request = Request::new(
        if schema { "json" } else { "free" },
        turns("Sam says: Hi Wren, I am Sam. How are you today? Decide what to do, as JSON."),
    );
    request.schema = schema.then(decision_schema);
    request.max_tokens = STRUCTURED;
    request.temperature = Some(0.7);
    request.seed = seed;
    engine.generate(path, request, |_| {}).unwrap()
}

fn structured_row(name: &str, out: &engine::Output) {
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / out.generated_tokens.max(1) as f64;
    println!(
        "| {name} | {} | {:?} | {:.1} | {:.1} | {:.0} |",
        out.generated_tokens,
        out.stop,
        per(out.generation_time),
        per(out.sampling_time),
        out.generation_time.as_secs_f64() * 1000.0
    );
}

fn system() -> String {
    "You are Ada, a careful assistant who lives by the sea. You keep tide tables, mend nets and \
     write letters to friends far away. You answer briefly and kindly. "
        .repeat(12)
}

fn turns(question: &str) -> Vec<Turn> {
    vec![
        Turn::new(Role::System, system()),
        Turn::new(Role::User, question),
    ]
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Figures {
    prompt_tokens: usize,
    prompt_time: Duration,
    generated: usize,
    generation_time: Duration,
    first_token: Duration,
}

/// The same work with llama-cpp-2 directly: template, tokenize, one prompt batch, greedy loop.
fn bare(path: &Path, threads: i32) -> Figures {
    let backend = LlamaBackend::init().unwrap();
    let model = LlamaModel::load_from_file(&backend, path, &LlamaModelParams::default()).unwrap();
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(4096))
        .with_n_batch(512)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut ctx = model.new_context(&backend, params).unwrap();
    let template = model.chat_template(None).unwrap();
    let chat = [
        LlamaChatMessage::new("system".into(), system()).unwrap(),
        LlamaChatMessage::new("user".into(), "Tell me about the tides.".into()).unwrap(),
    ];
    let started = Instant::now();
    let text = model.apply_chat_template(&template, &chat, true).unwrap();
    let tokens = model.vocab().tokenize(text.as_bytes(), true, true);
    let mut batch = LlamaBatch::new(512, 1);
    let prompt_started = Instant::now();
    for chunk_start in (0..tokens.len()).step_by(512) {
        batch.clear();
        let end = (chunk_start + 512).min(tokens.len());
        for (i, t) in tokens[chunk_start..end].iter().enumerate() {
            let pos = chunk_start + i;
            batch
                .add(*t, pos as i32, &[0], pos == tokens.len() - 1)
                .unwrap();
        }
        ctx.decode(&mut batch).unwrap();
    }
    let prompt_time = prompt_started.elapsed();
    let mut sampler = LlamaSampler::greedy();
    let mut idx = batch.n_tokens() - 1;
    let mut pos = tokens.len() as i32;
    let gen_started = Instant::now();
    let mut first = None;
    let mut generated = 0;
    // A fixed count, as the engine run below: the end-of-generation token is not honoured, so
    // both produce exactly GENERATE tokens.
    while generated < GENERATE as usize {
        let token = sampler.sample(&ctx, idx);
        first.get_or_insert_with(|| started.elapsed());
        let _ = model.vocab().token_to_piece(token, false, None);
        generated += 1;
        batch.clear();
        batch.add(token, pos, &[0], true).unwrap();
        ctx.decode(&mut batch).unwrap();
        pos += 1;
        idx = 0;
    }
    Figures {
        prompt_tokens: tokens.len(),
        prompt_time,
        generated,
        generation_time: gen_started.elapsed(),
        first_token: first.unwrap(),
    }
}

fn row(name: &str, f: &Figures) {
    println!(
        "| {name} | {:.0} | {:.1} | {:.0} |",
        f.prompt_tokens as f64 / f.prompt_time.as_secs_f64(),
        f.generated as f64 / f.generation_time.as_secs_f64(),
        f.first_token.as_secs_f64() * 1000.0
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().expect("usage: bench PATH.gguf [THREADS]"));
    let threads: i32 = args.next().map_or(2, |t| t.parse().unwrap());
    // llama.cpp's backend may be initialised once per process: the bare loop runs in a child.
    if args.next().as_deref() == Some("--bare") {
        let f = bare(&path, threads);
        println!(
            "{} {} {} {} {}",
            f.prompt_tokens,
            f.prompt_time.as_nanos(),
            f.generated,
            f.generation_time.as_nanos(),
            f.first_token.as_nanos()
        );
        return;
    }
    let engine = Engine::new(EngineConfig {
        threads: Some(threads),
        ..EngineConfig::default()
    });

    let rss_before = rss_mb();
    // The first decode of a fresh context allocates its compute graphs: measure after it, as
    // the bare loop's figures are (its prompt batch comes first too, but is one call).
    let mut warm = Request::new("warm", turns("Hi"));
    warm.max_tokens = 2;
    engine.generate(&path, warm, |_| {}).unwrap();
    // Ours: a question on a cold sequence. The engine stops at the end token, so the question
    // asks for something long and the bound is the same as the bare loop's.
    let mut request = Request::new("p0", turns("Tell me about the tides."));
    request.max_tokens = GENERATE;
    let out = engine.generate(&path, request, |_| {}).unwrap();
    let ours = Figures {
        prompt_tokens: out.prompt_tokens,
        prompt_time: out.prompt_time,
        generated: out.generated_tokens,
        generation_time: out.generation_time,
        first_token: out.first_token,
    };
    let rss_one = rss_mb();
    for p in 1..5 {
        let mut request = Request::new(format!("p{p}"), turns("Tell me about the tides."));
        request.max_tokens = 8;
        engine.generate(&path, request, |_| {}).unwrap();
    }
    let rss_five = rss_mb();

    // One stage after another with the same system prompt: reuse on, then off.
    let stage = |engine: &Engine, question: &str| {
        let mut request = Request::new("stage", turns(question));
        request.max_tokens = 16;
        let started = Instant::now();
        let out = engine.generate(&path, request, |_| {}).unwrap();
        (started.elapsed(), out.reused_tokens, out.prompt_tokens)
    };
    stage(&engine, "What is the weather like?");
    let (with_reuse, reused, prompt) = stage(&engine, "What should I cook tonight?");
    let cold = Engine::new(EngineConfig {
        threads: Some(threads),
        prefix_reuse: false,
        ..EngineConfig::default()
    });
    stage(&cold, "What is the weather like?");
    let (without_reuse, _, _) = stage(&cold, "What should I cook tonight?");
    drop(cold);
    let free = structured(&engine, &path, false, 42);
    let json: Vec<_> = (40..45)
        .map(|seed| structured(&engine, &path, true, seed))
        .collect();
    drop(engine);

    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .arg(&path)
        .arg(threads.to_string())
        .arg("--bare")
        .output()
        .unwrap();
    let n: Vec<u128> = String::from_utf8_lossy(&child.stdout)
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    let ns = |v: u128| Duration::from_nanos(v as u64);
    let bare = Figures {
        prompt_tokens: n[0] as usize,
        prompt_time: ns(n[1]),
        generated: n[2] as usize,
        generation_time: ns(n[3]),
        first_token: ns(n[4]),
    };

    println!("model {} · {threads} threads", path.display());
    println!("| engine | prompt tok/s | gen tok/s | TTFT ms |");
    println!("| --- | --- | --- | --- |");
    row("eternego engine", &ours);
    row("bare llama-cpp-2 loop", &bare);
    println!();
    println!(
        "stage with prefix reuse: {:.0} ms ({reused}/{prompt} prompt tokens reused); without: {:.0} ms; {:.1}x",
        with_reuse.as_secs_f64() * 1000.0,
        without_reuse.as_secs_f64() * 1000.0,
        without_reuse.as_secs_f64() / with_reuse.as_secs_f64()
    );
    println!();
    println!(
        "| stage (max {STRUCTURED} tokens) | generated | stop | ms/token | sampling ms/token | total ms |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    structured_row("free text", &free);
    for (seed, out) in (40..).zip(&json) {
        structured_row(&format!("JSON schema, seed {seed}"), out);
    }
    let longest = json
        .iter()
        .max_by_key(|o| o.generated_tokens)
        .expect("five runs");
    println!(
        "longest JSON answer: {:?}",
        longest.text.chars().take(300).collect::<String>()
    );
    println!(
        "RSS: before load {rss_before:.0} MB, one persona {rss_one:.0} MB, five personas {rss_five:.0} MB"
    );
}
