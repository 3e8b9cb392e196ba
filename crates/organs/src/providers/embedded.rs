//! The embedded engine: a local model whose GGUF is in `ETERNEGO_HOME/models/` runs inside the
//! daemon on llama.cpp (`crates/engine`), with no outside service.
//!
//! Which engine serves a local model (no provider given) is decided by name, each time an
//! organ is prepared or used: a name in the models library runs here; any other goes to Ollama
//! as before. Her `config.json` therefore records only the model's name with no provider; the
//! daemon decides when she starts (see docs/models.md).
//!
//! Only text organs run here (her Mind, teacher, researcher): the engine reads no images or
//! sound, so an eye, ear, mouth or imagination on an embedded model is refused when prepared.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use engine::{Cancel, Engine, EngineConfig, Request, Role as Speaker, Stop, Turn};
use persona::OrganSlot;

use super::system_with_schema;
use crate::OrganError;
use crate::chat::{ChatRequest, Role};
use crate::reply::{Reply, Usage, finish};

/// How the engine is named in errors.
pub(crate) const NAME: &str = "the embedded engine";

/// The most a local model may write in one answer: enough for her longest structured stage,
/// and a bound on how long a small model that repeats itself can hold the shared model.
const MAX_TOKENS: u32 = 1024;
/// The most a structured (schema-bound) answer may take. Her stages' valid answers measured
/// under 100 tokens on SmolLM2-135M; a small model inside a grammar that lets an array grow
/// (her `decision` list) can instead repeat one item until it is cut, which at 1024 tokens
/// held the shared model for half a minute to minutes per attempt (docs/benchmarks.md).
const MAX_STRUCTURED_TOKENS: u32 = 384;
/// Her answers are sampled (greedy decoding makes small models repeat themselves), from a
/// fixed seed so one prompt gives one answer.
const TEMPERATURE: f32 = 0.7;
const SEED: u32 = 42;

/// Her models folder and the engine that runs them: one per daemon, cheap to clone. The engine
/// (and llama.cpp with it) starts on the first request, so a daemon whose personas all think
/// elsewhere never loads it.
#[derive(Clone)]
pub struct Embedded {
    home: PathBuf,
    config: EngineConfig,
    engine: Arc<OnceLock<Arc<Engine>>>,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("models", &self.models_dir())
            .finish()
    }
}

/// One of her models, found in the library.
pub(crate) struct Found {
    pub path: PathBuf,
}

impl Embedded {
    /// Models under `home/models/` (the daemon's `ETERNEGO_HOME`), run with `config`.
    pub fn new(home: &Path, config: EngineConfig) -> Embedded {
        Embedded {
            home: home.to_path_buf(),
            config,
            engine: Arc::new(OnceLock::new()),
        }
    }

    /// Where her models live: named in the error when a model is found nowhere.
    pub fn models_dir(&self) -> PathBuf {
        self.home.join(models::DIR)
    }

    /// The engine, started on first use.
    pub fn engine(&self) -> Arc<Engine> {
        self.engine
            .get_or_init(|| Engine::new(self.config.clone()))
            .clone()
    }

    /// The engine if a request has started it (for figures and tests; never starts it).
    pub fn started(&self) -> Option<Arc<Engine>> {
        self.engine.get().cloned()
    }

    /// `name` in her library, read from the manifest now (a model added or removed while the
    /// daemon runs counts from the next request). An unreadable manifest counts as no model.
    pub(crate) async fn find(&self, name: &str) -> Option<Found> {
        let home = self.home.clone();
        let name = name.to_string();
        tokio::task::spawn_blocking(move || {
            let library = models::Library::open(&home)
                .inspect_err(|e| tracing::warn!(error = %e, "the models library is unreadable"))
                .ok()?;
            library.get(&name).map(|entry| Found { path: entry.path })
        })
        .await
        .ok()
        .flatten()
    }

    /// Checks a model found in the library for `slot`: a text organ, and a file whose GGUF
    /// header reads (the header only: no weights are loaded to prepare an organ).
    pub(crate) async fn prepare(
        &self,
        slot: OrganSlot,
        name: &str,
        found: Found,
    ) -> Result<(), OrganError> {
        let organ = slot.as_str();
        if !matches!(
            slot,
            OrganSlot::Thinking | OrganSlot::Teacher | OrganSlot::Researcher
        ) {
            return Err(OrganError::Unsupported {
                organ,
                provider: NAME,
                what: "see, hear, speak or draw (only her Mind, teacher and researcher run embedded; use Ollama or a provider)",
            });
        }
        let path = found.path;
        tokio::task::spawn_blocking(move || models::gguf::read_header(&path))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map_err(|reason| OrganError::Engine {
                organ,
                model: name.to_string(),
                reason,
            })?;
        Ok(())
    }

