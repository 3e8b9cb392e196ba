//! In-process inference on llama.cpp (through `llama-cpp-2`), so a persona can think with a
//! GGUF model and no outside service.
//!
//! Shape, and why:
//! - **One loaded copy per GGUF file.** Every persona that uses the same file talks to the same
//!   model worker: the weights are counted once, each persona only adds her KV sequence.
//! - **One worker thread per model**, owning the model and one llama.cpp context with several
//!   sequences. llama.cpp contexts are not safe to share between threads, and a CPU has no spare
//!   cores to run two decodes of one model at once anyway, so requests are served in turn from a
//!   **bounded queue**; a full queue is an error the caller can report, not a growing backlog.
//! - **Per-persona sequences with prefix reuse.** Each persona keeps her KV sequence and the
//!   tokens in it; a new prompt re-reads only what follows the longest common token prefix with
//!   her previous one. This needs no marker: a prompt ordered stable-first (character,
//!   instructions, knowledge, then the present moment) reuses everything up to what changed.
//! - **Idle costs nothing.** A persona's sequence is dropped after `persona_idle`; a model with
//!   no work for `model_idle` is unloaded and its memory returned.
//!
//! Context length: the model's trained context, capped at [`CONTEXT_CAP`] tokens per persona by
//! default, because the KV memory a sequence may grow to is proportional to it.

mod error;
mod sampler;
mod worker;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use llama_cpp_2::llama_backend::LlamaBackend;

pub use error::EngineError;

/// The most context a persona's sequence gets by default, whatever the model was trained for.
/// 4096 tokens hold her stable prompt (about 2,000 tokens) plus a conversation, and keep the KV
/// memory of a small model in the tens of megabytes per persona.
pub const CONTEXT_CAP: u32 = 4096;

/// The decode threads when none are configured: every core but one, at least one.
pub fn default_threads() -> i32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    i32::try_from(cores.saturating_sub(1).max(1)).unwrap_or(1)
}

/// How the engine runs. [`EngineConfig::default`] is what the daemon uses.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Tokens of context per persona, at most; the model's trained context if smaller.
    pub context_cap: u32,
    /// CPU threads for decoding; `None` uses every core the machine reports but one (at
    /// least one). llama.cpp's threads wait for each other at every step of a decode, spinning;
    /// when another process takes one of the cores, a decode that uses all of them stalls on
    /// the thread that lost its core. On a busy 2-core machine one thread decoded at 46 tokens/s
    /// where two managed 3.7 (docs/benchmarks.md).
    pub threads: Option<i32>,
    /// Requests that may wait for a model before new ones are refused with
    /// [`EngineError::Busy`].
    pub queue: usize,
    /// Personas whose sequences a model keeps at once; the least recently used is dropped when
    /// another persona needs a sequence.
    pub sequences: u32,
    /// A persona whose sequence has not been used this long loses it.
    pub persona_idle: Duration,
    /// A model with no work this long is unloaded.
    pub model_idle: Duration,
    /// Reuse the common token prefix with a persona's previous prompt. Off only to measure
    /// what it saves.
    pub prefix_reuse: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            context_cap: CONTEXT_CAP,
            threads: None,
            queue: 32,
            sequences: 4,
            persona_idle: Duration::from_secs(10 * 60),
            model_idle: Duration::from_secs(15 * 60),
            prefix_reuse: true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One turn of the conversation handed to the model's chat template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Turn {
    pub role: Role,
    pub text: String,
}

impl Turn {
    pub fn new(role: Role, text: impl Into<String>) -> Self {
        Turn {
            role,
            text: text.into(),
        }
    }
}

/// Lets a caller stop a generation in flight (a new perception interrupts her beat). Cheap to
/// clone; every clone cancels the same generation.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Cancel::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What to generate, for whom.
#[derive(Clone, Debug)]
pub struct Request {
    /// Whose sequence this is: her prompts share a KV prefix from one request to the next.
    pub persona: String,
    pub turns: Vec<Turn>,
    /// A JSON Schema the answer must match; decoding is constrained by the grammar llama.cpp
    /// derives from it, so the answer is valid JSON unless cut at the token limit.
    pub schema: Option<serde_json::Value>,
    pub max_tokens: u32,
    /// `None` decodes greedily (deterministic); otherwise sampled at this temperature.
    pub temperature: Option<f32>,
    pub seed: u32,
    pub cancel: Cancel,
}

impl Request {
    pub fn new(persona: impl Into<String>, turns: Vec<Turn>) -> Self {
        Request {
            persona: persona.into(),
            turns,
            schema: None,
            max_tokens: 1024,
            temperature: None,
            seed: 0,
            cancel: Cancel::new(),
        }
    }
}

/// Why a generation stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The model ended its answer.
    End,
    /// `max_tokens` or the context ran out first.
    Length,
    Cancelled,
}

