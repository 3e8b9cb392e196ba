//! The thread that owns one loaded model: its llama.cpp context, the personas' sequences in it,
//! and the queue of requests it serves in turn.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Weak;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use crate::sampler::Picker;
use crate::{EngineConfig, EngineError, Handle, Job, ModelInfo, Output, Registry, Stop};

/// Tokens read per decode call while taking in a prompt.
const BATCH: usize = 512;

/// One persona's sequence: which tokens its KV cells hold, and when she last used it.
struct Sequence {
    persona: String,
    tokens: Vec<LlamaToken>,
    used: Instant,
}

/// Starts the worker for `path` and waits until the model is loaded (or failed to load), so a
/// bad file is reported to the request that asked for it.
pub(crate) fn spawn(
    backend: &'static LlamaBackend,
    path: PathBuf,
    config: EngineConfig,
    registry: Weak<Registry>,
) -> Result<Handle, EngineError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let (jobs, queue) = mpsc::sync_channel(config.queue.max(1));
    let (ready, loaded) = mpsc::channel();
    let name = format!(
        "engine:{}",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    let thread_path = path.clone();
    thread::Builder::new()
        .name(name)
        .spawn(move || run(backend, thread_path, id, config, queue, registry, ready))
        .map_err(|e| EngineError::Load {
            path: path.clone(),
            reason: format!("no thread for the model ({e})"),
        })?;
    let info = loaded.recv().map_err(|_| EngineError::Load {
        path,
        reason: "the loader stopped".into(),
    })??;
    Ok(Handle { jobs, info, id })
}

fn run(
    backend: &'static LlamaBackend,
    path: PathBuf,
    id: u64,
    config: EngineConfig,
    queue: Receiver<Job>,
    registry: Weak<Registry>,
    ready: mpsc::Sender<Result<ModelInfo, EngineError>>,
) {
    let failed = |reason: String| EngineError::Load {
        path: path.clone(),
        reason,
    };
    let model = match LlamaModel::load_from_file(backend, &path, &LlamaModelParams::default()) {
        Ok(m) => m,
        Err(e) => {
            let _ = ready.send(Err(failed(e.to_string())));
            return;
        }
    };
    let trained = model.n_ctx_train();
    let context = trained.min(config.context_cap).max(64);
    let sequences = config.sequences.max(1);
    let threads = config.threads.unwrap_or_else(crate::default_threads);
    // Separate (not unified) KV streams: each persona gets `context` cells of her own, and
    // memory pages of a stream nobody uses are never touched.
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(context * sequences))
        .with_n_seq_max(sequences)
        .with_kv_unified(false)
        .with_n_batch(BATCH as u32)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let ctx = match model.new_context(backend, params) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(failed(e.to_string())));
            return;
        }
    };
    let (template, own_template) = match model.chat_template(None) {
        Ok(t) => (t, true),
        Err(_) => {
            tracing::warn!(model = %path.display(), "the model carries no chat template; using ChatML");
            (
                LlamaChatTemplate::new("chatml").expect("no NUL in a literal"),
                false,
            )
        }
    };
    let info = ModelInfo {
        trained_context: trained,
        context,
        chat_template: own_template,
    };
    tracing::info!(model = %path.display(), context, sequences, threads, "model loaded");
    if ready.send(Ok(info)).is_err() {
        return;
    }
    let mut worker = Worker {
        model: &model,
        ctx,
        template,
        context,
        threads,
        config: &config,
        sequences: (0..sequences).map(|_| None).collect(),
    };
    let tick = config
        .persona_idle
        .min(config.model_idle)
        .div_f32(2.0)
        .clamp(Duration::from_millis(5), Duration::from_secs(5));
    let mut last_job = Instant::now();
    loop {
        match queue.recv_timeout(tick) {
            Ok(job) => {
                worker.serve(job);
                last_job = Instant::now();
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                worker.evict_idle();
                if last_job.elapsed() >= config.model_idle {
                    match retire(&registry, &path, id, &queue) {
                        None => break,
                        Some(job) => {
                            worker.serve(job);
                            last_job = Instant::now();
                        }
                    }
                }
            }
        }
        // Serve whatever arrived while retiring was being considered.
        while let Ok(job) = queue.try_recv() {
            worker.serve(job);
            last_job = Instant::now();
        }
    }
    drop(worker);
    tracing::info!(model = %path.display(), "model unloaded");
}

/// Takes this model out of the registry, unless a job is waiting (handed back to be served);
/// `None` means the worker may stop.
/// Jobs are only sent under the registry lock, so once removed here no job can arrive.
fn retire(registry: &Weak<Registry>, path: &Path, id: u64, queue: &Receiver<Job>) -> Option<Job> {
    let registry = registry.upgrade()?;
    let mut models = registry.lock().expect("engine registry poisoned");
    if let Ok(job) = queue.try_recv() {
        return Some(job);
    }
    if models.get(path).is_some_and(|h| h.id == id) {
        models.remove(path);
    }
    None
}

struct Worker<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    template: LlamaChatTemplate,
    context: u32,
    threads: i32,
    config: &'m EngineConfig,
    sequences: Vec<Option<Sequence>>,
}

