//! Migrate and export over HTTP: her diary from the original restores byte for byte, ours
//! round-trips, and every bad upload is refused with ETERNEGO_HOME left exactly as it was.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::*;

const FIXTURE_ID: &str = "23733333-b081-4b50-8b41-f3cd301a42d4";
const WRONG_PHRASE: &str = "abandon ability able about above absent absorb abstract absurd abuse access accident account accuse achieve acid acoustic acquire across act action actor actress actual";
const UNREADABLE: &str =
    "Could not restore from diary. Please check the file path and recovery phrase.";

fn shared() -> PathBuf {
    match std::env::var_os("ETERNEGO_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
}

fn fixture(name: &str) -> PathBuf {
    shared().join("fixtures/reference-diary").join(name)
}

fn fixture_phrase() -> String {
    std::fs::read_to_string(fixture("phrase.txt"))
        .unwrap()
        .trim()
        .to_string()
}

fn fixture_diary() -> Vec<u8> {
    std::fs::read(fixture(&format!("{FIXTURE_ID}.diary"))).unwrap()
}

/// A migrate form with a cloud Mind on the fake OpenAI.
fn form(file_name: &str, diary: Vec<u8>, phrase: &str) -> Form {
    Form::new()
        .part("diary", Part::bytes(diary).file_name(file_name.to_string()))
        .text("phrase", phrase.to_string())
        .text("model", "gpt-5.4")
        .text("provider", "openai")
        .text("api_key", OPENAI_KEY)
}

async fn migrate(d: &Harness, form: Form) -> (u16, Value) {
    let r = d
        .client
        .post(format!("{}/api/persona/migrate", d.url))
        .multipart(form)
        .send()
        .await
        .unwrap();
    read(r).await
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Encrypts arbitrary bytes as a diary of `id`, independently of the persona crate.
fn encrypt_as_diary(plain: &[u8], id: &str, phrase: &str) -> Vec<u8> {
    let mut raw = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(phrase.as_bytes(), id.as_bytes(), 480_000, &mut raw);
    let key = base64::engine::general_purpose::URL_SAFE.encode(raw);
    fernet::Fernet::new(&key)
        .unwrap()
        .encrypt(plain)
        .into_bytes()
}

#[tokio::test]
async fn the_original_diary_migrates_and_every_file_comes_back() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let form = form(
        &format!("{FIXTURE_ID}.diary"),
        fixture_diary(),
        &fixture_phrase(),
    )
    .text("eye_model", "gpt-4o")
    .text("eye_provider", "openai")
    .text("eye_api_key", OPENAI_KEY);
    let (status, body) = migrate(&d, form).await;
    assert_eq!(status, 200, "{body}");
    let persona = &body["persona"];
    assert_eq!(persona["id"], FIXTURE_ID);
    assert_eq!(persona["name"], "Vega");
    assert_eq!(persona["thinking"]["name"], "gpt-5.4");
    assert_eq!(persona["thinking"]["api_key"], OPENAI_KEY);
    assert_eq!(
        persona["eye"]["name"], "gpt-4o",
        "the declared eye replaces her old `vision`"
    );
    assert_eq!(
        persona["teacher"],
        Value::Null,
        "her old `frontier` was not declared here, so she wakes without it"
    );
    assert_eq!(persona["status"], "active");

    let her_home = home.path().join("personas").join(FIXTURE_ID).join("home");
    let manifest = std::fs::read_to_string(fixture("home.sha256")).unwrap();
    for line in manifest.lines().filter(|l| !l.trim().is_empty()) {
        let (hash, rel) = line.split_once("  ").unwrap();
        if rel == "config.json" {
            continue; // rewritten by migration: new organs, no key in plain text
        }
        let bytes =
            std::fs::read(her_home.join(rel)).unwrap_or_else(|e| panic!("{rel} not restored: {e}"));
        assert_eq!(hex(&Sha256::digest(&bytes)), hash, "{rel} differs");
    }
    let config = std::fs::read_to_string(her_home.join("config.json")).unwrap();
    assert!(
        !config.contains("sk-"),
        "the rewritten record holds no key: {config}"
    );
    assert!(!config.contains("\"vision\"") && !config.contains("\"frontier\""));

    assert!(
        home.path()
            .join("diary")
            .join(FIXTURE_ID)
            .join(format!("{FIXTURE_ID}.diary"))
            .is_file(),
        "a fresh diary"
    );
    let listed = d.personas().await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["running"], true);
    let entries: Vec<_> = std::fs::read_dir(home.path().join("personas"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        entries,
        vec![std::ffi::OsString::from(FIXTURE_ID)],
        "no staging left behind"
    );
    d.shutdown().await;
}

#[tokio::test]
async fn create_sleep_export_delete_migrate_round_trips_her_files() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let (status, created) = d
        .post(
            "/api/persona/create",
            json!({"name": "Iris", "thinking_model": "gpt-5.4", "thinking_provider": "openai", "thinking_api_key": OPENAI_KEY}),
        )
        .await;
    assert_eq!(status, 200);
    let id = created["persona"]["id"].as_str().unwrap().to_string();
    let phrase = created["recovery_phrase"].as_str().unwrap().to_string();
    let her_home = home.path().join("personas").join(&id).join("home");
    std::fs::write(
        her_home.join("person.md"),
        "# My person\n\nLoves the sea.\n",
    )
    .unwrap();
    std::fs::create_dir_all(her_home.join("history")).unwrap();
    std::fs::write(
        her_home.join("history/conversation-2026-11-22.md"),
        "[10:00] person: hello\n",
    )
    .unwrap();
    assert_eq!(
        d.post_empty(&format!("/api/persona/{id}/sleep")).await,
        (200, Value::Null)
    );

    let exported = d
        .client
        .get(format!("{}/api/persona/{id}/export", d.url))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        d.post_empty(&format!("/api/persona/{id}/delete")).await,
        (200, Value::Null)
    );
    assert!(d.personas().await.is_empty());

    // A person types her phrase carelessly: extra spaces and capitals still open it.
    let careless = format!("  {}  ", phrase.to_uppercase().replace(' ', "   "));
    let (status, body) = migrate(
        &d,
        form(&format!("{id}.diary"), exported.to_vec(), &careless),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["persona"]["name"], "Iris");
    let restored = home.path().join("personas").join(&id).join("home");
    assert_eq!(
        std::fs::read_to_string(restored.join("person.md")).unwrap(),
        "# My person\n\nLoves the sea.\n"
    );
    assert_eq!(
        std::fs::read_to_string(restored.join("history/conversation-2026-11-22.md")).unwrap(),
        "[10:00] person: hello\n"
    );
    assert!(
        home.path()
            .join("personas")
            .join(&id)
            .join("workspace")
            .is_dir()
    );
    assert_eq!(d.personas().await[0]["running"], true);
    d.shutdown().await;
}

