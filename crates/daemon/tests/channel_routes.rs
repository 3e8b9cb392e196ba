//! Channels at runtime over HTTP, against the fake Telegram and Discord: a token is checked with
//! the platform before anything is saved, a running persona is restarted so her new gateway
//! listens, and a channel is removed by the name her record shows before and after pairing.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::*;

const PERSON: i64 = 5151;

/// Waits, within a bound that only keeps a broken build from hanging, for `check` to find
/// something; a timeout fails the test.
async fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Some(v) = check() {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("{what} never happened"))
}

async fn cloud_persona(d: &Harness) -> String {
    let (status, created) = d
        .post(
            "/api/persona/create",
            json!({"name": "Iris", "thinking_model": "gpt-5.4", "thinking_provider": "openai",
                   "thinking_api_key": OPENAI_KEY}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    created["persona"]["id"].as_str().unwrap().to_string()
}

async fn delete(d: &Harness, path: &str) -> (u16, Value) {
    read(
        d.client
            .delete(format!("{}{path}", d.url))
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn config_channels(home: &std::path::Path, id: &str) -> Value {
    let bytes = std::fs::read(home.join("personas").join(id).join("home/config.json")).unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["channels"].clone()
}

#[tokio::test]
async fn a_telegram_channel_added_at_runtime_pairs_and_is_removed_by_its_chat() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = cloud_persona(&d).await;
    let path = format!("/api/persona/{id}/channels");

    let (status, body) = d
        .post(
            &path,
            json!({"kind": "telegram", "credentials": {"token": TELEGRAM_TOKEN}}),
        )
        .await;
    assert_eq!(
        (status, body),
        (200, json!({"kind": "telegram", "name": "telegram"}))
    );
    assert_eq!(
        fakes
            .telegram
            .requests()
            .to(&format!("/bot{TELEGRAM_TOKEN}/getMe"))
            .len(),
        1,
        "validated with the platform"
    );
    let persona = &d.personas().await[0];
    assert_eq!(persona["running"], true);
    assert_eq!(
        persona["channels"],
        json!([{"type": "telegram", "name": "telegram", "verified": false}])
    );

    // She was restarted with her new gateway: an unknown chat gets a pairing code.
    fakes.telegram.push_text(TELEGRAM_TOKEN, PERSON, "hello?");
    let sent = until("a pairing code", || {
        fakes.telegram.sent(TELEGRAM_TOKEN).first().cloned()
    })
    .await;
    let code = sent["text"]
        .as_str()
        .unwrap()
        .strip_prefix("Your pairing code is: ")
        .expect("a pairing message")
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let (status, paired) = d
        .post(&format!("/api/persona/{id}/pair"), json!({"code": code}))
        .await;
    assert_eq!(status, 200, "{paired}");
    assert_eq!(paired["channel"]["name"], PERSON.to_string());

    // After pairing she shows the chat as its name; that name removes it.
    assert_eq!(
        delete(&d, &format!("{path}/telegram-nope")).await,
        (404, json!({"detail": "Channel not found."}))
    );
    assert_eq!(
        delete(&d, &format!("{path}/{PERSON}")).await,
        (200, json!({"kind": "telegram", "name": PERSON.to_string()}))
    );
    let persona = &d.personas().await[0];
    assert_eq!(persona["channels"], json!([]));
    assert_eq!(persona["running"], true, "restarted, still running");
    assert_eq!(config_channels(home.path(), &id), json!([]));
    d.shutdown().await;
}

#[tokio::test]
async fn a_discord_channel_is_removed_before_pairing_by_its_stable_name() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = cloud_persona(&d).await;
    let path = format!("/api/persona/{id}/channels");
    // A stopped persona gets the channel saved and stays stopped.
    d.post_empty(&format!("/api/persona/{id}/stop")).await;
    let (status, body) = d
        .post(
            &path,
            json!({"kind": "Discord", "credentials": {"token": DISCORD_TOKEN}}),
        )
        .await;
    assert_eq!(
        (status, body),
        (200, json!({"kind": "discord", "name": "discord"}))
    );
    assert_eq!(fakes.discord.requests().to("/users/@me").len(), 1);
    assert_eq!(d.personas().await[0]["running"], false);
    assert_eq!(config_channels(home.path(), &id)[0]["name"], "discord");

    let (status, body) = d
        .post(
            &path,
            json!({"kind": "discord", "credentials": {"token": DISCORD_TOKEN}}),
        )
        .await;
    assert_eq!(status, 400, "one channel per kind: {body}");
    assert_eq!(
        delete(&d, &format!("{path}/discord")).await,
        (200, json!({"kind": "discord", "name": "discord"}))
    );
    assert_eq!(config_channels(home.path(), &id), json!([]));
    assert_eq!(
        delete(&d, &format!("{path}/discord")).await,
        (404, json!({"detail": "Channel not found."}))
    );
    d.shutdown().await;
}

#[tokio::test]
async fn bad_requests_save_nothing() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = cloud_persona(&d).await;
    let path = format!("/api/persona/{id}/channels");
    let before = snapshot(home.path());

    let (status, body) = d
        .post(
            &path,
            json!({"kind": "telegram", "credentials": {"token": "999:not-a-known-token"}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("Telegram validation failed: "),
        "{detail}"
    );
    assert!(!detail.contains("not-a-known-token"), "no token in errors");
    let (status, body) = d
        .post(
            &path,
            json!({"kind": "discord", "credentials": {"token": "wrong"}}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("Discord validation failed: "),
        "{body}"
    );
    let (status, body) = d
        .post(
            &path,
            json!({"kind": "carrier-pigeon", "credentials": {"token": "x"}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = d
        .post(&path, json!({"kind": "telegram", "credentials": {}}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["detail"][0]["loc"],
        json!(["body", "credentials", "token"])
    );
    assert_eq!(
        snapshot(home.path())
            .into_iter()
            .filter(|(p, _)| p.ends_with("config.json"))
            .collect::<Vec<_>>(),
        before
            .into_iter()
            .filter(|(p, _)| p.ends_with("config.json"))
            .collect::<Vec<_>>(),
        "her record is untouched"
    );

    let unknown = "6c17c83c-3158-450d-8e43-0e7efea717c1";
    let missing = json!({"detail": "Persona not found."});
    assert_eq!(
        d.post(
            &format!("/api/persona/{unknown}/channels"),
            json!({"kind": "telegram", "credentials": {"token": TELEGRAM_TOKEN}})
        )
        .await,
        (404, missing.clone())
    );
    assert_eq!(
        delete(&d, &format!("/api/persona/{unknown}/channels/telegram")).await,
        (404, missing)
    );
    d.shutdown().await;
}
