//! The dashboard in a real headless Chromium, driven over the WebDriver protocol (a small
//! client on reqwest, `dashboard/browser.rs`), against the real daemon on an ephemeral port with the testkit
//! fakes. Skips with a printed reason when chromedriver is absent, unless
//! ETERNEGO_REQUIRE_BROWSER=1. Screenshots land in target/dashboard-screenshots/.

#[path = "dashboard/browser.rs"]
mod browser;
#[path = "dashboard/more.rs"]
mod more;
mod support;

use base64::Engine;
use browser::*;
use serde_json::json;
use support::*;
use testkit::{ScriptedReply, responder};

const REPLY: &str = "Hello! It is **lovely** to meet you.";

#[tokio::test]
async fn create_a_persona_confirm_her_phrase_and_talk_with_her_live() {
    let Some(b) = browser().await else { return };
    let fakes = Fakes::start().await;
    fakes
        .openai
        .set_responder(responder(|_| ScriptedReply::text(REPLY)));
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;

    // No personas: the choice between creating and restoring.
    b.goto(&format!("{}/", d.url)).await;
    b.until("the welcome", "return document.querySelector('.choices')")
        .await;
    b.shot("onboarding-choice").await;
    b.click("a.choice[href='/onboarding/create']").await;
    b.until(
        "the create form",
        "return document.querySelector('input[name=name]')",
    )
    .await;

    // A 422 lands next to the field: the name left empty.
    b.click("button[type=submit]").await;
    let msg = b
        .until(
            "a field message",
            "return document.querySelector('[data-field=name] .error').textContent",
        )
        .await;
    assert!(
        msg.as_str().is_some_and(|m| !m.contains("[object")),
        "{msg}"
    );

    b.set("input[name=name]", "Iris").await;
    b.click("input[type=radio][value=openai]").await;
    b.set("input[name=thinking_model]", "gpt-5.4").await;
    b.set("input[name=thinking_api_key]", OPENAI_KEY).await;
    b.shot("onboarding-create").await;
    b.click("button[type=submit]").await;
    let words = b
        .until(
            "the phrase",
            "return document.querySelectorAll('.phrase li').length",
        )
        .await;
    assert_eq!(words, json!(24));
    let page = b.run("return document.body.innerText", json!([])).await;
    assert!(!page.as_str().unwrap().contains(OPENAI_KEY));
    b.shot("recovery-phrase").await;
    let disabled = b
        .run(
            "return document.querySelector('.phrase-card .actions:last-child button').disabled",
            json!([]),
        )
        .await;
    assert_eq!(
        disabled,
        json!(true),
        "she cannot open before the confirmation"
    );
    b.click("#written").await;
    b.click(".phrase-card .actions:last-child button").await;

    // Chat: her reply arrives live, rendered as Markdown.
    b.until(
        "the composer",
        "return document.querySelector('.composer textarea')",
    )
    .await;
    b.set(".composer textarea", "Hello, are you there?").await;
    b.click(".composer button[type=submit]").await;
    b.until(
        "her reply",
        "return document.querySelector('.msg.hers strong')?.textContent === 'lovely'",
    )
    .await;
    b.until(
        "the thinking sign to go",
        "return document.querySelector('.thinking').hidden && getComputedStyle(document.querySelector('.thinking')).display === 'none'",
    )
    .await;
    b.shot("chat").await;
    b.call(
        reqwest::Method::POST,
        "/window/rect",
        Some(json!({"width": 390, "height": 844})),
    )
    .await;
    b.shot("chat-390px").await;
    b.call(
        reqwest::Method::POST,
        "/window/rect",
        Some(json!({"width": 1280, "height": 900})),
    )
    .await;

    // It survives a reload (from her conversation).
    b.run("location.reload()", json!([])).await;
    b.until(
        "her reply after reload",
        "return document.querySelectorAll('.msg.hers').length >= 1 && document.querySelectorAll('.msg.mine').length >= 1",
    )
    .await;

    let id = d.personas().await[0]["id"].as_str().unwrap().to_string();

    // Re-saving her Mind without retyping the key keeps the key; giving her an Eye lights its
    // chip on the organ strip.
    b.goto(&format!("{}/persona/{id}/settings/organs", d.url))
        .await;
    b.until(
        "the organ cards",
        "return document.querySelector('#organ-eye')",
    )
    .await;
    b.click("#organ-thinking button[type=submit]").await;
    b.until("the Mind saved", "return [...document.querySelectorAll('.toast')].some(t => t.textContent === 'Mind saved.')").await;
    b.until(
        "the organ cards again",
        "return document.querySelector('#organ-eye input[value=openai]')",
    )
    .await;
    b.click("#organ-eye input[value=openai]").await;
    b.set("input[name='eye.model']", "gpt-4o").await;
    b.set("input[name='eye.api_key']", OPENAI_KEY).await;
    b.click("#organ-eye button[type=submit]").await;
    b.until(
        "the Eye saved",
        "return [...document.querySelectorAll('.toast')].some(t => t.textContent === 'Eye saved.')",
    )
    .await;
    b.goto(&format!("{}/persona/{id}/chat", d.url)).await;
    b.until(
        "the Eye chip set",
        "return document.querySelector('.chip.set[data-organ=eye]')",
    )
    .await;

    // Attach an image through the file input.
    b.run(
        "const png = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='), c => c.charCodeAt(0));
         const t = new DataTransfer(); t.items.add(new File([png], 'dot.png', {type: 'image/png'}));
         const i = document.getElementById('attach-file'); i.files = t.files; i.dispatchEvent(new Event('change'));",
        json!([]),
    )
    .await;
    b.until("the attachment sent", "return [...document.querySelectorAll('.msg.mine')].some(m => m.textContent.includes('dot.png'))").await;
    assert!(
        snapshot(&d.home)
            .iter()
            .any(|(path, _)| path.ends_with("dot.png")),
        "the image reached her media folder"
    );

    // The other screens draw.
    for screen in [
        "calendar",
        "memory",
        "instructions",
        "status",
        "settings/organs",
        "settings/lifecycle",
        "settings/danger",
    ] {
        b.goto(&format!("{}/persona/{id}/{screen}", d.url)).await;
        b.until(screen, "return document.querySelector('.view h1')")
            .await;
        b.shot(&screen.replace('/', "-")).await;
    }

    // Hibernate and wake from Lifecycle; the sidebar dot follows.
    b.goto(&format!("{}/persona/{id}/settings/lifecycle", d.url))
        .await;
    b.until(
        "lifecycle",
        "return document.querySelector('.actions-list')",
    )
    .await;
    b.run("[...document.querySelectorAll('.actions-list button')].find(x=>x.textContent==='Hibernate').click()", json!([])).await;
    b.until(
        "the hibernating dot",
        "return document.querySelector('.dot.hibernating')",
    )
    .await;
    b.run("[...document.querySelectorAll('.actions-list button')].find(x=>x.textContent==='Wake').click()", json!([])).await;
    b.until(
        "the awake dot",
        "return document.querySelector('.dot.awake')",
    )
    .await;

    // Delete after typing her name.
    b.goto(&format!("{}/persona/{id}/settings/danger", d.url))
        .await;
    b.until(
        "danger",
        "return document.querySelector('input[name=confirm]')",
    )
    .await;
    b.set("input[name=confirm]", "Iris").await;
    b.click(".danger-card button[type=submit]").await;
    b.until(
        "the welcome again",
        "return document.querySelector('.choices')",
    )
    .await;
    assert!(d.personas().await.is_empty());

    let errors = b.console_errors(&["422", "Unprocessable"]).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.quit().await;
    d.shutdown().await;
}

