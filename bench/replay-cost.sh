#!/usr/bin/env bash
# What the database's two servers spend on a captured ingestion, and what a variant of it would spend: the files of
# bench/replay-commits.py (`KAFKA_KEEP=1 bench/kafka.sh N` keeps them, in its work folder's `replay/`) replayed into a
# freshly migrated database by one client per file at once (`mariadb`, or bench/replay-bulk.c for the files of a
# bulk replay); timed until the primary has run them and until
# the replica has applied them (MASTER_GTID_WAIT); CPU seconds of both servers from /proc.
#   bench/replay-cost.sh REPLAY_DIR [SQL run after the migration, e.g. "DROP INDEX stock_movements_by_actor ON stock_movements"]
# Variants of the statements: copy REPLAY_DIR and edit the copies. BENCH_BIN: the binary that migrates (default
# .build/release/bazaar). Uses the test servers of scripts/services/mariadb.sh and the database bench_replay_cost.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=$1 EXTRA=${2:-}
BIN=${BENCH_BIN:-.build/release/bazaar}
eval "$(bash scripts/services/mariadb.sh env)"
PRIMARY="mariadb --protocol=tcp -h127.0.0.1 -P${BAZAAR_TEST_MARIADB_PORT:-13306} -uroot"
REPLICA="mariadb --protocol=tcp -h127.0.0.1 -P$((${BAZAAR_TEST_MARIADB_PORT:-13306} + 1)) -uroot"  # as mariadb.sh places it
trap '$PRIMARY -e "DROP DATABASE IF EXISTS bench_replay_cost" || true' EXIT
$PRIMARY -e "DROP DATABASE IF EXISTS bench_replay_cost; CREATE DATABASE bench_replay_cost"
"$BIN" migrate --database-url "$BAZAAR_TEST_MYSQL_URL/bench_replay_cost" >/dev/null 2>&1
[ -n "$EXTRA" ] && $PRIMARY bench_replay_cost -e "$EXTRA"
caught_up() {
  [ "$($REPLICA -N -e "SELECT MASTER_GTID_WAIT('$($PRIMARY -N -e 'SELECT @@gtid_binlog_pos')', 300)")" = 0 ] ||
    { echo "the replica did not catch up within 300 s" >&2; exit 1; }
}
caught_up
# The test servers only (their pid files), not any other MariaDB on the machine.
SERVERS="$(cat .test-services/mariadb/primary/mysqld.pid) $(cat .test-services/mariadb/replica/mysqld.pid)"
ticks() { local t=0 p; for p in $SERVERS; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
before=$(ticks) start=$(date +%s.%N)
clients=() failed=0
ops=("$DIR"/*.ops)
if [ -e "${ops[0]}" ]; then  # written with --bulk (bench/kafka.sh's default): bulk executions, bench/replay-bulk.c
  tool=$(mktemp)
  "${CC:-$(command -v cc || command -v gcc || command -v clang)}" -O2 -o "$tool" bench/replay-bulk.c \
    $(pkg-config --cflags --libs libmariadb 2>/dev/null || echo -I/usr/include/mariadb -lmariadb)
  for f in "${ops[@]}"; do
    "$tool" 127.0.0.1 "${BAZAAR_TEST_MARIADB_PORT:-13306}" root bench_replay_cost "$f" >"$f.out" 2>&1 & clients+=($!)
  done
else
  for f in "$DIR"/*.sql; do $PRIMARY -s bench_replay_cost <"$f" >"$f.out" 2>&1 & clients+=($!); done
fi
for c in "${clients[@]}"; do wait "$c" || failed=$((failed + 1)); done
[ "$failed" = 0 ] || echo "$failed of ${#clients[@]} clients failed (see $DIR/*.out): the figures are of what ran" >&2
rm -f "${tool:-}"
primary_done=$(date +%s.%N)
caught_up
replica_done=$(date +%s.%N) after=$(ticks)
rows=$($PRIMARY -N -e "SELECT COUNT(*) FROM bench_replay_cost.stock_movements")
hz=$(getconf CLK_TCK)
echo "$rows ledger rows: primary done after $(echo "$primary_done - $start" | bc | cut -c1-5) s, replica after" \
  "$(echo "$replica_done - $start" | bc | cut -c1-5) s; both servers $(echo "scale=2; ($after - $before) / $hz" | bc) CPU s," \
  "$(echo "scale=4; ($after - $before) * 1000 / $hz / $rows" | bc) ms a row"
