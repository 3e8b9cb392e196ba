//! `eternego service` on Linux: the systemd user unit it writes, installed twice without change,
//! checked by `systemd-analyze verify` when the machine has it, and removed without touching her
//! data. systemctl is a recording stand-in (ETERNEGO_SYSTEMCTL): no user systemd runs on the
//! test machines, so start/stop/status through a real one are not exercised here.

#![cfg(target_os = "linux")]

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::*;

struct Machine {
    _dir: tempfile::TempDir,
    user: PathBuf,
    home: PathBuf,
    calls: PathBuf,
    systemctl: PathBuf,
}

fn machine() -> Machine {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("ada");
    let home = user.join(".eternego");
    std::fs::create_dir_all(&user).unwrap();
    let calls = dir.path().join("systemctl.calls");
    let systemctl = dir.path().join("systemctl");
    std::fs::write(
        &systemctl,
        format!("#!/bin/sh\necho \"$*\" >> '{}'\n", calls.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&systemctl, std::fs::Permissions::from_mode(0o755)).unwrap();
    Machine {
        _dir: dir,
        user,
        home,
        calls,
        systemctl,
    }
}

fn service(m: &Machine, args: &[&str]) -> Output {
    let mut cmd = eternego(&m.home);
    cmd.arg("service")
        .args(args)
        .env("HOME", &m.user)
        .env_remove("XDG_CONFIG_HOME")
        .env("ETERNEGO_SYSTEMCTL", &m.systemctl);
    cmd.env("OLLAMA_BASE_URL", "http://127.0.0.1:11434")
        .env("WEB_PORT", "5123");
    output(&mut cmd)
}

fn unit_path(m: &Machine) -> PathBuf {
    m.user.join(".config/systemd/user/eternego.service")
}

fn calls(m: &Machine) -> Vec<String> {
    std::fs::read_to_string(&m.calls)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn install_writes_a_user_unit_that_restarts_her_and_carries_her_environment() {
    let m = machine();
    let out = service(&m, &["install"]);
    assert!(out.success, "{} {}", out.stdout, out.stderr);
    let unit = std::fs::read_to_string(unit_path(&m)).unwrap();
    let exe = env!("CARGO_BIN_EXE_eternego");
    assert!(
        out.stdout
            .contains(&format!("Wrote {}", unit_path(&m).display())),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(&unit), "install shows what it wrote");
    assert!(
        out.stdout.contains("loginctl enable-linger"),
        "{}",
        out.stdout
    );
    for line in [
        format!("ExecStart=\"{exe}\" daemon"),
        "Restart=on-failure".to_string(),
        format!("Environment=\"ETERNEGO_HOME={}\"", m.home.display()),
        "Environment=\"ETERNEGO_KEYRING=file\"".to_string(),
        "Environment=\"OLLAMA_BASE_URL=http://127.0.0.1:11434\"".to_string(),
        "Environment=\"WEB_PORT=5123\"".to_string(),
        "WantedBy=default.target".to_string(),
    ] {
        assert!(
            unit.lines().any(|l| l == line),
            "missing `{line}` in\n{unit}"
        );
    }
    assert_eq!(
        calls(&m),
        ["--user daemon-reload", "--user enable eternego.service"]
    );

    let again = service(&m, &["install"]);
    assert!(again.success);
    assert!(
        again.stdout.contains("Already installed, unchanged"),
        "{}",
        again.stdout
    );
    assert_eq!(
        std::fs::read_to_string(unit_path(&m)).unwrap(),
        unit,
        "idempotent"
    );
}

#[test]
fn the_unit_passes_systemd_analyze_verify_when_present() {
    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed; verification skipped");
        return;
    };
    assert!(probe.status.success());
    let m = machine();
    assert!(service(&m, &["install"]).success);
    let verify = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(unit_path(&m))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verify.stderr);
    // Lines about the host's own units are not ours; only lines naming our unit count.
    let ours: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("eternego.service"))
        .collect();
    assert!(verify.status.success() && ours.is_empty(), "{said}");
}

#[test]
fn uninstall_removes_the_unit_and_leaves_her_data() {
    let m = machine();
    std::fs::create_dir_all(m.home.join("diary/x")).unwrap();
    std::fs::write(m.home.join("diary/x/x.diary"), b"her").unwrap();
    assert!(service(&m, &["install"]).success);
    let out = service(&m, &["uninstall"]);
    assert!(out.success, "{}", out.stderr);
    assert!(!unit_path(&m).exists());
    assert!(
        out.stdout.contains("Her data is untouched"),
        "{}",
        out.stdout
    );
    assert_eq!(
        std::fs::read(m.home.join("diary/x/x.diary")).unwrap(),
        b"her"
    );
    assert!(
        calls(&m).contains(&"--user disable --now eternego.service".to_string()),
        "{:?}",
        calls(&m)
    );
    let twice = service(&m, &["uninstall"]);
    assert!(
        twice.success && twice.stdout.contains("No service installed"),
        "{}",
        twice.stdout
    );
}

#[test]
fn start_stop_and_status_hand_over_to_systemctl() {
    let m = machine();
    let refused = service(&m, &["start"]);
    assert!(
        !refused.success && refused.stderr.contains("eternego service install"),
        "{}",
        refused.stderr
    );
    assert!(service(&m, &["install"]).success);
    for verb in ["start", "stop", "restart", "status"] {
        assert!(service(&m, &[verb]).success, "{verb}");
    }
    let handed: Vec<String> = calls(&m).into_iter().skip(2).collect();
    assert_eq!(
        handed,
        ["start", "stop", "restart", "status"].map(|v| format!("--user {v} eternego.service"))
    );
}

#[test]
fn service_logs_reads_the_daemons_log_files() {
    let m = machine();
    let logs = m.home.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("eternego.log.1"), "older line\n").unwrap();
    std::fs::write(logs.join("eternego.log"), "newer line\n").unwrap();
    let out = service(&m, &["logs"]);
    assert!(out.success, "{}", out.stderr);
    assert_eq!(out.stdout, "older line\nnewer line\n");
}
