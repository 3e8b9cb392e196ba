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

    let (status, created) = d
        .post(
            "/instances",
            json!({"name": "Aria", "description": "research"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("inst_") && id.len() == 21, "{id}");

    let (status, outcome) = d
        .post(
            &format!("/instances/{id}/process"),
            json!({"mode_target": "STRESS_RESPONSE", "signal_strength": 0.9}),
        )
        .await;
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
    assert!(
        view["life"]["regulation"]["stress"].is_string(),
        "her status shows her regulation: {view}"
    );
    d.shutdown().await;

    let d = Harness::start(home.path(), &fakes).await;
    let (status, again) = d.get(&format!("/instances/{id}")).await;
    assert_eq!(status, 200, "instances survive a restart: {again}");
    assert_eq!(again["data"]["cycle_count"], 1);
    d.shutdown().await;
}

/// `instances::openapi()` is built from the same annotated handlers the instances router is, so
/// its operations are the routes served at the root. Each must reach the daemon's document, be
/// answered by a handler at the root and under `/v1`, and every other method on its path must be
/// refused: a route served without a description, or described without being served, fails here.
#[tokio::test]
async fn the_openapi_document_describes_every_identity_route() {
    use std::collections::BTreeSet;
    const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];
    let operations = |doc: &serde_json::Value| -> BTreeSet<(String, String)> {
        let mut found = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in METHODS {
                let tags = item[method]["tags"].as_array();
                if tags.is_some_and(|t| t.contains(&json!("identity"))) {
                    found.insert((method.to_string(), path.clone()));
                }
            }
        }
        found
    };

    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let (status, doc) = d.get("/openapi.json").await;
    assert_eq!(status, 200);
    let documented = operations(&doc);
    let routed = operations(&serde_json::to_value(instances::openapi()).unwrap());
    assert_eq!(
        documented, routed,
        "the daemon's document carries every identity operation"
    );
    for (method, path) in [
        ("post", "/instances"),
        ("get", "/instances"),
        ("get", "/instances/{id}"),
        ("patch", "/instances/{id}"),
        ("delete", "/instances/{id}"),
        ("post", "/instances/{id}/process"),
        ("post", "/instances/{id}/process/batch"),
        ("get", "/instances/{id}/snapshot"),
        ("get", "/instances/{id}/contract"),
        ("post", "/instances/{id}/reset"),
        ("get", "/instances/{id}/history"),
        ("get", "/instances/{id}/drift"),
        ("get", "/personas"),
        ("get", "/personas/{id}"),
        ("get", "/test/questions"),
        ("post", "/test/submit"),
        ("get", "/health"),
    ] {
        assert!(
            documented.contains(&(method.to_string(), path.to_string())),
            "{method} {path} is missing from /openapi.json"
        );
    }

    // Probes change nothing: the id names no instance and every body is empty, so each handler
    // answers 404 or 422 before it writes.
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        let concrete = path.replace("{id}", "inst_0000000000000000");
        let prefixes: &[&str] = if path == "/health" {
            &[""]
        } else {
            &["", "/v1"]
        };
        for prefix in prefixes {
            for method in METHODS {
                let url = format!("{}{prefix}{concrete}", d.url);
                let r = d
                    .client
                    .request(method.to_uppercase().parse().unwrap(), &url)
                    .send()
                    .await
                    .unwrap();
                let (status, body) = read(r).await;
                if documented.contains(&(method.to_string(), path.clone())) {
                    let unrouted = status == 405
                        || body["detail"] == "Not Found"
                        || body["message"] == "route not found";
                    assert!(
                        !unrouted,
                        "{method} {prefix}{path} is documented but not served: {status} {body}"
                    );
                } else {
                    assert_eq!(
                        status, 405,
                        "{method} {prefix}{path} is served but not documented: {body}"
                    );
                }
            }
        }
    }

    let mut operation_ids = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for method in METHODS.iter().filter(|m| item[**m].is_object()) {
            let id = item[*method]["operationId"].as_str().unwrap();
            assert!(operation_ids.insert(id), "operationId {id} is used twice");
        }
    }
    let schemas = &doc["components"]["schemas"];
    assert!(
        schemas["IdentityCreateInstance"]["required"]
            .as_array()
            .unwrap()
            .contains(&json!("name"))
    );
    let observation = schemas["IdentityObservation"]["required"]
        .as_array()
        .unwrap();
    assert!(
        observation.contains(&json!("mode_target"))
            && observation.contains(&json!("signal_strength"))
    );
    let create = &doc["paths"]["/instances"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/IdentityCreateInstance"
    );
    assert!(
        create["responses"]["201"].is_object() && create["responses"]["422"].is_object(),
        "{create}"
    );
    assert!(doc["paths"]["/instances/{id}"]["get"]["responses"]["404"].is_object());
    let tag = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "identity")
        .expect("an identity tag");
    assert!(
        tag["description"].as_str().unwrap().contains("/v1"),
        "the SDK dialect is named: {tag}"
    );
    d.shutdown().await;
}

/// Finding 10: her instance deleted through `/instances` is made anew at her next beat, and her
/// feed says so, instead of an error logged every minute until a restart.
#[tokio::test]
async fn a_persona_whose_instance_is_deleted_makes_a_new_one_and_says_so() {
    use futures::StreamExt;
    let fakes = Fakes::start().await;
    fakes.openai.set_responder(testkit::responder(|_| {
        testkit::ScriptedReply::text("Hello.")
    }));
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let (status, created) = d
        .post(
            "/api/persona/create",
            json!({"name": "Iris", "thinking_model": "gpt-5.4", "thinking_provider": "openai", "thinking_api_key": OPENAI_KEY}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["persona"]["id"].as_str().unwrap().to_string();
    let instance = |diagnosis: &serde_json::Value| {
        diagnosis["live"]["regulation"]["instance"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (_, diagnosis) = d.get(&format!("/api/persona/{id}/diagnose")).await;
    let lost = instance(&diagnosis);
    // Watching before the delete: a heartbeat may find the instance gone before her message does.
    let (mut system, _) =
        tokio_tungstenite::connect_async(format!("{}/ws/system", d.url.replacen("http", "ws", 1)))
            .await
            .unwrap();
    let r = reqwest::Client::new()
        .delete(format!("{}/instances/{lost}", d.url))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    d.post(&format!("/api/persona/{id}/read"), json!({"message": "Hi"}))
        .await;
    let told = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while let Some(Ok(frame)) = system.next().await {
            let Ok(text) = frame.into_text() else {
                continue;
            };
            let frame: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            if frame["title"] == "IdentityRecreated" {
                return frame;
            }
        }
        panic!("the feed closed");
    })
    .await
    .expect("she never said she made a new identity");
    assert_eq!(told["type"], "Event");
    assert_eq!(told["details"]["lost"], lost.as_str());
    let made = told["details"]["instance"].as_str().unwrap().to_string();
    assert_ne!(made, lost);
    let (status, _) = d.get(&format!("/instances/{made}")).await;
    assert_eq!(status, 200);
    let (_, diagnosis) = d.get(&format!("/api/persona/{id}/diagnose")).await;
    assert_eq!(instance(&diagnosis), made);
    d.shutdown().await;
}
