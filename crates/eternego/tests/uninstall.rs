//! `eternego uninstall`: without `--purge` her data stays; with it, the data root goes only
//! after a typed "yes" (or `--yes`), and never while the daemon runs.

#![cfg(target_os = "linux")]

mod support;

use std::io::Write;
use std::process::Stdio;

use support::*;

fn home_with_a_diary(dir: &std::path::Path) -> std::path::PathBuf {
    let home = dir.join("home");
    std::fs::create_dir_all(home.join("diary/x")).unwrap();
    std::fs::create_dir_all(home.join("personas")).unwrap();
    std::fs::write(home.join("diary/x/x.diary"), b"her").unwrap();
    home
}

fn uninstall(dir: &std::path::Path, home: &std::path::Path, args: &[&str], answer: &str) -> Output {
    let mut child = eternego(home)
        .arg("uninstall")
        .args(args)
        .env("HOME", dir)
        .env_remove("XDG_CONFIG_HOME")
        .env("ETERNEGO_SYSTEMCTL", "true")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Output {
        success: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn without_purge_her_data_stays_and_she_is_told_where() {
    let dir = tempfile::tempdir().unwrap();
    let home = home_with_a_diary(dir.path());
    let out = uninstall(dir.path(), &home, &[], "");
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "her diaries are in {}",
            home.join("diary").display()
        )),
        "{}",
        out.stdout
    );
    assert!(home.join("diary/x/x.diary").exists());
}

#[test]
fn purge_asks_first_and_anything_but_yes_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let home = home_with_a_diary(dir.path());
    let out = uninstall(dir.path(), &home, &["--purge"], "no\n");
    assert_eq!(out.code, Some(1));
    assert!(out.stdout.contains("Her diaries are in"), "{}", out.stdout);
    assert!(
        out.stdout.contains("Type 'yes' to delete everything"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Nothing deleted."), "{}", out.stdout);
    assert!(home.join("diary/x/x.diary").exists());

    let out = uninstall(dir.path(), &home, &["--purge"], "yes\n");
    assert!(out.success, "{}", out.stderr);
    assert!(!home.exists());
}

#[test]
fn purge_with_yes_does_not_ask_and_refuses_while_the_daemon_runs() {
    let dir = tempfile::tempdir().unwrap();
    let home = home_with_a_diary(dir.path());
    let mut cmd = eternego(&home);
    cmd.args(["daemon", "--port", "0"]);
    let mut daemon = Daemon::start(cmd);
    let refused = uninstall(dir.path(), &home, &["--purge", "--yes"], "");
    assert!(!refused.success);
    assert!(
        refused.stderr.contains("the daemon is still running"),
        "{}",
        refused.stderr
    );
    assert!(home.join("diary/x/x.diary").exists());
    assert!(daemon.stop());

    let out = uninstall(dir.path(), &home, &["--purge", "--yes"], "");
    assert!(out.success, "{}", out.stderr);
    assert!(!out.stdout.contains("Type 'yes'"), "{}", out.stdout);
    assert!(!home.exists());
}
