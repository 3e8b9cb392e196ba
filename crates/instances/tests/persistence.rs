//! Durability: state survives a re-open, replay is exact, a torn journal tail is tolerated.

mod common;

use common::{ManualClock, serve};
use identity::{InitialConfig, Mode, Observation, State};
use instances::{ObservationInput, ResetTo, Service};
use serde_json::json;
use std::io::Write;
use std::time::Duration;

fn obs(i: usize) -> Observation {
    Observation::new(
        Mode::ALL[(i * 3) % 7],
        ((i * 41) % 100) as f64 / 100.0,
        if i.is_multiple_of(4) { 0.6 } else { 1.0 },
    )
    .unwrap()
}

#[tokio::test]
async fn state_history_and_drift_survive_a_reopen_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let (id, before, contract, history, drift) = {
        let svc = Service::open(dir.path(), clock.settings(Duration::ZERO)).unwrap();
        let id = svc.create("Keeper", "remembers", None).await.unwrap().id;
        let mut expected = State::new(&InitialConfig::default());
        for i in 0..150 {
            expected = identity::step(&expected, &obs(i));
            svc.observe(&id, obs(i)).await.unwrap();
            clock.advance(Duration::from_millis(1500));
        }
        svc.update(&id, Some("Keeper II"), None).await.unwrap();
        let snap = svc.snapshot(&id).await.unwrap();
        assert_eq!(
            snap.state, expected,
            "the service state is the engine's state"
        );
        let history = svc.history(&id, 1000, 0).await.unwrap();
        let drift = svc.drift(&id, 1000, 0, None).await.unwrap();
        let contract = svc.contract(&id).await.unwrap();
        (id, snap, contract, history, drift)
    };
    let svc = Service::open(dir.path(), clock.settings(Duration::ZERO)).unwrap();
    let after = svc.snapshot(&id).await.unwrap();
    assert_eq!(
        after.state, before.state,
        "replay reproduces the state bit for bit"
    );
    assert_eq!(after.updated_at, before.updated_at);
    assert_eq!(svc.contract(&id).await.unwrap(), contract);
    assert_eq!(svc.get(&id).await.unwrap().name, "Keeper II");
    let h = svc.history(&id, 1000, 0).await.unwrap();
    assert_eq!(h.total, 150);
    assert!(
        h.items
            .iter()
            .zip(&history.items)
            .all(|(a, b)| a.cycle == b.cycle
                && a.at == b.at
                && a.signal_strength == b.signal_strength)
    );
    let d = svc.drift(&id, 1000, 0, None).await.unwrap();
    assert_eq!(d.total, drift.total);
    assert!(
        d.items
            .iter()
            .zip(&drift.items)
            .all(|(a, b)| a.cycle == b.cycle && a.drift == b.drift)
    );
}

#[tokio::test]
async fn resets_and_tests_replay_too_and_deletes_are_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let (keep, gone, state) = {
        let svc = Service::open(dir.path(), clock.settings(Duration::ZERO)).unwrap();
        let keep = svc.create("Keep", "", None).await.unwrap().id;
        let gone = svc.create("Gone", "", None).await.unwrap().id;
        for i in 0..10 {
            svc.observe(&keep, obs(i)).await.unwrap();
        }
        svc.reset(&keep, ResetTo::Default).await.unwrap();
        let answers: Vec<(u32, u8)> = (1..=14).map(|q| (q, (q % 4) as u8)).collect();
        svc.submit_test(
            instances::TestSubject::Existing(keep.clone()),
            "v1",
            &answers,
        )
        .await
        .unwrap();
        svc.observe(&keep, obs(3)).await.unwrap();
        svc.delete(&gone).await.unwrap();
        let state = svc.snapshot(&keep).await.unwrap().state;
        (keep, gone, state)
    };
    let svc = Service::open(dir.path(), clock.settings(Duration::ZERO)).unwrap();
    assert_eq!(svc.snapshot(&keep).await.unwrap().state, state);
    assert!(matches!(
        svc.get(&gone).await,
        Err(instances::InstancesError::NotFound(_))
    ));
    assert_eq!(
        std::fs::read_dir(dir.path().join("instances"))
            .unwrap()
            .count(),
        1
    );
}

