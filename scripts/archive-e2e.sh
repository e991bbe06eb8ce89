#!/usr/bin/env bash
# Ledger retention through the real binary (`bazaar archive`, README "Ledger retention"): history written by a server
# whose clock runs 70 and 40 days behind (libfaketime, Debian `faketime`), then, with the real clock and a server
# serving writes: refusals, an archive run killed with SIGKILL mid-way, the invariant checked over HTTP (quantity =
# checkpoint + the audit trail's deltas), the run resumed, the files read back by their documented schema, a restart.
#   scripts/archive-e2e.sh [path to bazaar binary, default .build/debug/bazaar]
# E2E_DATABASE_URL runs it on another database (a fresh MariaDB database).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/debug/bazaar}
PORT=${E2E_PORT:-18292}
KEY=e2e-admin-key-0123456789
WORK=$(mktemp -d)
DB=${E2E_DATABASE_URL:-sqlite://$WORK/archive.sqlite}
B="http://127.0.0.1:$PORT"
AUTH="Authorization: Bearer $KEY"
passed=0 failed=0 SERVER=
check() { if eval "$2"; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi; }
# libfaketime preloaded into the server itself (the `faketime` wrapper forks: its pid is not the server's).
FAKETIME_LIB=$(dpkg -L libfaketime 2>/dev/null | grep -m1 '/libfaketime.so.1$')
# start [faketime offset]: serve on the database, with the clock shifted when an offset is given (monotonic
# clocks untouched: timers keep their pace).
start() {
  curl -s -o /dev/null "$B/health/live" && { echo "port $PORT is taken by another server" >&2; return 1; }
  # The configuration by environment: under libfaketime the process sees no command-line arguments.
  if [ -n "${1:-}" ]; then
    LD_PRELOAD="$FAKETIME_LIB" FAKETIME="$1" FAKETIME_DONT_FAKE_MONOTONIC=1 BAZAAR_ADMIN_KEY=$KEY BAZAAR_HTTP_PORT=$PORT \
      BAZAAR_DATABASE_URL="$DB" BAZAAR_LOG_LEVEL=warning "$BIN" serve >>"$WORK/server.log" 2>&1 &
  else
    BAZAAR_ADMIN_KEY=$KEY BAZAAR_HTTP_PORT=$PORT BAZAAR_DATABASE_URL="$DB" BAZAAR_LOG_LEVEL=warning "$BIN" serve >>"$WORK/server.log" 2>&1 &
  fi
  SERVER=$!
  for _ in $(seq 600); do curl -sf "$B/health/live" >/dev/null && kill -0 "$SERVER" 2>/dev/null && return 0; sleep 0.1; done
  tail -5 "$WORK/server.log" >&2
  return 1
}
stop() { kill -TERM "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; SERVER=; }
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
PAIRS="A1/X1 A1/X2 A2/X1 A2/X3"
# batch <reference prefix>: 100 movements over the pairs in one call.
batch() {
  python3 - "$1" "$PAIRS" <<'EOF' | curl -sf -o /dev/null -XPOST "$B/v1/movements" -H "$AUTH" -H 'Content-Type: application/json' -d @-
import json, sys
prefix, pairs = sys.argv[1], sys.argv[2].split()
moves = []
for i in range(100):
    s, p = pairs[i % len(pairs)].split("/")
    delta = -1 if i % 5 == 4 else 3
    moves.append({"store_id": s, "product_id": p, "delta": delta, "reason": "sale" if delta < 0 else "receipt", "reference": f"{prefix}-{i}"})
print(json.dumps({"movements": moves}))
EOF
}
# invariant: every pair's quantity and version equal its checkpoint plus its audit trail (paged), over HTTP. A writer
# may commit between the level's read and the audit's: rows newer than the level read are left out, and the rows up to
# it must be exactly versions checkpoint+1 .. level (none missing, none twice).
invariant() {
  python3 - "$B" "$KEY" "$PAIRS" <<'EOF'
import json, sys, urllib.request
base, key, pairs = sys.argv[1], sys.argv[2], sys.argv[3].split()
def get(path):
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {key}"})
    return json.load(urllib.request.urlopen(request))
bad = []
for pair in pairs:
    s, p = pair.split("/")
    level = get(f"/get-stock/{s}/{p}")
    total, rows, cursor, checkpoint, versions = 0, 0, None, None, []
    while True:
        page = get(f"/audit-logs?store_id={s}&product_id={p}&limit=1000" + (f"&cursor={cursor}" if cursor else ""))
        if checkpoint is None: checkpoint = page.get("checkpoint") or {"quantity": 0, "rows": 0}
        seen = [i for i in page["items"] if i["version"] <= level["version"]]
        total += sum(i["delta"] for i in seen); rows += len(seen); versions.extend(i["version"] for i in seen)
        cursor = page["next_cursor"]
        if not cursor: break
    contiguous = sorted(versions) == list(range(checkpoint["rows"] + 1, level["version"] + 1))
    if level["quantity"] != checkpoint["quantity"] + total or level["version"] != checkpoint["rows"] + rows or not contiguous:
        bad.append((pair, level["quantity"], level["version"], checkpoint, total, rows, contiguous))
print(bad or "")
sys.exit(1 if bad else 0)
EOF
}

# History: 400 movements recorded 70 days ago, 400 recorded 40 days ago (two months, usually), by a server whose
# clock says so. SIGTERM drains the outbox (the in-process bus): nothing old stays unpublished.
check "libfaketime is installed (Debian faketime)" "[ -n '$FAKETIME_LIB' ]"
check "serve starts 70 days in the past" "start -70d"
for s in A1 A2; do curl -sf -XPUT "$B/v1/stores/$s" -H "$AUTH" -d '{"name":"s"}' >/dev/null; done
for p in X1 X2 X3; do curl -sf -XPUT "$B/v1/products/$p" -H "$AUTH" -d '{"name":"p"}' >/dev/null; done
for i in 1 2 3 4; do batch "old70-$i"; done
stop
check "serve starts 40 days in the past" "start -40d"
# The server's faked clock reads between these two readings of ours (40 days back): the same date, or across
# midnight UTC either of the two.
before40=$(date -u -d '-40 days' +%F)
for i in 1 2 3 4; do batch "old40-$i"; done
newest=$(curl -sf "$B/audit-logs?limit=1" -H "$AUTH")
after40=$(date -u -d '-40 days' +%F)
check "the history was recorded 40 days ago" "grep -Eq '\"recorded_at\":\"($before40|$after40)' <<<'$newest'"
stop
check "serve starts with the real clock" "start"
batch recent-1
check "the invariant holds before archiving" "invariant"

# Refusals, as sentences (exit 1, nothing done).
future=$(date -u -d '+2 days' +%F); recent=$(date -u -d '-2 days' +%F); cutoff=$(date -u -d '-20 days' +%F)
"$BIN" archive --database-url "$DB" --before "$future" --output "$WORK/out" >"$WORK/refuse1.txt" 2>&1; c1=$?
check "a cut-off in the future is refused with a sentence" "[ $c1 -ne 0 ] && grep -q 'is in the future' $WORK/refuse1.txt"
"$BIN" archive --database-url "$DB" --before "$recent" --output "$WORK/out" >"$WORK/refuse2.txt" 2>&1; c2=$?
check "a cut-off inside the idempotency window is refused, naming the latest allowed" "[ $c2 -ne 0 ] && grep -q 'inside the idempotency window' $WORK/refuse2.txt && grep -q 'give --before' $WORK/refuse2.txt"
"$BIN" archive --database-url "$DB" --before yesterday-ish --output "$WORK/out" >"$WORK/refuse3.txt" 2>&1; c3=$?
check "a cut-off that is not a date is refused" "[ $c3 -ne 0 ] && grep -q -- '--before must be a date' $WORK/refuse3.txt"

# A writer keeps writing while archive runs in batches of 7 rows; the run is killed with SIGKILL mid-way.
( for i in $(seq 40); do batch "during-$i"; done ) &
WRITER=$!
# One row a batch (800 transactions, each synced): the kill lands in the export, between the steps or mid-batches.
"$BIN" archive --database-url "$DB" --before "$cutoff" --output "$WORK/out" --batch-rows 1 >"$WORK/archive1.txt" 2>&1 &
ARCHIVER=$!
sleep "$((RANDOM % 2)).$((RANDOM % 10))"
kill -KILL "$ARCHIVER" 2>/dev/null; wait "$ARCHIVER" 2>/dev/null
echo "     (killed after $(ls "$WORK"/out/ledger-*/manifest.json 2>/dev/null | wc -l) manifest(s); first run said: $(cat "$WORK/archive1.txt"))"
check "after a SIGKILL mid-archive the invariant holds (rows in the ledger or in checkpoints)" "invariant"
"$BIN" archive --database-url "$DB" --before "$cutoff" --output "$WORK/out" --batch-rows 7 >"$WORK/archive2.txt" 2>&1; c4=$?
wait "$WRITER"
echo "     (re-run: $(cat "$WORK/archive2.txt"))"
check "the re-run finishes the run (or does it whole if the kill came before it was recorded, or has nothing left)" "[ $c4 -eq 0 ] && grep -Eq '^(Finished the interrupted|Archived 800 ledger rows|Nothing to archive)' $WORK/archive2.txt"
check "the invariant holds while writes went on" "invariant"
"$BIN" archive --database-url "$DB" --before "$cutoff" --output "$WORK/out" >"$WORK/archive3.txt" 2>&1
check "the same command again is a no-op" "grep -q '^Nothing to archive' $WORK/archive3.txt"

# The files, read back by the documented schema: manifest, SHA-256, rows, fields.
check "the archive files hold the 800 old rows, as documented" "python3 - '$WORK/out' <<'EOF'
import glob, gzip, hashlib, json, sys
runs = glob.glob(sys.argv[1] + '/ledger-*-*/manifest.json')
assert len(runs) == 1, runs
manifest = json.load(open(runs[0]))
assert manifest['format'] == 'bazaar-ledger-archive' and manifest['format_version'] == 1 and manifest['rows'] == 800, manifest
rows = 0
fields = {'sequence', 'movement_id', 'store_id', 'product_id', 'delta', 'quantity_before', 'quantity_after', 'version',
          'reason', 'reference', 'actor', 'at', 'recorded_at'}
for f in manifest['files']:
    path = runs[0].rsplit('/', 1)[0] + '/' + f['name']
    data = open(path, 'rb').read()
    assert hashlib.sha256(data).hexdigest() == f['sha256'] and len(data) == f['bytes'], f
    lines = [json.loads(l) for l in gzip.decompress(data).decode().splitlines()]
    assert len(lines) == f['rows'] and all(set(l) == fields for l in lines), f
    assert all(l['recorded_at'].startswith(f['period']) and l['reference'].startswith('old') for l in lines)
    assert [l['sequence'] for l in lines] == sorted(l['sequence'] for l in lines)
    rows += len(lines)
assert rows == 800, rows
EOF"
check "/audit-logs names the archived periods it reaches, not those it does not" "curl -sf '$B/audit-logs?store_id=A1&product_id=X1' -H '$AUTH' | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"archived\"] and d[\"checkpoint\"][\"rows\"] == 200, d' && curl -sf '$B/audit-logs?since=$(date -u -d '-1 day' +%F)' -H '$AUTH' | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"archived\"] == []'"
stop
check "serve restarts on the archived database" "start"
check "after the restart every level is unchanged but for the writes made meanwhile, and the invariant holds" "invariant"
stop

echo "archive e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