    /// Asks the model in `found` for her answer to `request`, in `sequence` (her persona's KV
    /// sequence, so her stable prompt is read once and reused between stages and beats), handing
    /// `on_text` each piece as it is decoded. Dropping the returned future (her beat
    /// interrupted) stops the generation.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn chat(
        &self,
        slot: OrganSlot,
        model: &str,
        found: Found,
        sequence: &str,
        request: &ChatRequest,
        timeout: Duration,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Reply, OrganError> {
        let organ = slot.as_str();
        let failed = |reason: String| OrganError::Engine {
            organ,
            model: model.to_string(),
            reason,
        };
        if request.messages.iter().any(|m| !m.images.is_empty()) {
            return Err(OrganError::Unsupported {
                organ,
                provider: NAME,
                what: "see images",
            });
        }
        let mut job = Request::new(sequence, turns(request));
        job.schema = request.schema.as_ref().map(|s| s.schema.clone());
        job.max_tokens = if job.schema.is_some() {
            MAX_STRUCTURED_TOKENS
        } else {
            MAX_TOKENS
        };
        job.temperature = Some(TEMPERATURE);
        job.seed = SEED;
        let _stop = StopOnDrop(job.cancel.clone());
        let engine = self.engine();
        let path = found.path;
        // The engine's thread hands pieces over a channel; they are passed on here, on the
        // caller's task, until the answer is complete.
        let (pieces, mut decoded) = tokio::sync::mpsc::unbounded_channel::<String>();
        let mut run = tokio::task::spawn_blocking(move || {
            engine.generate(&path, job, move |piece| {
                let _ = pieces.send(piece.to_string());
            })
        });
        let answered = async {
            loop {
                tokio::select! {
                    biased;
                    Some(piece) = decoded.recv() => on_text(&piece),
                    done = &mut run => {
                        while let Ok(piece) = decoded.try_recv() {
                            on_text(&piece);
                        }
                        break done;
                    }
                }
            }
        };
        let output = match tokio::time::timeout(timeout, answered).await {
            Err(_) => return Err(failed(format!("no answer in {} s", timeout.as_secs()))),
            Ok(Err(e)) => return Err(failed(format!("the engine's thread failed ({e})"))),
            Ok(Ok(Err(e))) => return Err(failed(e.to_string())),
            Ok(Ok(Ok(output))) => output,
        };
        tracing::debug!(
            organ,
            model,
            prompt_tokens = output.prompt_tokens,
            reused_tokens = output.reused_tokens,
            generated_tokens = output.generated_tokens,
            prompt_ms = output.prompt_time.as_millis() as u64,
            generation_ms = output.generation_time.as_millis() as u64,
            queue_ms = output.queue_time.as_millis() as u64,
            stop = ?output.stop,
            "embedded answer"
        );
        let usage = Usage {
            prompt: output.prompt_tokens as u64,
            completion: output.generated_tokens as u64,
        };
        Ok(finish(
            &output.text,
            None,
            request.schema.is_some(),
            output.stop == Stop::Length,
            usage,
        ))
    }
}

/// Cancels the generation when dropped: a future dropped mid-answer (her beat interrupted, or
/// the timeout) frees the shared model for the next request; once the answer is in, it is a
/// no-op.
struct StopOnDrop(Cancel);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Her request as chat-template turns: the system prompt first (with the schema spelled out
/// after its stable head, which a small model follows better than the grammar alone), then
/// her conversation. A tool's result is shown to her as a user turn: the templates of small
/// models know no tool role.
fn turns(request: &ChatRequest) -> Vec<Turn> {
    let system = system_with_schema(&request.system, request.schema.as_ref());
    let head = (!system.is_empty()).then(|| Turn::new(Speaker::System, system.into_owned()));
    let rest = request.messages.iter().map(|m| {
        let speaker = match m.role {
            Role::Assistant => Speaker::Assistant,
            Role::User | Role::Tool => Speaker::User,
        };
        Turn::new(speaker, m.text.to_string())
    });
    head.into_iter().chain(rest).collect()
}
