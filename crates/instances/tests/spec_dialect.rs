//! The spec dialect at /instances…, every route, over real HTTP.

mod common;

use common::{ManualClock, serve};
use serde_json::{Value, json};
use std::time::Duration;

fn is_instance_id(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 21
        && s.starts_with("inst_")
        && s[5..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

#[tokio::test]
async fn health_answers_ok() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), ManualClock::new().settings(Duration::ZERO)).await;
    assert_eq!(s.get("/health").await, (200, json!({"status": "ok"})));
}

#[tokio::test]
async fn instance_crud_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = serve(dir.path(), clock.settings(Duration::ZERO)).await;
    let (status, body) = s
        .post(
            "/instances",
            json!({"name": "Aria", "description": "Helpful research assistant",
                   "initial_config": {"mode_strengths": {"perception": 0.5, "ORDER": 0.4}, "energy_level": 0.5}}),
        )
        .await;
    assert_eq!(status, 201);
    let data = &body["data"];
    assert!(is_instance_id(&data["id"]), "{data}");
    assert_eq!(data["name"], "Aria");
    assert_eq!(data["created_at"], "2026-03-24T10:15:30Z");
    assert_eq!(data["updated_at"], "2026-03-24T10:15:30Z");
    let id = data["id"].as_str().unwrap().to_string();

    let (status, body) = s.get(&format!("/instances/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["energy_level"], 0.5);
    assert_eq!(body["data"]["cycle_count"], 0);
    assert_eq!(body["data"]["stress_state"], "LOW");
    assert_eq!(body["data"]["stability_index"], 1.0);

    clock.advance(Duration::from_secs(60));
    let (status, body) = s
        .call(
            "PATCH",
            &format!("/instances/{id}"),
            Some(json!({"name": "Aria v2", "description": "Senior"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["name"], "Aria v2");
    assert_eq!(body["data"]["description"], "Senior");
    assert_eq!(body["data"]["updated_at"], "2026-03-24T10:16:30Z");
    assert_eq!(body["data"]["created_at"], "2026-03-24T10:15:30Z");

    let (status, body) = s.call("DELETE", &format!("/instances/{id}"), None).await;
    assert_eq!(
        (status, body),
        (200, json!({"data": {"id": id, "deleted": true}}))
    );
    let (status, body) = s.get(&format!("/instances/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
    assert!(body["message"].as_str().unwrap().contains(&id));
}

/// The seed page's own Create example (every mode 0.50, energy 0.50) must read as its Get
/// example does: LOW at cycle 0, so a persona created from the docs starts with every action.
#[tokio::test]
async fn the_seed_page_example_starts_low() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), ManualClock::new().settings(Duration::ZERO)).await;
    let (status, body) = s
        .post(
            "/instances",
            json!({"name": "Aria", "description": "Helpful research assistant",
                   "initial_config": {"mode_strengths": {
                       "perception": 0.50, "exploration": 0.50, "order": 0.50, "assertion": 0.50,
                       "connection": 0.50, "identity": 0.50, "stress_response": 0.50},
                     "energy_level": 0.50}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    let (status, body) = s.get(&format!("/instances/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["cycle_count"], 0);
    assert_eq!(body["data"]["energy_level"], 0.5);
    assert_eq!(body["data"]["stress_state"], "LOW", "{body}");
    let (status, body) = s.get(&format!("/instances/{id}/contract")).await;
    assert_eq!(status, 200);
    let forbidden = body["data"]["forbidden_actions"]
        .as_array()
        .unwrap()
        .clone();
    for risky in ["execute", "challenge", "explore", "pivot"] {
        assert!(
            !forbidden.contains(&json!(risky)),
            "{risky} forbidden: {body}"
        );
    }
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), ManualClock::new().settings(Duration::ZERO)).await;
    let long = "x".repeat(101);
    let cases = [
        (json!({}), "name"),
        (json!({"name": long}), "name"),
        (json!({"name": 5}), "name"),
        (
            json!({"name": "A", "initial_config": {"energy_level": 1.5}}),
            "initial_config.energy_level",
        ),
        (
            json!({"name": "A", "initial_config": {"mode_strengths": {"courage": 0.5}}}),
            "initial_config.mode_strengths.courage",
        ),
        (
            json!({"name": "A", "initial_config": {"mode_strengths": {"order": 2.0}}}),
            "initial_config.mode_strengths.order",
        ),
    ];
    for (body, field) in cases {
        let (status, err) = s.post("/instances", body.clone()).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(err["error"], "invalid_request");
        assert_eq!(err["details"]["field"], field, "{err}");
        assert!(err["message"].as_str().unwrap().contains(field));
    }
    assert_eq!(
        s.post("/instances", json!({"name": "x".repeat(100)}))
            .await
            .0,
        201
    );
    let (status, err) = s.call("POST", "/instances", None).await;
    assert_eq!(
        (status, err["details"]["field"].clone()),
        (422, json!("name"))
    );
    let resp = s
        .client
        .post(format!("{}/instances", s.base))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["details"]["field"], "body");
    assert_eq!(
        s.service
            .list(instances::ListQuery {
                limit: 100,
                offset: 0,
                sort: instances::SortKey::Name,
                descending: false
            })
            .total,
        1
    );

    let id = s.post("/instances", json!({"name": "B"})).await.1["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let process = format!("/instances/{id}/process");
    let bad = [
        (json!({"signal_strength": 0.5}), "mode_target"),
        (
            json!({"mode_target": "bravery", "signal_strength": 0.5}),
            "mode_target",
        ),
        (json!({"mode_target": "ORDER"}), "signal_strength"),
        (
            json!({"mode_target": "order", "signal_strength": 1.2}),
            "signal_strength",
        ),
        (
            json!({"mode_target": "order", "signal_strength": -0.1}),
            "signal_strength",
        ),
        (
            json!({"mode_target": "order", "signal_strength": 0.5, "confidence": 3}),
            "confidence",
        ),
        (
            json!({"mode_target": "order", "signal_strength": 0.5, "context": "x"}),
            "context",
        ),
        (
            json!({"mode_target": "order", "signal_strength": 0.5, "timestamp": "yesterday"}),
            "timestamp",
        ),
    ];
    for (body, field) in bad {
        let (status, err) = s.post(&process, body.clone()).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(err["details"]["field"], field, "{body}");
    }
    assert_eq!(
        s.get(&format!("/instances/{id}")).await.1["data"]["cycle_count"],
        0,
        "refused input changed nothing"
    );
    let (status, err) = s.get("/instances?limit=101").await;
    assert_eq!(
        (status, err["details"]["field"].clone()),
        (422, json!("limit"))
    );
    let (status, err) = s.get("/instances?sort=age").await;
    assert_eq!(
        (status, err["details"]["field"].clone()),
        (422, json!("sort"))
    );
    let (status, err) = s
        .post(
            &format!("/instances/{id}/reset"),
            json!({"mode": "yesterday"}),
        )
        .await;
    assert_eq!(
        (status, err["details"]["field"].clone()),
        (422, json!("mode"))
    );
}

#[tokio::test]
async fn unknown_instances_are_not_found_on_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), ManualClock::new().settings(Duration::ZERO)).await;
    let id = "inst_0000000000000000";
    let obs = json!({"mode_target": "order", "signal_strength": 0.5});
    for prefix in ["", "/v1"] {
        let calls = [
            ("GET", format!("{prefix}/instances/{id}"), None),
            (
                "PATCH",
                format!("{prefix}/instances/{id}"),
                Some(json!({"name": "x"})),
            ),
            ("DELETE", format!("{prefix}/instances/{id}"), None),
            (
                "POST",
                format!("{prefix}/instances/{id}/process"),
                Some(obs.clone()),
            ),
            (
                "POST",
                format!("{prefix}/instances/{id}/process/batch"),
                Some(json!({"observations": [obs.clone()]})),
            ),
            ("GET", format!("{prefix}/instances/{id}/snapshot"), None),
            ("GET", format!("{prefix}/instances/{id}/contract"), None),
            (
                "POST",
                format!("{prefix}/instances/{id}/reset"),
                Some(json!({"mode": "initial"})),
            ),
            ("GET", format!("{prefix}/instances/{id}/history"), None),
            ("GET", format!("{prefix}/instances/{id}/drift"), None),
            ("GET", format!("{prefix}/personas/persona_nobody"), None),
        ];
        for (method, path, body) in calls {
            let (status, err) = s.call(method, &path, body).await;
            assert_eq!(status, 404, "{method} {path}");
            assert_eq!(err["error"], "not_found", "{method} {path}");
        }
    }
}

#[tokio::test]
async fn listing_paginates_and_sorts() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = serve(dir.path(), clock.settings(Duration::ZERO)).await;
    for name in ["Cleo", "Ada", "Bea", "Dot", "Eve"] {
        s.post("/instances", json!({"name": name})).await;
        clock.advance(Duration::from_secs(1));
    }
    let names = |body: &Value| {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let (_, body) = s.get("/instances").await;
    assert_eq!(
        names(&body),
        ["Eve", "Dot", "Bea", "Ada", "Cleo"],
        "default: newest first"
    );
    assert_eq!(
        body["pagination"],
        json!({"limit": 20, "offset": 0, "total": 5, "has_more": false})
    );
    let (_, body) = s
        .get("/instances?sort=name&order=asc&limit=2&offset=1")
        .await;
    assert_eq!(names(&body), ["Bea", "Cleo"]);
    assert_eq!(
        body["pagination"],
        json!({"limit": 2, "offset": 1, "total": 5, "has_more": true})
    );
    let (_, body) = s
        .get("/instances?sort=created_at&order=asc&limit=2&offset=4")
        .await;
    assert_eq!(names(&body), ["Eve"]);
    assert_eq!(body["pagination"]["has_more"], false);
    let item = &body["data"][0];
    for key in [
        "id",
        "name",
        "description",
        "created_at",
        "cycle_count",
        "energy_level",
    ] {
        assert!(item.get(key).is_some(), "list item lacks {key}");
    }
}

#[tokio::test]
async fn process_snapshot_contract_history_and_drift() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = serve(dir.path(), clock.settings(Duration::ZERO)).await;
    let id = s
        .post(
            "/instances",
            json!({"name": "Aria", "initial_config": {"energy_level": 1.0}}),
        )
        .await
        .1["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut stress = Vec::new();
    for _ in 0..5 {
        let (status, body) = s
            .post(&format!("/instances/{id}/process"), json!({"mode_target": "STRESS_RESPONSE", "signal_strength": 0.9, "context": {"task": "build"}}))
            .await;
        assert_eq!(status, 200);
        let d = &body["data"];
        stress.push(d["snapshot"]["stress_state"].as_str().unwrap().to_string());
        assert_eq!(d["drift"], Value::Null, "warm-up has no drift");
        assert_eq!(d["contract"]["stress_state"], d["snapshot"]["stress_state"]);
        assert_eq!(
            d["contract"]["current_stress_level"],
            d["snapshot"]["stress_state"]
        );
        clock.advance(Duration::from_millis(10));
    }
    assert_eq!(stress, ["MED", "HIGH", "HIGH", "HIGH", "HIGH"]);

    let (_, snap) = s.get(&format!("/instances/{id}/snapshot")).await;
    let snap = &snap["data"];
    assert_eq!(snap["instance_id"], id);
    assert_eq!(snap["cycle"], 5);
    assert_eq!(snap["cycle_count"], 5);
    assert_eq!(snap["mode_strengths"].as_object().unwrap().len(), 7);
    assert_eq!(snap["stress_state"], "HIGH");

    let (_, c) = s.get(&format!("/instances/{id}/contract")).await;
    let c = &c["data"];
    let allowed: Vec<&str> = c["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for risky in ["execute", "challenge", "explore", "pivot"] {
        assert!(!allowed.contains(&risky));
    }
    let forbidden = c["forbidden_actions"].as_array().unwrap();
    assert!(
        forbidden.contains(&json!("emotional_manipulation"))
            && forbidden.contains(&json!("identity_override"))
    );
    for key in [
        "dominant_modes",
        "suppressed_modes",
        "decision_style",
        "recovery_profile",
        "energy_level",
        "stress_state",
    ] {
        assert!(c.get(key).is_some(), "contract lacks {key}");
    }

    let (_, h) = s
        .get(&format!("/instances/{id}/history?limit=2&offset=1"))
        .await;
    assert_eq!(
        h["pagination"],
        json!({"limit": 2, "offset": 1, "total": 5, "has_more": true})
    );
    let items = h["data"].as_array().unwrap();
    assert_eq!(
        (items[0]["cycle"].clone(), items[1]["cycle"].clone()),
        (json!(4), json!(3)),
        "newest first"
    );
    assert_eq!(items[0]["mode_target"], "stress_response");
    assert_eq!(items[0]["signal_strength"], 0.9);
    assert_eq!(items[0]["confidence"], 1.0);
    assert_eq!(items[0]["context"], json!({"task": "build"}));
    assert_eq!(items[0]["timestamp"], "2026-03-24T10:15:30.030000Z");

    // Push the personality around after warm-up until drift is logged.
    let mut drift_seen = None;
    for i in 0..120 {
        let mode = ["exploration", "assertion", "connection"][i % 3];
        let (_, body) = s
            .post(
                &format!("/instances/{id}/process"),
                json!({"mode_target": mode, "signal_strength": 1.0}),
            )
            .await;
        if let Some(level) = body["data"]["drift"]["level"].as_str() {
            assert!(["D0", "D1", "D2", "D3"].contains(&level));
            assert!(body["data"]["drift"]["deviation"].is_number());
            if level != "D0" && drift_seen.is_none() {
                drift_seen = Some(body["data"]["snapshot"]["cycle"].clone());
            }
        }
    }
    let first = drift_seen.expect("the push produced drift");
    let (_, d) = s.get(&format!("/instances/{id}/drift?limit=3")).await;
    let events = d["data"].as_array().unwrap();
    assert!(!events.is_empty() && events.len() <= 3);
    assert!(d["pagination"]["total"].as_u64().unwrap() >= events.len() as u64);
    assert!(
        events[0]["cycle"].as_u64() > events.last().unwrap()["cycle"].as_u64() || events.len() == 1
    );
    for key in [
        "cycle",
        "drift_level",
        "deviation",
        "affected_modes",
        "rolled_back",
        "timestamp",
    ] {
        assert!(events[0].get(key).is_some(), "drift event lacks {key}");
    }
    let (_, all) = s.get(&format!("/instances/{id}/drift?limit=1000")).await;
    assert_eq!(
        all["data"].as_array().unwrap().last().unwrap()["cycle"],
        first,
        "oldest last"
    );
    let (_, d1) = s
        .get(&format!("/instances/{id}/drift?type=D1&limit=1000"))
        .await;
    assert!(
        d1["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["drift_level"] == "D1")
    );
}

#[tokio::test]
async fn batch_processes_in_order_with_or_without_intermediate_states() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(
        dir.path(),
        ManualClock::new().settings(Duration::from_secs(1)),
    )
    .await;
    let id = s.post("/instances", json!({"name": "B"})).await.1["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let obs: Vec<Value> = (0..4)
        .map(|i| json!({"mode_target": "exploration", "signal_strength": 0.2 * i as f64}))
        .collect();
    let (status, body) = s
        .post(
            &format!("/instances/{id}/process/batch"),
            json!({"observations": obs}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["processed_count"], 4);
    assert_eq!(
        body["data"]["snapshot"]["cycle"], 4,
        "the interval does not apply inside a batch"
    );
    let (_, body) = s
        .post(
            &format!("/instances/{id}/process/batch"),
            json!({"observations": obs, "include_intermediate": true}),
        )
        .await;
    let states = body["data"]["states"].as_array().unwrap();
    assert_eq!(states.len(), 4);
    assert_eq!(body["data"]["processed_count"], 4);
    let cycles: Vec<u64> = states
        .iter()
        .map(|st| st["snapshot"]["cycle"].as_u64().unwrap())
        .collect();
    assert_eq!(cycles, [5, 6, 7, 8]);
    let (status, err) = s
        .post(
            &format!("/instances/{id}/process/batch"),
            json!({"observations": [obs[0], {"mode_target": "order"}]}),
        )
        .await;
    assert_eq!(
        (status, err["details"]["field"].clone()),
        (422, json!("observations[1].signal_strength"))
    );
    let (status, err) = s
        .post(
            &format!("/instances/{id}/process/batch"),
            json!({"observations": []}),
        )
        .await;
    assert_eq!(
        (status, err["details"]["field"].clone()),
        (422, json!("observations"))
    );
    assert_eq!(
        s.get(&format!("/instances/{id}")).await.1["data"]["cycle_count"],
        8
    );
}

#[tokio::test]
async fn reset_returns_to_initial_or_default_and_keeps_the_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), ManualClock::new().settings(Duration::ZERO)).await;
    let id = s
        .post("/instances", json!({"name": "R", "initial_config": {"mode_strengths": {"order": 0.6}, "energy_level": 0.5}}))
        .await
        .1["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..3 {
        s.post(
            &format!("/instances/{id}/process"),
            json!({"mode_target": "stress_response", "signal_strength": 1.0}),
        )
        .await;
    }
    let (status, body) = s
        .post(
            &format!("/instances/{id}/reset"),
            json!({"mode": "initial"}),
        )
        .await;
    assert_eq!(status, 200);
    let d = &body["data"];
    assert_eq!(
        (d["id"].clone(), d["reset_to"].clone(), d["cycle"].clone()),
        (json!(id), json!("initial"), json!(0))
    );
    assert_eq!(
        (d["energy_level"].clone(), d["stress_state"].clone()),
        (json!(0.5), json!("LOW"))
    );
    assert_eq!(d["mode_strengths"]["order"], 0.6);
    let (_, body) = s
        .post(
            &format!("/instances/{id}/reset"),
            json!({"mode": "default"}),
        )
        .await;
    assert_eq!(body["data"]["energy_level"], 0.8);
    assert_eq!(body["data"]["mode_strengths"]["order"], 0.0);
    assert_eq!(
        s.get(&format!("/instances/{id}/history")).await.1["pagination"]["total"],
        3
    );
}

#[tokio::test]
async fn the_minimum_interval_answers_with_the_unchanged_state() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = serve(dir.path(), clock.settings(Duration::from_secs(1))).await;
    let id = s.post("/instances", json!({"name": "T"})).await.1["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/instances/{id}/process");
    let obs = json!({"mode_target": "order", "signal_strength": 1.0});
    let (_, first) = s.post(&path, obs.clone()).await;
    assert_eq!(first["data"]["snapshot"]["cycle"], 1);
    clock.advance(Duration::from_millis(999));
    let (status, second) = s.post(&path, obs.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(second["data"]["throttled"], true);
    assert_eq!(
        second["data"]["snapshot"], first["data"]["snapshot"],
        "unchanged snapshot"
    );
    clock.advance(Duration::from_millis(1));
    let (_, third) = s.post(&path, obs.clone()).await;
    assert_eq!(
        (
            third["data"]["snapshot"]["cycle"].clone(),
            third["data"]["throttled"].clone()
        ),
        (json!(2), json!(false))
    );
    // A caller-supplied clock replaces the wall clock.
    let mut with_ts = obs.clone();
    with_ts["timestamp"] = json!("2026-03-25T00:00:00Z");
    assert_eq!(
        s.post(&path, with_ts.clone()).await.1["data"]["snapshot"]["cycle"],
        3
    );
    with_ts["timestamp"] = json!("2026-03-25T00:00:00.500+00:00");
    assert_eq!(
        s.post(&path, with_ts.clone()).await.1["data"]["throttled"],
        true
    );
    with_ts["timestamp"] = json!("2026-03-25T02:00:02+02:00");
    assert_eq!(
        s.post(&path, with_ts).await.1["data"]["snapshot"]["cycle"],
        4
    );
    assert_eq!(
        s.get(&format!("/instances/{id}/history")).await.1["pagination"]["total"],
        4
    );
}

#[tokio::test]
async fn personas_and_the_personality_test() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), ManualClock::new().settings(Duration::ZERO)).await;
    let (_, body) = s.get("/personas").await;
    assert_eq!(body["data"].as_array().unwrap().len(), 12);
    assert_eq!(body["pagination"]["total"], 12);
    for key in [
        "id",
        "name",
        "archetype",
        "description",
        "mode_profile",
        "core_values",
        "decision_style",
    ] {
        assert!(body["data"][0].get(key).is_some(), "persona lacks {key}");
    }
    let (_, p) = s.get("/personas/persona_analytical").await;
    assert_eq!(p["data"]["name"], "The Analyst");
    for key in ["long_description", "preferred_actions", "stress_recovery"] {
        assert!(p["data"].get(key).is_some(), "persona detail lacks {key}");
    }

    let (_, q) = s.get("/test/questions?version=v2").await;
    let questions = q["data"]["questions"].as_array().unwrap();
    assert_eq!(
        (
            q["data"]["version"].clone(),
            q["data"]["question_count"].clone()
        ),
        (json!("v2"), json!(21))
    );
    assert_eq!(questions[0]["id"], "q1");
    assert_eq!(questions[0]["options"].as_array().unwrap().len(), 4);
    assert_eq!(questions[0]["options"][2]["id"], "q1_c");
    assert_eq!(s.get("/test/questions?version=v7").await.0, 422);

    let responses: Vec<Value> = s.get("/test/questions").await.1["data"]["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            let pick = if q["mode_target"] == "exploration" || q["mode_target"] == "connection" { "d" } else { "b" };
            json!({"question_id": q["id"], "selected_option_id": format!("{}_{pick}", q["id"].as_str().unwrap())})
        })
        .collect();
    let (status, body) = s
        .post(
            "/test/submit",
            json!({"create_instance": true, "instance_name": "Tess", "responses": responses}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let d = &body["data"];
    assert_eq!(d["test_completed"], true);
    assert_eq!(d["mode_profile"]["exploration"], 0.9);
    assert_eq!(d["snapshot"]["cycle"], 1);
    assert_eq!(d["snapshot"]["stability_index"], 1.0);
    let best = d["matched_personas"][0]["id"].as_str().unwrap();
    assert!(
        ["persona_explorer", "persona_catalyst"].contains(&best),
        "{best}"
    );
    let score = d["matched_personas"][0]["match_score"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&score));
    let id = d["instance_id"].as_str().unwrap().to_string();
    assert_eq!(
        s.get(&format!("/instances/{id}")).await.1["data"]["name"],
        "Tess"
    );

    let (status, err) = s
        .post(
            "/test/submit",
            json!({"instance_id": id, "responses": responses[..3]}),
        )
        .await;
    assert_eq!(
        (status, err["error"].clone()),
        (422, json!("incomplete_test"))
    );
    assert_eq!(
        err["details"]["missing_questions"]
            .as_array()
            .unwrap()
            .len(),
        11
    );
    assert_eq!(err["details"]["missing_questions"][0], "q4");
    let (status, err) = s
        .post(
            "/test/submit",
            json!({"instance_id": id, "create_instance": true, "responses": responses}),
        )
        .await;
    assert_eq!(
        (status, err["error"].clone()),
        (422, json!("invalid_request"))
    );
    let (status, _) = s
        .post(
            "/test/submit",
            json!({"instance_id": "inst_0000000000000000", "responses": responses}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = s
        .post(
            "/test/submit",
            json!({"instance_id": id, "responses": responses}),
        )
        .await;
    assert_eq!(
        (status, body["data"]["snapshot"]["cycle"].clone()),
        (200, json!(2))
    );
}
