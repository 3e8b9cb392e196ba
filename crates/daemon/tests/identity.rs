//! The identity engine is served by the same daemon as the personas, in both dialects, and each
//! persona is regulated by an instance of her own.

mod support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn the_daemon_serves_identity_instances_in_both_dialects() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let (status, health) = d.get("/health").await;
    assert_eq!(status, 200, "{health}");

    let (status, created) = d.post("/instances", json!({"name": "Aria", "description": "research"})).await;
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("inst_") && id.len() == 21, "{id}");

    let (status, outcome) =
        d.post(&format!("/instances/{id}/process"), json!({"mode_target": "STRESS_RESPONSE", "signal_strength": 0.9})).await;
    assert_eq!(status, 200, "{outcome}");
    let (status, bare) = d.get(&format!("/v1/instances/{id}")).await;
    assert_eq!(status, 200, "{bare}");
    assert_eq!(bare["id"], id, "the /v1 dialect answers bare objects");

    let (status, invalid) = d.post("/instances", json!({"name": "x".repeat(101)})).await;
    assert_eq!(status, 422);
    assert_eq!(invalid["error"], "invalid_request");

    // A persona gets an instance of her own when she starts.
    d.create_local("Adam").await;
    let (_, listed) = d.get("/instances?limit=100").await;
    assert_eq!(listed["pagination"]["total"], 2, "{listed}");
    let view = &d.personas().await[0];
    assert!(view["life"]["regulation"]["stress"].is_string(), "her status shows her regulation: {view}");
    d.shutdown().await;

    let d = Harness::start(home.path(), &fakes).await;
    let (status, again) = d.get(&format!("/instances/{id}")).await;
    assert_eq!(status, 200, "instances survive a restart: {again}");
    assert_eq!(again["data"]["cycle_count"], 1);
    d.shutdown().await;
}