/// The answer, with the figures the benchmarks and logs want.
#[derive(Clone, Debug)]
pub struct Output {
    pub text: String,
    pub stop: Stop,
    /// Tokens in the templated prompt.
    pub prompt_tokens: usize,
    /// Of those, how many were already in her KV sequence and not read again.
    pub reused_tokens: usize,
    pub generated_tokens: usize,
    /// Reading the new part of the prompt.
    pub prompt_time: Duration,
    /// From the start of this request's turn on the model to its first token.
    pub first_token: Duration,
    /// Producing every token after the prompt was read (sampling included).
    pub generation_time: Duration,
    /// Of `generation_time`, choosing tokens: the sampler chain and, with a schema, the
    /// grammar check. The rest is the model's decode.
    pub sampling_time: Duration,
    /// Sampled tokens the schema's grammar rejected, so the token was chosen again from the
    /// whole vocabulary filtered by the grammar (the slow path; see the engine's docs).
    pub grammar_rejections: usize,
    /// Waiting in the model's queue behind other requests, before this one's turn.
    pub queue_time: Duration,
}

/// What a loaded model says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    pub trained_context: u32,
    /// The context each persona gets: the trained context capped by the config.
    pub context: u32,
    /// Whether the GGUF carries its own chat template (else ChatML is used).
    pub chat_template: bool,
}

type TokenSink = Box<dyn FnMut(&str) + Send>;

struct Job {
    request: Request,
    on_token: TokenSink,
    reply: mpsc::Sender<Result<Output, EngineError>>,
    /// When it was handed to the worker: the time it waited is reported with its figures.
    queued: Instant,
}

struct Handle {
    jobs: SyncSender<Job>,
    info: ModelInfo,
    /// Tells this worker apart from a later one for the same file (after an unload), so a
    /// retiring worker only ever removes its own entry.
    id: u64,
}

type Registry = Mutex<HashMap<PathBuf, Handle>>;

/// The shared engine: hand it around as an `Arc`.
pub struct Engine {
    config: EngineConfig,
    models: Arc<Registry>,
}

/// llama.cpp's backend is process-wide and may be initialised once.
fn backend() -> Result<&'static LlamaBackend, EngineError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            // llama.cpp writes its own chatter to stderr; route it through tracing instead.
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| EngineError::Backend(e.clone()))
}

impl Engine {
    pub fn new(config: EngineConfig) -> Arc<Engine> {
        Arc::new(Engine {
            config,
            models: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Loads `model` unless it is loaded already, and says what it is.
    pub fn load(&self, model: &Path) -> Result<ModelInfo, EngineError> {
        let mut models = self.models.lock().expect("engine registry poisoned");
        Ok(self.handle(&mut models, model)?.info.clone())
    }

    fn handle<'a>(
        &self,
        models: &'a mut HashMap<PathBuf, Handle>,
        model: &Path,
    ) -> Result<&'a Handle, EngineError> {
        if !models.contains_key(model) {
            let handle = worker::spawn(
                backend()?,
                model.to_path_buf(),
                self.config.clone(),
                Arc::downgrade(&self.models),
            )?;
            models.insert(model.to_path_buf(), handle);
        }
        Ok(&models[model])
    }

    /// Generates an answer, calling `on_token` with each piece of text as it is decoded.
    /// Blocks until the answer is complete: call it from a blocking thread.
    pub fn generate(
        &self,
        model: &Path,
        request: Request,
        on_token: impl FnMut(&str) + Send + 'static,
    ) -> Result<Output, EngineError> {
        let (reply, answer) = mpsc::channel();
        let mut job = Job {
            request,
            on_token: Box::new(on_token),
            reply,
            queued: Instant::now(),
        };
        // Sent under the registry lock so a worker retiring for idleness (which takes the same
        // lock) can never be handed a job after it looked for the last one.
        {
            let mut models = self.models.lock().expect("engine registry poisoned");
            for _ in 0..2 {
                let handle = self.handle(&mut models, model)?;
                match handle.jobs.try_send(job) {
                    Ok(()) => break,
                    Err(TrySendError::Full(_)) => return Err(EngineError::Busy),
                    Err(TrySendError::Disconnected(back)) => {
                        // The worker died (a panic in llama.cpp's wake): load it afresh once.
                        models.remove(model);
                        job = back;
                    }
                }
            }
        }
        answer.recv().map_err(|_| EngineError::WorkerGone)?
    }

    /// The model files loaded now.
    pub fn loaded(&self) -> Vec<PathBuf> {
        let models = self.models.lock().expect("engine registry poisoned");
        models.keys().cloned().collect()
    }

    /// Unloads `model` once the requests already queued for it are done.
    pub fn unload(&self, model: &Path) {
        self.models
            .lock()
            .expect("engine registry poisoned")
            .remove(model);
    }
}
