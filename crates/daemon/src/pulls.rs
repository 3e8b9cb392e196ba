//! Model pulls running in the background (`POST /api/models/pull`) and the `ModelPull` frames
//! they send to `/ws/system`: one frame shape for Hugging Face downloads and Ollama pulls, at
//! most about four a second per pull, and always a final `done` or `failed` frame.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio_util::codec::{FramedRead, LinesCodec};
use tokio_util::io::StreamReader;

/// Least time between two progress frames of one pull.
const FRAME_EVERY: Duration = Duration::from_millis(250);
/// How long the Ollama pull stream may stay silent before the pull counts as failed.
const OLLAMA_IDLE: Duration = Duration::from_secs(120);

/// Where a pull goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    HuggingFace,
    Ollama,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::HuggingFace => "huggingface",
            Source::Ollama => "ollama",
        }
    }
}

/// The pulls in flight and the channel their frames go out on.
pub struct Pulls {
    frames: broadcast::Sender<Value>,
    running: Mutex<HashSet<String>>,
    http: reqwest::Client,
    home: PathBuf,
    ollama: String,
    hugging_face: String,
}

impl Pulls {
    pub fn new(
        http: reqwest::Client,
        home: PathBuf,
        ollama: String,
        hugging_face: String,
    ) -> Pulls {
        Pulls {
            frames: broadcast::channel(256).0,
            running: Mutex::default(),
            http,
            home,
            ollama,
            hugging_face,
        }
    }

    /// The daemon's HTTP client, shared with the model list's call to Ollama.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Every pull's frames, for `/ws/system`.
    pub fn frames(&self) -> broadcast::Receiver<Value> {
        self.frames.subscribe()
    }

    /// Starts pulling `name` in the background. A second request for a name already being
    /// pulled joins the first: its frames are the ones to watch. Returns whether a pull started.
    pub fn start(self: &Arc<Self>, name: String, source: Source) -> bool {
        if !self.running.lock().unwrap().insert(name.clone()) {
            return false;
        }
        let pulls = self.clone();
        tokio::spawn(async move {
            let mut reporter = Reporter::new(pulls.frames.clone(), name.clone(), source);
            let outcome = match source {
                Source::HuggingFace => pulls.hugging_face(&name, &mut reporter).await,
                Source::Ollama => pulls.ollama(&name, &mut reporter).await,
            };
            match outcome {
                Ok(()) => {
                    tracing::info!(model = %name, source = source.as_str(), "model pulled");
                    reporter.finish(None);
                }
                Err(error) => {
                    tracing::warn!(model = %name, source = source.as_str(), %error, "model pull failed");
                    reporter.finish(Some(error));
                }
            }
            pulls.running.lock().unwrap().remove(&name);
        });
        true
    }

    async fn hugging_face(&self, name: &str, reporter: &mut Reporter) -> Result<(), String> {
        let puller = models::hf::Puller::new(&self.hugging_face);
        puller
            .pull(&self.home, name, None, |p| {
                let status = match p.status {
                    models::hf::Status::Downloading => "downloading",
                    models::hf::Status::Verifying => "verifying",
                    // The final frame is sent once the task's outcome is known.
                    models::hf::Status::Done | models::hf::Status::Failed => return,
                };
                reporter.progress(status, p.completed, p.total);
            })
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// Ollama's `/api/pull` streams NDJSON lines: `{"status", "total", "completed"}` per layer,
    /// `{"error"}` on failure, `{"status": "success"}` at the end.
    async fn ollama(&self, name: &str, reporter: &mut Reporter) -> Result<(), String> {
        let response = self
            .http
            .post(format!("{}/api/pull", self.ollama))
            .json(&json!({"model": name, "stream": true}))
            .send()
            .await
            .map_err(|e| format!("could not reach Ollama: {}", e.without_url()))?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| format!("Ollama answered {status}"));
            return Err(message);
        }
        // NDJSON: one progress object per line, split by `LinesCodec`.
        let body = response
            .bytes_stream()
            .map(|chunk| chunk.map_err(|e| std::io::Error::other(e.without_url())));
        let mut lines = FramedRead::new(StreamReader::new(body), LinesCodec::new());
        let mut success = false;
        loop {
            let line = match tokio::time::timeout(OLLAMA_IDLE, lines.next()).await {
                Err(_) => return Err("Ollama stopped sending progress".into()),
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(format!("the pull stream broke: {e}")),
                Ok(Some(Ok(line))) => line,
            };
            let Ok(line) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if let Some(error) = line.get("error").and_then(Value::as_str) {
                return Err(error.to_string());
            }
            let status = line.get("status").and_then(Value::as_str).unwrap_or("");
            if status == "success" {
                success = true;
            } else if status.starts_with("verifying") {
                reporter.progress("verifying", reporter.completed, reporter.total);
            } else if let Some(total) = line.get("total").and_then(Value::as_u64) {
                let completed = line.get("completed").and_then(Value::as_u64).unwrap_or(0);
                reporter.progress("downloading", completed, Some(total));
            }
        }
        if success {
            Ok(())
        } else {
            Err("Ollama stopped before the pull finished".into())
        }
    }
}

