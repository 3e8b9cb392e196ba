//! Her identity instance deleted under her (through `/instances`): she makes a new one and
//! says so, instead of failing at every heartbeat until a restart.

mod common;

use common::*;
use serde_json::Value;

fn bound(world: &World) -> String {
    let kept: Value =
        serde_json::from_slice(&std::fs::read(world.home().join("identity.json")).unwrap())
            .unwrap();
    kept["instance"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_deleted_identity_instance_is_recreated_and_announced() {
    let world = World::new(mind_at(None, "http://127.0.0.1:9", "eternego-iris"));
    let agent = world.start().await;
    let mut signals = agent.signals();
    let lost = bound(&world);
    assert!(world.identity.delete(&lost));
    // Her next heartbeat reads her contract and finds the instance gone.
    world.clock.advance(time::Duration::minutes(1));
    let signal = tokio::time::timeout(PATIENCE, async {
        loop {
            let s = signals.recv().await.unwrap();
            if s.title == "IdentityRecreated" {
                return s;
            }
        }
    })
    .await
    .expect("she never said she made a new identity");
    let made = bound(&world);
    assert_ne!(made, lost);
    assert!(world.identity.exists(&made));
    assert_eq!(signal.details["lost"], lost.as_str());
    assert_eq!(signal.details["instance"], made.as_str());
    assert_eq!(agent.status().regulation.instance, made);
    agent.stop().await;
    // Started again, she keeps the new one.
    let again = world.start().await;
    assert_eq!(bound(&world), made);
    again.stop().await;
}