#[tokio::test]
async fn bad_uploads_are_refused_and_leave_everything_as_it_was() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let before = snapshot(home.path());
    let name = format!("{FIXTURE_ID}.diary");
    let good = fixture_diary();
    let phrase = fixture_phrase();

    let mut truncated = good.clone();
    truncated.truncate(good.len() / 2);
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] = if flipped[middle] == b'A' { b'B' } else { b'A' };

    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("config.json", options).unwrap();
    zip.write_all(b"{}").unwrap();
    zip.start_file("../escaped.txt", options).unwrap();
    zip.write_all(b"out of her home").unwrap();
    let slip = encrypt_as_diary(&zip.finish().unwrap().into_inner(), FIXTURE_ID, &phrase);

    let other_id = "6c17c83c-3158-450d-8e43-0e7efea717c1";
    let cases: Vec<(&str, Form, u16, &str)> = vec![
        (
            "wrong phrase",
            form(&name, good.clone(), WRONG_PHRASE),
            400,
            UNREADABLE,
        ),
        (
            "renamed to another id",
            form(&format!("{other_id}.diary"), good.clone(), &phrase),
            400,
            UNREADABLE,
        ),
        (
            "truncated",
            form(&name, truncated, &phrase),
            400,
            UNREADABLE,
        ),
        (
            "flipped byte",
            form(&name, flipped, &phrase),
            400,
            UNREADABLE,
        ),
        ("zip slip", form(&name, slip, &phrase), 400, "unsafe"),
        (
            "not named by id",
            form("vega-backup.diary", good.clone(), &phrase),
            400,
            "must be named <persona-id>.diary",
        ),
        (
            "bad key for the new Mind",
            Form::new()
                .part("diary", Part::bytes(good.clone()).file_name(name.clone()))
                .text("phrase", phrase.clone())
                .text("model", "gpt-5.4")
                .text("provider", "openai")
                .text("api_key", "sk-not-valid"),
            400,
            "thinking",
        ),
    ];
    for (what, form, status, detail) in cases {
        let (got, body) = migrate(&d, form).await;
        assert_eq!(got, status, "{what}: {body}");
        assert!(
            body["detail"].as_str().unwrap_or_default().contains(detail),
            "{what}: {body}"
        );
        assert_eq!(
            snapshot(home.path()),
            before,
            "{what} left something behind"
        );
    }
    assert!(!home.path().parent().unwrap().join("escaped.txt").exists());

    for missing in ["diary", "phrase", "model"] {
        let mut f = Form::new();
        if missing != "diary" {
            f = f.part("diary", Part::bytes(good.clone()).file_name(name.clone()));
        }
        if missing != "phrase" {
            f = f.text("phrase", phrase.clone());
        }
        if missing != "model" {
            f = f.text("model", "gpt-5.4");
        }
        let (status, body) = migrate(&d, f).await;
        assert_eq!(status, 422, "{missing}: {body}");
        assert_eq!(body["detail"][0]["loc"], json!(["body", missing]));
        assert_eq!(body["detail"][0]["type"], "missing");
    }
    let r = d
        .client
        .post(format!("{}/api/persona/migrate", d.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "a JSON body is not a form");

    let huge = vec![b'A'; 9 * 1024 * 1024];
    let (status, _) = migrate(&d, form(&name, huge, &phrase)).await;
    assert_eq!(status, 413, "over the upload limit");
    assert_eq!(snapshot(home.path()), before);
    d.shutdown().await;
}

