//! `eternego launch`: the daemon, and the dashboard opened with the system's opener (a
//! recording stand-in for xdg-open on PATH here); `--no-browser` opens nothing.

#![cfg(target_os = "linux")]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::*;

/// A folder holding an `xdg-open` that writes the URL it was given to `opened`.
fn fake_opener(dir: &Path) -> (PathBuf, PathBuf) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let opened = dir.join("opened");
    let script = bin.join("xdg-open");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1\" > '{}'\n", opened.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin, opened)
}

fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Makes `opened` a named pipe and reads the URL the opener writes into it: the read returns
/// when the opener has run, with no polling (the bound only stops a broken build hanging CI).
fn receive_url(opened: &Path) -> String {
    let (send, receive) = std::sync::mpsc::channel();
    let pipe = opened.to_path_buf();
    std::thread::spawn(move || {
        let _ = send.send(std::fs::read_to_string(pipe).unwrap());
    });
    receive
        .recv_timeout(Duration::from_secs(60))
        .expect("the browser was opened")
}

#[test]
fn launch_opens_the_dashboard_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, opened) = fake_opener(dir.path());
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&opened)
            .status()
            .unwrap()
            .success()
    );
    let mut cmd = eternego(&dir.path().join("home"));
    cmd.args(["launch", "--port", "0"])
        .env("PATH", path_with(&bin));
    let mut daemon = Daemon::start(cmd);
    assert!(
        daemon.lines[0].starts_with("Eternego is listening on"),
        "{:?}",
        daemon.lines
    );
    let url = receive_url(&opened);
    assert_eq!(url.trim(), format!("{}/", daemon.url));
    assert!(daemon.stop(), "SIGTERM is a clean stop");
}

#[test]
fn no_browser_only_prints_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, opened) = fake_opener(dir.path());
    let mut cmd = eternego(&dir.path().join("home"));
    cmd.args(["launch", "--no-browser", "--port", "0"])
        .env("PATH", path_with(&bin));
    let mut daemon = Daemon::start(cmd);
    assert!(
        daemon
            .lines
            .last()
            .unwrap()
            .starts_with("Dashboard: http://127.0.0.1:"),
        "{:?}",
        daemon.lines
    );
    assert!(daemon.stop());
    assert!(!opened.exists(), "no browser was opened");
}
