//! `eternego model add|list|rm|pull` as a person runs them, the pull against a fake Hugging Face
//! on loopback.

mod support;

use models::gguf::synthetic;
use support::*;

#[test]
fn add_list_and_remove_a_model_file() {
    let home = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("Tiny-Chat-Q8_0.gguf");
    std::fs::write(&file, synthetic::tiny_model(1000)).unwrap();

    let out = output(eternego(home.path()).args(["model", "list"]));
    assert!(out.success, "{}", out.stderr);
    assert!(out.stdout.contains("No models yet"), "{}", out.stdout);

    let out = output(eternego(home.path()).args(["model", "add"]).arg(&file));
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stdout.contains("Added tiny-chat-q8_0"),
        "{}",
        out.stdout
    );
    let out = output(
        eternego(home.path())
            .args(["model", "add", "--name", "tiny"])
            .arg(&file),
    );
    assert!(out.success, "{}", out.stderr);

    let out = output(eternego(home.path()).args(["model", "list"]));
    assert!(out.success, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{}", out.stdout);
    assert!(lines[1].starts_with("tiny "), "{}", out.stdout);
    assert!(lines[1].contains("2048"), "{}", out.stdout);
    assert!(lines[2].starts_with("tiny-chat-q8_0"), "{}", out.stdout);

    let out = output(eternego(home.path()).args(["model", "rm", "tiny"]));
    assert!(out.success, "{}", out.stderr);
    let out = output(eternego(home.path()).args(["model", "rm", "tiny"]));
    assert!(!out.success);
    assert!(
        out.stderr.contains("no model named 'tiny'"),
        "{}",
        out.stderr
    );
    assert!(!home.path().join("models/tiny.gguf").exists());
}

#[test]
fn bad_files_and_names_fail_clearly() {
    let home = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let text = src.path().join("notes.gguf");
    std::fs::write(&text, "not a model").unwrap();
    let out = output(eternego(home.path()).args(["model", "add"]).arg(&text));
    assert!(!out.success);
    assert!(out.stderr.contains("not a GGUF"), "{}", out.stderr);

    let good = src.path().join("good.gguf");
    std::fs::write(&good, synthetic::tiny_model(10)).unwrap();
    let out = output(
        eternego(home.path())
            .args(["model", "add", "--name", "../escape"])
            .arg(&good),
    );
    assert!(!out.success);
    assert!(out.stderr.contains("invalid model name"), "{}", out.stderr);
    assert!(!home.path().join("escape.gguf").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_downloads_from_hugging_face() {
    let hf = testkit::huggingface::start().await;
    let model = synthetic::tiny_model(50_000);
    hf.publish(
        "TestOrg/Tiny-Model-GGUF",
        "tiny-model-Q4_K_M.gguf",
        model.clone(),
    );
    let home = tempfile::tempdir().unwrap();
    let mut cmd = eternego(home.path());
    cmd.env("HF_ENDPOINT", hf.url())
        .env_remove("HF_TOKEN")
        .args(["model", "pull", "hf.co/TestOrg/Tiny-Model-GGUF"]);
    let out = tokio::task::spawn_blocking(move || output(&mut cmd))
        .await
        .unwrap();
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("Pulled hf.co/TestOrg/Tiny-Model-GGUF as tiny-model"),
        "{}",
        out.stdout
    );
    assert_eq!(
        std::fs::read(home.path().join("models/tiny-model.gguf")).unwrap(),
        model
    );

    let mut cmd = eternego(home.path());
    cmd.env("HF_ENDPOINT", hf.url())
        .args(["model", "pull", "hf.co/TestOrg/Missing-GGUF"]);
    let out = tokio::task::spawn_blocking(move || output(&mut cmd))
        .await
        .unwrap();
    assert!(!out.success);
    assert!(
        out.stderr.contains("no repository 'TestOrg/Missing-GGUF'"),
        "{}",
        out.stderr
    );
}
