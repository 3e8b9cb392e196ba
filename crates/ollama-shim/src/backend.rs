//! The real backend installed by `bench/real-backends/setup.sh`: a venv holding xllamacpp and
//! SmolLM2-135M-Instruct. Tests probe for it and skip with a reason when it is absent; when it
//! is present they run its server as a child process that dies with them.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

/// The name the server answers to, and the Ollama name the shim's registry offers it under.
pub const MODEL: &str = "smollm2:135m";

/// The workspace root, where `.venv-backends/` and `bench/` live.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A usable venv: its Python, the launcher script and the model file.
#[derive(Clone, Debug)]
pub struct Backend {
    python: PathBuf,
    script: PathBuf,
    pub model: PathBuf,
}

impl Backend {
    /// `ETERNEGO_REAL_BACKENDS` (a venv path) or `<workspace>/.venv-backends`. The error says
    /// why it cannot be used, for the skip message.
    pub fn find() -> Result<Backend, String> {
        let venv = std::env::var_os("ETERNEGO_REAL_BACKENDS")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace().join(".venv-backends"));
        let python = venv.join("bin/python");
        if !python.exists() {
            return Err(format!(
                "no venv at {} (run bench/real-backends/setup.sh or set ETERNEGO_REAL_BACKENDS)",
                venv.display()
            ));
        }
        let script = workspace().join("bench/real-backends/serve_llm.py");
        let out = Command::new(&python)
            .arg(&script)
            .arg("--check")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} is incomplete: {}",
                venv.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let model = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        Ok(Backend {
            python,
            script,
            model: PathBuf::from(model),
        })
    }

    /// Starts the llama.cpp server with `args` (see `serve_llm.py --help`), waiting until it
    /// answers. Its log goes to `log`.
    pub fn serve(&self, args: &[&str], log: &Path) -> Result<LlamaServer, String> {
        let log_file = std::fs::File::create(log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let mut child = Command::new(&self.python)
            .arg(&self.script)
            .args(args)
            .arg("--stdin-lifeline")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start the llama.cpp server: {e}"))?;
        let lifeline = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout was piped"));
        let mut line = String::new();
        let url = match stdout.read_line(&mut line) {
            Ok(n) if n > 0 => line.trim().strip_prefix("listening ").map(str::to_string),
            _ => None,
        };
        let server = LlamaServer {
            child,
            _lifeline: lifeline,
            url: url.clone().unwrap_or_default(),
        };
        match url {
            Some(_) => Ok(server),
            None => {
                drop(server);
                let mut text = String::new();
                let _ = std::fs::File::open(log).and_then(|mut f| f.read_to_string(&mut text));
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                Err(format!(
                    "the llama.cpp server did not start; its log ends with:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ))
            }
        }
    }
}

/// A running llama.cpp server; killed when dropped. It also exits by itself when this process
/// dies, because its standard input (held here) closes.
pub struct LlamaServer {
    child: Child,
    _lifeline: Option<ChildStdin>,
    pub url: String,
}

impl LlamaServer {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
