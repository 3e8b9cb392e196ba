//! The dashboard screens added after the first round: Telegram pairing from Settings, the
//! download bar, STOP, the keyboard path through onboarding, and the stress and energy chart
//! (with the regulation route it reads).

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use testkit::{ScriptedReply, responder};

use crate::browser::*;
use crate::support::*;

const REPLY: &str = "I am here.";
const PERSON: i64 = 4242;

async fn create_cloud(d: &Harness) -> String {
    let (status, created) = d
        .post(
            "/api/persona/create",
            json!({"name": "Iris", "thinking_model": "gpt-5.4", "thinking_provider": "openai", "thinking_api_key": OPENAI_KEY}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    created["persona"]["id"].as_str().unwrap().to_string()
}

/// Polls `check` until it gives something; the bound only keeps a broken build from hanging CI.
async fn until<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..400 {
        if let Some(found) = check().await {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what} never happened");
}

#[tokio::test]
async fn a_telegram_channel_is_added_and_paired_with_the_code_her_bot_sent() {
    let Some(b) = browser().await else { return };
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = create_cloud(&d).await;

    b.goto(&format!("{}/persona/{id}/settings/channels", d.url))
        .await;
    b.until(
        "the add form",
        "return document.querySelector('select[name=kind]')",
    )
    .await;
    b.set("select[name=kind]", "telegram").await;
    b.set("input[name='credentials.token']", TELEGRAM_TOKEN)
        .await;
    b.click("form.card button[type=submit]").await;
    b.until(
        "the channel waiting",
        "return document.querySelector('ul.channels .badge.wait')",
    )
    .await;
    let page = b.run("return document.body.innerText", json!([])).await;
    assert!(
        !page.as_str().unwrap().contains(TELEGRAM_TOKEN),
        "no token shown"
    );
    b.shot("settings-channels-waiting").await;

    // The person writes to her bot; it answers with a pairing code, which goes in the form.
    fakes.telegram.push_text(TELEGRAM_TOKEN, PERSON, "hello?");
    let code = until("the pairing code", async || {
        let sent = fakes.telegram.sent(TELEGRAM_TOKEN);
        let text = sent.first()?["text"].as_str()?.to_string();
        Some(
            text.strip_prefix("Your pairing code is: ")?
                .split_whitespace()
                .next()?
                .to_string(),
        )
    })
    .await;
    b.set("input[name=code]", &code).await;
    b.run(
        "[...document.querySelectorAll('form.card button[type=submit]')].find(x => x.textContent === 'Pair').click()",
        json!([]),
    )
    .await;
    b.until(
        "the channel paired",
        "return document.querySelector('ul.channels .badge.ok')?.textContent === 'paired'",
    )
    .await;
    b.shot("settings-channels-paired").await;
    assert_eq!(d.personas().await[0]["channels"][0]["verified"], true);
    let errors = b.console_errors(&[]).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.quit().await;
    d.shutdown().await;
}

#[tokio::test]
async fn a_model_download_shows_its_bytes_and_percent() {
    let Some(b) = browser().await else { return };
    let fakes = Fakes::start().await;
    fakes.ollama.publish("qwen3:0.6b");
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;

    b.goto(&format!("{}/onboarding/create", d.url)).await;
    b.until(
        "the create form",
        "return document.querySelector('input[name=thinking_model]')",
    )
    .await;
    // Every figure the bar shows, kept as it changes.
    b.run(
        "window.figures = []; new MutationObserver(() => document.querySelectorAll('#pulls .pull')
           .forEach(p => window.figures.push(p.querySelector('.pull-figure').textContent + '|' + p.querySelector('progress').value)))
           .observe(document.getElementById('pulls'), {subtree: true, childList: true, characterData: true});",
        json!([]),
    )
    .await;
    b.set("input[name=thinking_model]", "qwen3:0.6b").await;
    b.click(".pullrow button").await;
    b.until(
        "the download done",
        "return window.figures.some(f => f.startsWith('ready') || f.startsWith('failed'))",
    )
    .await;
    b.shot("model-download").await;
    let figures = b.run("return window.figures", json!([])).await;
    assert!(
        figures.as_array().unwrap().iter().any(|f| f == "ready|100"),
        "the bar ends full and says ready: {figures}"
    );
    assert!(
        figures
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f.as_str().unwrap_or("").contains("MB of 4.0 MB (")),
        "bytes and percent were shown: {figures}"
    );
    assert!(fakes.ollama.installed().contains(&"qwen3:0.6b".to_string()));
    let errors = b.console_errors(&[]).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.quit().await;
    d.shutdown().await;
}