#[tokio::test]
async fn a_torn_last_line_is_cut_off_and_nothing_acknowledged_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let (id, state) = {
        let svc = Service::open(dir.path(), clock.settings(Duration::ZERO)).unwrap();
        let id = svc.create("Torn", "", None).await.unwrap().id;
        for i in 0..30 {
            svc.observe(&id, obs(i)).await.unwrap();
        }
        (id.clone(), svc.snapshot(&id).await.unwrap().state)
    };
    let journal = dir.path().join("instances").join(&id).join("journal.jsonl");
    let clean_len = std::fs::metadata(&journal).unwrap().len();
    // A crash in the middle of an append that was never acknowledged.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap()
        .write_all(br#"{"event":"observation","at":"2026-03"#)
        .unwrap();
    let svc = Service::open(dir.path(), clock.settings(Duration::ZERO)).unwrap();
    assert_eq!(svc.snapshot(&id).await.unwrap().state, state);
    assert_eq!(
        std::fs::metadata(&journal).unwrap().len(),
        clean_len,
        "the torn tail was cut off"
    );
    let next = svc
        .observe(&id, ObservationInput::from(obs(99)))
        .await
        .unwrap();
    assert_eq!(next.snapshot.state.cycle, 31);
    drop(svc);
    let svc = Service::open(dir.path(), clock.settings(Duration::ZERO)).unwrap();
    assert_eq!(svc.snapshot(&id).await.unwrap().state, next.snapshot.state);
}

#[tokio::test]
async fn damage_before_the_tail_is_reported_not_guessed_at() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let id = {
        let svc = Service::open(dir.path(), clock.settings(Duration::ZERO)).unwrap();
        let id = svc.create("Damaged", "", None).await.unwrap().id;
        for i in 0..3 {
            svc.observe(&id, obs(i)).await.unwrap();
        }
        id
    };
    let journal = dir.path().join("instances").join(&id).join("journal.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let damaged = text.replacen("observation", "obzervation", 1);
    std::fs::write(&journal, &damaged).unwrap();
    match Service::open(dir.path(), clock.settings(Duration::ZERO)) {
        Err(instances::InstancesError::Corrupt { line, .. }) => assert_eq!(line, 1),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("a damaged journal opened silently"),
    }
    assert_eq!(
        std::fs::read_to_string(&journal).unwrap(),
        damaged,
        "nothing on disk was touched"
    );
}

#[tokio::test]
async fn data_survives_a_server_restart_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let id = {
        let s = serve(dir.path(), clock.settings(Duration::ZERO)).await;
        let id = s.post("/instances", json!({"name": "Restart"})).await.1["data"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        for _ in 0..4 {
            s.post(
                &format!("/instances/{id}/process"),
                json!({"mode_target": "order", "signal_strength": 0.7}),
            )
            .await;
        }
        id
    };
    let s = serve(dir.path(), clock.settings(Duration::ZERO)).await;
    let (_, body) = s.get(&format!("/instances/{id}/snapshot")).await;
    assert_eq!(body["data"]["cycle"], 4);
    assert_eq!(
        s.get(&format!("/instances/{id}/history")).await.1["pagination"]["total"],
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_observations_to_one_instance_are_serialised() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let svc = Service::open(dir.path(), clock.settings(Duration::ZERO)).unwrap();
    let a = svc.create("A", "", None).await.unwrap().id;
    let b = svc.create("B", "", None).await.unwrap().id;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (svc, id) = (svc.clone(), if i % 2 == 0 { a.clone() } else { b.clone() });
        tasks.push(tokio::spawn(async move {
            svc.observe(&id, obs(i)).await.unwrap().snapshot.state.cycle
        }));
    }
    let mut cycles_a = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let c = t.await.unwrap();
        if i % 2 == 0 {
            cycles_a.push(c);
        }
    }
    cycles_a.sort();
    assert_eq!(
        cycles_a,
        (1..=32).collect::<Vec<u64>>(),
        "every observation got its own cycle"
    );
    // The final state equals a sequential replay of the order the journal recorded.
    let h = svc.history(&a, 1000, 0).await.unwrap();
    let replayed = h
        .items
        .iter()
        .rev()
        .fold(State::new(&InitialConfig::default()), |s, r| {
            identity::step(
                &s,
                &Observation::new(r.mode, r.signal_strength, r.confidence).unwrap(),
            )
        });
    assert_eq!(svc.snapshot(&a).await.unwrap().state, replayed);
}

