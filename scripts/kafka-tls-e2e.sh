#!/usr/bin/env bash
# The real `bazaar` binary with its Kafka clients over TLS (issue 11): a broker behind TLS of this run's own
# (scripts/services/kafka-tls.sh, free loopback ports), `bazaar doctor` and `bazaar serve` with kafka.security_protocol
# ssl and the test CA: topics created, an HTTP write published and a command consumed, all through TLS; a CA that did
# not sign the broker's certificate refused; SASL settings checked when the configuration is read.
#   scripts/kafka-tls-e2e.sh [path to bazaar binary, default .build/debug/bazaar]
# Needs the Tansu binary and the Python with confluent_kafka that scripts/services/kafka.sh installs, and socat.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/debug/bazaar}
PY=$PWD/.test-services/kafka/venv/bin/python
KEY=e2e-admin-key-0123456789
WORK=$(mktemp -d)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
TLS_PORT=$(free_port) PLAIN_PORT=$(free_port) PORT=$(free_port)
B="http://127.0.0.1:$PORT"
AUTH="Authorization: Bearer $KEY"
BROKERS=127.0.0.1:$TLS_PORT
SERVER=
passed=0 failed=0
check() { if eval "$2"; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi; }
trap 'kill $SERVER 2>/dev/null; bash scripts/services/kafka-tls.sh stop "$WORK/broker"; rm -rf "$WORK"' EXIT

bash scripts/services/kafka-tls.sh start "$WORK/broker" "$TLS_PORT" "$PLAIN_PORT" || exit 1
CA=$WORK/broker/tls/ca.pem
export BAZAAR_KAFKA_BROKERS=$BROKERS BAZAAR_KAFKA_SECURITY_PROTOCOL=ssl BAZAAR_KAFKA_SSL_CA_LOCATION=$CA

check "doctor reaches the broker over TLS" "$BIN doctor --database-url sqlite://$WORK/d.sqlite --timeout 5 >$WORK/doctor.txt 2>&1 && grep -q '(ssl)' $WORK/doctor.txt"
BAZAAR_KAFKA_SSL_CA_LOCATION=$WORK/broker/tls/other-ca.pem $BIN doctor --database-url "sqlite://$WORK/d.sqlite" --timeout 5 >"$WORK/doctor-bad.txt" 2>&1
code=$?
check "doctor with a CA that did not sign the broker's certificate fails, saying why" "[ $code -ne 0 ] && grep -q 'certificate verify failed' $WORK/doctor-bad.txt"
# Configuration errors, before anything connects: said with the key to fix, the password never echoed.
BAZAAR_KAFKA_SECURITY_PROTOCOL=sasl_ssl BAZAAR_KAFKA_SASL_PASSWORD=hunter2-e2e $BIN serve --http-port "$PORT" \
  --database-url "sqlite://$WORK/c.sqlite" >"$WORK/sasl-bad.txt" 2>&1
code=$?
check "sasl_ssl without a user is refused at start, naming the key" "[ $code -ne 0 ] && grep -q 'kafka.sasl_username' $WORK/sasl-bad.txt && ! grep -q hunter2 $WORK/sasl-bad.txt"
BAZAAR_KAFKA_SECURITY_PROTOCOL=sasl_ssl BAZAAR_KAFKA_SASL_MECHANISM=PLAIN BAZAAR_KAFKA_SASL_USERNAME=u BAZAAR_KAFKA_SASL_PASSWORD=hunter2-e2e \
  $BIN serve --http-port "$PORT" --database-url "sqlite://$WORK/c.sqlite" >"$WORK/mechanism-bad.txt" 2>&1
code=$?
check "an unknown SASL mechanism is refused at start" "[ $code -ne 0 ] && grep -q 'kafka.sasl_mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512' $WORK/mechanism-bad.txt && ! grep -q hunter2 $WORK/mechanism-bad.txt"

run=$RANDOM$RANDOM
BAZAAR_ADMIN_KEY=$KEY BAZAAR_KAFKA_CONSUMER_GROUP="tls-e2e-$run" "$BIN" serve --http-port "$PORT" \
  --database-url "sqlite://$WORK/e2e.sqlite" >>"$WORK/server.log" 2>&1 &
SERVER=$!
started() { for _ in $(seq 150); do curl -sf "$B/health/live" >/dev/null && return 0; sleep 0.1; done; return 1; }
check "serve starts with Kafka over TLS" "started"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
curl -sf -XPUT "$B/v1/stores/T$run" -H "$AUTH" -d '{"name":"t"}' >/dev/null
curl -sf -XPUT "$B/v1/products/P1" -H "$AUTH" -d '{"name":"p"}' >/dev/null
movement=$(curl -sf -XPOST "$B/update-stock/T$run/P1" -H "$AUTH" -d '{"delta": 3, "reason": "receipt"}' | json "d['movement_id']")
cat >"$WORK/tls.py" <<'PY'
import json, sys, time
from confluent_kafka import Consumer, Producer
action, brokers, ca, store, arg = sys.argv[1:6]
tls = {"bootstrap.servers": brokers, "security.protocol": "ssl", "ssl.ca.location": ca}
if action == "find":  # the movement `arg` on bazaar.stock-movements, read through TLS
    c = Consumer(dict(tls, **{"group.id": "tls-e2e-" + arg, "auto.offset.reset": "earliest",
                              "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}))
    c.subscribe(["bazaar.stock-movements"])
    deadline, found = time.time() + 45, False
    while not found and time.time() < deadline:
        for m in c.consume(500, 0.5):
            found = found or (not m.error() and m.key() == store.encode() and arg.encode() in m.value())
    c.close()
    sys.exit(0 if found else 1)
p = Producer(dict(tls, **{"acks": "all"}))  # a command for the binary's consumer, through TLS
p.produce("bazaar.stock-commands", key=store.encode(), value=json.dumps(
    {"id": "tls-e2e-" + arg, "store_id": store, "product_id": "P1", "delta": 4, "reason": "receipt"}).encode())
sys.exit(0 if p.flush(30) == 0 else 1)
PY
check "an HTTP write is published on bazaar.stock-movements through TLS" "[ -n '$movement' ] && $PY $WORK/tls.py find $BROKERS $CA T$run $movement"
check "a command produced through TLS" "$PY $WORK/tls.py produce $BROKERS $CA T$run $run"
quantity() { curl -sf "$B/get-stock/T$run/P1" -H "$AUTH" | json "d['quantity']"; }
for _ in $(seq 200); do [ "$(quantity)" = 7 ] && break; sleep 0.2; done
check "... is consumed and applied by the binary" "[ \"\$(quantity)\" = 7 ]"
check "no TLS error in the server's log" "! grep -qi 'ssl\|certificate' $WORK/server.log"
kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null; SERVER=

echo "kafka tls e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || { echo "--- server log"; tail -30 "$WORK/server.log"; }
[ "$failed" -eq 0 ]
