#!/usr/bin/env bash
# Chain scale (issue 14): a million store x product pairs on one node, each figure next to the same figure on a
# 10,000-pair chain loaded and measured in the same run.
#
#   bench/scale.sh                       both engines, the full sizes (several minutes of both cores per engine)
#   SCALE_ENGINES=sqlite bench/scale.sh  one engine (sqlite or mariadb)
#   SCALE_STORES=400 bench/scale.sh      a smaller chain (250 products a store, so 100,000 pairs) while developing
#
# For each engine and each chain (the baseline of SCALE_BASE_STORES stores first, then SCALE_STORES stores, 250
# products a store from a catalog of 5,000, SCALE_DAYS days of history), through the real binary:
#   load        `bazaar demo` (the bulk path) into an empty database: seconds and movements a second
#   ready       from starting `bazaar serve` to the first 200 from /health/ready
#   rss         the server's resident memory after the loads below (VmRSS) and its peak (VmHWM)
#   get/post    wrk, one thread, 64 connections, SCALE_DURATION s: GET /get-stock and POST /update-stock (+1 receipts)
#               over random pairs of the whole chain (every stock row is a candidate)
#   audit       wrk, one thread, 4 connections, SCALE_AUDIT_DURATION s per filter: p99 of every documented
#               /audit-logs filter and of /v1/changes, values drawn at random over the chain and its days
#   intelligence bazaar_intelligence_pairs_evaluated_total from the server's start until it covers every pair (at most
#               SCALE_INTELLIGENCE_SECONDS, default 240, then extrapolated): pairs a second and the time to a full pass
# MariaDB is the test primary of scripts/services/mariadb.sh (durable settings; its replica replicates everything),
# a database of its own per chain, dropped at the end; the server reads the primary. Its InnoDB buffer pool is raised
# to SCALE_MARIADB_BUFFER_POOL (default 4G, what a database host of this chain would have) for the run and put back.
# BENCH_BIN picks the binary (default: the release build in .build-release, else .build/debug/bazaar).
# Only loopback is contacted. Prints a table per engine; the raw outputs stay in $SCALE_KEEP if set.
set -euo pipefail
cd "$(dirname "$0")/.."
STORES=${SCALE_STORES:-4000}
BASE_STORES=${SCALE_BASE_STORES:-40}
PER_STORE=250
PRODUCTS=5000
DAYS=${SCALE_DAYS:-14}
DURATION=${SCALE_DURATION:-10}
AUDIT_DURATION=${SCALE_AUDIT_DURATION:-5}
INTELLIGENCE_SECONDS=${SCALE_INTELLIGENCE_SECONDS:-240}
ENGINES=${SCALE_ENGINES:-"sqlite mariadb"}
PORT=${BENCH_PORT:-18191}
export BENCH_KEY=bench-admin-key-0123456789
if [ -z "${BENCH_BIN:-}" ]; then
  if [ -x .build-release/release/bazaar ]; then BENCH_BIN=.build-release/release/bazaar; else BENCH_BIN=.build/debug/bazaar; fi
