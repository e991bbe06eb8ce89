#!/usr/bin/env bash
# redis-server on loopback for the tests and the benchmarks.
#   scripts/services/redis.sh start|stop|env
# Ports: BAZAAR_TEST_REDIS_PORT (default 16379) in plain TCP, BAZAAR_TEST_REDIS_TLS_PORT (default 16380) in TLS with a
# certificate for 127.0.0.1 from a test CA (.test-services/redis/tls, scripts/services/test-ca.sh). Data (none
# persisted) and logs in .test-services/redis.
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT="${BAZAAR_TEST_REDIS_PORT:-16379}"
TLS_PORT="${BAZAAR_TEST_REDIS_TLS_PORT:-16380}"
DIR="$PWD/.test-services/redis"

start() {
  if ! command -v redis-server >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
  fi
  # A server from before TLS was added is restarted with it.
  if redis-cli -p "$PORT" ping >/dev/null 2>&1; then
    if [ "$(redis-cli -p "$PORT" config get tls-port | tail -1)" = "$TLS_PORT" ]; then echo "redis 127.0.0.1:$PORT (TLS $TLS_PORT)"; return 0; fi
    stop
  fi
  mkdir -p "$DIR"
  bash scripts/services/test-ca.sh "$DIR/tls"
  redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" --dir "$DIR" \
    --tls-port "$TLS_PORT" --tls-cert-file "$DIR/tls/server-cert.pem" --tls-key-file "$DIR/tls/server-key.pem" \
    --tls-ca-cert-file "$DIR/tls/ca.pem" --tls-auth-clients no
  for _ in $(seq 50); do
    if redis-cli -p "$PORT" ping >/dev/null 2>&1; then echo "redis 127.0.0.1:$PORT (TLS $TLS_PORT)"; return 0; fi
    sleep 0.1
  done
  echo "redis did not start; see $DIR/redis.log" >&2
  return 1
}

stop() {
  redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
  for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 || return 0; sleep 0.1; done
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  # A generous command timeout: the whole suite shares two cores, and a 2 s one ran out under its load (a timed-out
  # script may have run: the limiter then counts a token twice). Production keeps the 100 ms default.
  env)
    echo "BAZAAR_TEST_REDIS_URL=redis://127.0.0.1:$PORT?timeout_ms=10000"
    echo "BAZAAR_TEST_REDIS_TLS_URL=rediss://127.0.0.1:$TLS_PORT?timeout_ms=10000"
    echo "BAZAAR_TEST_REDIS_TLS_DIR=$DIR/tls" ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
