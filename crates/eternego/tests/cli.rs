//! The `eternego` binary as a person runs it: flags before or after the subcommand, the port
//! fallback line, a clear failure when no port is free, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

fn eternego(home: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_eternego"));
    cmd.env("ETERNEGO_HOME", home)
        .env_remove("WEB_PORT")
        .env_remove("WEB_HOST")
        // No persona exists, so nothing is contacted; point the engine somewhere closed anyway.
        .env("OLLAMA_BASE_URL", "http://127.0.0.1:9")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Reads stdout lines until the "listening" line; returns every line read.
fn read_until_listening(child: &mut Child) -> Vec<String> {
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let done = line.contains("is listening on");
        lines.push(line);
        if done {
            break;
        }
    }
    lines
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    child.wait().unwrap()
}

/// A daemon that a failing assertion does not leave running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Holds `count` consecutive loopback ports, searching from `from`, and returns the first. Each
/// test searches its own ten-thousand-port region: the tests run at once, and one test's
/// released port must not be the port another holds (CI once saw exactly that).
fn hold_ports(count: u16, from: u16) -> (u16, Vec<TcpListener>) {
    'search: for start in (from..from + 10_000).step_by(37) {
        let mut held = Vec::new();
        for port in start..start + count {
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(l) => held.push(l),
                Err(_) => continue 'search,
            }
        }
        return (start, held);
    }
    panic!("no run of free ports");
}

#[test]
fn a_taken_port_moves_to_the_next_and_says_so() {
    let home = tempfile::tempdir().unwrap();
    let (port, held) = hold_ports(1, 20_000);
    let mut child = Running(
        eternego(home.path())
            .args(["daemon", "--port", &port.to_string()])
            .spawn()
            .unwrap(),
    );
    let lines = read_until_listening(&mut child.0);
    let next = port + 1;
    assert_eq!(
        lines[0],
        format!("Port {port} was in use; using {next} instead.")
    );
    assert!(
        lines.last().unwrap().contains(&format!("127.0.0.1:{next}")),
        "{lines:?}"
    );
    let body = http_get(&format!("http://127.0.0.1:{next}/api/personas"));
    assert_eq!(body, r#"{"personas":[]}"#);
    assert!(terminate(&mut child.0).success(), "SIGTERM is a clean stop");
    drop(held);
}

#[test]
fn flags_work_before_the_subcommand_too() {
    let home = tempfile::tempdir().unwrap();
    let (port, held) = hold_ports(1, 30_000);
    drop(held);
    let mut child = Running(
        eternego(home.path())
            .args(["--port", &port.to_string(), "--host", "127.0.0.1", "daemon"])
            .spawn()
            .unwrap(),
    );
    let lines = read_until_listening(&mut child.0);
    assert!(
        lines.last().unwrap().contains(&format!("127.0.0.1:{port}")),
        "{lines:?}"
    );
    assert!(terminate(&mut child.0).success());
}

#[test]
fn no_free_port_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let (port, _held) = hold_ports(20, 40_000);
    let out = eternego(home.path())
        .env("WEB_PORT", port.to_string())
        .arg("daemon")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("No free port in {port}..{}", port + 19)),
        "{err}"
    );
}

/// A minimal blocking GET over a raw socket, so this test needs no async runtime.
fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_daemon_prints_the_dashboard_url_and_where_it_runs() {
    let home = tempfile::tempdir().unwrap();
    let (port, held) = hold_ports(1, 50_000);
    drop(held);
    let mut child = Running(
        eternego(home.path())
            .args(["daemon", "--port", &port.to_string()])
            .spawn()
            .unwrap(),
    );
    let lines: Vec<String> = BufReader::new(child.0.stdout.take().unwrap())
        .lines()
        .take(2)
        .map(Result::unwrap)
        .collect();
    assert!(lines[0].contains("is listening on"), "{lines:?}");
    assert_eq!(lines[1], format!("Dashboard: http://127.0.0.1:{port}/"));
    // Other commands find the daemon through the file it leaves in its data root.
    let running = std::fs::read_to_string(home.path().join("daemon.json")).unwrap();
    assert!(
        running.contains(&format!("\"url\":\"http://127.0.0.1:{port}\"")),
        "{running}"
    );
    assert!(terminate(&mut child.0).success());
    assert!(
        !home.path().join("daemon.json").exists(),
        "removed at a clean stop"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(home.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the data root is owner-only");
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let home = tempfile::tempdir().unwrap();
    let out = eternego(home.path()).arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success());
    let expected = commit.map_or("unknown".to_string(), |o| {
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    });
    // build.rs reruns when HEAD moves, and cargo builds the binary right before its tests.
    assert_eq!(
        text.trim_end(),
        format!("eternego {} ({expected})", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn completions_and_the_man_page_come_from_the_command_definition() {
    let home = tempfile::tempdir().unwrap();
    let run = |what: &str| {
        let out = eternego(home.path())
            .args(["completions", what])
            .output()
            .unwrap();
        assert!(out.status.success(), "{what}");
        String::from_utf8(out.stdout).unwrap()
    };
    let bash = run("bash");
    assert!(
        bash.contains("complete -F _eternego")
            && bash.contains("doctor")
            && bash.contains("--no-browser"),
        "{bash}"
    );
    let zsh = run("zsh");
    assert!(
        zsh.starts_with("#compdef eternego") && zsh.contains("talk"),
        "{zsh}"
    );
    let fish = run("fish");
    assert!(
        fish.contains("complete -c eternego") && fish.contains("service"),
        "{fish}"
    );
    let man = run("man");
    assert!(
        man.contains(".TH eternego 1") && man.contains("Keeps AI personas alive"),
        "{man}"
    );
    let unknown = eternego(home.path())
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
}
