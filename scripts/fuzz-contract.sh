#!/usr/bin/env bash
# The served contract (/openapi.yaml) checked by an independent OpenAPI fuzzer, schemathesis (PyPI, in a venv under
# .test-services/), against the real binary on a fresh SQLite database: every check, a fixed seed, a few examples
# per operation, a time budget. Any failure fails the run: fix the server or the document, never the fuzzer.
#   scripts/fuzz-contract.sh [path to bazaar binary, default .build/debug/bazaar]
# FUZZ_EXAMPLES (default 50), FUZZ_SEED (default 20261129), FUZZ_BUDGET_SECONDS (default 180), FUZZ_PORT.
# scripts/schemathesis.toml holds the only two allowances (refusals no JSON Schema can express). Webhook
# registration (POST /v1/webhooks) is left out: the service would call the URL in the request, and a
# test may only ever contact loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/debug/bazaar}
PORT=${FUZZ_PORT:-18383}
KEY=fuzz-admin-key-0123456789
DIR="$PWD/.test-services/schemathesis"
VENV="$DIR/venv"

if [ ! -x "$VENV/bin/st" ]; then
  mkdir -p "$DIR"
  python3 -m venv "$VENV" 2>/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; python3 -m venv "$VENV"; }
  "$VENV/bin/pip" install -q 'schemathesis>=4.32,<5'
fi

WORK=$(mktemp -d)
SERVER=
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
# Limits high enough that the fuzzer's own pace is never limited (429 is in the contract, and tested elsewhere).
BAZAAR_ADMIN_KEY=$KEY "$BIN" serve --http-host 127.0.0.1 --http-port "$PORT" --database-url "sqlite://$WORK/fuzz.sqlite" \
  --rate-limit-rate 100000 --rate-limit-burst 100000 --log-level warning >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health/live" >/dev/null && break; sleep 0.1; done
B="http://127.0.0.1:$PORT"
AUTH="Authorization: Bearer $KEY"
# A small catalog, so that generated requests can also reach the answers past "unknown store".
for store in S1 S2; do curl -sf -XPUT "$B/v1/stores/$store" -H "$AUTH" -d '{"name":"fuzz"}' >/dev/null; done
curl -sf -XPUT "$B/v1/products/P1" -H "$AUTH" -d '{"name":"fuzz"}' >/dev/null

set +e
# Left out: createWebhook (it makes the service connect to a URL from the request; only loopback is ever a target
# here) and openLiveStream (its answer never ends: a fuzzer waits for a body to check; its refusals are tested in
# LiveStreamTests).
# From the scratch folder: schemathesis keeps a .schemathesis/ folder where it runs.
CONFIG="$PWD/scripts/schemathesis.toml"
cd "$WORK"
timeout --signal=INT "${FUZZ_BUDGET_SECONDS:-180}" "$VENV/bin/st" --config-file "$CONFIG" run "$B/openapi.yaml" \
  --checks all --seed "${FUZZ_SEED:-20261129}" --max-examples "${FUZZ_EXAMPLES:-50}" \
  --header "$AUTH" --exclude-operation-id createWebhook --exclude-operation-id openLiveStream \
  --request-timeout 10 --workers 1 --generation-database none --no-color \
  --report junit --report-junit-path "$WORK/junit.xml" | tee "$WORK/st.log"
code=${PIPESTATUS[0]}
set -e
if [ "$code" -eq 124 ] || [ "$code" -eq 130 ]; then
  echo "fuzz-contract: schemathesis did not finish within ${FUZZ_BUDGET_SECONDS:-180} s" >&2
fi
if grep -qi 'internal error\|"status":500' "$WORK/server.log"; then
  echo "fuzz-contract: the server logged an internal error:" >&2
  grep -i 'internal error\|unhandled' "$WORK/server.log" | head -5 >&2
  code=1
fi
exit "$code"
