//! The crash harness: start the daemon, run a random operation (create, update with an organ
//! swap, sleep, migrate, delete, an identity observation burst), SIGKILL it at a random instant
//! of that operation, restart it (boot finishes or rolls back what the kill interrupted), stop
//! it, and check the data root: the invariants of [`crate::invariants`] plus everything the
//! API had acknowledged before the kill. What was in flight may have happened or not, but
//! whole.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use persona::Provider;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::daemon::{Daemon, Launch, first_answer};
use crate::fakes::{self, Fakes};
use crate::invariants::{self, Violation};

/// Most personas alive at once: beyond it a trial deletes rather than creates.
const MOST: usize = 6;
/// Observations per identity burst.
const BURST: usize = 40;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Create,
    Update,
    Sleep,
    Migrate,
    Delete,
    Identity,
}

const KINDS: [Kind; 6] = [
    Kind::Create,
    Kind::Update,
    Kind::Sleep,
    Kind::Migrate,
    Kind::Delete,
    Kind::Identity,
];

/// What the harness knows of one persona.
#[derive(Clone, Debug)]
struct Known {
    phrase: Option<String>,
    /// The Mind providers her record may name (`None`: local): one when the last change was
    /// acknowledged, more while a change is in doubt.
    thinking: HashSet<Option<Provider>>,
    /// A delete of her was in flight at a kill.
    may_be_gone: bool,
    /// An acknowledged sleep: her diary must exist.
    slept: bool,
}

#[derive(Default)]
struct Model {
    known: BTreeMap<Uuid, Known>,
    deleted: BTreeSet<Uuid>,
    doubtful_creates: usize,
    instance: Option<String>,
    observations_acked: u64,
    observations_sent: u64,
}

/// The counts a run ends with.
#[derive(Default)]
pub struct Summary {
    pub seed: u64,
    pub trials: usize,
    acked: BTreeMap<Kind, usize>,
    in_doubt: BTreeMap<Kind, usize>,
    pub violations: Vec<(usize, Violation)>,
    pub took: Duration,
}

impl Summary {
    pub fn clean(&self) -> bool {
        self.violations.is_empty()
    }

    fn count(&self, f: impl Fn(&Violation) -> bool) -> usize {
        self.violations.iter().filter(|(_, v)| f(v)).count()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "crash harness: {} trials, seed {}, {:.0?}",
            self.trials, self.seed, self.took
        )?;
        for kind in KINDS {
            writeln!(
                f,
                "  {kind:?}: {} acknowledged before the kill, {} in flight",
                self.acked.get(&kind).unwrap_or(&0),
                self.in_doubt.get(&kind).unwrap_or(&0)
            )?;
        }
        writeln!(
            f,
            "  torn {}, corrupt {}, lost {}, leftovers {}, orphan vault entries {}",
            self.count(|v| matches!(v, Violation::Torn(..))),
            self.count(|v| matches!(v, Violation::Corrupt(..))),
            self.count(|v| matches!(v, Violation::Lost(..))),
            self.count(|v| matches!(v, Violation::Leftover(..))),
            self.count(|v| matches!(v, Violation::Orphan(..))),
        )?;
        for (trial, v) in self.violations.iter().take(20) {
            writeln!(f, "  trial {trial}: {v}")?;
        }
        Ok(())
    }
}

fn provider_of(p: Option<Provider>) -> Value {
    match p {
        None => json!({"model": fakes::MODEL}),
        Some(Provider::Openai) => {
            json!({"model": fakes::OPENAI_MODEL, "provider": "openai", "api_key": fakes::OPENAI_KEY})
        }
        Some(_) => {
            json!({"model": fakes::ANTHROPIC_MODEL, "provider": "anthropic", "api_key": fakes::ANTHROPIC_KEY})
        }
    }
}

const MINDS: [Option<Provider>; 3] = [None, Some(Provider::Openai), Some(Provider::Anthropic)];

/// What one operation came to before the kill.
enum Outcome {
    /// Answered with success; carries what the answer said.
    Acked(Value),
    /// Answered with a refusal (nothing changed).
    Refused,
    /// No answer: the kill came first.
    InDoubt,
}

async fn send(request: reqwest::RequestBuilder) -> Outcome {
    match request.send().await {
        Ok(r) if r.status().is_success() => match r.bytes().await {
            Ok(b) => Outcome::Acked(serde_json::from_slice(&b).unwrap_or(Value::Null)),
            Err(_) => Outcome::InDoubt,
        },
        Ok(r) if r.status().is_server_error() => {
            // Not a kill (the connection would have dropped): worth a look, and in doubt.
            let status = r.status();
            eprintln!("answered {status}: {}", r.text().await.unwrap_or_default());
            Outcome::InDoubt
        }
        Ok(_) => Outcome::Refused,
        Err(_) => Outcome::InDoubt,
    }
}