/// Turns one pull's progress into throttled frames.
struct Reporter {
    frames: broadcast::Sender<Value>,
    name: String,
    source: Source,
    status: &'static str,
    completed: u64,
    total: Option<u64>,
    last_sent: Option<Instant>,
}

impl Reporter {
    fn new(frames: broadcast::Sender<Value>, name: String, source: Source) -> Reporter {
        Reporter {
            frames,
            name,
            source,
            status: "downloading",
            completed: 0,
            total: None,
            last_sent: None,
        }
    }

    /// Records progress; sends a frame when the status changed or a quarter second passed.
    fn progress(&mut self, status: &'static str, completed: u64, total: Option<u64>) {
        self.progress_at(status, completed, total, Instant::now());
    }

    fn progress_at(
        &mut self,
        status: &'static str,
        completed: u64,
        total: Option<u64>,
        now: Instant,
    ) {
        let due = match self.last_sent {
            None => true,
            Some(sent) => status != self.status || now.duration_since(sent) >= FRAME_EVERY,
        };
        self.status = status;
        self.completed = completed;
        self.total = total;
        if due {
            self.send(None, now);
        }
    }

    fn finish(&mut self, error: Option<String>) {
        self.status = if error.is_some() { "failed" } else { "done" };
        if error.is_none()
            && let Some(total) = self.total
        {
            self.completed = total;
        }
        self.send(error, Instant::now());
    }

    fn send(&mut self, error: Option<String>, now: Instant) {
        self.last_sent = Some(now);
        let _ = self.frames.send(frame(
            &self.name,
            self.source,
            self.status,
            self.completed,
            self.total,
            error,
        ));
    }
}

/// One `ModelPull` frame, shaped like the signal frames on `/ws/system`.
fn frame(
    name: &str,
    source: Source,
    status: &str,
    completed: u64,
    total: Option<u64>,
    error: Option<String>,
) -> Value {
    let percent = total
        .filter(|t| *t > 0)
        .map(|t| (completed as f64 * 100.0 / t as f64).min(100.0));
    let mut details = json!({
        "name": name,
        "source": source.as_str(),
        "status": status,
        "completed": completed,
        "total": total,
        "percent": percent,
    });
    if let Some(error) = error {
        details["error"] = Value::String(error);
    }
    let time =
        i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos()).unwrap_or(i64::MAX);
    json!({"type": "ModelPull", "title": name, "time": time, "details": details})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_throttled_but_status_changes_and_the_end_always_go_out() {
        let (tx, mut rx) = broadcast::channel(64);
        let mut r = Reporter::new(tx, "m".into(), Source::HuggingFace);
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        r.progress_at("downloading", 10, Some(100), ms(0));
        r.progress_at("downloading", 20, Some(100), ms(100));
        r.progress_at("downloading", 30, Some(100), ms(200));
        r.progress_at("downloading", 40, Some(100), ms(260));
        r.progress_at("verifying", 100, Some(100), ms(270));
        r.finish(None);
        let mut sent = Vec::new();
        while let Ok(frame) = rx.try_recv() {
            sent.push((
                frame["details"]["status"].as_str().unwrap().to_string(),
                frame["details"]["completed"].as_u64().unwrap(),
            ));
        }
        let sent: Vec<(&str, u64)> = sent.iter().map(|(s, c)| (s.as_str(), *c)).collect();
        assert_eq!(
            sent,
            [
                ("downloading", 10),
                ("downloading", 40),
                ("verifying", 100),
                ("done", 100)
            ]
        );
    }

    #[test]
    fn a_failed_frame_carries_the_error_and_unknown_totals_are_null() {
        let (tx, mut rx) = broadcast::channel(4);
        let mut r = Reporter::new(tx, "llama3".into(), Source::Ollama);
        r.finish(Some("pull model manifest: file does not exist".into()));
        let frame = rx.try_recv().unwrap();
        assert_eq!(frame["type"], "ModelPull");
        assert_eq!(frame["title"], "llama3");
        assert_eq!(
            frame["details"],
            json!({"name": "llama3", "source": "ollama", "status": "failed", "completed": 0,
                   "total": null, "percent": null, "error": "pull model manifest: file does not exist"})
        );
    }
}
