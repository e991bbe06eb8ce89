#!/usr/bin/env bash
# Bazaar on MariaDB (durable: innodb_flush_log_at_trx_commit=1, sync_binlog=1), next to the raw rate of the same
# server measured in the same run: single-row INSERT transactions (autocommit) from 8 connections.
# Then GET /get-stock with the cache off, served by the replica, next to GET /health/live.
#   bench/mysql.sh [seconds per load, default 10] [connections, default 64]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-64}
PORT=${BENCH_PORT:-18183}
export BENCH_KEY=bench-admin-key-0123456789 BENCH_STORES=100 BENCH_PRODUCTS=100

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
bash scripts/services/mariadb.sh start >/dev/null
eval "$(bash scripts/services/mariadb.sh env)"
MYSQL_PORT=${BAZAAR_TEST_MARIADB_PORT:-13306}
sql() { mariadb --protocol=tcp -h127.0.0.1 -P"$MYSQL_PORT" -uroot "$@"; }
swift build -c release --product bazaar >/dev/null

echo "raw rate: single-row INSERT transactions from 8 connections (mariadb-slap)..."
sql -e "DROP DATABASE IF EXISTS bench_raw; CREATE DATABASE bench_raw;
  CREATE TABLE bench_raw.ledger (seq BIGINT AUTO_INCREMENT PRIMARY KEY, store_id VARCHAR(64), product_id VARCHAR(64), delta BIGINT,
  at_ms BIGINT) ENGINE=InnoDB"
RAW_QUERIES=$((8 * 2500))
raw_seconds=$(mariadb-slap --protocol=tcp -h127.0.0.1 -P"$MYSQL_PORT" -uroot --create-schema=bench_raw --concurrency=8 --iterations=1 \
  --number-of-queries=$RAW_QUERIES --query="INSERT INTO ledger (store_id, product_id, delta, at_ms) VALUES ('S1', 'P1', 1, 1)" \
  | awk '/Average number of seconds/ {print $(NF-1)}')
raw_rate=$(awk -v n=$RAW_QUERIES -v s="$raw_seconds" 'BEGIN {printf "%.0f", n / s}')
echo "raw: $RAW_QUERIES transactions in $raw_seconds s = $raw_rate/s"

sql -e "DROP DATABASE IF EXISTS bench_http; CREATE DATABASE bench_http"
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
BAZAAR_ADMIN_KEY=$BENCH_KEY BAZAAR_RATE_LIMIT_RATE=100000000 BAZAAR_RATE_LIMIT_BURST=100000000 BAZAAR_LOG_LEVEL=warning \
  BAZAAR_CACHE_CAPACITY=0 BAZAAR_DATABASE_REPLICA_URLS="$BAZAAR_TEST_MYSQL_REPLICA_URL/bench_http" \
  .build/release/bazaar serve --http-port "$PORT" --database-url "$BAZAAR_TEST_MYSQL_URL/bench_http" >"$WORK/server.log" 2>&1 &
SERVER=$!
source bench/wrk.sh
wait_and_seed
echo "warming up..."
wrk -t1 -c"$CONNECTIONS" -d3s -s bench/update-many.lua "http://127.0.0.1:$PORT/" >/dev/null

results=()
results+=("$(run baseline-health-live /health/live)")
results+=("$(run update-stock-many-keys / bench/update-many.lua)")
results+=("$(run update-stock-hot-key / bench/update-hot.lua)")
results+=("$(run get-stock-replica-no-cache / bench/get-stock.lua)")
baseline=$(echo "${results[0]}" | awk '{print $2}')
printf '\n%-28s %12s %10s %10s %12s %10s\n' load "requests/s" p50 p99 "x baseline" "x raw"
for line in "${results[@]}"; do
  set -- $line
  printf '%-28s %12s %10s %10s %12s %10s\n' "$1" "$2" "$3" "$4" "$(awk -v a="$2" -v b="$baseline" 'BEGIN {printf "%.2f", a / b}')" \
    "$(awk -v a="$2" -v b="$raw_rate" 'BEGIN {printf "%.1f", a / b}')"
done
echo "raw single-row transactions (8 connections): $raw_rate/s"
curl -sf "http://127.0.0.1:$PORT/metrics" | grep '^bazaar_db_reads_total' || true

check_hot_key
