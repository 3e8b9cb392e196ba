//! Her identity engine as her mind asks for it: `mind::Identity` over the instances this
//! daemon hosts. Mind never learns how instances are stored; it only needs an instance of its
//! own, its contract, and somewhere to send what happened.
//!
//! The regulator also keeps a short trace of her stress and energy after each observation, for
//! the dashboard's chart: an instance's history holds what was observed, not what it did to
//! her, and replaying her journal to find out would cost more than the chart is worth.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use identity::Mode;
use instances::{InstancesError, ObservationInput, ProcessOutcome, Service};
use mind::{Identity, IdentityError, Observed, Pending};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The daemon's hosted instances, serving the personas it runs.
pub struct Hosted {
    service: Arc<Service>,
    trace: Trace,
}

fn error(e: InstancesError) -> IdentityError {
    match e {
        InstancesError::NotFound(id) => IdentityError::Missing(id),
        other => IdentityError::Failed(other.to_string()),
    }
}

impl Hosted {
    /// Serves `service`, keeping the stress and energy trace of each instance under `trace`.
    pub fn new(service: Arc<Service>, trace: PathBuf) -> Hosted {
        Hosted {
            service,
            trace: Trace {
                dir: trace,
                writing: Mutex::new(()),
            },
        }
    }

    /// `instance`'s contract as her status shows it, whether she runs or not.
    pub async fn regulated(
        &self,
        instance: &str,
    ) -> Result<mind::regulation::Regulated, IdentityError> {
        let contract = self.service.contract(instance).await.map_err(error)?;
        Ok(mind::regulation::Regulated::from_contract(
            instance, &contract,
        ))
    }

    /// Her last `last` cycles, oldest first.
    pub fn cycles(&self, instance: &str, last: usize) -> Vec<Cycle> {
        self.trace.read(instance, last)
    }
}

impl Identity for Hosted {
    fn create<'a>(&'a self, name: &'a str, description: &'a str) -> Pending<'a, String> {
        Box::pin(async move {
            let view = self
                .service
                .create(name, description, None)
                .await
                .map_err(error)?;
            Ok(view.id)
        })
    }

    fn contract<'a>(&'a self, instance: &'a str) -> Pending<'a, identity::Contract> {
        Box::pin(async move { self.service.contract(instance).await.map_err(error) })
    }

    fn observe<'a>(&'a self, instance: &'a str, batch: Vec<Observed>) -> Pending<'a, ()> {
        Box::pin(async move {
            let inputs = batch
                .into_iter()
                .map(|o| ObservationInput {
                    observation: o.observation,
                    context: o.context,
                    timestamp: Some(o.at),
                })
                .collect();
            let outcomes = self
                .service
                .observe_batch(instance, inputs)
                .await
                .map_err(error)?;
            self.trace.append(instance, &outcomes);
            Ok(())
        })
    }
}

/// Her state after one observation: the point the dashboard's chart draws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Cycle {
    pub cycle: u64,
    /// When it was observed (ISO 8601).
    pub at: String,
    /// The stress-response mode's strength, 0 to 1.
    pub stress: f64,
    /// The stress level it put her at: `NORMAL`, `ELEVATED`, `STRESS` or `OVER`.
    pub level: String,
    /// Her energy, 0 to 1.
    pub energy: f64,
}

/// One JSON line per observation in `<dir>/<instance>.jsonl`. Past `CAP` bytes the file is cut
/// to its last `KEEP` lines, so it stays small however long she lives. Written without fsync:
/// a chart missing its last points after a power cut loses nothing of her.
struct Trace {
    dir: PathBuf,
    /// One writer at a time, so a cut never races an append.
    writing: Mutex<()>,
}

const CAP: u64 = 96 * 1024;
const KEEP: usize = 500;

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Trace {
    /// Instance ids are `inst_` and hex digits; anything else never names a file.
    fn file(&self, instance: &str) -> Option<PathBuf> {
        let safe = !instance.is_empty()
            && instance
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        safe.then(|| self.dir.join(format!("{instance}.jsonl")))
    }

    fn append(&self, instance: &str, outcomes: &[ProcessOutcome]) {
        let Some(path) = self.file(instance) else {
            return;
        };
        let mut lines = Vec::new();
        for o in outcomes.iter().filter(|o| !o.throttled) {
            let state = &o.snapshot.state;
            let point = Cycle {
                cycle: state.cycle,
                at: mind::clock::iso(o.snapshot.updated_at),
                stress: round(state.modes.get(Mode::StressResponse)),
                level: state.stress.as_str().to_string(),
                energy: round(state.energy),
            };
            if let Ok(line) = serde_json::to_string(&point) {
                lines.extend_from_slice(line.as_bytes());
                lines.push(b'\n');
            }
        }
        if lines.is_empty() {
            return;
        }
        let _one = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = Self::write(&self.dir, &path, &lines) {
            tracing::warn!(instance, error = %e, "could not keep her regulation trace");
        }
    }

    fn write(dir: &Path, path: &Path, lines: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        file.write_all(lines)?;
        if file.metadata()?.len() > CAP {
            let text = std::fs::read_to_string(path)?;
            let all: Vec<&str> = text.lines().collect();
            let kept = all[all.len().saturating_sub(KEEP)..].join("\n") + "\n";
            persona::atomic::write(path, kept.as_bytes())?;
        }
        Ok(())
    }

    fn read(&self, instance: &str, last: usize) -> Vec<Cycle> {
        let Some(text) = self
            .file(instance)
            .and_then(|p| std::fs::read_to_string(p).ok())
        else {
            return Vec::new();
        };
        let all: Vec<Cycle> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        all[all.len().saturating_sub(last)..].to_vec()
    }
}
