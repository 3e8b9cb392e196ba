//! Measurements taken in this process, on the crates themselves: identity `process`, the
//! diary's sealing speed, and what each way of keeping the persona index true to the disk costs
//! per list.

use std::path::Path;
use std::time::{Duration, Instant};

use identity::{InitialConfig, Mode, Observation, State, process};
use persona::secrets::Keyring;
use persona::{Phrase, Store};
use uuid::Uuid;

/// `process` cycles per second on one core over a mixed stream (as `cargo bench -p identity
/// --bench process` does), run for about `budget`.
pub fn identity_cycles_per_second(budget: Duration) -> f64 {
    let stream: Vec<Observation> = (0..1000)
        .map(|i: usize| {
            let mode = if (300..380).contains(&i) {
                Mode::StressResponse
            } else {
                Mode::ALL[(i * 5) % 7]
            };
            let s = ((i * 37) % 101) as f64 / 100.0;
            Observation::new(mode, s, if i.is_multiple_of(3) { 0.7 } else { 1.0 })
                .expect("a valid observation")
        })
        .collect();
    let started = Instant::now();
    let mut cycles = 0u64;
    while started.elapsed() < budget {
        let mut s = State::new(&InitialConfig::default());
        for o in &stream {
            let (next, contract, drift) = process(&s, std::hint::black_box(o));
            std::hint::black_box((&contract, &drift));
            s = next;
        }
        cycles += stream.len() as u64;
    }
    cycles as f64 / started.elapsed().as_secs_f64()
}

/// Sealing speed of a diary: packs and encrypts a generated home of about `mib` MiB (text
/// files and a few binary ones, as a home holds), the key derived once beforehand. Returns
/// (MiB/s, key derivation time).
pub fn diary_seal(mib: usize) -> anyhow::Result<(f64, Duration)> {
    let dir = tempfile::tempdir()?;
    let home = dir.path().join("home");
    let mut total = 0usize;
    let mut n = 0usize;
    let words = [
        "she",
        "remembers",
        "the",
        "river",
        "and",
        "what",
        "he",
        "said",
        "about",
        "morning",
    ];
    while total < mib * 1024 * 1024 {
        let sub = home.join(format!("history/{}", n / 100));
        std::fs::create_dir_all(&sub)?;
        let bytes: Vec<u8> = if n % 50 == 49 {
            // A media file: does not compress.
            (0..256 * 1024u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect()
        } else {
            let mut text = String::new();
            let mut k = n as u64;
            while text.len() < 16 * 1024 {
                k = k.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                text.push_str(words[(k >> 33) as usize % words.len()]);
                text.push(' ');
            }
            text.into_bytes()
        };
        total += bytes.len();
        std::fs::write(sub.join(format!("{n}.jsonl")), bytes)?;
        n += 1;
    }
    let id = Uuid::new_v4();
    let phrase = Phrase::generate();
    let derive = Instant::now();
    let key = persona::diary::DiaryKey::derive(&phrase, id);
    let derived = derive.elapsed();
    let started = Instant::now();
    let token = persona::diary::seal(&home, &key)?;
    let elapsed = started.elapsed();
    std::hint::black_box(token.len());
    Ok((
        total as f64 / 1024.0 / 1024.0 / elapsed.as_secs_f64(),
        derived,
    ))
}

/// What keeping the index true to the disk costs, measured on a data root of many personas:
/// `persona::Store`'s two ways, the stat check and its watch.
#[derive(Debug)]
pub struct DiskCheck {
    pub personas: usize,
    /// `Store::records()` with nothing changed, by stat: one `stat` per persona plus the folder's.
    pub stat_per_list: Duration,
    /// `Store::watch()`: one recursive inotify watch on `personas/` (`notify` crate).
    pub notify_setup: Duration,
    /// Folders under `personas/`, each an inotify watch.
    pub notify_watches: usize,
    /// The system's limit on watches per user.
    pub max_user_watches: Option<u64>,
    /// `Store::records()` with nothing changed, once watching.
    pub notify_per_list: Duration,
    /// From a hand edit of one `config.json` to the index marking her stale.
    pub notify_latency: Option<Duration>,
    /// Why the watch could not be set up (the per-user limit, typically).
    pub notify_error: Option<String>,
}

pub fn disk_check(root: &Path, rounds: u32) -> anyhow::Result<DiskCheck> {
    let store = Store::open(root, &Keyring::none())?;
    let records = store.records();
    let personas = records.len();
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(store.records().len());
    }
    let stat_per_list = started.elapsed() / rounds;

    let started = Instant::now();
    let watched = store.watch();
    let notify_setup = started.elapsed();
    let notify_error = watched.err().map(|e| e.to_string());
    // The first list after the watch pays one check by stat.
    store.records();
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(store.records().len());
    }
    let notify_per_list = started.elapsed() / rounds;
    let notify_latency = match records.last() {
        Some(last) if notify_error.is_none() => {
            let config = store.home(last.record.id).join("config.json");
            let bytes = std::fs::read(&config)?;
            let since = store.generation();
            let touched = Instant::now();
            std::fs::write(&config, &bytes)?;
            let mut seen = None;
            while touched.elapsed() < Duration::from_secs(2) {
                if store.generation() > since {
                    seen = Some(touched.elapsed());
                    break;
                }
                std::thread::yield_now();
            }
            seen
        }
        _ => None,
    };
    let max_user_watches = std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches")
        .ok()
        .and_then(|s| s.trim().parse().ok());
    Ok(DiskCheck {
        personas,
        stat_per_list,
        notify_setup,
        notify_watches: folders(&root.join("personas")),
        max_user_watches,
        notify_per_list,
        notify_latency,
        notify_error,
    })
}

/// `dir` and every folder under it.
fn folders(dir: &Path) -> usize {
    let children = std::fs::read_dir(dir).into_iter().flatten().flatten();
    1 + children
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| folders(&e.path()))
        .sum::<usize>()
}
