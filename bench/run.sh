#!/usr/bin/env bash
# Bazaar HTTP benchmark on the embedded default (SQLite, synchronous=FULL: every answered write is on disk).
# Builds release, starts `bazaar` on a fresh database, and reports requests/s and p50/p99 for each load next to
# GET /health/live measured in the same run (these machines are noisy: compare ratios, not absolutes).
#   bench/run.sh [seconds per load, default 10] [connections, default 64]
# BENCH_REDIS=1 runs the node with the Redis cache and limiter (scripts/services/redis.sh) and reports the cache's
# hit rates and Redis commands per request.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-64}
PORT=${BENCH_PORT:-18181}
export BENCH_KEY=bench-admin-key-0123456789 BENCH_STORES=100 BENCH_PRODUCTS=100

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
swift build -c release --product bazaar >/dev/null
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
REDIS_URL=""
if [ "${BENCH_REDIS:-0}" = "1" ]; then
  bash scripts/services/redis.sh start >/dev/null
  REDIS_URL=$(bash scripts/services/redis.sh env | cut -d= -f2-)
  REDIS_URL=${REDIS_URL%%\?*}  # the production default timeout
  REDIS_PORT=${REDIS_URL##*:}
fi
BAZAAR_ADMIN_KEY=$BENCH_KEY BAZAAR_RATE_LIMIT_RATE=100000000 BAZAAR_RATE_LIMIT_BURST=100000000 BAZAAR_LOG_LEVEL=warning \
  BAZAAR_REDIS_URL=$REDIS_URL BAZAAR_REDIS_KEY_PREFIX="bench-$$:" \
  .build/release/bazaar serve --http-port "$PORT" --database-url "sqlite://$WORK/bench.sqlite" >"$WORK/server.log" 2>&1 &
SERVER=$!
source bench/wrk.sh
wait_and_seed

echo "warming up..."
wrk -t1 -c"$CONNECTIONS" -d3s "http://127.0.0.1:$PORT/health/live" >/dev/null
wrk -t1 -c"$CONNECTIONS" -d3s -s bench/get-stock.lua "http://127.0.0.1:$PORT/" >/dev/null

redis_commands() { redis-cli -p "$REDIS_PORT" info stats | awk -F: '/total_commands_processed/ {print $2+0}'; }
results=()
results+=("$(run baseline-health-live /health/live)")
[ -n "$REDIS_URL" ] && commands_before=$(redis_commands)
results+=("$(run get-stock-many-keys / bench/get-stock.lua)")
if [ -n "$REDIS_URL" ]; then
  commands_after=$(redis_commands)
  get_requests=$(awk '/requests in/ {print $1}' "$WORK/get-stock-many-keys.txt")
  curl -sf "http://127.0.0.1:$PORT/metrics" | grep -E '^bazaar_(cache|redis)' >"$WORK/metrics-get.txt" || true
fi
results+=("$(run update-stock-many-keys / bench/update-many.lua)")
results+=("$(run update-stock-hot-key / bench/update-hot.lua)")
results+=("$(run baseline-health-live-again /health/live)")

baseline=$(echo "${results[0]}" | awk '{print $2}')
printf '\n%-28s %12s %10s %10s %10s\n' load "requests/s" p50 p99 "x baseline"
for line in "${results[@]}"; do
  set -- $line
  printf '%-28s %12s %10s %10s %10s\n' "$1" "$2" "$3" "$4" "$(awk -v a="$2" -v b="$baseline" 'BEGIN {printf "%.2f", a / b}')"
done

if [ -n "$REDIS_URL" ]; then
  echo
  echo "redis commands during the GET load: $((commands_after - commands_before)) for $get_requests requests" \
    "($(awk -v c=$((commands_after - commands_before)) -v r="$get_requests" 'BEGIN {printf "%.3f", c / r}') per request)"
  echo "(redis-server also counts the commands run inside scripts; the service's own round trips are"
  echo " bazaar_redis_round_trips_total below, as of the end of the GET load, warm-up included)"
  cat "$WORK/metrics-get.txt"
fi

check_hot_key