#[tokio::test]
async fn deep_links_serve_the_app_and_unknown_api_paths_stay_json() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let page = d
        .client
        .get(format!(
            "{}/persona/0b9e3c1a-1111-4222-8333-444455556666/settings/organs",
            d.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    assert!(page.text().await.unwrap().contains("/assets/app.js"));
    let (status, body) = d.get("/api/nothing").await;
    assert_eq!((status, body), (404, json!({"detail": "Not Found"})));
    let (status, _) = d.get("/ws/a/b/c").await;
    assert_eq!(status, 404);
    let js = d
        .client
        .get(format!("{}/assets/app.js", d.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    d.shutdown().await;
}

fn reference_diary() -> (String, Vec<u8>, String) {
    let dir = match std::env::var_os("ETERNEGO_SHARED") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
    .join("fixtures/reference-diary");
    let diary = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "diary"))
        .expect("the reference diary");
    let name = diary.file_name().unwrap().to_string_lossy().to_string();
    let phrase = std::fs::read_to_string(dir.join("phrase.txt"))
        .unwrap()
        .trim()
        .to_string();
    (name, std::fs::read(diary).unwrap(), phrase)
}

#[tokio::test]
async fn restore_her_from_a_diary_dropped_or_chosen() {
    let Some(b) = browser().await else { return };
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let (name, bytes, phrase) = reference_diary();
    let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let make_file = "const b = Uint8Array.from(atob(arguments[0]), c => c.charCodeAt(0)); const t = new DataTransfer(); t.items.add(new File([b], arguments[1])); ";

    b.goto(&format!("{}/onboarding/migrate", d.url)).await;
    b.until(
        "the drop zone",
        "return document.querySelector('.dropzone')",
    )
    .await;
    // A synthetic drop event on the drop zone picks the file.
    b.run(
        &format!("{make_file} document.querySelector('.dropzone').dispatchEvent(new DragEvent('drop', {{dataTransfer: t, bubbles: true, cancelable: true}}));"),
        json!([data, name]),
    )
    .await;
    b.until(
        "the dropped file named",
        "return document.querySelector('.picked').textContent.includes('.diary')",
    )
    .await;
    // The file input picks it too (the path a keyboard takes).
    b.run(
        &format!("{make_file} const i = document.getElementById('diary-file'); i.files = t.files; i.dispatchEvent(new Event('change'));"),
        json!([data, name]),
    )
    .await;
    b.set("textarea[name=phrase]", &phrase).await;
    b.set("input[name=model]", "llama3.2:1b").await;
    b.shot("restore").await;
    b.click("form button[type=submit]").await;
    b.until(
        "her chat after the restore",
        "return document.querySelector('.composer')",
    )
    .await;
    assert_eq!(d.personas().await.len(), 1);
    let errors = b.console_errors(&[]).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.quit().await;
    d.shutdown().await;
}

/// The dashboard never shows a stored key, so re-saving a cloud organ without one must keep it
/// — but only for the same provider and URL: a key is never sent somewhere it was not given for.
#[tokio::test]
async fn an_organ_re_saved_without_its_key_keeps_it_only_for_the_same_provider_and_url() {
    let fakes = Fakes::start().await;
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
    let path = format!("/api/persona/{id}/update");

    let (status, body) = d
        .post(
            &path,
            json!({"thinking": {"model": "gpt-4o", "provider": "openai"}}),
        )
        .await;
    assert_eq!(status, 200, "same provider and URL keeps the key: {body}");
    assert_eq!(d.personas().await[0]["thinking"]["name"], "gpt-4o");

    let (status, body) = d
        .post(
            &path,
            json!({"thinking": {"model": "gpt-4o", "provider": "openai", "url": fakes.xai.url()}}),
        )
        .await;
    assert_eq!(status, 400, "another URL needs its own key: {body}");
    let (status, body) = d
        .post(
            &path,
            json!({"thinking": {"model": "grok-4", "provider": "xai"}}),
        )
        .await;
    assert_eq!(status, 400, "another provider needs its own key: {body}");
    d.shutdown().await;
}
