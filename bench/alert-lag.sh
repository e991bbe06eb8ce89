#!/usr/bin/env bash
# Does one node's alert consumer keep up with the write load? (issue 15, sixth stop)
#   bench/alert-lag.sh [BINARY...]   (default .build/release/bazaar)
# For each binary in turn: a fresh database on the test services of scripts/services (MariaDB primary + replica,
# Redis, Tansu), a demo chain of 10 stores x 100 products with 60 days of history (every item gets thresholds), one
# node in the production shape; 5 s of +1 receipts over the 1,000 items (64 connections) to warm up, then 10 s more;
# prints the write rate and, each second after the load, `bazaar_kafka_consumer_lag_seconds{topic=
# "bazaar.stock-movements",consumer="alerts"}`: how far behind the newest movement its alert evaluation is.
set -euo pipefail
cd "$(dirname "$0")/.."
for s in mariadb redis kafka; do bash scripts/services/$s.sh start >/dev/null; eval "$(bash scripts/services/$s.sh env | sed 's/^/export /')"; done
export LD_LIBRARY_PATH=$PWD/.test-services/kafka/lib
BINS=("$@"); [ ${#BINS[@]} -gt 0 ] || BINS=(.build/release/bazaar)
PORT=${BENCH_PORT:-18230}; KEY=bench-admin-key-0123456789
source bench/production-node.sh
LUA=$(mktemp --suffix .lua)
trap 'kill $SERVER 2>/dev/null || true; rm -f "$LUA"' EXIT
cat >"$LUA" <<LUAEOF
local headers = { ["Authorization"] = "Bearer $KEY", ["Content-Type"] = "application/json" }
local body = '{"delta": 1, "reason": "receipt"}'
request = function()
  return wrk.format("POST", "/update-stock/S" .. math.random(1001, 1010) .. "/P" .. math.random(100001, 100100), headers, body)
end
LUAEOF
lag() { curl -fsS "http://127.0.0.1:$PORT/metrics" | awk '/^bazaar_kafka_consumer_lag_seconds\{topic="bazaar.stock-movements",consumer="alerts"\}/ {print $2}'; }
for BIN in "${BINS[@]}"; do
  DB=alertlag$$_$RANDOM
  $MARIADB -e "CREATE DATABASE $DB"
  "$BIN" demo --stores 10 --products 100 --products-per-store 100 --days 60 --database-url "$BAZAAR_TEST_MYSQL_URL/$DB" 2>&1 | tail -1
  start_production_node "$BIN" "$PORT" "$KEY" "$DB"
  echo "== $BIN"
  wrk -t2 -c64 -d5s -s "$LUA" "http://127.0.0.1:$PORT" | awk '/Requests\/sec/ {print "warm-up: " $2 " writes/s"}'
  for _ in $(seq 30); do lag | awk '{exit !($1 == 0)}' && break; sleep 1; done
  wrk -t2 -c64 -d10s -s "$LUA" "http://127.0.0.1:$PORT" | awk '/Requests\/sec/ {print "load: " $2 " writes/s"}'
  for i in $(seq 12); do echo "lag ${i}s after the load: $(lag) s"; sleep 1; done
  stop_production_node "$DB"
done
