#!/usr/bin/env bash
# What a warm cached read costs Bazaar against its own trivial route, in the production shape (issue 15).
#   bench/read-cost.sh [seconds, default 8] [rounds, default 2]
# READ_COST_BINS: the binaries to compare, space-separated, measured one after the other in each round (default
# .build/release/bazaar). Each starts on the test services of scripts/services (MariaDB primary + replica, Redis, Tansu)
# with a fresh database, key prefix and consumer group; 10 stores x 100 products are written once (so every read is a
# warm cache hit), then GET /health/live (bench/health-live.lua) and GET /get-stock (bench/get-stock.lua, a random
# pair per request; both scripts build their requests alike) each run for the given seconds (2 threads, 64
# connections) after a 2 s warm-up. Printed per load: requests/s and Bazaar's CPU microseconds per request
# (utime+stime from /proc over the measured load), and per binary the read's cost over the trivial route's.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-8}; ROUNDS=${2:-2}
read -r -a BINS <<<"${READ_COST_BINS:-.build/release/bazaar}"
PORT=${BENCH_PORT:-18187}
KEY=bench-read-cost-key-0123456789
for s in mariadb redis kafka; do bash scripts/services/$s.sh start >/dev/null; eval "$(bash scripts/services/$s.sh env | sed 's/^/export /')"; done
source bench/production-node.sh
trap 'kill $SERVER 2>/dev/null || true' EXIT
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
export BENCH_KEY=$KEY BENCH_STORES=10 BENCH_PRODUCTS=100
for round in $(seq "$ROUNDS"); do
  for bin in "${BINS[@]}"; do
    db=readcost_$(date +%s%N | cut -c1-13)
    start_production_node "$bin" "$PORT" "$KEY" "$db"
    python3 - "$PORT" "$KEY" <<'PY'
import json, sys, urllib.request
port, key = sys.argv[1], sys.argv[2]
def call(method, path, body):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method=method,
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    urllib.request.urlopen(request).read()
for s in range(1, 11): call("PUT", f"/v1/stores/S{s}", {"name": f"Store {s}"})
for p in range(1, 101): call("PUT", f"/v1/products/P{p}", {"name": f"Product {p}"})
for s in range(1, 11):
    call("POST", "/v1/movements", {"movements": [{"store_id": f"S{s}", "product_id": f"P{p}", "delta": 100, "reason": "receipt"} for p in range(1, 101)]})
PY
    line="round $round $(basename "$bin"):"
    declare -A rate cost
    for load in health-live get-stock; do
      wrk -t2 -c64 -d2s -s "bench/$load.lua" "http://127.0.0.1:$PORT" >/dev/null
      before=$(cpu_ticks "$SERVER")
      rps=$(wrk -t2 -c64 -d"${DUR}s" -s "bench/$load.lua" "http://127.0.0.1:$PORT" | awk '/Requests\/sec/ {print $2}')
      after=$(cpu_ticks "$SERVER")
      rate[$load]=$rps
      cost[$load]=$(python3 -c "print(round(($after - $before) * 1e6 / $(getconf CLK_TCK) / ($rps * $DUR), 1))")
      line+=" $load ${rps}/s ${cost[$load]} us/req;"
    done
    echo "$line read/trivial: throughput $(python3 -c "print(round(${rate[get-stock]} / ${rate[health-live]}, 2))"), CPU per request $(python3 -c "print(round(${cost[get-stock]} / ${cost[health-live]}, 2))")"
    stop_production_node "$db"
  done
done