/// Her Mind is held until the test lets it go, so STOP meets a beat that is surely running.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stop_cancels_the_beat_she_is_in() {
    let Some(b) = browser().await else { return };
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = create_cloud(&d).await;
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let held = gate.clone();
    fakes.openai.set_responder(responder(move |_| {
        let (open, opened) = &*held;
        let mut open = open.lock().unwrap();
        while !*open {
            open = opened.wait(open).unwrap();
        }
        ScriptedReply::text(REPLY)
    }));
    // Opens the gate when dropped too, so a failing assertion ends the test instead of leaving
    // the fake's held request blocking the runtime's shutdown forever.
    struct Release(Arc<(Mutex<bool>, Condvar)>);
    impl Drop for Release {
        fn drop(&mut self) {
            *self.0.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
            self.0.1.notify_all();
        }
    }
    let release = Release(gate.clone());

    b.goto(&format!("{}/persona/{id}/chat", d.url)).await;
    b.until(
        "the composer",
        "return document.querySelector('.composer textarea')",
    )
    .await;
    b.set(".composer textarea", "Think about the sea for a while.")
        .await;
    b.click(".composer button[type=submit]").await;
    b.until(
        "the thinking sign and STOP",
        "return !document.querySelector('.thinking').hidden && !document.querySelector('button.stop').hidden",
    )
    .await;
    b.shot("chat-thinking").await;
    b.click("button.stop").await;
    b.until(
        "STOP said it stopped her",
        "return [...document.querySelectorAll('.toast')].some(t => t.textContent === 'Stopped her current thought.')",
    )
    .await;
    let shown = b
        .run(
            "return getComputedStyle(document.querySelector('.thinking')).display",
            json!([]),
        )
        .await;
    assert_eq!(
        shown,
        json!("none"),
        "the thinking sign is gone from the screen"
    );
    let hint = b
        .run("return document.querySelector('.empty-chat')", json!([]))
        .await;
    assert_eq!(
        hint,
        json!(null),
        "'Say hello' goes with her person's first message"
    );
    b.shot("chat-stopped").await;
    drop(release);
    let (status, body) = d.post_empty(&format!("/api/persona/{id}/interrupt")).await;
    assert_eq!((status, body), (200, json!({"interrupted": false})));
    let errors = b.console_errors(&[]).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.quit().await;
    d.shutdown().await;
}

/// What the focused element is, in words a failure message can show.
const FOCUSED: &str = "const e = document.activeElement; const s = getComputedStyle(e);
  const what = e.type === 'radio' ? 'radio:' + e.value : e.name ? 'input:' + e.name : e.tagName.toLowerCase() + ':' + e.textContent.trim().slice(0, 20);
  return [what, s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2];";

#[tokio::test]
async fn onboarding_can_be_walked_with_the_keyboard_alone() {
    let Some(b) = browser().await else { return };
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;

    b.goto(&format!("{}/onboarding/create", d.url)).await;
    b.until(
        "the name field focused",
        "return document.activeElement?.name === 'name'",
    )
    .await;
    let order = [
        "input:name",
        "radio:local",
        "input:thinking_model",
        "input:thinking_url",
        "button:Download this model",
        "summary:More organs (optiona",
        "summary:Channels (optional):",
        "button:Bring her to life",
    ];
    for (i, expected) in order.iter().enumerate() {
        if i > 0 {
            b.key("\u{E004}").await;
        }
        let focused = b.run(FOCUSED, json!([])).await;
        assert_eq!(focused[0], *expected, "Tab {i} lands on {expected}");
        assert_eq!(focused[1], true, "{expected} shows its focus");
        if i == 2 {
            b.shot("onboarding-keyboard-focus").await;
        }
    }
    let errors = b.console_errors(&[]).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.quit().await;
    d.shutdown().await;
}

