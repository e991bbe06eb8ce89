#!/bin/bash
# Alternating GET /get-stock (MODE=post: POST /update-stock) on the kept 10,000-pair and million-pair SQLite chains
# of bench/scale.sh.
cd "$(dirname "$0")/.."
# Usage: [MODE=post] bench/scale-reads-ab.sh KEPT_DIR BINARY (KEPT_DIR: the SCALE_KEEP folder of a SQLite
# bench/scale.sh run). Writes add to the kept ledgers: every run leaves them a little longer.
W=${1:-/tmp/scale-sqlite}; PORT=${BENCH_PORT:-18391}; BIN=${2:-.build-release/release/bazaar}; MODE=${MODE:-get}
export BENCH_KEY=bench-admin-key-0123456789
for round in 1 2 3; do
  for label in base chain; do
    BAZAAR_ADMIN_KEY=$BENCH_KEY BAZAAR_RATE_LIMIT_RATE=100000000 BAZAAR_RATE_LIMIT_BURST=100000000 BAZAAR_LOG_LEVEL=info \
      BAZAAR_HTTP_ADDRESS_RATE_LIMIT_RATE=0 "$BIN" serve --http-port $PORT --database-url "sqlite://$W/$label.sqlite" > /tmp/get-ab-$label.log 2>&1 &
    S=$!
    for _ in $(seq 600); do grep -q "cache warmed" /tmp/get-ab-$label.log && break; sleep 0.1; done
    sleep 5
    seq=$(grep -c . "$W/pairs-sqlite-$label.txt")
    export PAIRS_FILE="$W/pairs-sqlite-$label.txt" FIRST_DAY=0 DAYS=14 MAX_SEQ=1
    MODE=$MODE wrk -t1 -c64 -d3s -s bench/scale-pairs.lua "http://127.0.0.1:$PORT/" >/dev/null
    r=$(MODE=$MODE wrk -t1 -c64 -d10s --latency -s bench/scale-pairs.lua "http://127.0.0.1:$PORT/" | awk '/Requests\/sec/ {print $2}')
    echo "round $round $label $MODE/s $r rss_mb $(awk '/VmRSS/ {print int($2/1024)}' /proc/$S/status) load $(cut -d' ' -f1 /proc/loadavg) warmed: $(grep -o 'cache warmed.*' /tmp/get-ab-$label.log | cut -c1-80)"
    kill $S; wait $S 2>/dev/null
  done
done
