#!/usr/bin/env bash
# Inventory states (issue 17) through the real `bazaar` binary: states on every stock answer, reservations made,
# fulfilled, released and refused, concurrent reservations of the last units, automatic expiry; purchase orders
# (incoming, a retried receipt applied once, an over-receipt flagged) and a transfer in transit arriving short.
#   scripts/reservations-e2e.sh [path to bazaar binary, default .build/debug/bazaar]
# On the embedded default (SQLite) one node. With RES_DATABASE_URL (a fresh mysql:// database) two nodes share it,
# with RES_REDIS_URL and RES_KAFKA_BROKERS if given (the production shape): reservations race across the nodes,
# each node reads the other's changes, and both sweep expiries (each reservation expired once).
# An expiry takes the API's minimum of 60 s: the script runs about 70 s. Loopback only.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/debug/bazaar}
PORT=${RES_PORT:-18484}
KEY=res-e2e-admin-key-0123456789
WORK=$(mktemp -d)
AUTH="Authorization: Bearer $KEY"
passed=0 failed=0
PIDS=()
check() { if eval "$2"; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi; }
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$WORK"' EXIT

DB=${RES_DATABASE_URL:-sqlite://$WORK/res.sqlite}
NODES=1
[[ "$DB" == mysql://* ]] && NODES=2
start() {  # node index
  local port=$((PORT + $1)) extra=()
  [ -n "${RES_REDIS_URL:-}" ] && extra+=(--redis-url "$RES_REDIS_URL")
  [ -n "${RES_KAFKA_BROKERS:-}" ] && extra+=(--kafka-brokers "$RES_KAFKA_BROKERS")
  BAZAAR_ADMIN_KEY=$KEY BAZAAR_REDIS_KEY_PREFIX="res-e2e-$$:" BAZAAR_KAFKA_CONSUMER_GROUP="res-e2e-$$" "$BIN" serve --http-host 127.0.0.1 --http-port "$port" --database-url "$DB" "${extra[@]}" \
    --rate-limit-rate 100000 --rate-limit-burst 100000 --log-level warning >>"$WORK/node$1.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/health/live" >/dev/null && return 0; sleep 0.1; done
  return 1
}
node() { echo "http://127.0.0.1:$((PORT + $1))"; }
# call NODE METHOD PATH [BODY]: prints the body, then the status on the last line
call() { curl -s -X "$2" "$(node "$1")$3" -H "$AUTH" ${4:+-d "$4"} -w '\n%{http_code}'; }
body() { sed '$d'; }
status() { tail -1; }

check "node 0 starts on $([[ $DB == mysql://* ]] && echo MariaDB || echo SQLite)" "start 0"
[ "$NODES" -eq 2 ] && check "node 1 starts on the same database" "start 1"
A=0 B=$((NODES - 1))
call $A PUT /v1/stores/S1 '{"name":"s"}' >/dev/null
call $A PUT /v1/products/P1 '{"name":"p"}' >/dev/null
call $A PUT /v1/products/P2 '{"name":"p2"}' >/dev/null
call $A PUT /v1/products/P3 '{"name":"p3"}' >/dev/null
call $A PUT /v1/stores/S2 '{"name":"s2"}' >/dev/null
call $A POST /update-stock/S1/P1 '{"delta": 5, "reason": "receipt"}' >/dev/null
check "get-stock answers the inventory states" "call $B GET /get-stock/S1/P1 | body | jq -e '.quantity == 5 and .reserved == 0 and .available == 5 and .incoming == 0' >/dev/null"

r=$(call $A POST /v1/reservations '{"store_id":"S1","product_id":"P1","quantity":3,"reference":"web-1"}')
check "a reservation is made (201, active)" "[ \$(echo \"\$r\" | status) = 201 ] && echo \"\$r\" | body | jq -e '.status == \"active\"' >/dev/null"
RID=$(echo "$r" | body | jq -r .reservation_id)
# The other node reads the change (its cache learns it through Redis, or the reservation's event on Kafka).
seen_on_b() { for _ in $(seq 100); do call $B GET "/get-stock/S1/${2:-P1}" | body | jq -e "$1" >/dev/null && return 0; sleep 0.05; done; return 1; }
check "every node answers reserved 3, available 2, version unchanged" "seen_on_b '.reserved == 3 and .available == 2 and .version == 1'"
check "the store listing carries the states" "call $B GET /v1/stores/S1/stock | body | jq -e '.items[0].available == 2' >/dev/null"
check "a reservation beyond available is 409 insufficient-available" "call $A POST /v1/reservations '{\"store_id\":\"S1\",\"product_id\":\"P1\",\"quantity\":3}' | body | jq -e '.type == \"/problems/insufficient-available\" and .available == 2' >/dev/null"
check "a damage beyond available is 409" "[ \$(call $B POST /update-stock/S1/P1 '{\"delta\": -3, \"reason\": \"damage\"}' | status) = 409 ]"
f=$(call $B POST "/v1/reservations/$RID/fulfil")
check "fulfil records the sale (on the other node)" "echo \"\$f\" | body | jq -e '.status == \"fulfilled\" and (.movement_id | length) == 36' >/dev/null"
check "the sale is in the audit trail with the reservation as reference" "call $A GET '/audit-logs?store_id=S1&limit=1' | body | jq -e '.items[0].reason == \"sale\" and .items[0].reference == \"$RID\" and .items[0].delta == -3' >/dev/null"
check "after the fulfilment: quantity 2, reserved 0" "seen_on_b '.quantity == 2 and .reserved == 0 and .available == 2'"
check "fulfilling again is 409 reservation-not-active" "call $A POST /v1/reservations/$RID/fulfil | body | jq -e '.type == \"/problems/reservation-not-active\" and .reservation_status == \"fulfilled\"' >/dev/null"

# The last units, raced across the nodes: 40 reservations of one unit for 2 available.
call $A POST /update-stock/S1/P2 '{"delta": 2, "reason": "receipt"}' >/dev/null
for i in $(seq 40); do
  n=$(( i % NODES ))
  curl -s -o /dev/null -w '%{http_code}\n' -XPOST "$(node $n)/v1/reservations" -H "$AUTH" -d '{"store_id":"S1","product_id":"P2","quantity":1}' >>"$WORK/race.txt" &
done
wait_for_race() { for _ in $(seq 300); do [ "$(wc -l <"$WORK/race.txt")" -ge 40 ] && return 0; sleep 0.1; done; return 1; }
wait_for_race
check "40 concurrent reservations of 2 units: exactly 2 made, 38 refused" "[ \$(grep -c '^201' $WORK/race.txt) -eq 2 ] && [ \$(grep -c '^409' $WORK/race.txt) -eq 38 ]"
check "... and P2 has reserved 2, available 0" "call $A GET /v1/reservations?store_id=S1\&product_id=P2\&status=active | body | jq -e '.items | length == 2' >/dev/null && seen_on_b '.reserved == 2 and .available == 0' P2"
REL=$(call $A GET '/v1/reservations?product_id=P2&status=active&limit=1' | body | jq -r '.items[0].reservation_id')
check "release gives the unit back" "call $B POST /v1/reservations/$REL/release | body | jq -e '.status == \"released\"' >/dev/null"

# A fact over reserved stock is recorded and opens over_reserved.
check "a sale over reserved stock is recorded" "[ \$(call $A POST /update-stock/S1/P2 '{\"delta\": -2, \"reason\": \"sale\"}' | status) = 200 ]"
check "... and opens an over_reserved alert" "call $A GET '/v1/alerts?store_id=S1&kind=over_reserved' | body | jq -e '.items | length == 1' >/dev/null"

# Purchase orders: incoming until received; a receipt retried on the other node with the same key is applied once.
po=$(call $A POST /v1/purchase-orders '{"store_id":"S1","supplier":"Oatly","lines":[{"product_id":"P3","quantity":10}]}')
POID=$(echo "$po" | body | jq -r .purchase_order_id)
check "a purchase order is created (201) and counts as incoming" "[ \$(echo \"\$po\" | status) = 201 ] && seen_on_b '.incoming == 10 and .quantity == 0' P3"
r1=$(curl -s -XPOST "$(node $A)/v1/purchase-orders/$POID/receipts" -H "$AUTH" -H 'Idempotency-Key: dock-1' -d '{"lines":[{"product_id":"P3","quantity":12}]}')
r2=$(curl -s -XPOST "$(node $B)/v1/purchase-orders/$POID/receipts" -H "$AUTH" -H 'Idempotency-Key: dock-1' -d '{"lines":[{"product_id":"P3","quantity":12}]}')
check "a receipt is received in full and the over-receipt flagged" "echo \"\$r1\" | jq -e '.purchase_order.status == \"received\" and .over_received[0].received == 12' >/dev/null"
check "... retried with the same key, applied once (quantity 12, nothing incoming)" "[ \"\$(echo \"\$r1\" | jq -r '.movements[0].movement_id')\" = \"\$(echo \"\$r2\" | jq -r '.movements[0].movement_id')\" ] && seen_on_b '.quantity == 12 and .incoming == 0' P3"
# A transfer in transit: shipped now, incoming at S2, received short on the other node.
t=$(call $A POST /v1/transfers '{"from_store_id":"S1","to_store_id":"S2","product_id":"P3","quantity":5,"in_transit":true}')
TID=$(echo "$t" | body | jq -r .transfer_id)
check "a transfer in transit ships (201) and is incoming at the destination" "[ \$(echo \"\$t\" | status) = 201 ] && call $B GET /get-stock/S2/P3 | body | jq -e '.incoming == 5' >/dev/null"
check "it is received 4 of 5: shortfall 1" "call $B POST /v1/transfers/$TID/receive '{\"quantity\": 4}' | body | jq -e '.shortfall == 1' >/dev/null"
check "... the destination has 4, nothing incoming, and a shrinkage alert" "call $A GET /get-stock/S2/P3 | body | jq -e '.quantity == 4 and .incoming == 0' >/dev/null && call $A GET '/v1/alerts?store_id=S2&kind=shrinkage' | body | jq -e '.items | length == 1' >/dev/null"

# Automatic expiry: 60 s is the shortest the API allows; every node sweeps every second.
e=$(call $B POST /v1/reservations '{"store_id":"S1","product_id":"P1","quantity":2,"expires_in_seconds":60}')
EID=$(echo "$e" | body | jq -r .reservation_id)
check "a reservation that expires in 60 s holds 2" "seen_on_b '.reserved == 2'"
expired() { for _ in $(seq 900); do call $A GET "/v1/reservations/$EID" | body | jq -e '.status == "expired"' >/dev/null && return 0; sleep 0.1; done; return 1; }
check "it is expired within a few seconds of expires_at" "expired && [ \$(( \$(date +%s) - \$(date -d \$(echo \"\$e\" | body | jq -r .expires_at) +%s) )) -le 10 ]"
check "... once: one expired reservation, reserved back to 0 on every node" "call $B GET '/v1/reservations?status=expired' | body | jq -e '.items | length == 1' >/dev/null && seen_on_b '.reserved == 0 and .available == 2'"
check "no node logged an internal error" "! grep -qi 'internal error' $WORK/node*.log"
echo "reservations-e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