fi
# The table names the build: BENCH_BUILD when given (a release binary copied elsewhere), else guessed from the path.
BUILD=${BENCH_BUILD:-$(case "$BENCH_BIN" in *release*) echo release ;; *) echo debug ;; esac)}

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
command -v sqlite3 >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlite3 >/dev/null; }
WORK=${SCALE_KEEP:-$(mktemp -d)}
mkdir -p "$WORK"
SERVER=""
POOL_BEFORE=""
cleanup() {
  [ -n "$SERVER" ] && { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
  if [ -n "$POOL_BEFORE" ]; then for label in base chain; do sql -e "DROP DATABASE IF EXISTS bench_scale_$$_$label" || true; done; fi
  [ -n "$POOL_BEFORE" ] && sql -e "SET GLOBAL innodb_buffer_pool_size = $POOL_BEFORE" || true
  # An if, not `[ ] && rm`: with SCALE_KEEP set the test's status would become the script's (a run that passed
  # ended with status 1).
  if [ -z "${SCALE_KEEP:-}" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

MYSQL_PORT=${BAZAAR_TEST_MARIADB_PORT:-13306}
sql() { mariadb --protocol=tcp -h127.0.0.1 -P"$MYSQL_PORT" -uroot "$@"; }
if [[ " $ENGINES " == *" mariadb "* ]]; then
  bash scripts/services/mariadb.sh start >/dev/null
  POOL_BEFORE=$(sql -N -e "SELECT @@innodb_buffer_pool_size")
  sql -e "SET GLOBAL innodb_buffer_pool_size = ${SCALE_MARIADB_BUFFER_POOL:-4294967296}"
fi

FIRST_DAY=$(( $(date -u +%s) / 86400 - DAYS ))

# database_url ENGINE NAME: a fresh database (a SQLite file, or a MariaDB database).
database_url() {
  if [ "$1" = sqlite ]; then echo "sqlite://$WORK/$2.sqlite"; return; fi
  local name="bench_scale_$$_$2"
  sql -e "DROP DATABASE IF EXISTS $name; CREATE DATABASE $name CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
  echo "mysql://root@127.0.0.1:$MYSQL_PORT/$name"
}

# pairs ENGINE URL FILE: every stock row as STORE/PRODUCT.
pairs() {
  if [ "$1" = sqlite ]; then
    sqlite3 "${2#sqlite://}" "SELECT store_id || '/' || product_id FROM stock_levels" >"$3"
  else
    sql -N "${2##*/}" -e "SELECT CONCAT(store_id, '/', product_id) FROM stock_levels" >"$3"
  fi
}

max_seq() {
  if [ "$1" = sqlite ]; then sqlite3 "${2#sqlite://}" "SELECT MAX(seq) FROM stock_movements"
  else sql -N "${2##*/}" -e "SELECT MAX(seq) FROM stock_movements"; fi
}

# Every documented /audit-logs filter (README, openapi.yaml), alone and in the combinations the README shows, and
# /v1/changes from the start and from a random cursor.
FILTERS=(
  "/audit-logs?limit=100"
  "/audit-logs?limit=100&store_id={store}"
  "/audit-logs?limit=100&product_id={product}"
  "/audit-logs?limit=100&{pair}"
  "/audit-logs?limit=100&actor=demo-loader"
  "/audit-logs?limit=100&actor=admin"
  "/audit-logs?limit=100&reason=sale"
  "/audit-logs?limit=100&reason=count"
  "/audit-logs?limit=100&reason=damage"
  "/audit-logs?limit=100&actor=demo-loader&reason=count"
  "/audit-logs?limit=100&since={day}"
  "/audit-logs?limit=100&until={day}"
  "/audit-logs?limit=100&since={day}&until={next}"
  "/audit-logs?limit=100&store_id={store}&reason=sale&since={day}"
  "/audit-logs?limit=100&product_id={product}&since={day}&until={next}"
  "/audit-logs?limit=100&actor=demo-loader&since={day}&until={next}"
  "/audit-logs?limit=100&reason=receipt&until={day}"
  "/v1/changes?limit=500"
  "/v1/changes?limit=500&cursor=s{seq}"
)

wrk_rate() { awk '/Requests\/sec/ {print $2}' "$1"; }
# wrk's p99 (p50) in milliseconds (it prints us, ms or s).
wrk_percentile() {
  awk -v p="$2" '$1==p {v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
       printf "%.2f", (u == "us" ? v / 1000 : u == "s" ? v * 1000 : u == "m" ? v * 60000 : v)}' "$1"
}
wrk_p99() { wrk_percentile "$1" 99%; }
wrk_p50() { wrk_percentile "$1" 50%; }
wrk_errors() { awk '/NOT_OK/ {print $2}' "$1"; }

# measure ENGINE LABEL STORES: loads a chain, serves it, measures; writes "key value" lines to $WORK/ENGINE-LABEL.txt
measure() {
  local engine=$1 label=$2 stores=$3 out="$WORK/$1-$2.txt" url
  : >"$out"
  url=$(database_url "$engine" "$label")
  echo "[$engine $label] loading $stores stores x $PER_STORE products, $DAYS days..." >&2
  local start end
  start=$(date +%s.%N)
  BAZAAR_LOG_LEVEL=warning "$BENCH_BIN" demo --database-url "$url" --stores "$stores" --products "$PRODUCTS" \
    --products-per-store "$PER_STORE" --days "$DAYS" >"$WORK/$engine-$label-demo.txt" 2>"$WORK/$engine-$label-demo.err"
  end=$(date +%s.%N)
  local movements
  movements=$(sed -n 's/.*products, \([0-9]*\) movements.*/\1/p' "$WORK/$engine-$label-demo.txt")
  echo "pairs $((stores * PER_STORE))" >>"$out"
  echo "movements $movements" >>"$out"
  echo "load_s $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}')" >>"$out"
  echo "load_rate $(awk -v a="$start" -v b="$end" -v n="$movements" 'BEGIN {printf "%.0f", n / (b - a)}')" >>"$out"
  if [ "$engine" = sqlite ]; then echo "size $(du -h "${url#sqlite://}" | cut -f1)" >>"$out"; else
    echo "size $(sql -N -e "SELECT CONCAT(ROUND(SUM(data_length + index_length) / 1073741824, 1), 'G') FROM information_schema.tables WHERE table_schema = '${url##*/}'")" >>"$out"
  fi
  pairs "$engine" "$url" "$WORK/pairs-$engine-$label.txt"
  local seq
  seq=$(max_seq "$engine" "$url")

  echo "[$engine $label] serving..." >&2
  start=$(date +%s.%N)
  local launched=$start
  BAZAAR_ADMIN_KEY=$BENCH_KEY BAZAAR_RATE_LIMIT_RATE=100000000 BAZAAR_RATE_LIMIT_BURST=100000000 BAZAAR_LOG_LEVEL=warning \
    BAZAAR_HTTP_ADDRESS_RATE_LIMIT_RATE=0 \
    "$BENCH_BIN" serve --http-port "$PORT" --database-url "$url" >"$WORK/$engine-$label-server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 6000); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health/ready")" = 200 ] && break
    sleep 0.01
  done
  end=$(date +%s.%N)
  echo "ready_s $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b - a}')" >>"$out"
  local rss_ready
  rss_ready=$(awk '/VmRSS/ {print $2}' /proc/$SERVER/status)

  # The intelligence's pass over every pair (thresholds never computed: every pair is due), while nothing else runs:
  # polled every 2 s until it has evaluated as many pairs as the chain holds, or SCALE_INTELLIGENCE_SECONDS passed
  # (then the time to a full pass is extrapolated from the rate, and marked so).
  metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^bazaar_intelligence_pairs_evaluated_total/ {s += $2} END {printf "%d", s}'; }
  # A pass that has stopped counting for 10 s is over (pairs without history are skipped, so it may end below the
  # chain's count): its end is the time of its last count.
  # Timed from the server's start (the pass begins before the node is ready).
  local pairs_total=$((stores * PER_STORE)) evaluated=0 waited=0 last=-1 still=0
  start=$launched
  end=$(date +%s.%N)
  while [ "$waited" -lt "$INTELLIGENCE_SECONDS" ]; do
    evaluated=$(metric)
    if [ "$evaluated" != "$last" ]; then last=$evaluated; still=0; end=$(date +%s.%N); else still=$((still + 2)); fi
    [ "$evaluated" -ge "$pairs_total" ] && break
    [ "$evaluated" -gt 0 ] && [ "$still" -ge 10 ] && { pairs_total=$evaluated; break; }
    sleep 2; waited=$((waited + 2))
  done
  echo "intelligence_pairs_evaluated $evaluated" >>"$out"
  echo "intelligence_pairs_per_s $(awk -v a="$start" -v b="$end" -v n="$evaluated" 'BEGIN {printf "%.0f", n / (b - a)}')" >>"$out"
  if [ "$evaluated" -ge "$pairs_total" ]; then
    echo "intelligence_full_pass_s $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.0f", b - a}')" >>"$out"
  else
    echo "intelligence_full_pass_s $(awk -v a="$start" -v b="$end" -v n="$evaluated" -v t="$pairs_total" 'BEGIN {if (n > 0) printf "~%.0f(extrapolated)", t * (b - a) / n; else print "n/a"}')" >>"$out"
  fi

  export PAIRS_FILE="$WORK/pairs-$engine-$label.txt" FIRST_DAY DAYS MAX_SEQ=$seq
  wrk -t1 -c64 -d3s -s bench/scale-pairs.lua "http://127.0.0.1:$PORT/" >/dev/null  # warm-up
  MODE=get wrk -t1 -c64 -d"${DURATION}s" --latency -s bench/scale-pairs.lua "http://127.0.0.1:$PORT/" >"$WORK/$engine-$label-get.txt"
  echo "get_rate $(wrk_rate "$WORK/$engine-$label-get.txt")" >>"$out"
  echo "get_p99 $(wrk_p99 "$WORK/$engine-$label-get.txt")" >>"$out"
  echo "get_errors $(wrk_errors "$WORK/$engine-$label-get.txt")" >>"$out"
  MODE=post wrk -t1 -c64 -d"${DURATION}s" --latency -s bench/scale-pairs.lua "http://127.0.0.1:$PORT/" >"$WORK/$engine-$label-post.txt"
  echo "post_rate $(wrk_rate "$WORK/$engine-$label-post.txt")" >>"$out"
  echo "post_p99 $(wrk_p99 "$WORK/$engine-$label-post.txt")" >>"$out"
  echo "post_errors $(wrk_errors "$WORK/$engine-$label-post.txt")" >>"$out"

  local index=0
  for filter in "${FILTERS[@]}"; do
    QUERY=$filter wrk -t1 -c4 -d"${AUDIT_DURATION}s" --latency -s bench/scale-audit.lua "http://127.0.0.1:$PORT/" >"$WORK/$engine-$label-audit-$index.txt"
    echo "audit_$index $(wrk_p99 "$WORK/$engine-$label-audit-$index.txt") $(wrk_errors "$WORK/$engine-$label-audit-$index.txt") $(wrk_p50 "$WORK/$engine-$label-audit-$index.txt")" >>"$out"
    index=$((index + 1))
  done
  echo "load_average_1m $(cut -d' ' -f1 /proc/loadavg)" >>"$out"
  echo "rss_mb $(awk '/VmRSS/ {printf "%.0f", $2 / 1024}' /proc/$SERVER/status)" >>"$out"
  echo "rss_ready_mb $(awk -v k="$rss_ready" 'BEGIN {printf "%.0f", k / 1024}')" >>"$out"
  echo "rss_peak_mb $(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' /proc/$SERVER/status)" >>"$out"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
}

value() { awk -v k="$2" '$1 == k {print $2}' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a + 0 > 0 && b + 0 > 0) printf "%.2f", b / a; else print "-"}'; }