/// Her regulation comes from her identity instance: after she lived a beat and was stopped, the
/// route still shows her contract and the stress and energy of her last cycles, and the Status
/// screen draws them as a chart marked as her last known state.
#[tokio::test]
async fn her_stress_and_energy_chart_shows_her_last_known_state_while_she_is_stopped() {
    let fakes = Fakes::start().await;
    fakes
        .openai
        .set_responder(responder(|_| ScriptedReply::text(REPLY)));
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = create_cloud(&d).await;
    let regulation = format!("/api/persona/{id}/regulation");

    let (status, fresh) = d.get(&regulation).await;
    assert_eq!(status, 200, "{fresh}");
    assert!(fresh["instance"].as_str().unwrap().starts_with("inst_"));
    assert_eq!(fresh["cycles"], json!([]), "no cycle before she lived one");

    let (status, _) = d
        .post(
            &format!("/api/persona/{id}/read"),
            json!({"message": "Hello!"}),
        )
        .await;
    assert_eq!(status, 200);
    until("her reply", async || {
        let (_, c) = d.get(&format!("/api/persona/{id}/conversation")).await;
        c["messages"]
            .as_array()?
            .iter()
            .any(|m| m["role"] == "assistant")
            .then_some(())
    })
    .await;
    let (status, body) = d.post_empty(&format!("/api/persona/{id}/stop")).await;
    assert_eq!(status, 200, "{body}");

    let (status, view) = d.get(&format!("{regulation}?last=3")).await;
    assert_eq!(status, 200, "{view}");
    let cycles = view["cycles"].as_array().unwrap();
    assert!(!cycles.is_empty() && cycles.len() <= 3, "{view}");
    let first: &Value = &cycles[0];
    for key in ["stress", "energy"] {
        let v = first[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{key} in 0..1: {view}");
    }
    assert!(
        first["level"].is_string() && first["at"].is_string(),
        "{view}"
    );
    assert!(
        view["now"]["stress"].is_string(),
        "her contract while stopped: {view}"
    );
    assert_eq!(view["instance"], fresh["instance"]);

    assert_eq!(d.get(&format!("{regulation}?last=0")).await.0, 400);
    let nobody = "/api/persona/0b9e3c1a-1111-4222-8333-444455556666/regulation";
    assert_eq!(d.get(nobody).await.0, 404);

    if let Some(b) = browser().await {
        b.goto(&format!("{}/persona/{id}/status", d.url)).await;
        b.until(
            "the chart",
            "return document.querySelector('svg.regulation-chart circle.stress')",
        )
        .await;
        let text = b
            .run(
                "return document.querySelector('.regulation').innerText",
                json!([]),
            )
            .await;
        assert!(
            text.as_str().unwrap().contains("last known state"),
            "{text}"
        );
        b.run(
            "document.querySelector('svg.regulation-chart').scrollIntoView({block: 'center'})",
            json!([]),
        )
        .await;
        b.shot("status-regulation").await;
        let errors = b.console_errors(&[]).await;
        assert!(errors.is_empty(), "console errors: {errors:?}");
        b.quit().await;
    }
    d.shutdown().await;
}

/// Her Mind's answer is held after its first piece: the chat already shows her first words as
/// a draft; once released, the draft gives way to the reply she said, shown once.
#[tokio::test]
async fn her_reply_is_drafted_in_the_chat_as_her_mind_writes_it() {
    let Some(b) = browser().await else { return };
    let fakes = Fakes::start().await;
    let words = "Hello there, I am drafting this reply for you.";
    fakes.openai.set_responder(responder(move |_| {
        ScriptedReply::Json(json!({"say": words}))
    }));
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = create_cloud(&d).await;
    let gate = fakes
        .openai
        .hold_next_stream(|body| body["response_format"]["json_schema"]["name"] == "recognizing");

    b.goto(&format!("{}/persona/{id}", d.url)).await;
    b.until(
        "the composer",
        "return document.querySelector('.composer textarea')",
    )
    .await;
    b.set(".composer textarea", "Hello?").await;
    b.click(".composer button[type=submit]").await;
    let drafted = b
        .until(
            "her first words as a draft",
            "return document.querySelector('.msg.hers.draft')?.textContent",
        )
        .await;
    let drafted = drafted.as_str().unwrap().to_string();
    assert!(
        !drafted.is_empty() && words.starts_with(drafted.trim()) && drafted.trim() != words,
        "{drafted:?}"
    );
    gate.release();
    b.until(
        "her reply in place of the draft",
        &format!(
            "return !document.querySelector('.msg.draft') && [...document.querySelectorAll('.msg.hers')].filter(m => m.textContent.includes({words:?})).length === 1"
        ),
    )
    .await;
    d.shutdown().await;
}
