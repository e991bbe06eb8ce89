#!/usr/bin/env bash
# Reservation throughput (issue 17): reservations made and fulfilled (create + fulfil = one pair, two requests, one
# of them a ledger write) per second, side by side with plain writes (POST /update-stock, +1 receipts over the same
# keys) and GET /health/live, all in the same run against the same node (these machines are noisy: compare ratios).
#   bench/reservations.sh [seconds per load, default 10] [connections, default 64]
# BENCH_BIN (default .build/release/bazaar, built if missing; .build/debug/bazaar to skip a release build),
# BENCH_DATABASE_URL (default a fresh SQLite file; a fresh mysql:// database for MariaDB), BENCH_REDIS_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-64}
PORT=${BENCH_PORT:-18191}
BIN=${BENCH_BIN:-.build/release/bazaar}
export BENCH_KEY=bench-admin-key-0123456789 BENCH_STORES=${BENCH_STORES:-20} BENCH_PRODUCTS=${BENCH_PRODUCTS:-50}

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
[ -x "$BIN" ] || flock /tmp/bazaar-build.lock swift build -c release --product bazaar >/dev/null
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
BAZAAR_ADMIN_KEY=$BENCH_KEY BAZAAR_RATE_LIMIT_RATE=100000000 BAZAAR_RATE_LIMIT_BURST=100000000 BAZAAR_LOG_LEVEL=warning \
  BAZAAR_REDIS_URL=${BENCH_REDIS_URL:-} BAZAAR_REDIS_KEY_PREFIX="bench-$$:" \
  "$BIN" serve --http-port "$PORT" --database-url "${BENCH_DATABASE_URL:-sqlite://$WORK/bench.sqlite}" >"$WORK/server.log" 2>&1 &
SERVER=$!
source bench/wrk.sh
wait_and_seed
# Stock for every key (reservations need available units): one batch of receipts per store.
for s in $(seq "$BENCH_STORES"); do
  items=$(for p in $(seq "$BENCH_PRODUCTS"); do printf '{"store_id":"S%s","product_id":"P%s","delta":1000000,"reason":"receipt"},' "$s" "$p"; done)
  curl -sf -XPOST "http://127.0.0.1:$PORT/v1/movements" -H "$AUTH" -d "{\"movements\":[${items%,}]}" >/dev/null
done

echo "warming up..."
wrk -t1 -c"$CONNECTIONS" -d3s "http://127.0.0.1:$PORT/health/live" >/dev/null
wrk -t1 -c"$CONNECTIONS" -d3s -s bench/update-many.lua "http://127.0.0.1:$PORT/" >/dev/null

results=()
results+=("$(run baseline-health-live /health/live)")
results+=("$(run update-stock-many-keys / bench/update-many.lua)")
results+=("$(run reservation-create-fulfil / bench/reservations.lua)")
results+=("$(run update-stock-many-keys-again / bench/update-many.lua)")
pairs=$(awk '/^RESERVATIONS/ {print $9}' "$WORK/reservation-create-fulfil.txt")
printf '\n%-30s %12s %10s %10s\n' load "requests/s" p50 p99
for line in "${results[@]}"; do set -- $line; printf '%-30s %12s %10s %10s\n' "$1" "$2" "$3" "$4"; done
echo
grep '^RESERVATIONS' "$WORK/reservation-create-fulfil.txt"
writes=$(echo "${results[1]}" | awk '{print $2}')
echo "reservation pairs (create + fulfil) per second: $pairs; plain writes per second: $writes;" \
  "pairs / plain writes = $(awk -v a="$pairs" -v b="$writes" 'BEGIN {printf "%.2f", a / b}')"
# The books balance: every fulfilment's sale is in the ledger, nothing stays reserved but the unfulfilled tail.
curl -sf "http://127.0.0.1:$PORT/get-stock/S1/P1" -H "$AUTH"; echo
