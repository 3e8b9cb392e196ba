//! Diary throughput on a 50 MB home of many small files, and the fixed cost of the key derivation.
//!
//! `cargo bench -p persona --bench diary`. The home is generated once in a temp dir: about 6,000
//! text files of 1–12 KB (her notes, history, meanings) and 48 incompressible 400 KB images.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use persona::Phrase;
use persona::diary::{self, DiaryKey};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use uuid::Uuid;

const WORDS: &str = "she remembers the garden and a morning walk person said that coffee tomorrow lesson \
                     meaning of quiet music rain letter wish";

/// Builds the home and returns its size in bytes.
fn generate_home(home: &Path) -> u64 {
    let mut rng = StdRng::seed_from_u64(7);
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let mut total = 0u64;
    for i in 0..6000 {
        let dir = home
            .join(["history", "meanings", "lessons", "destiny", "notes"][i % 5])
            .join(format!("{}", i / 500));
        std::fs::create_dir_all(&dir).unwrap();
        let len = rng.gen_range(1024..12 * 1024);
        let mut text = String::with_capacity(len + 16);
        while text.len() < len {
            text.push_str(words[rng.gen_range(0..words.len())]);
            text.push(if rng.gen_ratio(1, 12) { '\n' } else { ' ' });
        }
        total += text.len() as u64;
        std::fs::write(dir.join(format!("entry-{i}.md")), text).unwrap();
    }
    let media = home.join("media/screenshots");
    std::fs::create_dir_all(&media).unwrap();
    for i in 0..48 {
        let mut image = vec![0u8; 400 * 1024];
        rng.fill_bytes(&mut image);
        total += image.len() as u64;
        std::fs::write(media.join(format!("{i:04}.png")), image).unwrap();
    }
    total
}

fn bench(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let bytes = generate_home(&home);
    let id = Uuid::new_v4();
    let phrase = Phrase::generate();
    let key = DiaryKey::derive(&phrase, id);
    let token = diary::seal(&home, &key).unwrap();
    eprintln!(
        "home: {:.1} MB in 6,048 files; diary: {:.1} MB",
        bytes as f64 / 1e6,
        token.len() as f64 / 1e6
    );

    let mut kdf = c.benchmark_group("kdf");
    kdf.sample_size(10);
    kdf.bench_function("pbkdf2_480000", |b| {
        b.iter(|| DiaryKey::derive(&phrase, id))
    });
    kdf.finish();

    let mut group = c.benchmark_group("diary_50MB");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Bytes(bytes));
    group.bench_function("seal", |b| b.iter(|| diary::seal(&home, &key).unwrap()));
    let diary_dir = tmp.path().join("diary");
    group.bench_function("write_with_kdf", |b| {
        b.iter(|| diary::write(&diary_dir, &home, id, &phrase).unwrap())
    });
    group.bench_function("open", |b| b.iter(|| key.open(token.as_bytes()).unwrap()));
    group.bench_function("restore", |b| {
        b.iter_custom(|iters| {
            timed_restores(iters, tmp.path(), |dest| {
                diary::restore_with(token.as_bytes(), &key, dest, diary::MAX_HOME_BYTES).unwrap()
            })
        })
    });
    group.finish();
}

/// Runs `restore` `iters` times into fresh folders, timing only the restores. The folders are
/// kept until the bench ends: ext4 is slow to reuse inodes freed a moment ago, which a real
/// restore never meets but a loop of restore-then-delete would measure.
fn timed_restores(iters: u64, root: &Path, restore: impl Fn(&Path)) -> Duration {
    let mut spent = Duration::ZERO;
    for _ in 0..iters {
        let dest: PathBuf = root.join(format!("restored-{}", Uuid::new_v4()));
        let start = Instant::now();
        restore(&dest);
        spent += start.elapsed();
    }
    spent
}

criterion_group!(benches, bench);
criterion_main!(benches);
