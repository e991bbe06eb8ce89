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
MARIADB="mariadb --protocol=tcp -h127.0.0.1 -P${BAZAAR_TEST_MARIADB_PORT:-13306} -uroot"
LUA=$(mktemp --suffix .lua); SERVER=
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
  BAZAAR_HTTP_PORT=$PORT BAZAAR_ADMIN_KEY=$KEY BAZAAR_LOG_LEVEL=warning \
    BAZAAR_DATABASE_URL="$BAZAAR_TEST_MYSQL_URL/$DB" BAZAAR_DATABASE_REPLICA_URLS="$BAZAAR_TEST_MYSQL_REPLICA_URL/$DB" \
    BAZAAR_REDIS_URL="redis://127.0.0.1:${BAZAAR_TEST_REDIS_PORT:-16379}/0" BAZAAR_REDIS_KEY_PREFIX="$DB:" \
    BAZAAR_KAFKA_BROKERS="$BAZAAR_TEST_KAFKA_BROKERS" BAZAAR_KAFKA_CONSUMER_GROUP="$DB" \
    BAZAAR_RATE_LIMIT_RATE=100000000 BAZAAR_RATE_LIMIT_BURST=100000000 "$BIN" serve >/dev/null 2>&1 &
  SERVER=$!
  for _ in $(seq 150); do curl -fsS "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1 && break; sleep 0.2; done
  echo "== $BIN"
  wrk -t2 -c64 -d5s -s "$LUA" "http://127.0.0.1:$PORT" | awk '/Requests\/sec/ {print "warm-up: " $2 " writes/s"}'
  for _ in $(seq 30); do lag | awk '{exit !($1 == 0)}' && break; sleep 1; done
  wrk -t2 -c64 -d10s -s "$LUA" "http://127.0.0.1:$PORT" | awk '/Requests\/sec/ {print "load: " $2 " writes/s"}'
  for i in $(seq 12); do echo "lag ${i}s after the load: $(lag) s"; sleep 1; done
  kill $SERVER; wait $SERVER 2>/dev/null || true; SERVER=
  $MARIADB -e "DROP DATABASE $DB"
done
