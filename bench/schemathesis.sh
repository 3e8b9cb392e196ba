#!/usr/bin/env bash
# schemathesis over the daemon's own /openapi.json: a real daemon (debug build, the example
# crates/daemon/examples/fake_world.rs) on loopback with every provider and platform faked, a
# bounded number of examples per operation, a fixed seed and pinned checks. Exits non-zero on any
# server error or any response that contradicts the schema.
#
#   bash bench/schemathesis.sh            # CI's bounded run
#   EXAMPLES=200 bash bench/schemathesis.sh   # a longer one by hand
#
# schemathesis itself is pinned in .ci/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLES="${EXAMPLES:-15}"
SEED="${SEED:-20261202}"
REPORT="${REPORT:-target/schemathesis}"
# not_a_server_error: no 5xx. status_code_conformance, content_type_conformance,
# response_schema_conformance: every answer is one the schema documents. positive_data_acceptance:
# a request valid per the schema is not refused with 4xx (where a route refuses something the
# schema cannot express, the schema says so in its description and bench/schemathesis.toml turns
# that one check off for that operation, with the reason).
CHECKS="not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,positive_data_acceptance"

cargo build --quiet -p daemon --example fake_world
mkdir -p "$REPORT"
coproc WORLD { exec "${CARGO_TARGET_DIR:-target}/debug/examples/fake_world"; }
trap 'kill "$WORLD_PID" 2>/dev/null || true; wait "$WORLD_PID" 2>/dev/null || true' EXIT
read -r -t 60 line <&"${WORLD[0]}"
URL="${line#listening on }"
echo "daemon at $URL"

schemathesis --config-file bench/schemathesis.toml run "$URL/openapi.json" \
    --checks "$CHECKS" \
    --max-examples "$EXAMPLES" \
    --seed "$SEED" \
    --generation-deterministic \
    --workers 1 \
    --request-timeout 30 \
    --suppress-health-check all \
    --report junit --report-dir "$REPORT" \
    --no-color
