//! `eternego doctor` against a real daemon process and testkit fakes: every check passes on a
//! healthy home, and a corrupt config and an unreachable engine each fail with their fix.

mod support;

use serde_json::Value;
use support::*;
use testkit::{ollama, openai};

fn doctor(home: &std::path::Path, daemon: &Daemon, json: bool) -> Output {
    let mut cmd = eternego(home);
    cmd.args(["doctor", "--port", &daemon.port().to_string()]);
    if json {
        cmd.arg("--json");
    }
    output(&mut cmd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_home_passes_every_check() {
    let fake_ollama = ollama::start(&["llama3.2:1b"]).await;
    let fake_openai = openai::start(&[OPENAI_KEY], &["gpt-5.4"]).await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let daemon = daemon_with(&home, &fake_ollama.url(), &fake_openai.url());
    create_local(&daemon, "Ada").await;
    create_cloud(&daemon, "Iris").await;

    let listed_before = fake_openai.requests().to("/v1/models").len();
    let out = doctor(&home, &daemon, false);
    assert!(out.success, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains('✗'), "{}", out.stdout);
    for expected in [
        "exists and is owner-only",
        "Secret store opens",
        "is held by this Eternego",
        "Persona Ada",
        "Persona Iris",
        "Disk:",
        "Clock:",
    ] {
        assert!(
            out.stdout.contains(expected),
            "`{expected}` missing:\n{}",
            out.stdout
        );
    }
    assert!(
        out.stdout.contains("answers and has eternego-")
            || out.stdout.contains("answers and has llama3.2:1b"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("openai at"), "{}", out.stdout);
    // Her cloud engine was asked for its model list: a call that spends no tokens.
    assert!(fake_openai.requests().to("/v1/models").len() > listed_before);

    let json: Value = serde_json::from_str(&doctor(&home, &daemon, true).stdout).unwrap();
    assert_eq!(json["ok"], true);
    let names: Vec<&str> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for name in [
        "data_root",
        "secret_store",
        "port",
        "persona_config",
        "persona_engine",
        "disk",
        "clock",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert!(
        !doctor(&home, &daemon, true).stdout.contains(OPENAI_KEY),
        "no key in doctor's output"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_config_and_an_unreachable_engine_fail_with_their_fix() {
    let fake_ollama = ollama::start(&["llama3.2:1b"]).await;
    let fake_openai = openai::start(&[OPENAI_KEY], &["gpt-5.4"]).await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let mut daemon = daemon_with(&home, &fake_ollama.url(), &fake_openai.url());
    let broken = create_local(&daemon, "Ada").await;
    let gone = create_local(&daemon, "Bea").await;
    assert!(daemon.stop());

    // Ada's record is cut short; Bea's engine moves to a closed port.
    let ada = home.join("personas").join(&broken).join("home/config.json");
    let text = std::fs::read_to_string(&ada).unwrap();
    std::fs::write(&ada, &text[..text.len() / 2]).unwrap();
    let bea = home.join("personas").join(&gone).join("home/config.json");
    let mut record: Value = serde_json::from_str(&std::fs::read_to_string(&bea).unwrap()).unwrap();
    record["thinking"]["url"] = Value::String("http://127.0.0.1:9".into());
    std::fs::write(&bea, serde_json::to_vec(&record).unwrap()).unwrap();
    // And the data root is opened up to everyone.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();

    let out = output(eternego(&home).args(["doctor", "--port", "0"]));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let failing = |needle: &str| {
        let at = lines
            .iter()
            .position(|l| l.starts_with('✗') && l.contains(needle))
            .unwrap_or_else(|| panic!("no ✗ line with `{needle}`:\n{}", out.stdout));
        lines.get(at + 1).copied().unwrap_or_default().to_string()
    };
    assert!(failing("can be read by others").contains("chmod 700"));
    assert!(
        failing(&format!("Persona {broken}: her config")).contains("restore her from her diary")
    );
    assert!(
        failing("Persona Bea: her Mind's engine at http://127.0.0.1:9 does not answer")
            .contains("ollama serve")
    );
    assert!(
        out.stdout.contains("✓ Port"),
        "port 0 is always free: {}",
        out.stdout
    );

    let json: Value = serde_json::from_str(
        &output(eternego(&home).args(["doctor", "--json", "--port", "0"])).stdout,
    )
    .unwrap();
    assert_eq!(json["ok"], false);
    let mut failed: Vec<&str> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    failed.sort();
    assert_eq!(failed, ["data_root", "persona_config", "persona_engine"]);
}