for engine in $ENGINES; do
  measure "$engine" base "$BASE_STORES"
  measure "$engine" chain "$STORES"
  base="$WORK/$engine-base.txt" chain="$WORK/$engine-chain.txt"
  echo
  echo "## $engine ($BUILD build, $(date -u +%Y-%m-%d), $DAYS days of history)"
  echo
  echo "| figure | $(value "$base" pairs) pairs | $(value "$chain" pairs) pairs | chain / baseline |"
  echo "|---|---|---|---|"
  for key in movements size load_s load_rate ready_s rss_ready_mb rss_mb rss_peak_mb get_rate get_p99 get_errors post_rate post_p99 post_errors \
             intelligence_pairs_evaluated intelligence_pairs_per_s intelligence_full_pass_s load_average_1m; do
    echo "| $key | $(value "$base" $key) | $(value "$chain" $key) | $(ratio "$(value "$base" $key)" "$(value "$chain" $key)") |"
  done
  index=0
  for filter in "${FILTERS[@]}"; do
    echo "| p99 (p50) ms \`${filter}\` | $(awk -v k="audit_$index" '$1 == k {print $2 " (" $4 ")" ($3 > 0 ? ", " $3 " not 2xx" : "")}' "$base") | $(awk -v k="audit_$index" '$1 == k {print $2 " (" $4 ")" ($3 > 0 ? ", " $3 " not 2xx" : "")}' "$chain") | |"
    index=$((index + 1))
  done
done