pub async fn run(binary: &Path, trials: usize, seed: u64) -> anyhow::Result<Summary> {
    let began = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let fakes = Fakes::start().await?;
    let root = tempfile::tempdir()?;
    let launch = Launch {
        binary: binary.to_path_buf(),
        home: root.path().to_path_buf(),
        providers: fakes.providers(),
    };
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?;
    let mut model = Model::default();
    let mut summary = Summary {
        seed,
        trials,
        ..Summary::default()
    };
    // How long each kind of operation takes, so kills land across its whole span.
    let mut span: BTreeMap<Kind, Duration> =
        KINDS.iter().map(|k| (*k, Duration::from_secs(1))).collect();
    for trial in 1..=trials {
        let daemon = up(&launch, &client).await?;
        let chosen = choose(&mut rng, &model);
        let window = span[&chosen].mul_f64(1.3);
        let delay = window.mul_f64(rng.gen_range(0.0..1.0));
        let (kind, took, doubt) =
            operate(&client, &daemon, &mut model, &mut rng, chosen, delay).await?;
        // Killed inside `operate`; reap it.
        daemon.kill9();
        match took {
            Some(took) => span.insert(kind, (span[&kind] * 3 + took) / 4),
            // Killed before it answered: it may take longer than thought; widen (bounded).
            None => span.insert(kind, (span[&kind] * 5 / 4).min(Duration::from_secs(10))),
        };
        *if doubt {
            summary.in_doubt.entry(kind).or_default()
        } else {
            summary.acked.entry(kind).or_default()
        } += 1;
        let daemon = up(&launch, &client).await?;
        let identity = check_identity(&client, &daemon, &mut model).await;
        daemon.stop(Duration::from_secs(15));
        let mut found = identity;
        found.extend(check(root.path(), &mut model)?);
        if !found.is_empty() {
            eprintln!(
                "trial {trial} ({kind:?}, kill after {delay:.0?}): {} violations",
                found.len()
            );
        }
        summary
            .violations
            .extend(found.into_iter().map(|v| (trial, v)));
        if trial % 10 == 0 {
            eprintln!(
                "{trial}/{trials} trials, {} violations",
                summary.violations.len()
            );
        }
    }
    summary.took = began.elapsed();
    Ok(summary)
}