#[tokio::test]
async fn restoring_over_an_existing_persona_needs_her_stopped() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let name = format!("{FIXTURE_ID}.diary");
    assert_eq!(
        migrate(&d, form(&name, fixture_diary(), &fixture_phrase()))
            .await
            .0,
        200
    );
    let her_home = home.path().join("personas").join(FIXTURE_ID).join("home");
    let workspace = home
        .path()
        .join("personas")
        .join(FIXTURE_ID)
        .join("workspace");
    std::fs::write(her_home.join("notes.md"), "changed here").unwrap();
    std::fs::write(workspace.join("draft.txt"), "her own work").unwrap();

    let (status, body) = migrate(&d, form(&name, fixture_diary(), &fixture_phrase())).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        std::fs::read_to_string(her_home.join("notes.md")).unwrap(),
        "changed here"
    );

    d.post_empty(&format!("/api/persona/{FIXTURE_ID}/stop"))
        .await;
    let (status, body) = migrate(&d, form(&name, fixture_diary(), &fixture_phrase())).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(
        std::fs::read_to_string(her_home.join("notes.md")).unwrap(),
        "changed here",
        "the diary's notes are back"
    );
    assert_eq!(
        std::fs::read_to_string(workspace.join("draft.txt")).unwrap(),
        "her own work",
        "her workspace is kept"
    );
    let leftovers: Vec<String> = std::fs::read_dir(home.path().join("personas"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(".replaced"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    d.shutdown().await;
}