/// Replays a history page (newest first) through the engine from the default state.
fn replay(items: &[instances::HistoryRecord]) -> State {
    items
        .iter()
        .rev()
        .fold(State::new(&InitialConfig::default()), |s, r| {
            identity::step(
                &s,
                &Observation::new(r.mode, r.signal_strength, r.confidence).unwrap(),
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_observations_to_several_instances_are_all_there_in_order_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let (ids, states) = {
        let svc = Service::open(dir.path(), clock.settings(Duration::ZERO)).unwrap();
        let mut ids = Vec::new();
        for i in 0..6 {
            ids.push(svc.create(&format!("I{i}"), "", None).await.unwrap().id);
        }
        // Eight writers per instance at once; each writer's observations carry its own
        // increasing confidence, so the journal order of one writer can be checked.
        let mut tasks = Vec::new();
        for (n, id) in ids.iter().enumerate() {
            for writer in 0..8 {
                let (svc, id) = (svc.clone(), id.clone());
                tasks.push(tokio::spawn(async move {
                    for k in 0..25 {
                        let confidence = (writer * 100 + k + 1) as f64 / 1000.0;
                        let o = Observation::new(Mode::ALL[(n + k) % 7], 0.5, confidence).unwrap();
                        svc.observe(&id, o).await.unwrap();
                    }
                }));
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut states = Vec::new();
        for id in &ids {
            states.push(svc.snapshot(id).await.unwrap().state);
        }
        (ids, states)
    };
    let svc = Service::open(dir.path(), clock.settings(Duration::ZERO)).unwrap();
    for (id, before) in ids.iter().zip(&states) {
        let h = svc.history(id, 1000, 0).await.unwrap();
        assert_eq!(h.total, 200, "every acknowledged observation is back");
        let cycles: Vec<u64> = h.items.iter().rev().map(|r| r.cycle).collect();
        assert_eq!(cycles, (1..=200).collect::<Vec<u64>>());
        for writer in 0..8 {
            let own: Vec<f64> = h
                .items
                .iter()
                .rev()
                .map(|r| r.confidence)
                .filter(|c| (c * 10.0).floor() as usize == writer)
                .collect();
            assert_eq!(own.len(), 25);
            assert!(
                own.windows(2).all(|w| w[0] < w[1]),
                "writer {writer}'s observations kept their order"
            );
        }
        let after = svc.snapshot(id).await.unwrap().state;
        assert_eq!(after, *before, "replay reproduces the state");
        assert_eq!(after, replay(&h.items));
    }
}

#[tokio::test]
async fn acknowledged_appends_missing_from_a_journal_come_back_from_the_commit_log() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let svc = Service::open(dir.path(), clock.settings(Duration::ZERO)).unwrap();
    let id = svc.create("Crash", "", None).await.unwrap().id;
    for i in 0..5 {
        svc.observe(&id, obs(i)).await.unwrap();
    }
    let checkpointed = {
        // A clean close checkpoints: the journal is flushed and the log emptied.
        drop(svc);
        let journal = dir.path().join("instances").join(&id).join("journal.jsonl");
        assert_eq!(
            std::fs::metadata(dir.path().join("commit.log"))
                .unwrap()
                .len(),
            0
        );
        std::fs::metadata(&journal).unwrap().len()
    };
    let svc = Service::open(dir.path(), clock.settings(Duration::ZERO)).unwrap();
    let mut last = None;
    for i in 5..40 {
        last = Some(svc.observe(&id, obs(i)).await.unwrap().snapshot.state);
    }
    // The daemon is killed: no checkpoint runs. Then the machine loses what the journal
    // had not flushed, and a torn record follows what survived.
    std::mem::forget(svc);
    let journal = dir.path().join("instances").join(&id).join("journal.jsonl");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&journal)
        .unwrap();
    file.set_len(checkpointed + 10).unwrap();
    let svc = Service::open(dir.path(), clock.settings(Duration::ZERO)).unwrap();
    assert_eq!(
        svc.snapshot(&id).await.unwrap().state,
        last.unwrap(),
        "every acknowledged observation is back"
    );
    assert_eq!(svc.history(&id, 1000, 0).await.unwrap().total, 40);
    assert_eq!(
        std::fs::metadata(dir.path().join("commit.log"))
            .unwrap()
            .len(),
        0,
        "the log was folded in"
    );
}
