//! Cycles per second of `process` on one core, over a mixed observation stream that
//! visits every stress level and drift level.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use identity::{InitialConfig, Mode, Observation, State, process};
use std::hint::black_box;

fn stream() -> Vec<Observation> {
    (0..1000)
        .map(|i: usize| {
            let mode = if (300..380).contains(&i) {
                Mode::StressResponse
            } else {
                Mode::ALL[(i * 5) % 7]
            };
            let s = ((i * 37) % 101) as f64 / 100.0;
            Observation::new(mode, s, if i.is_multiple_of(3) { 0.7 } else { 1.0 }).unwrap()
        })
        .collect()
}

fn bench_process(c: &mut Criterion) {
    let obs = stream();
    let mut group = c.benchmark_group("identity");
    group.throughput(Throughput::Elements(obs.len() as u64));
    group.bench_function("process_1000_cycles", |b| {
        b.iter(|| {
            let mut s = State::new(&InitialConfig::default());
            for o in &obs {
                let (next, contract, drift) = process(&s, black_box(o));
                black_box((&contract, &drift));
                s = next;
            }
            s
        })
    });
    group.finish();
}

criterion_group!(benches, bench_process);
criterion_main!(benches);
