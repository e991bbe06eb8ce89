#!/usr/bin/env bash
# Latency of every /audit-logs filter on a chain-sized ledger, through the real binary, with the audit indexes
# (schema version 6) and, in the same run, without them (the baseline: the schema before issue 12).
#   bench/audit.sh [path to bazaar binary, default .build/debug/bazaar] [stores, default 4000]
# The ledger has the shape of `bazaar demo --stores 4000 --products 5000 --products-per-store 50 --days 30`:
# 50 products a store, 24 movements a pair over 30 days (4.8 million rows), 20 busy actors and a rare one
# (`auditor`, one movement in 10,007), four common reasons and a rare one (`damage`, one in 9,973). It is
# written straight into SQLite (a demo load through the API takes minutes); the queries go through HTTP.
# Only loopback is contacted. Prints one line a filter: the median of 5 requests, with and without the indexes.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/debug/bazaar}
STORES=${2:-4000}
PORT=${BENCH_PORT:-18484}
KEY=bench-admin-key-0123456789
WORK=$(mktemp -d)
DB="$WORK/audit.sqlite"
trap 'kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
command -v sqlite3 >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlite3 >/dev/null; }

"$BIN" migrate --database-url "sqlite://$DB" >/dev/null
start=$(date +%s)
sqlite3 "$DB" <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < $STORES - 1)
INSERT INTO stores (id, name, attributes, created_at_ms, updated_at_ms) SELECT printf('S%04d', i), 'store', '{}', 0, 0 FROM s;
WITH RECURSIVE p(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM p WHERE i < 4999)
INSERT INTO products (id, name, attributes, lead_time_days, review_period_days, pack_size, service_level, created_at_ms, updated_at_ms)
  SELECT printf('P%05d', i), 'product', '{}', 2, 7, 1, 0.95, 0, 0 FROM p;
-- Movements in time order (the ledger's order): 24 per pair, pair (store s, product (s * 50 + k) % 5000).
WITH RECURSIVE m(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM m WHERE n < $STORES * 50 * 24 - 1)
INSERT INTO stock_movements (movement_id, store_id, product_id, delta, quantity_before, quantity_after, version, reason,
                             reference, actor, at_ms, recorded_at_ms)
SELECT printf('m%09d', n), printf('S%04d', (n / 50) % $STORES), printf('P%05d', (((n / 50) % $STORES) * 50 + n % 50) % 5000),
       1, 0, 1, 1 + n / ($STORES * 50),
       CASE WHEN n % 9973 = 0 THEN 'damage' WHEN n % 4 = 0 THEN 'sale' WHEN n % 4 = 1 THEN 'receipt' WHEN n % 4 = 2 THEN 'count' ELSE 'adjustment' END,
       NULL, CASE WHEN n % 10007 = 0 THEN 'auditor' ELSE printf('pos-%02d', n % 20) END,
       1798761600000 + (n / ($STORES * 50)) * 108000000 + n % ($STORES * 50), 1798761600000 + n
FROM m;
SQL
rows=$(sqlite3 "$DB" "SELECT COUNT(*) FROM stock_movements")
echo "ledger: $rows movements in $(( $(date +%s) - start )) s, $(du -h "$DB" | cut -f1)"

filters=(
  "store_id=S0042"
  "product_id=P00042"
  "store_id=S0042&product_id=P02142"
  "actor=pos-07"
  "actor=auditor"
  "reason=count"
  "reason=damage"
  "actor=pos-07&reason=sale"
  "since=2027-01-10T00:00:00Z&until=2027-01-11T00:00:00Z"
  "store_id=S0042&since=2027-01-10T00:00:00Z"
  "until=2027-01-02T00:00:00Z"
  ""
)

serve() {
  BAZAAR_ADMIN_KEY=$KEY "$BIN" serve --http-port "$PORT" --database-url "sqlite://$DB" >"$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/health/live" >/dev/null && return 0; sleep 0.1; done
  echo "the server did not start" >&2; cat "$WORK/server.log" >&2; exit 1
}

measure() { # label; prints "filter median_ms status" lines into $WORK/$1
  for filter in "${filters[@]}"; do
    times=()
    for _ in 1 2 3 4 5; do
      out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -H "Authorization: Bearer $KEY" \
        "http://127.0.0.1:$PORT/audit-logs?limit=100&$filter")
      status=${out% *}
      times+=("${out#* }")
    done
    median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
    printf '%s %.1f %s\n' "${filter:-(none)}" "$(echo "$median * 1000" | bc -l)" "$status" >>"$WORK/$1"
  done
}

command -v bc >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bc >/dev/null; }
serve; measure with; kill $SERVER; wait $SERVER 2>/dev/null || true
sqlite3 "$DB" "DROP INDEX stock_movements_by_store; DROP INDEX stock_movements_by_actor; DROP INDEX stock_movements_by_reason; DROP INDEX stock_movements_by_time;"
serve; measure without; kill $SERVER; wait $SERVER 2>/dev/null || true

printf '\n| filter | with the indexes (ms) | without (ms, the schema before) |\n|---|---|---|\n'
paste -d' ' "$WORK/with" "$WORK/without" | while read -r filter with status1 _ without status2; do
  echo "| \`$filter\` | $with ($status1) | $without ($status2) |"
done