/// The common beginning of two token lists.
fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl Worker<'_> {
    fn serve(&mut self, job: Job) {
        let Job {
            request,
            mut on_token,
            reply,
            queued,
        } = job;
        let queue_time = queued.elapsed();
        let mut result = self.generate(&request, &mut on_token);
        match &mut result {
            Ok(out) => {
                out.queue_time = queue_time;
                self.report(&request, out);
            }
            Err(e) => tracing::warn!(
                persona = %request.persona,
                queue_ms = queue_time.as_millis() as u64,
                error = %e,
                "request failed"
            ),
        }
        let _ = reply.send(result);
    }

    /// One line per request with where its time went: how long it queued, how much prompt was
    /// read afresh and how fast, how many tokens were generated, how much of that was choosing
    /// tokens (grammar included) rather than the model's decode, and why it stopped.
    fn report(&self, request: &crate::Request, out: &Output) {
        let per_token = |d: Duration| {
            if out.generated_tokens == 0 {
                0.0
            } else {
                d.as_secs_f64() * 1000.0 / out.generated_tokens as f64
            }
        };
        tracing::info!(
            persona = %request.persona,
            queue_ms = out.queue_time.as_millis() as u64,
            prompt_tokens = out.prompt_tokens,
            reused_tokens = out.reused_tokens,
            prompt_ms = out.prompt_time.as_millis() as u64,
            generated_tokens = out.generated_tokens,
            max_tokens = request.max_tokens,
            generation_ms = out.generation_time.as_millis() as u64,
            ms_per_token = format_args!("{:.1}", per_token(out.generation_time)),
            sampling_ms_per_token = format_args!("{:.1}", per_token(out.sampling_time)),
            schema = request.schema.is_some(),
            grammar_rejections = out.grammar_rejections,
            stop = ?out.stop,
            threads = self.threads,
            "engine request"
        );
    }

    fn evict_idle(&mut self) {
        for (id, slot) in self.sequences.iter_mut().enumerate() {
            if slot
                .as_ref()
                .is_some_and(|s| s.used.elapsed() >= self.config.persona_idle)
            {
                let _ = self.ctx.kv_cache_seq_rm(id as i32, None, None);
                *slot = None;
            }
        }
    }

    /// Her sequence, or a free one, or the least recently used one emptied for her.
    fn sequence_for(&mut self, persona: &str) -> usize {
        if let Some(id) = self
            .sequences
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.persona == persona))
        {
            return id;
        }
        let id = self
            .sequences
            .iter()
            .position(Option::is_none)
            .unwrap_or_else(|| {
                self.sequences
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, s)| s.as_ref().map(|s| s.used))
                    .map_or(0, |(id, _)| id)
            });
        let _ = self.ctx.kv_cache_seq_rm(id as i32, None, None);
        self.sequences[id] = Some(Sequence {
            persona: persona.to_string(),
            tokens: Vec::new(),
            used: Instant::now(),
        });
        id
    }

    fn prompt(&self, request: &crate::Request) -> Result<Vec<LlamaToken>, EngineError> {
        let chat = request
            .turns
            .iter()
            .map(|t| LlamaChatMessage::new(t.role.as_str().to_string(), t.text.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EngineError::Template(e.to_string()))?;
        let text = self
            .model
            .apply_chat_template(&self.template, &chat, true)
            .map_err(|e| EngineError::Template(e.to_string()))?;
        Ok(self.model.vocab().tokenize(text.as_bytes(), true, true))
    }

    /// The request's sampler chain, and its schema's grammar kept apart (see [`Picker`]).
    fn sampler(&self, request: &crate::Request) -> Result<Picker, EngineError> {
        let grammar = match &request.schema {
            Some(schema) => {
                let grammar = llama_cpp_2::json_schema_to_grammar(&schema.to_string())
                    .map_err(|e| EngineError::Schema(e.to_string()))?;
                Some(
                    LlamaSampler::grammar(self.model, &grammar, "root")
                        .map_err(|e| EngineError::Schema(e.to_string()))?,
                )
            }
            None => None,
        };
        let mut chain = Vec::new();
        match request.temperature {
            Some(t) if t > 0.0 => {
                chain.push(LlamaSampler::top_k(40));
                chain.push(LlamaSampler::top_p(0.95, 1));
                chain.push(LlamaSampler::temp(t));
                chain.push(LlamaSampler::dist(request.seed));
            }
            _ => chain.push(LlamaSampler::greedy()),
        }
        Ok(Picker::new(LlamaSampler::chain_simple(chain), grammar))
    }

    fn generate(
        &mut self,
        request: &crate::Request,
        on_token: &mut crate::TokenSink,
    ) -> Result<Output, EngineError> {
        let started = Instant::now();
        let tokens = self.prompt(request)?;
        if tokens.len() + 1 >= self.context as usize {
            return Err(EngineError::PromptTooLong {
                tokens: tokens.len(),
                context: self.context,
            });
        }
        let mut sampler = self.sampler(request)?;
        let id = self.sequence_for(&request.persona);
        let result = self.run(id, &tokens, request, &mut sampler, on_token, started);
        if result.is_err() {
            // Her cells may hold half a prompt now: start her afresh next time.
            let _ = self.ctx.kv_cache_seq_rm(id as i32, None, None);
            self.sequences[id] = None;
        }
        result
    }

    fn run(
        &mut self,
        id: usize,
        tokens: &[LlamaToken],
        request: &crate::Request,
        sampler: &mut Picker,
        on_token: &mut crate::TokenSink,
        started: Instant,
    ) -> Result<Output, EngineError> {
        let seq = id as i32;
        let decode_error = |e: &dyn std::fmt::Display| EngineError::Decode(e.to_string());
        let held = self.sequences[id]
            .as_ref()
            .map_or(&[][..], |s| &s.tokens[..]);
        let mut keep = if self.config.prefix_reuse {
            common_prefix(held, tokens)
        } else {
            0
        };
        // The last prompt token is always read again: its logits choose the first answer token.
        keep = keep.min(tokens.len() - 1);
        self.ctx
            .kv_cache_seq_rm(seq, Some(keep as u32), None)
            .map_err(|e| decode_error(&e))?;
        let mut held: Vec<LlamaToken> = tokens[..keep].to_vec();

        let prompt_started = Instant::now();
        let mut batch = LlamaBatch::new(BATCH, 1);
        let mut last_logits = 0;
        for chunk in tokens[keep..].chunks(BATCH) {
            if request.cancel.is_cancelled() {
                self.sequences[id].as_mut().expect("her sequence").tokens = held;
                return Ok(self.output(
                    String::new(),
                    Stop::Cancelled,
                    tokens.len(),
                    keep,
                    0,
                    started,
                    prompt_started,
                    None,
                ));
            }
            batch.clear();
            let end = held.len() + chunk.len() == tokens.len();
            for (i, token) in chunk.iter().enumerate() {
                let pos = (held.len() + i) as i32;
                batch
                    .add(*token, pos, &[seq], end && i == chunk.len() - 1)
                    .map_err(|e| decode_error(&e))?;
            }
            self.ctx.decode(&mut batch).map_err(|e| decode_error(&e))?;
            held.extend_from_slice(chunk);
            last_logits = batch.n_tokens() - 1;
        }
        let prompt_time = prompt_started.elapsed();

        let generation_started = Instant::now();
        let mut first_token = None;
        let mut text = String::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut generated = 0usize;
        let mut sampling_time = Duration::ZERO;
        let vocab = self.model.vocab();
        let stop = loop {
            if request.cancel.is_cancelled() {
                break Stop::Cancelled;
            }
            if generated >= request.max_tokens as usize || held.len() + 1 >= self.context as usize {
                break Stop::Length;
            }
            let sampling_started = Instant::now();
            let token = sampler.pick(&self.ctx, last_logits);
            sampling_time += sampling_started.elapsed();
            first_token.get_or_insert_with(|| started.elapsed());
            if vocab.is_eog(token) {
                break Stop::End;
            }
            generated += 1;
            pending.extend(vocab.token_to_piece(token, false, None));
            let valid = match std::str::from_utf8(&pending) {
                Ok(s) => s.len(),
                Err(e) if e.error_len().is_some() => pending.len(),
                Err(e) => e.valid_up_to(),
            };
            if valid > 0 {
                let piece = String::from_utf8_lossy(&pending[..valid]).into_owned();
                pending.drain(..valid);
                on_token(&piece);
                text.push_str(&piece);
            }
            batch.clear();
            batch
                .add(token, held.len() as i32, &[seq], true)
                .map_err(|e| decode_error(&e))?;
            self.ctx.decode(&mut batch).map_err(|e| decode_error(&e))?;
            held.push(token);
            last_logits = 0;
        };
        if !pending.is_empty() {
            let piece = String::from_utf8_lossy(&pending).into_owned();
            on_token(&piece);
            text.push_str(&piece);
        }
        let sequence = self.sequences[id].as_mut().expect("her sequence");
        sequence.tokens = held;
        sequence.used = Instant::now();
        let mut out = self.output(
            text,
            stop,
            tokens.len(),
            keep,
            generated,
            started,
            prompt_started,
            first_token,
        );
        out.prompt_time = prompt_time;
        out.generation_time = generation_started.elapsed();
        out.sampling_time = sampling_time;
        out.grammar_rejections = sampler.resampled;
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn output(
        &self,
        text: String,
        stop: Stop,
        prompt_tokens: usize,
        reused_tokens: usize,
        generated_tokens: usize,
        started: Instant,
        prompt_started: Instant,
        first_token: Option<Duration>,
    ) -> Output {
        Output {
            text,
            stop,
            prompt_tokens,
            reused_tokens,
            generated_tokens,
            prompt_time: prompt_started.elapsed(),
            first_token: first_token.unwrap_or_else(|| started.elapsed()),
            generation_time: Duration::ZERO,
            sampling_time: Duration::ZERO,
            grammar_rejections: 0,
            queue_time: Duration::ZERO,
        }
    }
}
