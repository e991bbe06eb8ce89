#!/usr/bin/env bash
# The warm read against the trivial route as the peer's bench runs them (issue 15), for several binaries in turn.
#   bench/read-ab.sh [rounds, default 3] BINARY...
# For each round and binary: a fresh database on the test services of scripts/services (MariaDB primary + replica,
# Redis with a fresh key prefix, Tansu with a fresh consumer group), the peer's catalog seeding and 5 s of its write
# load (wrk/update_stock.lua over 1,000 pairs), then its GET /health/live and GET /get-stock loads (64 connections,
# 2 threads, 2 s warm-up, 8 s measured). Prints requests/s and Bazaar's CPU microseconds per request (utime+stime
# from /proc over the measured load) for each, and the read's throughput over the trivial route's.
# Unlike bench/read-cost.sh (one batch per store to seed), the read follows a write load, as in side-by-side.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}; shift
[ $# -gt 0 ] || { echo "usage: bench/read-ab.sh [rounds] BINARY..." >&2; exit 2; }
PEER=${READ_AB_PEER:-/work/shared/peer-fastapi}
PORT=${BENCH_PORT:-18192}
KEY=read-ab-admin-0123456789abcdef0123
for s in mariadb redis kafka; do bash scripts/services/$s.sh start >/dev/null; eval "$(bash scripts/services/$s.sh env | sed 's/^/export /')"; done
MARIADB="mariadb --protocol=tcp -h127.0.0.1 -P${BAZAAR_TEST_MARIADB_PORT:-13306} -uroot"
SERVER=
trap 'kill $SERVER 2>/dev/null || true' EXIT
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for round in $(seq "$ROUNDS"); do
  for bin in "$@"; do
    db=readab_$(date +%s%N | cut -c1-13)
    $MARIADB -e "CREATE DATABASE $db"
    BAZAAR_HTTP_PORT=$PORT BAZAAR_ADMIN_KEY=$KEY BAZAAR_LOG_LEVEL=warning \
      BAZAAR_DATABASE_URL="$BAZAAR_TEST_MYSQL_URL/$db" BAZAAR_DATABASE_REPLICA_URLS="$BAZAAR_TEST_MYSQL_REPLICA_URL/$db" \
      BAZAAR_REDIS_URL="redis://127.0.0.1:${BAZAAR_TEST_REDIS_PORT:-16379}/0" BAZAAR_REDIS_KEY_PREFIX="$db:" \
      BAZAAR_KAFKA_BROKERS="$BAZAAR_TEST_KAFKA_BROKERS" BAZAAR_KAFKA_CONSUMER_GROUP="$db" \
      BAZAAR_RATE_LIMIT_RATE=100000000 BAZAAR_RATE_LIMIT_BURST=100000000 "$bin" serve >/dev/null 2>&1 &
    SERVER=$!
    for _ in $(seq 150); do curl -fsS "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1 && break; sleep 0.2; done
    ENDPOINTS=update_stock WARMUP=0 BENCH_SEED_CATALOG=1 RESULTS_DIR=$(mktemp -d) \
      bash "$PEER/bench.sh" "http://127.0.0.1:$PORT" "$KEY" 5s >/dev/null
    export BENCH_API_KEY=$KEY
    line="round $round $(basename "$bin"):"
    declare -A rate
    for load in health get_stock; do
      url="http://127.0.0.1:$PORT/"; [ "$load" = health ] && url="http://127.0.0.1:$PORT/health/live"
      wrk -t2 -c64 -d2s -s "$PEER/wrk/$load.lua" "$url" >/dev/null
      before=$(cpu_ticks "$SERVER")
      rps=$(wrk -t2 -c64 -d8s -s "$PEER/wrk/$load.lua" "$url" | awk '/Requests\/sec/ {print $2}')
      after=$(cpu_ticks "$SERVER")
      rate[$load]=$rps
      line+=" $load ${rps}/s $(python3 -c "print(round(($after - $before) * 1e6 / $(getconf CLK_TCK) / ($rps * 8), 1))") us/req;"
    done
    echo "$line get/health $(python3 -c "print(round(${rate[get_stock]} / ${rate[health]}, 2))")"
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
    $MARIADB -e "DROP DATABASE $db"
  done
done
