//! Runs the official Python SDK (identity-os-sdk 0.9.0) against the router on a loopback port.

mod common;

use common::{ManualClock, serve};
use std::process::Command;
use std::time::Duration;

fn sdk_importable() -> bool {
    Command::new("python3")
        .args(["-c", "import identity_os_sdk"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_works_against_the_v1_dialect() {
    if !sdk_importable() {
        println!(
            "NOTICE: skipping the SDK check: identity_os_sdk is not importable (pip install identity-os-sdk==0.9.0)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), ManualClock::new().settings(Duration::ZERO)).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/sdk_check.py");
    let base = server.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(base)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "sdk_check failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("all SDK calls succeeded"), "{stdout}");
}
