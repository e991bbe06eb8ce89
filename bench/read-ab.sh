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
source bench/production-node.sh
trap 'kill $SERVER 2>/dev/null || true' EXIT
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for round in $(seq "$ROUNDS"); do
  for bin in "$@"; do
    db=readab_$(date +%s%N | cut -c1-13)
    start_production_node "$bin" "$PORT" "$KEY" "$db"
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
    stop_production_node "$db"
  done
done