/// Starts the daemon and waits until it answers and no persona is still starting.
async fn up(launch: &Launch, client: &reqwest::Client) -> anyhow::Result<Daemon> {
    let daemon = launch.start()?;
    first_answer(client, &daemon.url, Duration::from_secs(30)).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed: Value = client
            .get(format!("{}/api/personas", daemon.url))
            .send()
            .await?
            .json()
            .await?;
        let starting = listed["personas"]
            .as_array()
            .context("a persona list")?
            .iter()
            .any(|p| p["state"] == "starting");
        if !starting || Instant::now() > deadline {
            return Ok(daemon);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn choose(rng: &mut StdRng, model: &Model) -> Kind {
    let alive = model.known.len();
    if alive == 0 {
        return Kind::Create;
    }
    loop {
        let kind = KINDS[rng.gen_range(0..KINDS.len())];
        match kind {
            Kind::Create if alive >= MOST => continue,
            Kind::Delete if alive <= 1 => continue,
            _ => return kind,
        }
    }
}

fn pick(rng: &mut StdRng, model: &Model) -> Option<Uuid> {
    let ids: Vec<Uuid> = model.known.keys().copied().collect();
    (!ids.is_empty()).then(|| ids[rng.gen_range(0..ids.len())])
}

/// Runs one operation, kills the daemon `delay` after sending it, and records what was
/// acknowledged. Returns the operation run (a migrate of a persona without a diary yet is a
/// sleep), how long it took when it was answered, and whether it was in doubt.
async fn operate(
    client: &reqwest::Client,
    daemon: &Daemon,
    model: &mut Model,
    rng: &mut StdRng,
    kind: Kind,
    delay: Duration,
) -> anyhow::Result<(Kind, Option<Duration>, bool)> {
    let base = daemon.url.clone();
    let target = pick(rng, model);
    let mind = MINDS[rng.gen_range(0..MINDS.len())];
    let (kind, request) = match (kind, target) {
        (Kind::Create, _) | (_, None) => {
            let mut body = json!({"name": format!("Crash {}", rng.r#gen::<u16>())});
            for (k, v) in provider_of(mind).as_object().expect("an object") {
                body[format!("thinking_{k}")] = v.clone();
            }
            if rng.gen_bool(0.5) {
                body["eye_model"] = fakes::OPENAI_MODEL.into();
                body["eye_provider"] = "openai".into();
                body["eye_api_key"] = fakes::OPENAI_KEY.into();
            }
            (
                Kind::Create,
                client
                    .post(format!("{base}/api/persona/create"))
                    .json(&body),
            )
        }
        (Kind::Update, Some(id)) => {
            let mut body = json!({"thinking": provider_of(mind)});
            if rng.gen_bool(0.3) {
                body["eye"] = provider_of(Some(Provider::Anthropic));
            }
            (
                Kind::Update,
                client
                    .post(format!("{base}/api/persona/{id}/update"))
                    .json(&body),
            )
        }
        (Kind::Sleep, Some(id)) => (
            Kind::Sleep,
            client
                .post(format!("{base}/api/persona/{id}/sleep"))
                .json(&json!({})),
        ),
        (Kind::Migrate, Some(id)) => {
            let phrase = model.known[&id].phrase.clone();
            let diary = client
                .get(format!("{base}/api/persona/{id}/export"))
                .send()
                .await?;
            match (phrase, diary.status().is_success()) {
                (Some(phrase), true) => {
                    let bytes = diary.bytes().await?.to_vec();
                    send(client.post(format!("{base}/api/persona/{id}/stop"))).await;
                    let part =
                        reqwest::multipart::Part::bytes(bytes).file_name(format!("{id}.diary"));
                    let mut form = reqwest::multipart::Form::new()
                        .part("diary", part)
                        .text("phrase", phrase);
                    for (k, v) in provider_of(mind).as_object().expect("an object") {
                        form = form.text(k.clone(), v.as_str().unwrap_or_default().to_string());
                    }
                    (
                        Kind::Migrate,
                        client
                            .post(format!("{base}/api/persona/migrate"))
                            .multipart(form),
                    )
                }
                // No diary yet: she sleeps instead (which writes one).
                _ => (
                    Kind::Sleep,
                    client
                        .post(format!("{base}/api/persona/{id}/sleep"))
                        .json(&json!({})),
                ),
            }
        }
        (Kind::Delete, Some(id)) => (
            Kind::Delete,
            client.post(format!("{base}/api/persona/{id}/delete")),
        ),
        (Kind::Identity, Some(_)) => {
            return identity_burst(client, daemon, model, delay).await;
        }
    };
    let kill_at = Instant::now() + delay;
    let sent = Instant::now();
    let answer = tokio::spawn(send(request));
    tokio::time::sleep_until(kill_at.into()).await;
    let pid = daemon.pid();
    crate::daemon::kill_now(pid);
    let outcome = answer.await?;
    let took = matches!(outcome, Outcome::Acked(_) | Outcome::Refused).then(|| sent.elapsed());
    let doubt = matches!(outcome, Outcome::InDoubt);
    apply(model, kind, target, mind, outcome);
    Ok((kind, took, doubt))
}

/// Records in the model what an operation's outcome means.
fn apply(
    model: &mut Model,
    kind: Kind,
    target: Option<Uuid>,
    mind: Option<Provider>,
    outcome: Outcome,
) {
    match (kind, outcome) {
        (_, Outcome::Refused) => {}
        (Kind::Create, Outcome::Acked(body)) => {
            if let Some(id) = body["persona"]["id"]
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
            {
                model.known.insert(
                    id,
                    Known {
                        phrase: body["recovery_phrase"].as_str().map(str::to_string),
                        thinking: [mind].into(),
                        may_be_gone: false,
                        slept: false,
                    },
                );
            }
        }
        (Kind::Create, Outcome::InDoubt) => model.doubtful_creates += 1,
        (Kind::Update | Kind::Migrate, outcome) => {
            let Some(her) = target.and_then(|id| model.known.get_mut(&id)) else {
                return;
            };
            if matches!(outcome, Outcome::Acked(_)) {
                her.thinking = [mind].into();
            } else {
                her.thinking.insert(mind);
            }
        }
        (Kind::Sleep, Outcome::Acked(_)) => {
            if let Some(her) = target.and_then(|id| model.known.get_mut(&id)) {
                her.slept = true;
            }
        }
        (Kind::Delete, Outcome::Acked(_)) => {
            if let Some(id) = target {
                model.known.remove(&id);
                model.deleted.insert(id);
            }
        }
        (Kind::Delete, Outcome::InDoubt) => {
            if let Some(her) = target.and_then(|id| model.known.get_mut(&id)) {
                her.may_be_gone = true;
            }
        }
        _ => {}
    }
}

/// A burst of observations on the harness's own identity instance, killed `delay` in.
async fn identity_burst(
    client: &reqwest::Client,
    daemon: &Daemon,
    model: &mut Model,
    delay: Duration,
) -> anyhow::Result<(Kind, Option<Duration>, bool)> {
    let base = daemon.url.clone();
    let id = match &model.instance {
        Some(id) => id.clone(),
        None => {
            let made: Value = client
                .post(format!("{base}/instances"))
                .json(&json!({"name": "crash harness"}))
                .send()
                .await?
                .json()
                .await?;
            let id = made["data"]["id"]
                .as_str()
                .context("an instance id")?
                .to_string();
            model.instance = Some(id.clone());
            id
        }
    };
    let modes = ["perception", "connection", "order", "stress_response"];
    let (c, url) = (client.clone(), format!("{base}/instances/{id}/process"));
    let started = Instant::now();
    let burst = tokio::spawn(async move {
        let (mut acked, mut sent) = (0u64, 0u64);
        for i in 0..BURST {
            sent += 1;
            let body = json!({"mode_target": modes[i % modes.len()], "signal_strength": (i % 10) as f64 / 10.0});
            match send(c.post(&url).json(&body)).await {
                Outcome::Acked(_) => acked += 1,
                Outcome::Refused => sent -= 1,
                Outcome::InDoubt => break,
            }
        }
        (acked, sent)
    });
    tokio::time::sleep(delay).await;
    crate::daemon::kill_now(daemon.pid());
    let (acked, sent) = burst.await?;
    model.observations_acked += acked;
    model.observations_sent += sent;
    let whole = acked == BURST as u64;
    Ok((Kind::Identity, whole.then(|| started.elapsed()), !whole))
}

/// With the restarted daemon up: her instance holds every acknowledged observation and no
/// more than were sent.
async fn check_identity(
    client: &reqwest::Client,
    daemon: &Daemon,
    model: &mut Model,
) -> Vec<Violation> {
    let Some(id) = &model.instance else {
        return Vec::new();
    };
    let snapshot: Option<Value> = async {
        client
            .get(format!("{}/instances/{id}/snapshot", daemon.url))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()
    }
    .await;
    let cycles = snapshot.as_ref().and_then(|s| {
        s["data"]["cycle_count"]
            .as_u64()
            .or_else(|| s["data"]["cycle"].as_u64())
    });
    let Some(cycles) = cycles else {
        return vec![Violation::Lost(format!(
            "identity instance {id} unreadable: {snapshot:?}"
        ))];
    };
    let mut found = Vec::new();
    if cycles < model.observations_acked || cycles > model.observations_sent {
        found.push(Violation::Lost(format!(
            "identity instance has {cycles} observations; {} were acknowledged, {} sent",
            model.observations_acked, model.observations_sent
        )));
    }
    model.observations_acked = cycles;
    model.observations_sent = cycles;
    found
}

/// Inspects the data root against the model, then makes the model what was found.
fn check(root: &Path, model: &mut Model) -> anyhow::Result<Vec<Violation>> {
    let inspection = invariants::inspect(root)?;
    let mut found = inspection.violations;
    let on_disk = &inspection.personas;
    let store = persona::Store::open(root, &persona::secrets::Keyring::none())?;
    for (id, her) in std::mem::take(&mut model.known) {
        match on_disk.get(&id) {
            Some(p) => {
                if !her.thinking.contains(&p.thinking.provider) {
                    found.push(Violation::Lost(format!(
                        "{id}: her Mind is on {:?}, acknowledged {:?}",
                        p.thinking.provider, her.thinking
                    )));
                }
                if her.slept && persona::diary::latest(&store.diary_dir(id), id).is_none() {
                    found.push(Violation::Lost(format!(
                        "{id}: acknowledged sleep left no diary"
                    )));
                }
                model.known.insert(
                    id,
                    Known {
                        thinking: [p.thinking.provider].into(),
                        may_be_gone: false,
                        ..her
                    },
                );
            }
            None if her.may_be_gone => {
                model.deleted.insert(id);
            }
            None => found.push(Violation::Lost(format!(
                "{id}: an acknowledged persona is gone"
            ))),
        }
    }
    let mut surprises = 0;
    for (id, p) in on_disk {
        if model.known.contains_key(id) {
            continue;
        }
        if model.deleted.contains(id) {
            found.push(Violation::Lost(format!(
                "{id}: a deleted persona came back"
            )));
            continue;
        }
        surprises += 1;
        model.known.insert(
            *id,
            Known {
                phrase: store.phrase(*id)?.map(|p| p.as_str().to_string()),
                thinking: [p.thinking.provider].into(),
                may_be_gone: false,
                slept: false,
            },
        );
    }
    if surprises > model.doubtful_creates {
        found.push(Violation::Lost(format!(
            "{surprises} personas appeared but only {} creates were in flight",
            model.doubtful_creates
        )));
    }
    model.doubtful_creates = 0;
    Ok(found)
}
