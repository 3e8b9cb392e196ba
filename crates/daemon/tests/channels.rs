//! Pairing a Telegram chat over HTTP: a running persona with a Telegram channel polls the fake
//! Telegram, answers an unknown chat with a code, and `POST .../pair` binds that chat, saves it,
//! and routes its next message to her Mind and her reply back to the chat.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::*;
use testkit::telegram::FakeTelegram;
use testkit::{ScriptedReply, responder};

const PERSON: i64 = 4242;
const REPLY: &str = "Good to hear from you on Telegram.";

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

async fn nth_sent(telegram: &FakeTelegram, n: usize) -> Value {
    until(&format!("message {n} from the bot"), || {
        telegram.sent(TELEGRAM_TOKEN).get(n).cloned()
    })
    .await
}

fn code_in(message: &Value) -> String {
    let text = message["text"].as_str().unwrap();
    text.strip_prefix("Your pairing code is: ")
        .expect("a pairing message")
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_telegram_chat_is_paired_over_http_and_then_talks_to_her() {
    let fakes = Fakes::start().await;
    fakes
        .openai
        .set_responder(responder(|_| ScriptedReply::text(REPLY)));
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let (status, created) = d
        .post(
            "/api/persona/create",
            json!({"name": "Iris", "thinking_model": "gpt-5.4", "thinking_provider": "openai", "thinking_api_key": OPENAI_KEY,
                   "telegram_token": TELEGRAM_TOKEN}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["persona"]["id"].as_str().unwrap().to_string();

    fakes.telegram.push_text(TELEGRAM_TOKEN, PERSON, "/start");
    fakes.telegram.push_text(TELEGRAM_TOKEN, PERSON, "hello?");
    let first = code_in(&nth_sent(&fakes.telegram, 0).await);
    let second = code_in(&nth_sent(&fakes.telegram, 1).await);
    assert_eq!(
        nth_sent(&fakes.telegram, 0).await["chat_id"]
            .to_string()
            .trim_matches('"'),
        PERSON.to_string()
    );
    assert!(
        fakes
            .openai
            .requests()
            .to("/v1/chat/completions")
            .is_empty(),
        "nothing from an unpaired chat reaches her mind"
    );

    let pair = format!("/api/persona/{id}/pair");
    let invalid = json!({"detail": "Pairing code is invalid or has expired."});
    assert_eq!(
        d.post(&pair, json!({"code": "ZZZZZZ"})).await,
        (400, invalid.clone())
    );
    let (status, paired) = d.post(&pair, json!({"code": first.to_lowercase()})).await;
    assert_eq!(status, 200, "{paired}");
    assert_eq!(paired["channel"]["type"], "telegram");
    assert_eq!(paired["channel"]["name"], PERSON.to_string());
    assert!(paired["channel"]["verified_at"].is_string());
    assert_eq!(
        paired["persona"]["channels"][0],
        json!({"type": "telegram", "name": PERSON.to_string(), "verified": true})
    );
    assert!(
        !paired.to_string().contains(TELEGRAM_TOKEN),
        "the bot token never appears in a view"
    );
    assert_eq!(
        d.post(&pair, json!({"code": first})).await,
        (400, invalid),
        "a code works once"
    );
    assert_eq!(
        d.post(&pair, json!({"code": second})).await,
        (400, json!({"detail": "This channel is already verified."}))
    );

    let config: Value = serde_json::from_slice(
        &std::fs::read(
            home.path()
                .join("personas")
                .join(&id)
                .join("home/config.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(config["channels"][0]["name"], PERSON.to_string());
    assert!(config["channels"][0]["verified_at"].is_string());

    fakes
        .telegram
        .push_text(TELEGRAM_TOKEN, PERSON, "How are you today?");
    let reply = nth_sent(&fakes.telegram, 2).await;
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .contains("Good to hear from you"),
        "{reply}"
    );
    let (status, conversation) = d.get(&format!("/api/persona/{id}/conversation")).await;
    assert_eq!(status, 200);
    let via = json!({"type": "telegram", "name": PERSON.to_string()});
    let messages = conversation["messages"].as_array().unwrap();
    assert!(
        messages.iter().any(|m| m["role"] == "person"
            && m["content"] == "How are you today?"
            && m["channel"] == via),
        "{conversation}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m["role"] == "assistant" && m["channel"] == via),
        "{conversation}"
    );
    assert!(
        messages.iter().all(|m| m["content"] != "hello?"),
        "{conversation}"
    );

    d.post_empty(&format!("/api/persona/{id}/stop")).await;
    assert_eq!(
        d.post(&pair, json!({"code": "ABCDEF"})).await,
        (409, json!({"detail": "Persona is not active."}))
    );
    d.shutdown().await;
}
