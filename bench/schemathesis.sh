#!/usr/bin/env bash
# schemathesis over the daemon's own /openapi.json: a real daemon (debug build, the example
# crates/daemon/examples/fake_world.rs) on loopback with every provider and platform faked, a
# bounded number of examples per operation, deterministic generation (the same cases every
# run), and the checks and per-operation exceptions of bench/schemathesis.toml. Exits non-zero on
# any server error or any response that contradicts the schema.
#
#   bash bench/schemathesis.sh            # CI's bounded run
#   EXAMPLES=200 bash bench/schemathesis.sh   # a longer one by hand
#
# schemathesis itself is pinned in .ci/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLES="${EXAMPLES:-15}"
REPORT="${REPORT:-target/schemathesis}"
cargo build --quiet --locked -p daemon --example fake_world
mkdir -p "$REPORT"
coproc WORLD { exec "${CARGO_TARGET_DIR:-target}/debug/examples/fake_world"; }
trap 'kill "$WORLD_PID" 2>/dev/null || true; wait "$WORLD_PID" 2>/dev/null || true' EXIT
read -r -t 60 line <&"${WORLD[0]}"
URL="${line#listening on }"
echo "daemon at $URL"

schemathesis --config-file bench/schemathesis.toml run "$URL/openapi.json" \
    --max-examples "$EXAMPLES" \
    --generation-deterministic \
    --workers 1 \
    --request-timeout 30 \
    --suppress-health-check all \
    --report junit --report-dir "$REPORT" \
    --no-color
