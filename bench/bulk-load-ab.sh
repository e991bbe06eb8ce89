#!/usr/bin/env bash
# The SQLite bulk load (`bazaar demo`) of two binaries, alternating: seconds and movements a second of each.
#
#   bench/bulk-load-ab.sh BEFORE_BIN AFTER_BIN [STORES] [ROUNDS]
#
# STORES stores x 250 products (catalog 5,000), 14 days, into a new SQLite file per load (under a temporary folder,
# removed at the end). Prints one line per load with the machine's load average, since the machine may be shared, and
# the CPU seconds the load took (user + system, from /usr/bin/time): on a busy machine a load waits for the cores,
# and its CPU time is the steadier figure of its own cost.
set -euo pipefail
BEFORE=${1:?the first binary}
AFTER=${2:?the second binary}
STORES=${3:-1000}
ROUNDS=${4:-2}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for round in $(seq 1 "$ROUNDS"); do
  for bin in "$BEFORE" "$AFTER"; do
    rm -f "$WORK"/x.db*
    start=$(date +%s.%N)
    BAZAAR_LOG_LEVEL=warning /usr/bin/time -f "%U %S" -o "$WORK/time.txt" "$bin" demo --database-url "sqlite://$WORK/x.db" --stores "$STORES" --products 5000 \
      --products-per-store 250 --days 14 >"$WORK/out.txt" 2>&1
    end=$(date +%s.%N)
    movements=$(sed -n 's/.*products, \([0-9]*\) movements.*/\1/p' "$WORK/out.txt")
    seconds=$(echo "$end - $start" | bc)
    cpu=$(awk '{ print $1 + $2 }' "$WORK/time.txt")
    echo "round=$round bin=$bin movements=$movements seconds=$seconds rate=$(echo "$movements / $seconds" | bc) cpu_seconds=$cpu per_cpu_second=$(echo "$movements / $cpu" | bc) load=$(cut -d' ' -f1 /proc/loadavg)"
  done
done
